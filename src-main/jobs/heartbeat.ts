/**
 * How long a training worker may stay silent before the runner declares it
 * hung. The worker sends a `heartbeat` from a timer, but a timer cannot fire
 * while a long synchronous tfjs op blocks the worker's event loop: a long
 * step looks like silence. So the silence allowed follows the longest quiet
 * stretch measured so far (the slowest step seen), never less than a floor
 * that covers start-up (loading TensorFlow.js and the data set).
 */

/** The rule's two settings. */
export interface SilenceRule {
  /** Silence always allowed, in ms (covers start-up and a first slow step). */
  floorMs: number;
  /** Multiple of the slowest quiet stretch seen so far that is allowed. */
  factor: number;
}

/** The default: a minute, or ten times the slowest step seen so far. */
export const DEFAULT_SILENCE_RULE: SilenceRule = { floorMs: 60_000, factor: 10 };

/** How often the worker sends a heartbeat while its event loop is free. */
export const HEARTBEAT_INTERVAL_MS = 2_000;

/**
 * The silence allowed (ms) once the slowest quiet stretch seen so far was
 * `slowestMs`: max(floor, factor × slowest). A value that is not a finite
 * positive number counts as no stretch seen.
 */
export function allowedSilenceMs(rule: SilenceRule, slowestMs: number): number {
  const slowest = Number.isFinite(slowestMs) && slowestMs > 0 ? slowestMs : 0;
  return Math.max(rule.floorMs, rule.factor * slowest);
}

/**
 * Whether a worker last heard from `silentMs` ago is hung, given the slowest
 * quiet stretch seen before this one.
 */
export function isHung(rule: SilenceRule, silentMs: number, slowestMs: number): boolean {
  return silentMs > allowedSilenceMs(rule, slowestMs);
}

/** The user's message for a worker that was stopped because it went silent. */
export function hungMessage(input: { runId: number; silentMs: number; steps: number }): string {
  const seconds = Math.round(input.silentMs / 1000);
  return (
    `The training process of run ${input.runId} stopped responding for ${seconds} s ` +
    `(after ${input.steps} private steps) and was stopped. ` +
    `Resume the run to continue from its last checkpoint; the privacy already spent stays recorded.`
  );
}

/**
 * Measures, in the worker, the longest stretch its event loop was blocked: a
 * timer due every `intervalMs` that fires late by d ms was blocked for about
 * d ms. `onTick` gets the longest stretch so far at every tick.
 */
export function startStallMeter(
  intervalMs: number,
  onTick: (longestStallMs: number) => void,
): () => void {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last - intervalMs);
    last = now;
    onTick(Math.max(0, Math.round(longest)));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
