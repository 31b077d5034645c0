/**
 * The loop every private trainer runs (stage 2 of DP²-VAE, DP-SGD), in one
 * place because it is where the privacy promises are kept: before each noisy
 * step it checks the abort signal and the step budget, checks that ε AFTER
 * the step stays within the target (so a run never passes it), awaits the
 * write-ahead spend hook, and only then takes the step and reports it.
 */
import { yieldToEvents } from './cooperate';

/** What the caller supplies: the accountant, the write-ahead hook, progress and abort. */
export interface PrivateStepHooks<Report> {
  /** ε after `steps` noisy steps (the accountant; pure and deterministic). */
  epsilonAfter: (steps: number) => number;
  /** Awaited before noisy update `step` is made (record the spend write-ahead). */
  beforeNoisyUpdate: (step: number) => Promise<void>;
  /** Called after each step (awaited; a checkpoint may be taken here). */
  onStep?: (report: Report & { step: number; epsilon: number }) => void | Promise<void>;
  /** Pause/cancel: checked before each step, so it acts within one step. */
  signal?: AbortSignal;
}

export type PrivateStopReason = 'steps' | 'epsilon' | 'aborted';

export interface PrivateRunResult {
  stepsTaken: number;
  stoppedBy: PrivateStopReason;
  /** ε after `stepsTaken` steps (0 when none). */
  epsilon: number;
}

/**
 * Runs `takeStep(next)` for next = taken + 1, … until the step budget, the
 * target ε (checked with `epsilonAfter(next)` BEFORE spending) or the signal.
 * `takeStep` makes the noisy update and records it as taken.
 */
export async function runPrivateSteps<Report>(loop: {
  /** Steps already taken (a resumed run starts after them). */
  taken: number;
  /** T: the step budget. */
  steps: number;
  /** The target ε, or null for none. */
  target: number | null;
  hooks: PrivateStepHooks<Report>;
  takeStep: (next: number) => Promise<Report> | Report;
}): Promise<PrivateRunResult> {
  const { epsilonAfter, beforeNoisyUpdate, onStep, signal } = loop.hooks;
  let taken = loop.taken;
  const result = (stoppedBy: PrivateStopReason): PrivateRunResult => ({
    stepsTaken: taken,
    stoppedBy,
    epsilon: taken > 0 ? epsilonAfter(taken) : 0,
  });
  for (;;) {
    await yieldToEvents();
    if (signal?.aborted) return result('aborted');
    const next = taken + 1;
    if (next > loop.steps) return result('steps');
    if (loop.target !== null && !(epsilonAfter(next) <= loop.target)) return result('epsilon');
    await beforeNoisyUpdate(next);
    const report = await loop.takeStep(next);
    taken = next;
    await onStep?.({ ...report, step: next, epsilon: epsilonAfter(next) });
  }
}
