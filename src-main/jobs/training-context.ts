/**
 * The small context a method's training loop runs against inside the worker:
 * events out (`send`), pause/resume/cancel in (`control`), the runner's
 * acknowledgements of write-ahead spends and checkpoints (`acks`), and the
 * per-record random source (`recordNoise`) every per-example computation
 * must draw from (engine/record-noise.ts).
 */
import type { RecordNoise } from '../engine/record-noise';
import type { ChildMessage } from './protocol';

/** Pause / resume / cancel state shared by the stages. */
export class Control {
  cancelled = false;
  paused = false;
  /** Aborted on pause or cancel; replaced when a paused stage resumes. */
  segment = new AbortController();
  /** Steps taken (in the current stage's unit) when the last pause/cancel arrived. */
  requestedAt: number | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly position: () => number) {}

  pause(): void {
    if (this.cancelled || this.paused) return;
    this.paused = true;
    this.requestedAt = this.position();
    this.segment.abort();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.wake?.();
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    if (!this.paused) this.requestedAt = this.position();
    this.segment.abort();
    this.wake?.();
  }

  /** Waits while paused (returns at once when not); then a fresh segment signal. */
  async waitWhilePaused(): Promise<void> {
    while (this.paused && !this.cancelled) {
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
    if (!this.cancelled) this.segment = new AbortController();
  }
}

/** Request/acknowledge pairs with the runner (one outstanding request per kind). */
export class Acks {
  private spend: { fromStep: number; resolve: (to: number) => void } | null = null;
  private checkpoint: { path: string; resolve: () => void } | null = null;

  waitSpent(fromStep: number): Promise<number> {
    return new Promise((resolve) => (this.spend = { fromStep, resolve }));
  }
  spent(fromStep: number, toStep: number): void {
    const p = this.spend;
    if (!p || p.fromStep !== fromStep) {
      throw new Error(`Unexpected ledger acknowledgement for step ${fromStep}.`);
    }
    this.spend = null;
    p.resolve(toStep);
  }
  waitCheckpoint(path: string): Promise<void> {
    return new Promise((resolve) => (this.checkpoint = { path, resolve }));
  }
  checkpointRecorded(path: string): void {
    const p = this.checkpoint;
    if (!p || p.path !== path)
      throw new Error(`Unexpected checkpoint acknowledgement for ${path}.`);
    this.checkpoint = null;
    p.resolve();
  }
}

/** What a method's `train` receives from the worker. */
export interface TrainingContext {
  /** Sends one event to the runner. */
  send: (m: ChildMessage) => void;
  /** Pause / resume / cancel, as the runner asked. */
  control: Control;
  /** The runner's acknowledgements (write-ahead spend, checkpoint recorded). */
  acks: Acks;
  /** Tells the worker how to read the current position (for the step a pause or cancel arrived at). */
  setPosition: (f: () => number) => void;
  /**
   * The source of every random value that enters one record's computation:
   * it never depends on which other records were sampled (docs/privacy.md).
   */
  recordNoise: RecordNoise;
}
