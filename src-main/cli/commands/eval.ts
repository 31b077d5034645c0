import { resolve } from 'node:path';
import type { Handlers, ResponseOf } from '../../contract';
import { dispatch } from '../../contract/dispatch';
import { numberFlag, parseFlags } from '../args';
import { UsageError } from '../io';
import type { CliIo } from '../io';
import { formatNumber } from '../mechanism-flags';
import { progressPrinter } from '../progress';
import { unwrap } from '../unwrap';

export const EVAL_USAGE = `Usage:
  dp2 eval --run ID [--per-class 6000] [--real-test NAME] [--seeds 3] [--json]
  dp2 eval --synthetic FILE.npz [--real-test mnist|NAME] [--seeds 3] [--json]

The paper's protocol (DP²-VAE, Appendix B.4 and Table 1): logistic
regression, an MLP and a small CNN trained on the synthetic images (to
convergence, stopped on held-out synthetic images) and tested on the real
held-out split (mean ± std over seeds, accuracy in %, beside the majority-class
rate and the balanced accuracy), the Fréchet distance between real and
synthetic images in the feature space of a CNN trained on the real training
split beside the same distance for real images, and precision/recall.
For a run, also a membership audit of its released decoder (records of its
training split against held-out ones) next to what its (ε, δ) allows, and
the result is stored with the run. A --synthetic file is evaluated, not stored.
These scores use private data: they are for you, not for release.`;

type EvalResult = ResponseOf<'eval.run'>;

const pct = (v: number, digits = 1): string => v.toFixed(digits);
const share = (v: number | null): string => (v === null ? '—' : v.toFixed(3));

function pad(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) => c.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
}

/** The human-readable report: Table 1's layout with the published rows beside ours. */
export function formatEvaluation(r: EvalResult): string {
  const lines: string[] = [];
  const who = r.runId === null ? 'The synthetic images' : `Run ${r.runId}`;
  lines.push(
    `${who}: ${r.n_synthetic} synthetic images, judged against the held-out split of “${r.realTest}” ` +
      `(${r.n_test} real images); ${r.seeds.length} seed${r.seeds.length === 1 ? '' : 's'}; ` +
      `backend ${r.backend}; ${(r.durationMs / 1000).toFixed(0)} s.`,
  );
  lines.push(
    r.evaluationId === null
      ? 'Not stored (no run).'
      : `Stored with run ${r.runId} as evaluation ${r.evaluationId}.`,
  );
  lines.push(`Protocol ${r.protocol.name}, version ${r.protocol.version}.`);
  if (r.protocol.note) lines.push(r.protocol.note);

  lines.push('', 'Downstream accuracy (%: trained on synthetic images, tested on real ones)');
  const header = ['', 'LR', 'MLP', 'CNN'];
  const score = (kind: 'lr' | 'mlp' | 'cnn'): string => {
    const s = r[kind];
    return s ? `${pct(s.mean)} ± ${pct(s.std)}` : '—';
  };
  const ours =
    r.imagesEpsilon !== null ? `this run (ε = ${formatNumber(r.imagesEpsilon)})` : 'these images';
  const rows: string[][] = [header, [ours, score('lr'), score('mlp'), score('cnn')]];
  const ref = r.reference;
  if (ref) {
    for (const row of ref.rows) {
      const cell = (v: number | null) => (v === null ? '—' : pct(v));
      const eps = row.epsilon === null ? 'non-private' : `ε = ${formatNumber(row.epsilon)}`;
      rows.push([`${row.method} (${eps}), published`, cell(row.lr), cell(row.mlp), cell(row.cnn)]);
    }
  }
  const widths = header.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  for (const row of rows) lines.push(`  ${pad(row, widths)}`);
  if (ref) lines.push(`  Published rows: ${ref.citation}, δ = ${formatNumber(ref.delta)}.`);
  const perSeed = r.utility
    .map((u) => `${u.label} [${u.runs.map((a) => pct(a)).join(', ')}]`)
    .join('; ');
  if (perSeed) lines.push(`  Per seed: ${perSeed}.`);
  if (r.majority_rate !== null) {
    lines.push(
      `  Always answering the commonest class scores ${pct(r.majority_rate)} % (majority-class rate).`,
    );
  }
  const b = r.balanced_accuracy;
  if (b.lr || b.mlp || b.cnn) {
    const cell = (s: { mean: number; std: number } | null) =>
      s ? `${pct(s.mean)} ± ${pct(s.std)}` : '—';
    lines.push(
      `  Balanced accuracy (mean recall over the classes${r.imbalanced ? '; the classes are imbalanced: read this one' : ''}): ` +
        `LR ${cell(b.lr)}, MLP ${cell(b.mlp)}, CNN ${cell(b.cnn)}.`,
    );
  }

  const f = r.fidelity;
  lines.push('', 'Fidelity');
  if (!f) {
    lines.push('  not computed');
  } else {
    const check =
      f.extractorAccuracy === null
        ? ''
        : `; the feature CNN scores ${pct(f.extractorAccuracy)} % on the real test split`;
    if (f.network) lines.push(`  Feature network: ${f.network}.`);
    const ref = f.reference;
    lines.push(
      `  ${f.label}: ${formatNumber(f.value)}` +
        (ref
          ? ` against ${formatNumber(ref.value)} for ${ref.nRealTrain} real training images (real vs real` +
            (ref.value > 0 ? `; ${formatNumber(f.value / ref.value)}× that` : '') +
            ')'
          : '') +
        ` (lower is better${check})`,
    );
    lines.push(
      `  Precision ${share(f.precision)}, recall ${share(f.recall)} (k-NN manifolds, k = ${f.k})` +
        (ref ? `; real vs real ${share(ref.precision)} and ${share(ref.recall)}` : '') +
        ', per class:',
    );
    const table = [
      ['class', 'precision', 'recall', 'real', 'synthetic'],
      ...f.perClass.map((c) => [
        c.name,
        share(c.precision),
        share(c.recall),
        String(c.real),
        String(c.synthetic),
      ]),
    ];
    const w = table[0]!.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
    for (const row of table) lines.push(`    ${pad(row, w)}`);
  }

  const a = r.audit;
  if (a) {
    const within = a.exceedsBound
      ? 'ABOVE the bound: check the run (or audit more records: TPR moves in steps of 1/members).'
      : 'within the bound.';
    lines.push(
      '',
      `Membership audit (${a.members} training records against ${a.nonMembers} held-out ones)`,
      `  Score: ${a.scorer}.`,
      `  AUC ${a.auc.toFixed(3)} (0.5 = guessing; at most ${a.bound.auc.toFixed(3)} for ε = ${formatNumber(a.bound.epsilon)}, δ = ${formatNumber(a.bound.delta)})`,
      `  TPR at ${pct(100 * a.fpr, 0)} % FPR: ${pct(100 * a.tprAtFpr)} % (at most ${pct(100 * a.bound.tprAtFpr)} %); ${within}`,
    );
  } else if (r.runId !== null) {
    lines.push('', 'Membership audit: not run (the run’s data set is gone).');
  }
  lines.push('', 'These figures use private data: they are for you, not for release.');
  return lines.join('\n') + '\n';
}

export async function evalCommand(argv: string[], io: CliIo, handlers: Handlers): Promise<void> {
  const { flags } = parseFlags(argv, {
    run: { type: 'string' },
    synthetic: { type: 'string' },
    'real-test': { type: 'string' },
    'per-class': { type: 'string' },
    seeds: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (flags.help) return io.stdout(EVAL_USAGE + '\n');
  const runId = numberFlag(flags, 'run');
  const perClass = numberFlag(flags, 'per-class');
  const seeds = numberFlag(flags, 'seeds');
  if ((runId === undefined) === (flags.synthetic === undefined)) {
    throw new UsageError('give either --run ID or --synthetic FILE.npz');
  }
  const bar = progressPrinter(io);
  const result = unwrap(
    await dispatch(
      handlers,
      'eval.run',
      {
        ...(runId !== undefined ? { runId } : {}),
        ...(typeof flags.synthetic === 'string'
          ? { synthetic: resolve(io.cwd, flags.synthetic) }
          : {}),
        ...(typeof flags['real-test'] === 'string' ? { realTest: flags['real-test'] } : {}),
        ...(perClass !== undefined ? { perClass } : {}),
        ...(seeds !== undefined ? { seeds } : {}),
      },
      { onProgress: bar.report },
    ),
  );
  bar.end();
  if (flags.json) return io.stdout(JSON.stringify(result) + '\n');
  io.stdout(formatEvaluation(result));
}
