import { join } from 'node:path';
import { closeStore, markInterruptedRuns, openStore, purgePendingRemovals } from '../store';
import type { Store } from '../store';
import type { RunEvent, RunHandle, WorkerLauncher } from '../jobs/runner';
import type { WorkerSchedule } from '../jobs/protocol';
import { LiveRuns } from './live-runs';
import type { OffloadLauncher } from './offload';
import type { EvaluationOptions } from '../eval/evaluate';
import { removeAbandonedImports } from './import-staging';

/** What a ledger restore brought back, in words. */
export function restoreNotice(r: NonNullable<Store['restored']>): string {
  const live = r.datasets.filter((d) => d.live).map((d) => `“${d.name}”`);
  const gone = r.datasets.filter((d) => !d.live).map((d) => `“${d.name}”`);
  return (
    `The database was damaged and has been replaced. The privacy already spent was restored from the ledger journal: ` +
    `${r.steps.toLocaleString('en-US')} steps of ${r.runs} run(s) on ${r.datasets.length} data set(s)` +
    (live.length ? `; back in the list: ${live.join(', ')}` : '') +
    (gone.length ? `; kept in the ledger only (their images are gone): ${gone.join(', ')}` : '') +
    '. Runs, evaluations and exports of the old database are not restored: their caps still count every step.'
  );
}

/** The database file inside the data home. */
export const DATABASE_FILE = 'dp2.sqlite';

/**
 * What the services share: the data home and one store connection, opened on
 * first use (so `dp2 account` never creates a database) with the start-up
 * housekeeping the store asks for.
 */
/** The desktop shell's file pickers; absent in the command line and the test harness. */
export type PathChooser = (
  purpose: 'import-folder' | 'import-file' | 'labels-file' | 'export-folder',
) => Promise<string | null>;

export class ServiceContext {
  private opened: Store | undefined;

  /** Runs training in this process's lifetime, by id (pause, continue, cancel act on these). */
  readonly runs = new Map<number, RunHandle>();
  private readonly runListeners = new Set<(event: RunEvent) => void>();
  /** The newest figures of every run trained in this session (what the Run screen polls). */
  readonly live = new LiveRuns();

  /** The desktop shell's file pickers; absent in the command line and the test harness. */
  readonly choosePath: PathChooser | undefined;
  /** Starts training workers (Electron: utilityProcess); default child_process.fork. */
  readonly launcher: WorkerLauncher | undefined;
  /** How often new runs checkpoint, draw grids and report (default: the runner's). */
  readonly schedule: Partial<WorkerSchedule> | undefined;
  /** Starts helper processes for heavy requests (evaluation); absent: answered in this process. */
  readonly offload: OffloadLauncher | undefined;
  /**
   * Overrides of the evaluation's training budgets (default: the protocol's,
   * eval/utility.ts). Tests of the plumbing around an evaluation use small
   * ones, as they use a small training `schedule`; the stored evaluation
   * records the budgets it ran with.
   */
  readonly evalConfigs: EvaluationOptions['configs'];
  /** Override of the fidelity feature network's training budget (default the protocol's), likewise. */
  readonly extractorConfig: EvaluationOptions['extractorConfig'];
  private readonly housekeeping: boolean;

  constructor(
    readonly dataHome: string,
    options: {
      choosePath?: PathChooser;
      launcher?: WorkerLauncher;
      schedule?: Partial<WorkerSchedule>;
      offload?: OffloadLauncher;
      evalConfigs?: EvaluationOptions['configs'];
      extractorConfig?: EvaluationOptions['extractorConfig'];
      /**
       * Whether opening the store marks unfinished runs interrupted and
       * clears leftovers (default true). Off in helper processes: the
       * process that started a run owns it.
       */
      housekeeping?: boolean;
    } = {},
  ) {
    this.choosePath = options.choosePath;
    this.launcher = options.launcher;
    this.schedule = options.schedule;
    this.offload = options.offload;
    this.evalConfigs = options.evalConfigs;
    this.extractorConfig = options.extractorConfig;
    this.housekeeping = options.housekeeping ?? true;
  }

  /** Subscribes to every run's events (progress, ε, grids, status); returns the unsubscribe. */
  onRunEvent(listener: (event: RunEvent) => void): () => void {
    this.runListeners.add(listener);
    return () => this.runListeners.delete(listener);
  }

  emitRunEvent(event: RunEvent): void {
    this.live.apply(event);
    for (const listener of this.runListeners) listener(event);
  }

  /** What opening the data folder found that the user must be told (said once). */
  readonly notices: string[] = [];

  get store(): Store {
    if (!this.opened) {
      const store = openStore({ path: join(this.dataHome, DATABASE_FILE), home: this.dataHome });
      if (store.restored) this.notices.push(restoreNotice(store.restored));
      if (this.housekeeping) {
        markInterruptedRuns(store);
        purgePendingRemovals(store);
        removeAbandonedImports(store);
      }
      this.opened = store;
    }
    return this.opened;
  }

  close(): void {
    for (const handle of this.runs.values()) handle.pause();
    if (this.opened) closeStore(this.opened);
    this.opened = undefined;
  }
}
