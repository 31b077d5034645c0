/**
 * The typed messages between the runner (main process, the parent) and the
 * training worker (child process: `child_process.fork` in the CLI and tests,
 * `utilityProcess` in Electron). Every message is validated on receipt with
 * the zod schemas below; a message that does not parse is a bug on the other
 * side and ends the run with an INTERNAL error, never a silent guess.
 *
 * Privacy: these messages carry only figures the analyst may see inside the
 * app (losses are private figures and are stored as such), the ε spent, and
 * sample grids drawn from the stage-2 decoder (releasable). They never carry
 * images of the data set, encoders or checkpoints — only paths to the latter.
 *
 * Write-ahead accounting: before noisy update `s` the worker sends `spend`
 * covering `s..toStep` and waits for `spent`; the runner writes the ledger
 * durably first (recordSpend), then acknowledges. The runner may grant fewer
 * steps than asked (the data set's cap); a grant that ends before `s` means
 * "stop now".
 *
 * Checkpoints: the worker writes the file atomically, sends `checkpoint` and
 * waits for `checkpoint-recorded` before it lets the encoder store delete the
 * files only older checkpoints need. So the newest checkpoint in the database
 * can always be resumed, whenever the worker is killed.
 */
import { z } from 'zod';
import { methodOfStoredPlan, MethodIdSchema, PlanSchema } from '../methods/catalog';

/** The training methods' ids (src-main/methods/catalog.ts). */
export const Method = MethodIdSchema;
export type Method = z.infer<typeof Method>;

export { AccountantName } from '../methods/plan-fields';
export { TrainingPlan } from '../methods/dp2vae/plan-schema';
export { DpsgdPlan } from '../methods/dpsgd/plan-schema';

/** The plan of a run of any method (each method's card names its plan's schema). */
export const RunPlan = PlanSchema;
export type RunPlan = z.infer<typeof RunPlan>;

/** The method of a plan (plans stored before DP-SGD existed carry none and are DP²-VAE's). */
export function planMethod(plan: RunPlan): Method {
  const method = methodOfStoredPlan(plan);
  if (method === undefined) throw new Error('A plan that no method owns reached planMethod.');
  return method;
}

/** A DP²-VAE mechanism as the ledger stores it. */
export const Dp2vaeSpec = z.strictObject({
  mechanism: z.literal('dp2vae'),
  blocks: z.number().int().min(1),
  sigma: z.number().positive().finite(),
  steps: z.number().int().min(0),
});
export type Dp2vaeSpec = z.infer<typeof Dp2vaeSpec>;

/** A DP-SGD mechanism as the ledger stores it (other runs on the same images). */
export const DpsgdSpec = z.strictObject({
  mechanism: z.literal('dpsgd'),
  sampleRate: z.number().gt(0).lte(1),
  sigma: z.number().positive().finite(),
  steps: z.number().int().min(0),
});

/** Any ledger row the accountant can compose. */
export const LedgerSpec = z.discriminatedUnion('mechanism', [Dp2vaeSpec, DpsgdSpec]);
export type LedgerSpec = z.infer<typeof LedgerSpec>;

/** How often the worker reports, checkpoints and draws grids. */
export const WorkerSchedule = z.strictObject({
  /** Stage-2 steps between checkpoints. */
  checkpointEvery: z.number().int().min(1),
  /** Stage-2 steps between sample grids (0 = only at the end). */
  gridEvery: z.number().int().min(0),
  /** Samples per class in a grid (10 classes × this). */
  gridPerClass: z.number().int().min(1).max(32),
  /** Steps reserved in the ledger per `spend` (write-ahead batching). */
  reserveChunk: z.number().int().min(1),
  /** Steps between `epsilon` events (also sent at the end). */
  epsilonEvery: z.number().int().min(1),
});
export type WorkerSchedule = z.infer<typeof WorkerSchedule>;

/** Everything the worker needs to run (or resume) one run. */
export const WorkerConfig = z.strictObject({
  runId: z.number().int().min(1),
  /** Folder of the data set's arrays (readDatasetFiles); only the train split is read. */
  datasetDir: z.string().min(1),
  /** `<dataHome>/runs/<runId>`: encoders/, checkpoints/ (private), decoder/ (releasable). */
  runDir: z.string().min(1),
  /** The model description (checked again by the engine's parseArchitecture). */
  architecture: z.unknown(),
  /** The method is the plan's: the same worker runs both. */
  plan: RunPlan,
  /** The run's own target ε at `delta` (stage 2 stops before a step that would pass it). */
  targetEpsilon: z.number().positive().finite(),
  delta: z.number().gt(0).lt(1),
  /** The data set's budget: its cap, the cap's δ, and every ledger row of OTHER runs on the same images. */
  budget: z.strictObject({
    cap: z.number().positive().finite().nullable(),
    delta: z.number().gt(0).lt(1),
    priorSpecs: z.array(LedgerSpec),
  }),
  /** Noisy steps this run has already paid for in the ledger (replays after a crash are paid again). */
  paidSteps: z.number().int().min(0),
  /** A stage-2 (or DP-SGD) checkpoint to resume from, or null (stage 1 then resumes from the encoders on disk). */
  resume: z.strictObject({ path: z.string().min(1), step: z.number().int().min(0) }).nullable(),
  schedule: WorkerSchedule,
  /** Backend to try first (DP2_BACKEND still forces one). */
  preferBackend: z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).nullable(),
  /** The release of another run this run trains from (its method's `sourceRun`), or absent. */
  sourceRelease: z.string().min(1).optional(),
});
export type WorkerConfig = z.infer<typeof WorkerConfig>;

// ---------------------------------------------------------------- parent → child

export const ParentMessage = z.discriminatedUnion('type', [
  /** Start (or resume, when `config.resume` is set) the run. */
  z.strictObject({ type: z.literal('start'), config: WorkerConfig }),
  /** The ledger now durably holds steps `fromStep..toStep` (toStep < fromStep: refused, stop). */
  z.strictObject({
    type: z.literal('spent'),
    fromStep: z.number().int().min(1),
    toStep: z.number().int().min(0),
  }),
  /** The checkpoint at `path` is recorded in the database; older encoder files may go. */
  z.strictObject({ type: z.literal('checkpoint-recorded'), path: z.string().min(1) }),
  z.strictObject({ type: z.literal('pause') }),
  z.strictObject({ type: z.literal('resume') }),
  z.strictObject({ type: z.literal('cancel') }),
]);
export type ParentMessage = z.infer<typeof ParentMessage>;

// ---------------------------------------------------------------- child → parent

/**
 * 'stage1': DP²-VAE's non-private encoders per block. 'stage2': the private
 * training of the releasable decoder — DP²-VAE's stage 2, or the whole of a
 * DP-SGD run (which has no stage 1).
 */
export const Stage = z.enum(['stage1', 'stage2']);
export type Stage = z.infer<typeof Stage>;

/** Why stage 2 ended. */
export const StopReason = z.enum([
  /** The step budget T was reached. */
  'steps',
  /** The run's own target ε would be passed by the next step. */
  'epsilon',
  /** The data set's budget cap would be passed by the next step. */
  'budget',
  /** The user cancelled. */
  'cancelled',
]);
export type StopReason = z.infer<typeof StopReason>;

const Finite = z.number().finite();
const Count = z.number().int().min(0);

export const ChildMessage = z.discriminatedUnion('type', [
  /** The worker listens; send `start`. */
  z.strictObject({ type: z.literal('ready'), pid: Count }),
  /**
   * The TensorFlow.js backend chosen, those passed over, the process memory
   * and, where the method trains on several threads, how many.
   */
  z.strictObject({
    type: z.literal('backend'),
    name: z.string(),
    tried: z.array(z.strictObject({ name: z.string(), reason: z.string() })),
    memory: z.strictObject({ rssBytes: Count, heapUsedBytes: Count, totalBytes: Count }),
    threads: Count.optional(),
  }),
  /** A stage begins; `method` says which method's stage it is (absent: dp2vae). */
  z.strictObject({ type: z.literal('stage'), stage: Stage, method: Method.optional() }),
  z.strictObject({
    type: z.literal('progress'),
    stage: Stage,
    step: Count,
    totalSteps: Count,
    samplesPerSecond: z.number().min(0).finite(),
    /** null while no rate is known yet. */
    etaSeconds: z.number().min(0).finite().nullable(),
  }),
  /** −ELBO terms of a step (nats per record): private figures, kept inside the app. */
  z.strictObject({
    type: z.literal('metrics'),
    stage: Stage,
    step: Count,
    recon: z.number(),
    kl: z.number(),
  }),
  /** Asks the runner to record steps `fromStep..toStep` write-ahead; the worker waits for `spent`. */
  z.strictObject({
    type: z.literal('spend'),
    fromStep: z.number().int().min(1),
    toStep: z.number().int().min(1),
  }),
  /** ε after `step` stage-2 steps: this run's own, and the data set's composed total. */
  z.strictObject({
    type: z.literal('epsilon'),
    step: Count,
    epsilon: Finite.min(0),
    total: Finite.min(0),
  }),
  /** A 10-class sample grid from the stage-2 decoder ONLY (releasable): PNG bytes, base64. */
  z.strictObject({
    type: z.literal('grid'),
    step: Count,
    perClass: z.number().int().min(1),
    png: z.string().min(1),
  }),
  /** A checkpoint written durably (stage1: the encoders folder; stage2: a checkpoint file). */
  z.strictObject({
    type: z.literal('checkpoint'),
    stage: Stage,
    step: Count,
    path: z.string().min(1),
    bytes: Count,
  }),
  /**
   * A release written durably (`mepf`: the noisy class sums, the output of
   * the Gaussian mechanism; releasable): the runner registers it.
   */
  z.strictObject({ type: z.literal('release'), path: z.string().min(1), bytes: Count }),
  /** Pause and resume took effect: `step` = stage steps taken; `requestedAt` = steps when the request arrived. */
  z.strictObject({
    type: z.literal('paused'),
    stage: Stage,
    step: Count,
    requestedAt: Count,
  }),
  z.strictObject({ type: z.literal('resumed'), stage: Stage, step: Count }),
  /**
   * The accuracy of a released classifier on the data set's held-out test
   * split (`randp`), computed in the worker after release. Computed on
   * private images WITHOUT noise: the runner keeps it among the run's private
   * metrics, shown inside the app only, never in a model card, certificate
   * or export.
   */
  z.strictObject({
    type: z.literal('test-accuracy'),
    step: Count,
    /** In %. */
    accuracy: Finite.min(0).max(100),
    images: Count,
  }),
  /**
   * Stage 2 ended. For every reason but 'cancelled' the released model is
   * written: the decoder (`<runDir>/decoder/weights.bin` and
   * `architecture.json`), or, for a method that releases another model, that
   * model (`model`: its kind and folder; `decoder` is then null).
   */
  z.strictObject({
    type: z.literal('done'),
    steps: Count,
    epsilon: Finite.min(0),
    stoppedBy: StopReason,
    /** Stage steps taken when a cancel arrived (null when not cancelled). */
    requestedAt: Count.nullable(),
    decoder: z.strictObject({ dir: z.string(), weightsBytes: Count }).nullable(),
    model: z
      .strictObject({ kind: z.literal('classifier'), dir: z.string(), weightsBytes: Count })
      .optional(),
  }),
  /**
   * Sign of life, from a timer (heartbeat.ts): `longestStallMs` is the longest
   * stretch the worker's event loop has been blocked so far (a long step).
   */
  z.strictObject({ type: z.literal('heartbeat'), longestStallMs: Count }),
  /** The run cannot go on; plain words (what, where, what to do). */
  z.strictObject({
    type: z.literal('error'),
    code: z.string(),
    message: z.string(),
  }),
]);
export type ChildMessage = z.infer<typeof ChildMessage>;

/** Parses a message; throws with a short description of what is wrong. */
function parseWith<T>(schema: z.ZodType<T>, raw: unknown, side: string): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
  const type =
    raw !== null && typeof raw === 'object' && 'type' in raw
      ? ` "${String((raw as { type: unknown }).type)}"`
      : '';
  throw new Error(`Malformed message${type} from the ${side}${where}: ${issue?.message ?? '?'}`);
}

/** Validates a message received by the worker. */
export function parseParentMessage(raw: unknown): ParentMessage {
  return parseWith(ParentMessage, raw, 'runner');
}

/** Validates a message received by the runner. */
export function parseChildMessage(raw: unknown): ChildMessage {
  return parseWith(ChildMessage, raw, 'training worker');
}

/**
 * The child side of the channel. `process.send`/`process.on('message')` under
 * `child_process.fork`; Electron's `process.parentPort` under `utilityProcess`.
 */
export interface WorkerTransport {
  send(message: ChildMessage): void;
  onMessage(handler: (raw: unknown) => void): void;
  /** Called once if the runner goes away (channel closed by the other side). */
  onParentGone(handler: () => void): void;
  /** Flushes what was sent, then lets the process exit (drops the channel's hold). */
  close(): Promise<void>;
}

interface ParentPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  start?: () => void;
}

/** The transport of the current process: Electron's parentPort when present, else Node's IPC channel. */
export function processTransport(): WorkerTransport {
  const port = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
  if (port) {
    return {
      send: (m) => port.postMessage(m),
      onMessage: (h) => {
        port.on('message', (e) => h(e.data));
        port.start?.();
      },
      onParentGone: () => {},
      close: async () => {},
    };
  }
  const send = process.send?.bind(process);
  if (!send) {
    throw new Error(
      'The training worker must be started by the runner (child_process.fork or utilityProcess).',
    );
  }
  let pending = 0;
  let drained: (() => void) | null = null;
  let closing = false;
  return {
    send: (m) => {
      pending++;
      send(m, undefined, {}, () => {
        pending--;
        if (pending === 0) drained?.();
      });
    },
    onMessage: (h) => {
      process.on('message', h);
    },
    onParentGone: (h) => {
      process.once('disconnect', () => {
        if (!closing) h();
      });
    },
    close: async () => {
      closing = true;
      if (pending > 0) await new Promise<void>((r) => (drained = r));
      if (process.connected) process.disconnect();
    },
  };
}

/** How a run's backend is shown: its name, and its threads when more than one ("wasm, 2 threads"). */
export function backendLabel(m: { name: string; threads?: number | undefined }): string {
  return m.threads !== undefined && m.threads > 1 ? `${m.name}, ${m.threads} threads` : m.name;
}
