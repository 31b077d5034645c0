/**
 * Makes a child process (training worker, evaluation helper) end when the
 * process that started it is gone. The IPC channel's 'disconnect' tells under
 * `child_process.fork` (each caller listens to it, as it alone knows when it
 * closes the channel itself); this watch covers what no channel tells
 * (Electron's utilityProcess, a channel nobody listens to): the child was
 * re-parented, or its parent's PID no longer exists.
 */

/** How often the parent's PID is checked, in ms. */
const CHECK_EVERY_MS = 1_000;

/** True while the process with `pid` exists (signal 0 checks without sending anything). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else (a reused PID); treat as gone only on ESRCH.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Calls `onGone` once when the parent is gone (default: exit with status 1).
 * Returns a function that stops watching. The timer does not keep the
 * process alive.
 */
export function watchParent(onGone: () => void = () => process.exit(1)): () => void {
  const parent = process.ppid;
  let done = false;
  const gone = (): void => {
    if (done) return;
    done = true;
    stop();
    onGone();
  };
  const timer = setInterval(() => {
    if (process.ppid !== parent || !exists(parent)) gone();
  }, CHECK_EVERY_MS);
  timer.unref();
  const stop = (): void => clearInterval(timer);
  return stop;
}
