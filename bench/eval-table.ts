/**
 * The table of docs/evaluation.md: the protocol's classifiers (LR, MLP, CNN;
 * default budgets, 3 seeds) trained on the first N real MNIST training
 * images as the "synthetic" set and tested on the 10 000 real test images,
 * for several N; then pure noise (uniform random pixels, random labels) as
 * the chance end. With DP2_TABLE_FIDELITY=1 also the Fréchet distance of each
 * set beside its real-vs-real value, and precision/recall.
 *
 *   node --import tsx bench/eval-table.ts
 *   DP2_TABLE_SIZES=1000,10000 DP2_TABLE_SEEDS=0 node --import tsx bench/eval-table.ts
 *   DP2_TABLE_SIZES= DP2_TABLE_CLASSIFIERS=lr,mlp …   (noise only; some classifiers)
 *
 * Prints one Markdown row per set as soon as it is done (the long sizes come
 * last), with the wall and CPU seconds and the load average (the machine may
 * be shared: wall time then overstates the cost). Never fails on a figure.
 */
import { loadavg } from 'node:os';
import { loadBundledMnist } from '../src-main/data/mnist';
import { selectBackend } from '../src-main/engine/backend';
import { SeededRng } from '../src-main/engine/rng';
import {
  CLASSIFIER_KINDS,
  DEFAULT_SEEDS,
  evaluateFidelity,
  evaluateUtility,
  trainFeatureExtractor,
  type ClassifierKind,
  type EvalImages,
  type FeatureExtractor,
  type UtilityOptions,
} from '../src-main/eval';

function firstImages(set: EvalImages, n: number): EvalImages {
  if (n >= set.count) return set;
  const size = set.height * set.width;
  return { ...set, x: set.x.slice(0, n * size), y: Array.from(set.y).slice(0, n), count: n };
}

/** Uniform random pixels with uniform random labels: nothing to learn. */
function noise(n: number, like: EvalImages): EvalImages {
  const rng = SeededRng.fromSeed(99);
  const size = like.height * like.width;
  const x = new Uint8Array(n * size);
  for (let i = 0; i < x.length; i++) x[i] = rng.nextInt(256);
  const y = Array.from({ length: n }, () => rng.nextInt(10));
  return { ...like, x, y, count: n };
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const pm = (s?: { mean: number; std: number }): string =>
  s ? `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}` : '—';

async function main(): Promise<void> {
  const backend = await selectBackend();
  const mnist = loadBundledMnist();
  const sizes = (process.env.DP2_TABLE_SIZES ?? '1000,10000,20000,60000')
    .split(',')
    .filter((v) => v !== '')
    .map(Number);
  const seeds = process.env.DP2_TABLE_SEEDS?.split(',').map(Number) ?? [...DEFAULT_SEEDS];
  const withNoise = process.env.DP2_TABLE_NOISE !== '0';
  const withFidelity = process.env.DP2_TABLE_FIDELITY === '1';
  // Overrides of the budgets, e.g. DP2_TABLE_CONFIGS='{"cnn":{"epochs":4}}' (for trying one).
  const configs = process.env.DP2_TABLE_CONFIGS
    ? (JSON.parse(process.env.DP2_TABLE_CONFIGS) as UtilityOptions['configs'])
    : undefined;
  const kinds = (process.env.DP2_TABLE_CLASSIFIERS?.split(',') ?? [
    ...CLASSIFIER_KINDS,
  ]) as ClassifierKind[];
  console.log(
    `backend ${backend.name}; seeds ${seeds.join(',')}; real MNIST train (first N) vs ${mnist.test.count} real test; load ${load()}`,
  );
  let extractor: FeatureExtractor | undefined;
  if (withFidelity) {
    const e0 = process.cpuUsage();
    extractor = await trainFeatureExtractor({ realTrain: mnist.train, realTest: mnist.test });
    const e = process.cpuUsage(e0);
    console.log(
      `feature network: ${((e.user + e.system) / 1e6).toFixed(0)} cpu s to train; ` +
        `${extractor.realTestAccuracy?.toFixed(2)} % on the real test split`,
    );
  }
  console.log(
    '| set | LR % | MLP % | CNN % | CNN steps | majority % | ' +
      (withFidelity ? 'FD (real vs real) | precision / recall | ' : '') +
      'wall s | cpu s |',
  );
  console.log('|---|---|---|---|---|---|' + (withFidelity ? '---|---|' : '') + '---|---|');
  const sets: [string, EvalImages][] = sizes.map((n) => [`real ${n}`, firstImages(mnist.train, n)]);
  if (withNoise)
    sets.splice(Math.min(1, sets.length), 0, ['noise 10000', noise(10_000, mnist.train)]);
  for (const [name, train] of sets) {
    const w0 = performance.now();
    const c0 = process.cpuUsage();
    // One classifier at a time, so that each one's CPU seconds can be printed.
    const cpu: Record<string, number> = {};
    const parts = [];
    for (const kind of kinds) {
      const k0 = process.cpuUsage();
      parts.push(
        await evaluateUtility({ train, test: mnist.test, seeds, classifiers: [kind], configs }),
      );
      const k = process.cpuUsage(k0);
      cpu[kind] = (k.user + k.system) / 1e6;
    }
    const r = Object.assign({}, ...parts) as (typeof parts)[number];
    let fid = '';
    if (extractor) {
      const f0 = process.cpuUsage();
      const f = evaluateFidelity({
        extractor,
        realTest: mnist.test,
        synthetic: train,
        realTrain: mnist.train,
      });
      fid =
        `${f.fld.toFixed(4)} (${f.reference?.fld.toFixed(4)}) | ` +
        `${f.precision?.toFixed(2)} / ${f.recall?.toFixed(2)} (${f.reference?.precision?.toFixed(2)} / ${f.reference?.recall?.toFixed(2)}) | `;
      const fc = process.cpuUsage(f0);
      cpu.fidelity = (fc.user + fc.system) / 1e6;
    }
    const c = process.cpuUsage(c0);
    console.log(
      `| ${name} | ${pm(r.lr)} | ${pm(r.mlp)} | ${pm(r.cnn)} | ${r.cnn?.steps.join(', ')} | ` +
        `${r.majority.rate.toFixed(2)} | ${fid}${((performance.now() - w0) / 1000).toFixed(0)} | ` +
        `${((c.user + c.system) / 1e6).toFixed(0)} |`,
    );
    console.log(
      `  (${name}: per seed LR [${r.lr?.runs.map((a) => a.toFixed(2)).join(', ')}], ` +
        `MLP [${r.mlp?.runs.map((a) => a.toFixed(2)).join(', ')}], CNN [${r.cnn?.runs.map((a) => a.toFixed(2)).join(', ')}]; ` +
        `balanced CNN ${pm(r.cnn?.balanced)}; seconds LR ${r.lr?.seconds.toFixed(0)}, MLP ${r.mlp?.seconds.toFixed(0)}, ` +
        `CNN ${r.cnn?.seconds.toFixed(0)} (wall); cpu s ${Object.entries(cpu)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(', ')}; load ${load()})`,
    );
  }
  extractor?.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
