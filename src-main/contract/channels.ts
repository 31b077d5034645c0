import {
  AccountBatchRequest,
  AccountBatchResponse,
  AccountRequest,
  AccountResponse,
  AppInfoResponse,
  CalibrateRequest,
  CalibrateResponse,
  ChoosePathRequest,
  ChoosePathResponse,
  Empty,
  ExploreRequest,
  ExploreResponse,
  RecommendDeltaRequest,
  RecommendDeltaResponse,
} from './schemas';
import {
  DatasetDto,
  DatasetRef,
  DeleteDatasetResponse,
  ImportPreviewDto,
  ImportRequest,
  ImportSource,
  LedgerResponse,
  SetBudgetRequest,
} from './datasets';
import {
  EvalRequest,
  EvalResponse,
  ExportRequest,
  ExportResponse,
  GenerateRequest,
  GenerateResponse,
  RunDto,
  RunPlanRequest,
  RunPlanResponse,
  RunRef,
  RunStartRequest,
  RunStartResponse,
} from './runs';
import {
  CertificateResponse,
  MethodsResponse,
  PresetsRequest,
  PresetsResponse,
  RunProgressRequest,
  RunProgressResponse,
} from './live';
import { z as zod } from 'zod';
import type { ErrorPayload } from './errors';

/**
 * The one typed API between the services and their faces (Electron renderer,
 * the end-to-end harness, the command line). A channel is `group.method`;
 * the renderer sees it as `window.dp2.group.method(request)`.
 */
export const CHANNELS = {
  'app.info': { request: Empty, response: AppInfoResponse },
  'app.choosePath': { request: ChoosePathRequest, response: ChoosePathResponse },
  'privacy.account': { request: AccountRequest, response: AccountResponse },
  'privacy.accountBatch': { request: AccountBatchRequest, response: AccountBatchResponse },
  'privacy.calibrate': { request: CalibrateRequest, response: CalibrateResponse },
  'privacy.explore': { request: ExploreRequest, response: ExploreResponse },
  'privacy.recommendDelta': { request: RecommendDeltaRequest, response: RecommendDeltaResponse },
  'datasets.preview': { request: ImportSource, response: ImportPreviewDto },
  'datasets.import': {
    request: ImportRequest,
    response: zod.strictObject({ dataset: DatasetDto, preview: ImportPreviewDto }),
  },
  'datasets.list': { request: Empty, response: zod.array(DatasetDto) },
  'datasets.show': { request: DatasetRef, response: DatasetDto },
  'datasets.delete': { request: DatasetRef, response: DeleteDatasetResponse },
  'datasets.setBudget': { request: SetBudgetRequest, response: DatasetDto },
  'datasets.ledger': { request: DatasetRef, response: LedgerResponse },
  'runs.plan': { request: RunPlanRequest, response: RunPlanResponse },
  'runs.start': { request: RunStartRequest, response: RunStartResponse },
  'runs.resume': {
    request: zod.strictObject({
      runId: zod.number().int().min(1),
      wait: zod.boolean().default(false),
    }),
    response: RunStartResponse,
  },
  'runs.list': { request: Empty, response: zod.array(RunDto) },
  'runs.show': { request: RunRef, response: RunDto },
  'runs.pause': { request: RunRef, response: Empty },
  'runs.continue': { request: RunRef, response: Empty },
  'runs.cancel': { request: RunRef, response: Empty },
  'runs.generate': { request: GenerateRequest, response: GenerateResponse },
  'runs.export': { request: ExportRequest, response: ExportResponse },
  'runs.progress': { request: RunProgressRequest, response: RunProgressResponse },
  'runs.certificate': { request: RunRef, response: CertificateResponse },
  'runs.presets': { request: PresetsRequest, response: PresetsResponse },
  /** The training methods, best measured first, with their measured figures. */
  'runs.methods': { request: Empty, response: MethodsResponse },
  'eval.run': { request: EvalRequest, response: EvalResponse },
  /** The run's latest stored evaluation, or null when it has none. */
  'eval.forRun': { request: RunRef, response: EvalResponse.nullable() },
  /** Every stored evaluation of the run, newest first. */
  'eval.history': { request: RunRef, response: zod.array(EvalResponse) },
} as const;

export type Channel = keyof typeof CHANNELS;
export const CHANNEL_NAMES = Object.keys(CHANNELS) as Channel[];

/** What a caller may send (defaults not yet applied). */
export type RequestOf<C extends Channel> = zod.input<(typeof CHANNELS)[C]['request']>;
/** What a handler receives (validated, defaults applied). */
export type ParsedRequestOf<C extends Channel> = zod.output<(typeof CHANNELS)[C]['request']>;
export type ResponseOf<C extends Channel> = zod.output<(typeof CHANNELS)[C]['response']>;

/** Every reply crossing a process boundary. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

/** Progress of a long task, reported while its request runs. */
export interface Progress {
  task: string;
  done: number;
  total: number;
}

/** What a face passes along with one request: progress reports and cancellation. */
export interface CallContext {
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

/** The service implementations, one per channel. */
export type Handlers = {
  [C in Channel]: (request: ParsedRequestOf<C>, call: CallContext) => Promise<ResponseOf<C>>;
};

type GroupOf<C extends string> = C extends `${infer G}.${string}` ? G : never;
type MethodOf<C extends string, G extends string> = C extends `${G}.${infer M}` ? M : never;

type Method<C extends Channel> = (request: RequestOf<C>) => Promise<Result<ResponseOf<C>>>;

/** `window.dp2`: the contract's functions and nothing else. */
export type Dp2Api = {
  [G in GroupOf<Channel>]: {
    [C in Channel as C extends `${G}.${string}` ? MethodOf<C, G> : never]: Method<C>;
  };
};

/** The IPC channel name for a contract channel (namespaced so nothing else collides). */
export function ipcName(channel: Channel): string {
  return `dp2:${channel}`;
}

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.hasOwn(CHANNELS, name);
}
