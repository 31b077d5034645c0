/**
 * kill -9 at random points of every write path (import, spend, checkpoint,
 * export, delete), shared by the CI test (a few trials) and
 * `npm run bench kill-trials` (the full count). Each trial copies a prepared
 * data folder, starts the operation in a child process (kill-child.ts) in
 * its own process group, SIGKILLs the group (the training worker with it)
 * after a random delay, reopens the folder through the normal service
 * start-up and checks the invariants below; it reports violations instead of
 * throwing, so a run counts them all.
 */
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dispatch } from '../../../src-main/contract/dispatch';
import { readDatasetFiles } from '../../../src-main/data';
import { unpackContainer } from '../../../src-main/engine/checkpoint';
import { createServices } from '../../../src-main/services/create-services';
import { ServiceContext } from '../../../src-main/services/context';
import { listCheckpoints, listDatasets, listRuns, stepsSpent } from '../../../src-main/store';
import { writeDigitFolder } from '../../support/digits';

/** The write paths a trial can interrupt. */
export const OPS = ['import', 'spend', 'checkpoint', 'export', 'delete'] as const;
export type Op = (typeof OPS)[number];

/** The small training run of the template and of the spend / checkpoint trials. */
export const TRAINING = {
  dataset: 'digits',
  method: 'dp2vae',
  preset: 'quick',
  epsilon: 20,
  overrides: { blocks: 2, steps: 30, pretrainEpochs: 1, batchSize: 16, seed: 5 },
  wait: true,
};

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./kill-child.ts', import.meta.url));

/** What the trials start from. */
export interface Template {
  root: string;
  /** A data home with data set "digits" and its completed run 1 (with samples). */
  home: string;
  /** The image folder the import trials read. */
  source: string;
  /** A complete export of run 1: relative path → size. */
  reference: Map<string, number>;
}

/** Every file under `dir`: relative path → size. */
function listing(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (p: string): void => {
    for (const name of readdirSync(p)) {
      const q = join(p, name);
      if (statSync(q).isDirectory()) walk(q);
      else out.set(relative(dir, q), statSync(q).size);
    }
  };
  walk(dir);
  return out;
}

/** Builds the template in `root` through the services: an import, a training run, an export. */
export async function prepareTemplate(root: string): Promise<Template> {
  const source = join(root, 'source');
  writeDigitFolder(source, 20);
  const home = join(root, 'template');
  const ctx = new ServiceContext(home);
  try {
    const handlers = createServices(ctx);
    const imported = await dispatch(handlers, 'datasets.import', { path: source, name: 'digits' });
    if (!imported.ok) throw new Error(imported.error.message);
    const trained = await dispatch(handlers, 'runs.start', TRAINING);
    if (!trained.ok || trained.value.outcome?.status !== 'completed' || trained.value.runId !== 1)
      throw new Error(`template training: ${JSON.stringify(trained)}`);
    const out = join(root, 'reference-export');
    const exported = await dispatch(handlers, 'runs.export', {
      runId: 1,
      outDir: out,
      perClass: 20,
    });
    if (!exported.ok) throw new Error(exported.error.message);
    return { root, home, source, reference: listing(out) };
  } finally {
    ctx.close();
  }
}

/** The outcome of one trial. */
export interface TrialResult {
  op: Op;
  /** Milliseconds from "go" to the kill (or to the end, when the operation finished first). */
  ms: number;
  /** Whether the operation finished before the kill. */
  finished: boolean;
  violations: string[];
}

/**
 * Runs one trial: `killAfterMs` after "go" the child's process group is
 * killed (never, for Infinity: a calibration run).
 */
export async function runTrial(
  template: Template,
  op: Op,
  killAfterMs: number,
  index: number,
): Promise<TrialResult> {
  const dir = join(template.root, `trial-${index}`);
  const home = join(dir, 'home');
  const release = join(dir, 'release');
  const out = join(release, 'export');
  cpSync(template.home, home, { recursive: true });
  mkdirSync(release);
  const arg = op === 'import' ? template.source : op === 'export' ? out : '';
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, home, op, arg], {
    cwd: ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stepSeen = 0;
  let finished = false;
  let began = 0;
  let ms = 0;
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let buffered = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('ready')) {
        began = performance.now();
        child.stdin.write('go\n');
        if (Number.isFinite(killAfterMs))
          timer = setTimeout(() => {
            ms = performance.now() - began;
            killGroup();
          }, killAfterMs);
      } else if (line.startsWith('step ')) stepSeen = Math.max(stepSeen, Number(line.slice(5)));
      else if (line.startsWith('done ')) {
        finished = true;
        ms = performance.now() - began;
      }
    }
  });
  const guard = setTimeout(killGroup, 120_000);
  await exited;
  clearTimeout(guard);
  clearTimeout(timer);
  killGroup(); // the training worker, should it outlive its parent
  const violations: string[] = [];
  if (began === 0) violations.push(`the child never became ready: ${stderr}`);
  violations.push(...(await checkInvariants({ op, home, release, out, stepSeen, template })));
  rmSync(dir, { recursive: true, force: true });
  return { op, ms, finished, violations };
}

/** Reopens the data folder as a start of the app would, and lists every broken invariant. */
async function checkInvariants(t: {
  op: Op;
  home: string;
  release: string;
  out: string;
  stepSeen: number;
  template: Template;
}): Promise<string[]> {
  const v: string[] = [];
  let ctx: ServiceContext;
  try {
    ctx = new ServiceContext(t.home);
    void ctx.store;
  } catch (err) {
    return [`the store does not open: ${(err as Error).message}`];
  }
  try {
    const store = ctx.store;
    const integrity = store.db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') v.push(`integrity_check: ${String(integrity)}`);

    // Runs: none stuck running; the ledger covers every checkpoint and every step seen.
    for (const run of listRuns(store)) {
      if (run.status === 'running' || run.status === 'queued')
        v.push(`run ${run.id} is still '${run.status}' after start-up`);
      const spent = stepsSpent(store, run.id);
      // Earlier checkpoint rows are history: the worker removes their files once a newer
      // one is recorded (the encoder files they name are freed). The latest is what a
      // resume reads: it must be a whole file.
      const cps = listCheckpoints(store, run.id);
      const latest = cps.at(-1);
      if (latest && !existsSync(latest.path))
        v.push(`the latest checkpoint of run ${run.id} (row ${latest.id}) has no file`);
      else if (latest?.stage === 'stage2') {
        try {
          unpackContainer(readFileSync(latest.path));
        } catch (err) {
          v.push(`checkpoint ${latest.path} is not whole: ${(err as Error).message}`);
        }
      }
      for (const cp of cps) {
        if (cp.stage === 'stage2' && cp.step > spent)
          v.push(`run ${run.id}: ledger ${spent} steps < checkpoint at step ${cp.step}`);
      }
      if (run.id === 2 && spent < t.stepSeen)
        v.push(`run 2: ledger ${spent} steps < ${t.stepSeen} steps taken`);
    }

    // Data sets: every visible one reads back whole; no folder without its row.
    const live = listDatasets(store);
    for (const ds of live) {
      try {
        await readDatasetFiles(ds.filesDir);
      } catch (err) {
        v.push(`data set "${ds.name}" is visible but not whole: ${(err as Error).message}`);
      }
    }
    const folder = join(t.home, 'datasets');
    const owned = new Set(live.map((d) => d.filesDir));
    for (const name of existsSync(folder) ? readdirSync(folder) : []) {
      if (!owned.has(join(folder, name))) v.push(`datasets/${name} belongs to no data set`);
    }
    for (const ds of listDatasets(store, { includeDeleted: true })) {
      if (ds.deletedAt !== null && existsSync(ds.filesDir))
        v.push(`deleted data set "${ds.name}" still has its files after start-up`);
    }
    const pending = store.db.prepare('SELECT COUNT(*) FROM pending_removals').pluck().get();
    if (pending !== 0) v.push(`${String(pending)} removals still pending after start-up`);

    // Export: the folder is complete with its certificate, or absent; leftovers are marked.
    if (existsSync(t.out)) {
      const got = listing(t.out);
      const same =
        got.size === t.template.reference.size &&
        [...got].every(([p, size]) => t.template.reference.get(p) === size);
      if (!same || !got.has('certificate.json')) v.push('the export folder is incomplete');
    }
    for (const name of readdirSync(t.release)) {
      if (name !== 'export' && !name.startsWith('export.partial-'))
        v.push(`unexpected ${name} beside the export`);
    }

    // The app keeps working: the interrupted operation succeeds now.
    const handlers = createServices(ctx);
    const again =
      t.op === 'import' && !live.some((d) => d.name === 'imported')
        ? await dispatch(handlers, 'datasets.import', { path: t.template.source, name: 'imported' })
        : t.op === 'export' && !existsSync(t.out)
          ? await dispatch(handlers, 'runs.export', { runId: 1, outDir: t.out, perClass: 20 })
          : t.op === 'delete' && live.some((d) => d.name === 'digits')
            ? await dispatch(handlers, 'datasets.delete', { name: 'digits' })
            : null;
    if (again && !again.ok) v.push(`${t.op} fails after the restart: ${again.error.message}`);
    // An interrupted training run resumes from its last checkpoint and completes.
    const run2 = listRuns(store).find((r) => r.id === 2);
    if (run2?.status === 'interrupted') {
      const resumed = await dispatch(handlers, 'runs.resume', { runId: 2, wait: true });
      if (!resumed.ok || resumed.value.outcome?.status !== 'completed')
        v.push(`run 2 does not resume: ${JSON.stringify(resumed)}`);
      else if (stepsSpent(store, 2) < TRAINING.overrides.steps)
        v.push(`run 2 completed with ${stepsSpent(store, 2)} steps in the ledger`);
    }
    if (t.op === 'export' && readdirSync(t.release).join() !== 'export')
      v.push(`after a new export, ${readdirSync(t.release).join(', ')} beside it`);
  } catch (err) {
    v.push(`checking failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    ctx.close();
  }
  return v;
}

/** Counts per operation, with each violation and how often. */
export interface TrialSummary {
  trials: number;
  perOp: Record<Op, { trials: number; killed: number; finished: number; violations: number }>;
  violations: Map<string, number>;
}

/** Options of `runTrials`. */
export interface TrialOptions {
  /** Trials per operation, the first of them uninterrupted. */
  perOp: number;
  /** Kill delays are drawn uniformly from [0, spread · D] (default 0.9). */
  spread?: number;
  log?: (line: string) => void;
}

/**
 * Runs `perOp` trials of each operation: first one uninterrupted (to measure
 * its duration D), then kills at delays drawn uniformly from [0, spread · D].
 */
export async function runTrials(
  template: Template,
  { perOp, spread = 0.9, log = () => undefined }: TrialOptions,
): Promise<TrialSummary> {
  const summary: TrialSummary = {
    trials: 0,
    perOp: Object.fromEntries(
      OPS.map((op) => [op, { trials: 0, killed: 0, finished: 0, violations: 0 }]),
    ) as TrialSummary['perOp'],
    violations: new Map(),
  };
  for (const op of OPS) {
    let duration = 0;
    for (let i = 0; i < perOp; i++) {
      let delay = i === 0 ? Infinity : Math.random() * spread * duration;
      let r = await runTrial(template, op, delay, summary.trials);
      // The last chance to interrupt this path: an operation that ran faster than the
      // first (warm caches) finished before its kill; try again, earlier.
      for (let retry = 0; retry < 4 && r.finished && i === perOp - 1; retry++) {
        if (summary.perOp[op].killed > 0) break;
        log(`${op} #${i + 1}: finished at ${r.ms.toFixed(0)} ms, before the kill; again, earlier`);
        delay = Math.random() * spread * Math.min(duration, r.ms);
        r = await runTrial(template, op, delay, summary.trials);
      }
      if (i === 0) duration = r.ms;
      summary.trials++;
      const s = summary.perOp[op];
      s.trials++;
      if (r.finished) s.finished++;
      else s.killed++;
      s.violations += r.violations.length;
      for (const msg of r.violations) {
        const key = `${op}: ${msg
          .replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/g, 'ID')
          .replace(/\d+/g, 'N')}`;
        summary.violations.set(key, (summary.violations.get(key) ?? 0) + 1);
      }
      log(
        `${op} #${i + 1}: ${r.finished ? 'finished' : 'killed'} at ${r.ms.toFixed(0)} ms` +
          (r.violations.length ? ` — ${r.violations.join('; ')}` : ''),
      );
    }
  }
  return summary;
}
