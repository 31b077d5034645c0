/**
 * Long synchronous work in a training worker must let its event loop run now
 * and then: the heartbeat timer (jobs/heartbeat.ts), progress and cancel
 * messages only get through between pieces of work. A slicer yields once
 * the work since its last yield has taken `budgetMs`, so a loop can call it
 * after every small piece without paying for a yield each time.
 */

/** Lets other work (timers, messages) run, then continues. */
export function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A function to await between pieces of work: it yields to the event loop
 * when `budgetMs` have passed since the last yield, and otherwise returns at
 * once (a resolved promise).
 */
export function timeSlicer(budgetMs = 50): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < budgetMs) return;
    await yieldToEvents();
    since = performance.now();
  };
}
