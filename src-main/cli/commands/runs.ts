import { resolve } from 'node:path';
import type { Handlers, ResponseOf } from '../../contract';
import { dispatch } from '../../contract/dispatch';
import { numberFlag, parseFlags, requireNumber } from '../args';
import { UsageError } from '../io';
import type { CliIo } from '../io';
import { formatNumber } from '../mechanism-flags';
import { unwrap } from '../unwrap';

export const RUNS_USAGE = `Usage:
  dp2 runs [list] [--json]
  dp2 runs show ID [--json]`;

export const GENERATE_USAGE = `Usage:
  dp2 generate --run ID --per-class N --out FILE.npz|DIR [--seed S] [--json]

Draws N synthetic images per class from a run's released decoder into a .npz
(x, y, classes) or a folder of PNGs (CLASS/000001.png), with the run's
certificate.json beside them. Costs no privacy: it only uses the release.`;

export const EXPORT_USAGE = `Usage:
  dp2 export --run ID --out DIR [--samples-png] [--per-class N] [--json]

Writes a run's releasable artifacts into a new folder DIR: the decoder, the
synthetic samples (.npz; --samples-png adds a PNG folder), sample grids,
certificate.json, and for a one-shot (mepf) run its noisy release (and the
private classifier that labels its images, where it has one). For a
private classifier (randp) run: classifier/ (model.json and weights.bin, a TensorFlow.js graph model; model-card.json) and
certificate.json. Private artifacts (images, encoders, checkpoints, accuracies
measured on your images) are never exported. The folder is written whole or
not at all.`;

function describeRun(r: ResponseOf<'runs.show'>): string {
  const target = r.targetEpsilon === null ? '' : ` (target ${formatNumber(r.targetEpsilon)})`;
  return (
    `run ${r.id}: ${r.method} on “${r.dataset}”, ${r.status}; ε spent ${formatNumber(r.spentEpsilon)}${target} ` +
    `at δ = ${formatNumber(r.delta)} over ${r.stepsPaid} paid steps; backend ${r.backend ?? '—'}` +
    (r.releasedEpsilon === null || r.releasedEpsilon === undefined
      ? ''
      : `\n  images labelled by a private classifier: ε ${formatNumber(r.releasedEpsilon)} for the labelled images (this run's release and the classifier composed)`) +
    (r.error ? `\n  ${r.error}` : '') +
    '\n'
  );
}

export async function runsCommand(argv: string[], io: CliIo, handlers: Handlers): Promise<void> {
  const { flags, positionals } = parseFlags(
    argv,
    { json: { type: 'boolean' } },
    { positionals: 2 },
  );
  if (flags.help) return io.stdout(RUNS_USAGE + '\n');
  const [action = 'list', id] = positionals;
  if (action === 'list') {
    const runs = unwrap(await dispatch(handlers, 'runs.list', {}));
    if (flags.json) return io.stdout(JSON.stringify(runs) + '\n');
    if (runs.length === 0)
      return io.stdout('No runs yet. Start one with: dp2 train --dataset mnist --epsilon 10\n');
    for (const r of runs) io.stdout(describeRun(r));
    return;
  }
  if (action === 'show') {
    if (!id || !/^\d+$/.test(id)) throw new UsageError('dp2 runs show needs a run id');
    const run = unwrap(await dispatch(handlers, 'runs.show', { runId: Number(id) }));
    if (flags.json) return io.stdout(JSON.stringify(run) + '\n');
    io.stdout(
      describeRun(run) +
        `  hyperparameters: ${JSON.stringify(run.hyperparameters)}\n` +
        (run.testAccuracy
          ? `  accuracy on the ${run.testAccuracy.images} held-out test images: ${formatNumber(run.testAccuracy.accuracy)} % (private: computed on your images without noise; never exported)\n`
          : ''),
    );
    return;
  }
  throw new UsageError(`unknown action "${action}" (list or show)`);
}

export async function generateCommand(
  argv: string[],
  io: CliIo,
  handlers: Handlers,
): Promise<void> {
  const { flags } = parseFlags(argv, {
    run: { type: 'string' },
    'per-class': { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (flags.help) return io.stdout(GENERATE_USAGE + '\n');
  if (typeof flags.out !== 'string')
    throw new UsageError('--out is required (FILE.npz or a folder)');
  const result = unwrap(
    await dispatch(handlers, 'runs.generate', {
      runId: requireNumber(flags, 'run'),
      perClass: requireNumber(flags, 'per-class'),
      seed: numberFlag(flags, 'seed') ?? 0,
      out: resolve(io.cwd, flags.out),
    }),
  );
  if (flags.json) return io.stdout(JSON.stringify(result) + '\n');
  if (result.notice) io.stderr(`${result.notice}\n`);
  io.stdout(
    `Wrote ${result.count} synthetic images to ${result.out} (certificate: ${result.certificate})\n`,
  );
}

export async function exportCommand(argv: string[], io: CliIo, handlers: Handlers): Promise<void> {
  const { flags } = parseFlags(argv, {
    run: { type: 'string' },
    out: { type: 'string' },
    'samples-png': { type: 'boolean' },
    'per-class': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (flags.help) return io.stdout(EXPORT_USAGE + '\n');
  if (typeof flags.out !== 'string') throw new UsageError('--out is required (a new folder)');
  const result = unwrap(
    await dispatch(handlers, 'runs.export', {
      runId: requireNumber(flags, 'run'),
      outDir: resolve(io.cwd, flags.out),
      include: {
        decoder: true,
        samplesNpz: true,
        samplesPng: Boolean(flags['samples-png']),
        certificate: true,
        grids: true,
        release: true,
        classifier: true,
      },
      perClass: numberFlag(flags, 'per-class') ?? 1000,
    }),
  );
  if (result.notice) io.stderr(`${result.notice}\n`);
  if (flags.json) return io.stdout(JSON.stringify(result) + '\n');
  io.stdout(`Exported to ${result.outDir}: ${result.files.join(', ')}\n`);
}
