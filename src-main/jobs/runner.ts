/**
 * The main-process side of a training run: it owns the store (the ONE writer
 * of the database), starts the worker in a child process and turns its
 * messages (protocol.ts) into database rows and events for the faces.
 *
 * - `spend` → the data set's cap is checked against the ledger and the steps
 *   it allows are recorded, durably, in one write transaction
 *   (`spendWithinCap`), THEN the worker is acknowledged (write-ahead: a step
 *   is paid for before its noisy update exists).
 * - `metrics` → `appendMetrics`, batched; `grid` → `recordSampleGrid`;
 *   `checkpoint` → `recordCheckpoint`, then acknowledged (the worker frees
 *   older encoder files only after that).
 * - `done` → the decoder is registered releasable, `certificate.json` is
 *   written beside it (releasable) with ε recomputed by the accountant, and
 *   the run is completed (or cancelled).
 * - `error` → the run fails with the worker's plain message; an exit without
 *   `done` (a crash, `kill -9`) leaves it 'interrupted', resumable.
 * - silence → a worker that sends nothing (not even its timer's `heartbeat`)
 *   for longer than its slowest step allows (heartbeat.ts) is hung: it is
 *   killed and the run left 'interrupted', resumable, with a plain message.
 *
 * Accounting across crashes: the ledger holds every step ever paid for. A
 * resumed run restarts from its latest checkpoint and pays again for the
 * steps after it (fresh noise). Steps reserved in a chunk but never taken
 * before a crash stay in the ledger: the data set's total can only be
 * over-counted, never under-counted. The certificate states the steps of the
 * released decoder's own trajectory, so a resumed run's certificate equals
 * an uninterrupted run's.
 *
 * Folders: `<dataHome>/runs/<runId>/encoders` and `checkpoints` (private
 * artifacts), `decoder/` and `certificate.json` (releasable).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toErrorPayload, UserError, type ErrorPayload } from '../contract/errors';
import { DATASET_HEADER, type DatasetHeader } from '../data';
import { accountantVersion } from '../privacy';
import { buildRunCertificate, type RunCertificate } from './certificates';
import { appVersion } from '../services/version';
import {
  appendMetrics,
  createRun,
  getDataset,
  getRun,
  latestCheckpoint,
  ledgerEntriesByFingerprint,
  listArtifacts,
  recordCheckpoint,
  recordSampleGrid,
  registerArtifact,
  stepsSpent,
  updateRunStatus,
  type ArtifactKind,
  type Dataset,
  type MetricRow,
  type Run,
  type RunStatus,
  type Store,
} from '../store';
import { writeWholeFile } from '../io/whole-file';
import { assertFitsBudget, ledgerSpecs, ownEpsilon, type RunNoise } from './budget';
import { methodOf, methodOfPlan, planNoise } from '../methods/registry';
import type { MethodDescriptor } from '../methods/descriptor';
import { spendWithinCap } from './spend';
import { classifierFolderOf, LINKED_CLASSIFIER_FOLDER, linkedRuns } from './linked-runs';
import { planClassNotes } from './class-notes';
import { DEFAULT_SILENCE_RULE, hungMessage, isHung, type SilenceRule } from './heartbeat';
import { planArchitecture, resolveRunPlan, type PlanOverrides, type PresetName } from './presets';
import {
  parseChildMessage,
  RunPlan,
  WorkerSchedule,
  type Method,
  type ChildMessage,
  type ParentMessage,
  type StopReason,
  type WorkerConfig,
} from './protocol';

// ---------------------------------------------------------------- launching the worker

/** The parent side of the channel to a worker process. */
export interface WorkerChannel {
  readonly pid: number | undefined;
  send(message: ParentMessage): void;
  onMessage(handler: (raw: unknown) => void): void;
  /** Once, when the process has ended (signal set when it was killed). */
  onExit(handler: (code: number | null, signal: string | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts a worker process (Electron passes one built on utilityProcess). */
export type WorkerLauncher = () => WorkerChannel;

/** The worker's entry file (TypeScript, run through tsx). */
export const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));

function tsxLoader(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

/**
 * `child_process.fork` of worker.ts under plain Node with tsx (CLI and tests);
 * `entry` replaces the worker's file (tests start stand-ins that misbehave).
 */
export function forkWorker(
  options: { env?: NodeJS.ProcessEnv; entry?: string } = {},
): WorkerChannel {
  const child: ChildProcess = fork(options.entry ?? WORKER_PATH, [], {
    execArgv: ['--import', tsxLoader()],
    env: options.env ?? process.env,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => {
    stderr = (stderr + c).slice(-8000);
  });
  // A message sent to a worker that just died fails with EPIPE (its 'close' has not arrived yet),
  // and an 'error' without a listener would end this process; the 'close' reports the death.
  child.on('error', (err) => {
    stderr = `${stderr}\n${err.message}`.slice(-8000);
  });
  const channel: WorkerChannel & { stderrTail: () => string } = {
    pid: child.pid,
    send: (m) => {
      if (child.connected) child.send(m, () => undefined);
    },
    onMessage: (h) => {
      child.on('message', h);
    },
    onExit: (h) => {
      // 'close' (not 'exit'): every message the worker sent has been delivered by then.
      child.once('close', (code, signal) => h(code, signal));
    },
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
    stderrTail: () => stderr,
  };
  return channel;
}

// ---------------------------------------------------------------- public types

/** An event of a run, for the faces: every worker message (validated) plus status changes. */
export type RunEvent =
  | ({ runId: number } & ChildMessage)
  | { runId: number; type: 'status'; status: RunStatus; message: string | null };

export interface RunOutcome {
  runId: number;
  /** 'completed' (decoder and certificate registered), 'cancelled', 'failed' or 'interrupted' (resumable). */
  status: Extract<RunStatus, 'completed' | 'cancelled' | 'failed' | 'interrupted'>;
  /** Stage-2 steps of the decoder's trajectory (0 when stage 2 never ran). */
  steps: number;
  /** The run's own ε after `steps` (the certificate's). */
  epsilon: number;
  stoppedBy: StopReason | null;
  certificate: RunCertificate | null;
  /** Set for 'failed' and 'interrupted': what happened, in plain words. */
  error: ErrorPayload | null;
}

export interface RunHandle {
  runId: number;
  /** Pauses within one step (stage 2 is checkpointed first). */
  pause(): void;
  resume(): void;
  /** Cancels within one step; the run ends 'cancelled' and releases nothing. */
  cancel(): void;
  /** Settles when the worker has ended and the database says so (never rejects). */
  done: Promise<RunOutcome>;
}

export interface StartTrainingOptions {
  store: Store;
  /** The data folder; must be the store's home. */
  dataHome: string;
  /** Data set name (or id). */
  datasetName: string;
  /** DP²-VAE (two stages) or DP-SGD on the whole CVAE; the same worker runs both. */
  method: Method;
  targetEpsilon: number;
  /** Defaults to the data set's budget δ. */
  delta?: number;
  preset: PresetName;
  overrides?: PlanOverrides;
  onEvent?: (event: RunEvent) => void;
  /** How often to checkpoint, draw grids, reserve ledger steps (defaults below). */
  schedule?: Partial<WorkerSchedule>;
  /** Backend to try first (DP2_BACKEND still forces one). */
  preferBackend?: WorkerConfig['preferBackend'];
  /** The analyst confirmed what the plan asked to confirm (a class too small for its noise). */
  confirmed?: boolean;
  /** Starts the worker (default: forkWorker()). */
  launcher?: WorkerLauncher;
  /** When a silent worker counts as hung (default DEFAULT_SILENCE_RULE, checked every second). */
  watchdog?: Watchdog;
}

/** The hung-worker rule and how often the runner applies it. */
export interface Watchdog extends SilenceRule {
  /** How often the silence is checked, in ms. */
  checkEveryMs: number;
}

const DEFAULT_WATCHDOG: Watchdog = { ...DEFAULT_SILENCE_RULE, checkEveryMs: 1_000 };

export interface ResumeTrainingOptions {
  store: Store;
  dataHome: string;
  runId: number;
  onEvent?: (event: RunEvent) => void;
  launcher?: WorkerLauncher;
  watchdog?: Watchdog;
}

/** Defaults of the worker's schedule. */
export const DEFAULT_SCHEDULE: WorkerSchedule = {
  checkpointEvery: 250,
  gridEvery: 250,
  gridPerClass: 8,
  reserveChunk: 25,
  epsilonEvery: 10,
};

/** What the run row's `hyperparameters` column holds. */
interface StoredHyperparameters {
  preset: PresetName;
  plan: RunPlan;
  schedule: WorkerSchedule;
  notes: string[];
}

/**
 * The metric name of a released classifier's accuracy (%) on the data set's
 * test split: private (no noise), shown inside the app only.
 */
export const TEST_ACCURACY = 'test_accuracy';

const METRIC_FLUSH_ROWS = 500;
const METRIC_FLUSH_MS = 2000;

// ---------------------------------------------------------------- helpers

function checkHome(store: Store, dataHome: string): string {
  const home = resolve(dataHome);
  if (home !== store.home) {
    throw new UserError(
      'INVALID_INPUT',
      `The data folder ${home} is not the one the database belongs to (${store.home}). Use one data folder for both.`,
    );
  }
  return home;
}

/** A stored data set's header (its image shape and classes), or a plain-words NOT_FOUND. */
export async function readHeader(ds: Dataset): Promise<DatasetHeader> {
  const file = join(ds.filesDir, DATASET_HEADER);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DatasetHeader;
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `The images of data set “${ds.name}” cannot be read (${file} is missing or damaged). Delete the data set and import it again.`,
    );
  }
}

async function writeJsonDurable(path: string, value: unknown): Promise<void> {
  await writeWholeFile(
    path,
    Buffer.from(`${JSON.stringify(value, null, 2)}\n`),
    'The privacy certificate',
  );
}

/** Registers an artifact unless this path is already registered for the run. */
function registerOnce(
  store: Store,
  input: { kind: ArtifactKind; runId?: number; datasetId?: number; path: string; bytes?: number },
): void {
  const existing = listArtifacts(store, {
    ...(input.runId !== undefined ? { runId: input.runId } : { datasetId: input.datasetId }),
    kind: input.kind,
  });
  if (existing.some((a) => a.path === resolve(input.path))) return;
  registerArtifact(store, input);
}

/** Other runs' ledger rows on the same images (the fingerprint follows re-imports). */
function priorSpecsOf(store: Store, ds: Dataset, exceptRunId: number | null) {
  return ledgerSpecs(
    ledgerEntriesByFingerprint(store, ds.fingerprint).filter((e) => e.runId !== exceptRunId),
  );
}

function storedHyperparameters(run: Run): StoredHyperparameters {
  const h = run.hyperparameters as Partial<StoredHyperparameters> | null;
  const plan = RunPlan.safeParse(h?.plan);
  const schedule = WorkerSchedule.safeParse(h?.schedule);
  if (!h || !plan.success || !schedule.success || typeof h.preset !== 'string') {
    throw new UserError(
      'CORRUPT_DATA',
      `Run ${run.id} was not started by this version's training service; it cannot be resumed.`,
    );
  }
  return { preset: h.preset, plan: plan.data, schedule: schedule.data, notes: h.notes ?? [] };
}

// ---------------------------------------------------------------- start / resume

/**
 * Starts a run (DP²-VAE or DP-SGD, the plan's method) on a data set. Everything that can be refused is
 * refused before anything is written: an unknown data set or preset, a bad
 * setting, an unreachable target, or a plan whose composed total with the
 * data set's ledger would pass its cap (UserError BUDGET_EXCEEDED).
 */
export async function startTraining(options: StartTrainingOptions): Promise<RunHandle> {
  const { store } = options;
  const home = checkHome(store, options.dataHome);
  const method = methodOf(options.method);
  const ds = getDataset(store, options.datasetName);
  const delta = options.delta ?? ds.budgetDelta;
  const resolved = resolveRunPlan({
    method: options.method,
    preset: options.preset,
    overrides: options.overrides ?? {},
    datasetSize: ds.trainCount,
    targetEpsilon: options.targetEpsilon,
    delta,
    ...linkedRuns(store, ds, options.overrides),
  });
  const { notes } = resolved;
  const plan = withSource(store, ds, method, resolved.plan);
  const { confirm } = await planClassNotes(ds, plan);
  if (confirm !== null && !options.confirmed) throw new UserError('INVALID_INPUT', confirm);
  const noise: RunNoise = planNoise(plan);
  const priorSpecs = priorSpecsOf(store, ds, null);
  assertFitsBudget({
    datasetName: ds.name,
    cap: ds.budgetEpsilon,
    capDelta: ds.budgetDelta,
    priorSpecs,
    noise,
    steps: plan.steps,
    targetEpsilon: options.targetEpsilon,
    delta,
  });
  const header = await readHeader(ds);
  const architecture = planArchitecture(
    options.preset,
    { height: header.height, width: header.width, channels: header.channels },
    header.classes.length,
    options.method,
  );
  const schedule = WorkerSchedule.parse({ ...DEFAULT_SCHEDULE, ...options.schedule });
  const hyper: StoredHyperparameters = { preset: options.preset, plan, schedule, notes };

  const run = createRun(store, {
    datasetId: ds.id,
    method: options.method,
    hyperparameters: hyper,
    architecture,
    targetEpsilon: options.targetEpsilon,
    delta,
    accountant: {
      name: plan.accountant ?? 'rdp',
      version: accountantVersion(plan.accountant ?? 'rdp'),
    },
  });
  const runDir = join(home, 'runs', String(run.id));
  try {
    for (const folder of method.privateFolders) {
      await mkdir(join(runDir, folder), { recursive: true });
    }
    await mkdir(join(runDir, 'checkpoints'), { recursive: true });
    registerPrivateFolders(store, run.id, ds, runDir, method);
    await copyLinkedClassifier(store, run.id, runDir, method.linkedClassifier?.(plan) ?? null);
  } catch (err) {
    updateRunStatus(store, run.id, 'failed', { errorMessage: toErrorPayload(err).message });
    throw err;
  }
  const config: WorkerConfig = {
    runId: run.id,
    datasetDir: ds.filesDir,
    runDir,
    architecture,
    plan,
    targetEpsilon: options.targetEpsilon,
    delta,
    budget: { cap: ds.budgetEpsilon, delta: ds.budgetDelta, priorSpecs },
    paidSteps: 0,
    resume: null,
    schedule,
    preferBackend: options.preferBackend ?? null,
    ...sourceRelease(store, method, plan),
  };
  return launch(store, ds, run, config, {
    onEvent: options.onEvent,
    launcher: options.launcher ?? (() => forkWorker()),
    watchdog: options.watchdog ?? DEFAULT_WATCHDOG,
  });
}

/**
 * A plan that trains from another run's release (its method's `sourceRun`),
 * completed from that run's stored plan by the method; refused in plain words
 * before anything is written when that run is of another data set or made no
 * release this method can read.
 */
export function withSource(
  store: Store,
  ds: Dataset,
  method: MethodDescriptor,
  plan: RunPlan,
): RunPlan {
  const id = method.sourceRun?.(plan) ?? null;
  if (id === null || !method.fromSource) return plan;
  const source = getRun(store, id);
  if (source.datasetId !== ds.id) {
    throw new UserError(
      'INVALID_INPUT',
      `Run ${id} was trained on another data set. A release can only train generators for the data set it was made from (“${ds.name}” here).`,
    );
  }
  const completed = method.fromSource(plan, storedHyperparameters(source).plan, id);
  sourceRelease(store, method, completed);
  return completed;
}

/** The release file a plan trains from (checked to exist), as the worker's config field. */
function sourceRelease(
  store: Store,
  method: MethodDescriptor,
  plan: RunPlan,
): { sourceRelease?: string } {
  const id = method.sourceRun?.(plan) ?? null;
  if (id === null) return {};
  const [release] = listArtifacts(store, { runId: id, kind: 'release', visibility: 'releasable' });
  if (!release) {
    throw new UserError(
      'INVALID_INPUT',
      `Run ${id} has no release to train from: it stopped before its private release was made. Choose a mepf run that finished its release, or start a new run.`,
    );
  }
  if (!existsSync(release.path)) {
    throw new UserError(
      'NOT_FOUND',
      `The release of run ${id} is missing (${release.path}). Start a new run to make a new release.`,
    );
  }
  return { sourceRelease: release.path };
}

/**
 * A copy of the released classifier a run builds on (its method's
 * `linkedClassifier`), registered as the run's own releasable classifier:
 * the run's images are labelled with it and its export carries it, whatever
 * happens to the classifier's run later. Written whole or not at all.
 */
async function copyLinkedClassifier(
  store: Store,
  runId: number,
  runDir: string,
  classifierRun: number | null,
): Promise<void> {
  if (classifierRun === null) return;
  const to = join(runDir, LINKED_CLASSIFIER_FOLDER);
  const staging = `${to}.partial`;
  await rm(staging, { recursive: true, force: true });
  await cp(classifierFolderOf(store, classifierRun), staging, { recursive: true });
  await rename(staging, to);
  registerOnce(store, { kind: 'classifier', runId, path: to });
}

function registerPrivateFolders(
  store: Store,
  runId: number,
  ds: Dataset,
  runDir: string,
  method: MethodDescriptor,
): void {
  for (const folder of method.privateFolders) {
    registerOnce(store, { kind: folder, runId, path: join(runDir, folder) });
  }
  registerOnce(store, { kind: 'checkpoint', runId, path: join(runDir, 'checkpoints') });
  registerOnce(store, { kind: 'dataset-arrays', datasetId: ds.id, path: ds.filesDir });
}

/**
 * Resumes an interrupted run from its latest checkpoint (stage 2) or from the
 * encoders on disk (stage 1), with the same accounting: the ledger already
 * holds every step paid for, and the steps after the checkpoint are paid again.
 */
export async function resumeTraining(options: ResumeTrainingOptions): Promise<RunHandle> {
  const { store } = options;
  const home = checkHome(store, options.dataHome);
  const run = getRun(store, options.runId);
  if (run.status !== 'interrupted') {
    throw new UserError(
      'INVALID_INPUT',
      run.status === 'running' || run.status === 'paused'
        ? `Run ${run.id} is ${run.status}; only an interrupted run can be resumed. Use pause and resume while it runs.`
        : `Run ${run.id} is ${run.status}; only an interrupted run can be resumed. Start a new run instead.`,
    );
  }
  const ds = getDataset(store, run.datasetId);
  const hyper = storedHyperparameters(run);
  const cp = latestCheckpoint(store, run.id);
  const resumeFrom = cp && cp.stage === 'stage2' ? { path: cp.path, step: cp.step } : null;
  const runDir = join(home, 'runs', String(run.id));
  registerPrivateFolders(store, run.id, ds, runDir, methodOfPlan(hyper.plan));
  const config: WorkerConfig = {
    runId: run.id,
    datasetDir: ds.filesDir,
    runDir,
    architecture: run.architecture,
    plan: hyper.plan,
    targetEpsilon: run.targetEpsilon ?? Number.MAX_VALUE,
    delta: run.delta,
    budget: {
      cap: ds.budgetEpsilon,
      delta: ds.budgetDelta,
      priorSpecs: priorSpecsOf(store, ds, run.id),
    },
    paidSteps: stepsSpent(store, run.id),
    resume: resumeFrom,
    schedule: hyper.schedule,
    preferBackend: null,
    ...sourceRelease(store, methodOfPlan(hyper.plan), hyper.plan),
  };
  return launch(store, ds, run, config, {
    onEvent: options.onEvent,
    launcher: options.launcher ?? (() => forkWorker()),
    watchdog: options.watchdog ?? DEFAULT_WATCHDOG,
  });
}

// ---------------------------------------------------------------- the conversation

function launch(
  store: Store,
  ds: Dataset,
  run: Run,
  config: WorkerConfig,
  options: {
    onEvent: ((e: RunEvent) => void) | undefined;
    launcher: WorkerLauncher;
    watchdog: Watchdog;
  },
): RunHandle {
  const { onEvent, launcher, watchdog } = options;
  const runId = run.id;
  const noise: RunNoise = planNoise(config.plan);
  const emit = (e: RunEvent): void => {
    try {
      onEvent?.(e);
    } catch {
      // A face's handler must not break the run.
    }
  };
  const setStatus = (
    status: RunStatus,
    extra: { errorMessage?: string; backend?: string } = {},
  ) => {
    const cur = getRun(store, runId).status;
    if (cur === status) return;
    updateRunStatus(store, runId, status, extra);
    emit({ runId, type: 'status', status, message: extra.errorMessage ?? null });
  };

  const channel = launcher();
  let exited = false;
  let finished: RunOutcome | null = null;
  let backend: string | null = null;
  let steps = 0;
  let stoppedBy: StopReason | null = null;
  let metricRows: MetricRow[] = [];
  let lastFlush = Date.now();
  const pending: ParentMessage[] = [];
  let startSent = false;

  const flushMetrics = (): void => {
    if (metricRows.length === 0) return;
    const rows = metricRows;
    metricRows = [];
    lastFlush = Date.now();
    appendMetrics(store, runId, rows);
  };
  const command = (m: ParentMessage): void => {
    if (exited || finished) return;
    if (!startSent) pending.push(m);
    else channel.send(m);
  };

  let resolveDone!: (o: RunOutcome) => void;
  const done = new Promise<RunOutcome>((r) => (resolveDone = r));

  const fail = (error: ErrorPayload, status: 'failed' | 'interrupted'): void => {
    if (finished) return;
    try {
      flushMetrics();
    } catch {
      // keep the failure itself
    }
    let final: RunOutcome['status'] = status;
    const record = (): boolean => {
      try {
        const cur = getRun(store, runId).status;
        if (status === 'interrupted' && cur === 'queued') final = 'failed';
        if (cur !== 'completed' && cur !== 'failed' && cur !== 'cancelled')
          setStatus(final, { errorMessage: error.message });
        return true;
      } catch {
        return false;
      }
    };
    if (!record()) {
      // The database cannot take the status now (a full disk): retry until it
      // can, so the run does not stay 'running' for the rest of the session.
      const retry = setInterval(() => record() && clearInterval(retry), 1000);
      retry.unref();
    }
    finished = {
      runId,
      status: final,
      steps,
      epsilon: ownEpsilon(noise, steps, config.delta),
      stoppedBy,
      certificate: null,
      error,
    };
    if (!exited) channel.kill('SIGKILL');
  };

  const finishDone = async (m: Extract<ChildMessage, { type: 'done' }>): Promise<void> => {
    flushMetrics();
    steps = m.steps;
    stoppedBy = m.stoppedBy;
    if (m.stoppedBy === 'cancelled') {
      setStatus('cancelled', { errorMessage: 'Cancelled by the user.' });
      finished = {
        runId,
        status: 'cancelled',
        steps: m.steps,
        epsilon: m.epsilon,
        stoppedBy: m.stoppedBy,
        certificate: null,
        error: null,
      };
      return;
    }
    const released = m.model
      ? { kind: m.model.kind, dir: m.model.dir, bytes: m.model.weightsBytes }
      : m.decoder
        ? { kind: 'decoder' as const, dir: m.decoder.dir, bytes: m.decoder.weightsBytes }
        : null;
    if (!released) throw new Error('The worker finished without writing the released model.');
    const paid = stepsSpent(store, methodOfPlan(config.plan).sourceRun?.(config.plan) ?? runId);
    if (paid < m.steps) {
      // Never certify steps the ledger does not hold.
      throw new Error(
        `The ledger holds ${paid} steps of run ${runId} but the ${released.kind} took ${m.steps}; it is not released.`,
      );
    }
    const runDir = config.runDir;
    const certificate = buildRunCertificate({
      plan: config.plan,
      steps: m.steps,
      delta: config.delta,
      datasetId: ds.publicId,
      backend: backend ?? 'unknown',
      version: appVersion(),
    });
    const certPath = join(runDir, 'certificate.json');
    await writeJsonDurable(certPath, certificate);
    registerOnce(store, { kind: released.kind, runId, path: released.dir, bytes: released.bytes });
    registerOnce(store, { kind: 'certificate', runId, path: certPath });
    setStatus('completed');
    finished = {
      runId,
      status: 'completed',
      steps: m.steps,
      epsilon: certificate.epsilon,
      stoppedBy: m.stoppedBy,
      certificate,
      error: null,
    };
  };

  const handle = async (m: ChildMessage): Promise<void> => {
    switch (m.type) {
      case 'ready':
        channel.send({ type: 'start', config });
        startSent = true;
        for (const p of pending.splice(0)) channel.send(p);
        return;
      case 'backend':
        // The run's record and its certificate name the backend; the threads are shown live.
        backend = m.name;
        setStatus('running', { backend: m.name });
        return;
      case 'stage':
      case 'progress':
        // A method's stage-2 steps may cost no privacy (post-processing): never more than the plan's noisy steps.
        if (m.type === 'progress' && m.stage === 'stage2')
          steps = Math.min(m.step, config.plan.steps);
        return;
      case 'metrics':
        metricRows.push(
          { stage: m.stage, step: m.step, name: 'recon', value: m.recon },
          { stage: m.stage, step: m.step, name: 'kl', value: m.kl },
        );
        if (metricRows.length >= METRIC_FLUSH_ROWS || Date.now() - lastFlush > METRIC_FLUSH_MS)
          flushMetrics();
        return;
      case 'epsilon':
        metricRows.push({ stage: 'stage2', step: m.step, name: 'epsilon', value: m.epsilon });
        return;
      case 'spend': {
        // Check and record under one write lock: other runs (other processes too) may spend.
        const granted = spendWithinCap(store, {
          datasetId: ds.id,
          runId,
          noise,
          fromStep: m.fromStep,
          toStep: m.toStep,
          delta: config.delta,
        });
        channel.send({ type: 'spent', fromStep: m.fromStep, toStep: granted });
        return;
      }
      case 'release':
        registerOnce(store, { kind: 'release', runId, path: m.path, bytes: m.bytes });
        return;
      case 'test-accuracy':
        // Private (computed on the test images without noise): a metric of the run, never exported.
        metricRows.push({ stage: 'stage2', step: m.step, name: TEST_ACCURACY, value: m.accuracy });
        flushMetrics();
        return;
      case 'grid':
        recordSampleGrid(store, {
          runId,
          step: m.step,
          png: new Uint8Array(Buffer.from(m.png, 'base64')),
        });
        return;
      case 'checkpoint':
        flushMetrics();
        recordCheckpoint(store, {
          runId,
          stage: m.stage,
          step: m.step,
          path: m.path,
          bytes: m.bytes,
        });
        if (m.stage === 'stage2') channel.send({ type: 'checkpoint-recorded', path: m.path });
        return;
      case 'paused':
        flushMetrics();
        setStatus('paused');
        return;
      case 'resumed':
        setStatus('running');
        return;
      case 'done':
        await finishDone(m);
        // The worker exits by itself; make sure a stuck one does not linger.
        setTimeout(() => {
          if (!exited) channel.kill('SIGKILL');
        }, 15_000).unref();
        return;
      case 'heartbeat':
        return;
      case 'error':
        fail({ code: m.code as ErrorPayload['code'], message: m.message }, 'failed');
        return;
    }
  };

  // Messages are handled strictly in order, one at a time.
  let queue: Promise<void> = Promise.resolve();

  // Hung-worker watchdog: the silence allowed follows the slowest quiet stretch seen so far
  // (gaps between messages, and the stalls the worker measured itself).
  let lastHeard = performance.now();
  let heardOnce = false;
  let slowestMs = 0;
  const hearing = (m: unknown): void => {
    const now = performance.now();
    if (heardOnce) slowestMs = Math.max(slowestMs, now - lastHeard);
    heardOnce = true;
    lastHeard = now;
    const beat = (m ?? {}) as { type?: unknown; longestStallMs?: unknown };
    if (beat.type === 'heartbeat' && typeof beat.longestStallMs === 'number')
      slowestMs = Math.max(slowestMs, beat.longestStallMs);
  };
  let lastCheck = performance.now();
  const watch = setInterval(() => {
    if (finished || exited) return clearInterval(watch);
    const now = performance.now();
    const late = now - lastCheck > 2 * watchdog.checkEveryMs + 1_000;
    lastCheck = now;
    // This process was blocked itself: let the messages waiting for it arrive first.
    if (late) return;
    const silentMs = now - lastHeard;
    if (!isHung(watchdog, silentMs, slowestMs)) return;
    clearInterval(watch);
    queue = queue.then(() =>
      fail({ code: 'INTERNAL', message: hungMessage({ runId, silentMs, steps }) }, 'interrupted'),
    );
  }, watchdog.checkEveryMs);
  watch.unref();

  channel.onMessage((raw) => {
    hearing(raw);
    queue = queue.then(async () => {
      if (finished) return;
      let m: ChildMessage;
      try {
        m = parseChildMessage(raw);
      } catch (err) {
        fail(toErrorPayload(err), 'failed');
        return;
      }
      try {
        await handle(m);
        if (m.type !== 'heartbeat') emit({ runId, ...m });
      } catch (err) {
        fail(toErrorPayload(err), 'failed');
      }
    });
  });

  channel.onExit((code, signal) => {
    exited = true;
    void queue.then(() => {
      if (!finished) {
        const how = signal ? `was stopped (${signal})` : `ended unexpectedly (exit code ${code})`;
        const tail = (channel as { stderrTail?: () => string }).stderrTail?.() ?? '';
        const last = tail.trim().split('\n').filter(Boolean).pop();
        fail(
          {
            code: 'INTERNAL',
            message:
              `The training process of run ${runId} ${how} after ${steps} private steps. ` +
              `Resume the run to continue from its last checkpoint; the privacy already spent stays recorded.` +
              (signal || !last ? '' : ` (Last message: ${last.slice(0, 300)})`),
          },
          'interrupted',
        );
      }
      resolveDone(finished as RunOutcome);
    });
  });

  return {
    runId,
    pause: () => command({ type: 'pause' }),
    resume: () => command({ type: 'resume' }),
    cancel: () => command({ type: 'cancel' }),
    done,
  };
}
