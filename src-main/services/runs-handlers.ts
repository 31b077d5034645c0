import { resolve } from 'node:path';
import type { CallContext, Handlers } from '../contract';
import { UserError } from '../contract/errors';
import { composedEpsilon } from '../privacy/compose-specs';
import { planArchitecture, presetList, resolveRunPlan } from '../jobs/presets';

const PRESET_LABELS = {
  quick: 'Quick look',
  paper: 'Paper setting',
  'high-privacy': 'High privacy',
} as const;
import {
  readHeader,
  resumeTraining,
  startTraining,
  TEST_ACCURACY,
  withSource,
} from '../jobs/runner';
import { parseArchitecture } from '../engine/architecture';
import { trainThreadCount } from '../engine/train-threads';
import { estimateMemory } from './estimate-memory';
import { planClassNotes } from '../jobs/class-notes';
import { linkedRuns } from '../jobs/linked-runs';
import type { RunHandle, RunOutcome } from '../jobs/runner';
import {
  exportRun,
  getDataset,
  getMetrics,
  getRun,
  latestEvaluation,
  ledgerEntriesByFingerprint,
  listArtifacts,
  listRuns,
} from '../store';
import type { Run } from '../store';
import type { ServiceContext } from './context';
import { ledgerSpecs, noiseSpec } from '../jobs/budget';
import { RunPlan } from '../jobs/protocol';
import { DEFAULT_METHOD, METHOD_CARDS } from '../methods/catalog';
import { isMethodId, methodOf, planNoise, planStageWork, planWork } from '../methods/registry';
import { EVAL_PROTOCOL } from '../eval';
import { composedReleaseOf, releasedEpsilonOf, spentBy } from './released-epsilon';
import { sampleRun, storeRunSamples, writeSamples } from './samples';
import { estimateDuration, relativeCost } from './estimate';
import { runProgress } from './run-progress';
import { currentCertificate, readCertificate } from './certificate-file';

/** The run's cost (model and settings), so its measured speed serves plans at other sizes and settings. */
function noteCost(ctx: ServiceContext, runId: number): void {
  const run = getRun(ctx.store, runId);
  try {
    // The column holds { preset, plan, schedule, notes }: the plan is inside.
    const plan = RunPlan.parse((run.hyperparameters as { plan?: unknown } | null)?.plan);
    ctx.live.setCost(runId, relativeCost(parseArchitecture(run.architecture)) * planWork(plan));
  } catch {
    // An unreadable description: the run's own worker refuses it; the estimate keeps cost 1.
  }
}

type RunHandlers = Pick<
  Handlers,
  | 'runs.plan'
  | 'runs.start'
  | 'runs.resume'
  | 'runs.list'
  | 'runs.show'
  | 'runs.pause'
  | 'runs.continue'
  | 'runs.cancel'
  | 'runs.generate'
  | 'runs.export'
  | 'runs.progress'
  | 'runs.certificate'
  | 'runs.presets'
  | 'runs.methods'
>;

function outcomeDto(o: RunOutcome) {
  return {
    status: o.status,
    steps: o.steps,
    epsilon: o.epsilon,
    stoppedBy: o.stoppedBy,
    error: o.error,
  };
}

/** Whether a run's method releases a classifier (no decoder, samples or grids). */
function releasesClassifier(ctx: ServiceContext, runId: number): boolean {
  const method = getRun(ctx.store, runId).method;
  return isMethodId(method) && methodOf(method).card.releases === 'classifier';
}

/** A classifier run's private test accuracy (the last measured), or null. */
function testAccuracyOf(ctx: ServiceContext, run: Run) {
  if (!isMethodId(run.method) || methodOf(run.method).card.releases !== 'classifier') return null;
  const rows = getMetrics(ctx.store, run.id, { stage: 'stage2', name: TEST_ACCURACY });
  const last = rows[rows.length - 1];
  if (!last || last.value === null) return null;
  const dataset = getDataset(ctx.store, run.datasetId, { includeDeleted: true });
  return { accuracy: last.value, images: dataset.testCount };
}

/**
 * For a classifier run: the best evaluated synthetic-set classifier of the
 * same data set at no more ε (see RunDto.syntheticRoute), or null.
 */
function syntheticRouteOf(ctx: ServiceContext, run: Run) {
  if (!isMethodId(run.method) || methodOf(run.method).card.releases !== 'classifier') return null;
  const dataset = getDataset(ctx.store, run.datasetId, { includeDeleted: true });
  // At no more than the analyst's target ε (or what the run spent, when it had none); a run
  // calibrated for the same target spends it up to rounding, hence the slack.
  const limit = (run.targetEpsilon ?? spentBy(ctx.store, run).epsilon) * 1.001;
  let best: { runId: number; method: string; epsilon: number; cnn: number } | null = null;
  for (const other of listRuns(ctx.store)) {
    if (other.datasetId !== run.datasetId || other.status !== 'completed') continue;
    if (!isMethodId(other.method) || methodOf(other.method).card.releases === 'classifier')
      continue;
    const evaluation = latestEvaluation(ctx.store, other.id);
    const cnn = evaluation?.cnn?.mean;
    if (cnn === undefined || evaluation?.protocolVersion !== EVAL_PROTOCOL.version) continue;
    if (evaluation.realTest !== dataset.name) continue;
    const spent = releasedEpsilonOf(ctx.store, other);
    if (spent > limit) continue;
    if (!best || cnn > best.cnn)
      best = { runId: other.id, method: other.method, epsilon: spent, cnn };
  }
  return best;
}

function runDto(ctx: ServiceContext, run: Run) {
  const dataset = getDataset(ctx.store, run.datasetId, { includeDeleted: true });
  const spent = spentBy(ctx.store, run);
  return {
    id: run.id,
    dataset: dataset.name,
    method: run.method,
    status: run.status,
    targetEpsilon: run.targetEpsilon,
    delta: run.delta,
    spentEpsilon: spent.epsilon,
    releasedEpsilon: composedReleaseOf(run),
    stepsPaid: spent.steps,
    hyperparameters: run.hyperparameters,
    backend: run.backend,
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
    durationMs: run.durationMs,
    error: run.errorMessage,
    testAccuracy: testAccuracyOf(ctx, run),
    syntheticRoute: syntheticRouteOf(ctx, run),
  };
}

/** Follows a started run: waits for its end when asked to, cancelling it if the caller gives up. */
async function follow(ctx: ServiceContext, handle: RunHandle, wait: boolean, call: CallContext) {
  ctx.runs.set(handle.runId, handle);
  void handle.done.finally(() => ctx.runs.delete(handle.runId));
  if (!wait) return { runId: handle.runId, outcome: null };
  call.signal?.addEventListener('abort', () => handle.cancel(), { once: true });
  return { runId: handle.runId, outcome: outcomeDto(await handle.done) };
}

function active(ctx: ServiceContext, runId: number): RunHandle {
  const handle = ctx.runs.get(runId);
  if (!handle) {
    const run = getRun(ctx.store, runId);
    throw new UserError(
      'INVALID_INPUT',
      `Run ${runId} is not training right now (it is ${run.status}).`,
    );
  }
  return handle;
}

/** Training runs: plan, start, follow, pause/continue/cancel, resume after a crash, generate, export. */
export function runHandlers(ctx: ServiceContext): RunHandlers {
  return {
    'runs.plan': async ({ dataset: name, method, preset, epsilon, delta, overrides }) => {
      const dataset = getDataset(ctx.store, name);
      const runDelta = delta ?? dataset.budgetDelta;
      const planned = resolveRunPlan({
        method,
        preset,
        overrides,
        datasetSize: dataset.trainCount,
        targetEpsilon: epsilon,
        delta: runDelta,
        ...linkedRuns(ctx.store, dataset, overrides),
      });
      // A run that trains from another run's release: its settings are that release's.
      const resolved = {
        ...planned,
        plan: withSource(ctx.store, dataset, methodOf(method), planned.plan),
      };
      const { labeller, ...shown } = resolved.plan as RunPlan & { labeller?: { run: number } };
      const classes = await planClassNotes(dataset, resolved.plan);
      const header = await readHeader(dataset);
      const arch = planArchitecture(
        preset,
        { height: header.height, width: header.width, channels: header.channels },
        header.classes.length,
        method,
      );
      const prior = ledgerSpecs(ledgerEntriesByFingerprint(ctx.store, dataset.fingerprint));
      const after = composedEpsilon({
        specs: [...prior, noiseSpec(planNoise(resolved.plan), resolved.plan.steps)],
        delta: dataset.budgetDelta,
      });
      return {
        // The form shows flat settings: a linked classifier by its run.
        hyperparameters: { ...shown, ...(labeller ? { labeller: labeller.run } : {}) },
        epsilon: resolved.epsilon,
        releasedEpsilon: methodOf(method).releasedEpsilon?.(resolved.plan, runDelta) ?? null,
        delta: runDelta,
        datasetSpent: {
          before: composedEpsilon({ specs: prior, delta: dataset.budgetDelta }).epsilon,
          after: after.epsilon,
          cap: dataset.budgetEpsilon,
        },
        notes: (prior.some(
          (spec) => spec.steps > 0 && spec.mechanism !== planNoise(resolved.plan).mechanism,
        )
          ? [
              ...resolved.notes,
              'This data set has already been trained on with the other method. The two are counted under different neighbouring relations, so the total is composed conservatively (DP-SGD counts twice its own ε).',
            ]
          : resolved.notes
        ).concat(classes.notes),
        confirm: classes.confirm,
        estimate: {
          ...estimateDuration(
            ctx.store,
            ctx.live,
            planStageWork(resolved.plan, dataset.trainCount).map((w) => ({
              ...w,
              method,
              cost: relativeCost(arch) * planWork(resolved.plan),
            })),
          ),
          memory: estimateMemory({
            method,
            plan: resolved.plan,
            arch,
            images: dataset.trainCount + dataset.testCount,
            trainCount: dataset.trainCount,
            // The portable backend's threads: with a native one the run uses fewer, and less memory.
            threads: trainThreadCount({ backend: 'wasm' }),
          }),
        },
      };
    },

    'runs.start': async (
      { dataset, method, preset, epsilon, delta, overrides, wait, confirmed },
      call,
    ) => {
      const handle = await startTraining({
        store: ctx.store,
        dataHome: ctx.dataHome,
        datasetName: dataset,
        method,
        targetEpsilon: epsilon,
        ...(delta !== undefined ? { delta } : {}),
        preset,
        overrides,
        confirmed,
        onEvent: (event) => ctx.emitRunEvent(event),
        ...(ctx.launcher ? { launcher: ctx.launcher } : {}),
        ...(ctx.schedule ? { schedule: ctx.schedule } : {}),
      });
      noteCost(ctx, handle.runId);
      return follow(ctx, handle, wait, call);
    },

    'runs.resume': async ({ runId, wait }, call) => {
      const handle = await resumeTraining({
        store: ctx.store,
        dataHome: ctx.dataHome,
        runId,
        onEvent: (event) => ctx.emitRunEvent(event),
        ...(ctx.launcher ? { launcher: ctx.launcher } : {}),
      });
      return follow(ctx, handle, wait, call);
    },

    'runs.progress': async ({ runId, maxPoints }) =>
      runProgress(ctx, { run: runDto(ctx, getRun(ctx.store, runId)), maxPoints }),
    'runs.certificate': async ({ runId }) => readCertificate(ctx.store, runId),

    'runs.presets': async ({ method }) =>
      presetList(method).map(({ name, summary }) => ({
        name,
        label: PRESET_LABELS[name],
        summary,
      })),

    'runs.methods': async () =>
      METHOD_CARDS.map((c) => ({
        id: c.id,
        name: c.name,
        description: c.description,
        releases: c.releases,
        measured: c.measured.map((f) =>
          'cnnAccuracy' in f
            ? { ...f, cnnAccuracy: [...f.cnnAccuracy] as [number, number] }
            : { ...f, testAccuracy: [...f.testAccuracy] as [number, number] },
        ),
        verdict: c.verdict,
        fields: Object.entries(c.settings)
          .filter(([, f]) => !f.cliOnly && !f.internal)
          .map(([key, f]) => ({
            key,
            label: f.label,
            help: f.help,
            kind: f.kind,
            ...(f.choices ? { choices: [...f.choices] } : {}),
            ...(f.small ? { small: true } : {}),
          })),
        stages: (['stage1', 'stage2'] as const).flatMap((id) => {
          const s = c.stages[id];
          return s ? [{ id, label: s.label, hint: s.hint, loss: s.loss }] : [];
        }),
        isDefault: c.id === DEFAULT_METHOD,
      })),

    'runs.list': async () => listRuns(ctx.store).map((run) => runDto(ctx, run)),
    'runs.show': async ({ runId }) => runDto(ctx, getRun(ctx.store, runId)),
    'runs.pause': async ({ runId }) => {
      active(ctx, runId).pause();
      return {};
    },
    'runs.continue': async ({ runId }) => {
      active(ctx, runId).resume();
      return {};
    },
    'runs.cancel': async ({ runId }) => {
      active(ctx, runId).cancel();
      return {};
    },

    'runs.generate': async ({ runId, perClass, seed, out }) => {
      const { path: certificate, notice } = await currentCertificate(ctx.store, runId);
      const images = await sampleRun(ctx.store, { runId, perClass, seed });
      const written = await writeSamples(images, { out: resolve(out), certificate });
      return { ...written, count: images.count, notice };
    },

    'runs.export': async ({ runId, outDir, include: asked, perClass }) => {
      // A classifier run has no decoder, samples or grids: its model and certificate go.
      const include = releasesClassifier(ctx, runId)
        ? { classifier: asked.classifier ?? true, certificate: asked.certificate ?? true }
        : asked;
      const wantsSamples = include.samplesNpz || include.samplesPng || include.grids;
      if (wantsSamples && listArtifacts(ctx.store, { runId, kind: 'samples' }).length === 0) {
        await storeRunSamples(ctx.store, { runId, perClass, seed: 0 });
      }
      // Before anything is copied: an older certificate leaves only re-issued.
      const { notice } = await currentCertificate(ctx.store, runId);
      const result = await exportRun({ store: ctx.store, runId, outDir: resolve(outDir), include });
      return { outDir: result.outDir, files: result.files.map((f) => f.name), notice };
    },
  };
}
