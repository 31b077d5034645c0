import { backendLabel } from '../jobs/protocol';
import type { RunEvent } from '../jobs/runner';

/** The latest figures a run's worker reported in this app session. */
export interface LiveRun {
  stage: string | null;
  step: number;
  totalSteps: number;
  samplesPerSecond: number | null;
  etaSeconds: number | null;
  epsilon: number | null;
  datasetEpsilon: number | null;
  backend: string | null;
  memoryMb: number | null;
  paused: boolean;
}

/** Throughput last seen per (method, stage, backend): the basis of duration estimates. */
export interface MeasuredRate {
  method: string;
  stage: string;
  backend: string;
  samplesPerSecond: number;
}

const fresh = (): LiveRun => ({
  stage: null,
  step: 0,
  totalSteps: 0,
  samplesPerSecond: null,
  etaSeconds: null,
  epsilon: null,
  datasetEpsilon: null,
  backend: null,
  memoryMb: null,
  paused: false,
});

/**
 * Folds run events into one small state per run, so a screen that polls gets
 * the newest figures without the events themselves (which arrive many times
 * a second) ever crossing to the renderer.
 */
export class LiveRuns {
  private readonly states = new Map<number, LiveRun>();
  private readonly rates = new Map<string, MeasuredRate>();
  /** Each run's method, from its `stage` events (absent there: dp2vae). */
  private readonly methods = new Map<number, string>();
  /** Each run's backend by name (the rates' key; `LiveRun.backend` is what the window shows). */
  private readonly backends = new Map<number, string>();
  /** Each run's model cost relative to the default 28×28 model (estimate.ts relativeCost). */
  private readonly costs = new Map<number, number>();

  /** Records a run's model cost, so its measured speed is kept in default-model units. */
  setCost(runId: number, cost: number): void {
    this.costs.set(runId, cost);
  }

  get(runId: number): LiveRun | null {
    return this.states.get(runId) ?? null;
  }

  /** The newest throughput measured for a method's stage on a backend in this session, in default-model units (images/s × the run's cost). */
  rate(method: string, stage: string, backend: string): number | null {
    return this.rates.get(`${method}|${stage}|${backend}`)?.samplesPerSecond ?? null;
  }

  apply(event: RunEvent): void {
    let s = this.states.get(event.runId);
    if (!s) this.states.set(event.runId, (s = fresh()));
    switch (event.type) {
      case 'backend':
        s.backend = backendLabel(event);
        this.backends.set(event.runId, event.name);
        s.memoryMb = Math.round(event.memory.rssBytes / 2 ** 20);
        return;
      case 'stage':
        this.methods.set(event.runId, event.method ?? 'dp2vae');
        s.stage = event.stage;
        s.step = 0;
        s.etaSeconds = null;
        return;
      case 'progress': {
        s.stage = event.stage;
        s.step = event.step;
        s.totalSteps = event.totalSteps;
        s.samplesPerSecond = event.samplesPerSecond;
        s.etaSeconds = event.etaSeconds;
        const backend = this.backends.get(event.runId);
        if (backend && event.samplesPerSecond > 0) {
          const method = this.methods.get(event.runId) ?? 'dp2vae';
          this.rates.set(`${method}|${event.stage}|${backend}`, {
            method,
            stage: event.stage,
            backend,
            samplesPerSecond: event.samplesPerSecond * (this.costs.get(event.runId) ?? 1),
          });
        }
        return;
      }
      case 'epsilon':
        s.epsilon = event.epsilon;
        s.datasetEpsilon = event.total;
        return;
      case 'paused':
        s.paused = true;
        return;
      case 'resumed':
        s.paused = false;
        return;
      case 'status':
        s.paused = event.status === 'paused';
        return;
      case 'done':
        s.step = event.steps;
        s.epsilon = event.epsilon;
        s.etaSeconds = 0;
        return;
      default:
        return;
    }
  }
}
