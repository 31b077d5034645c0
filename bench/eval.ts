/**
 * The evaluation of `dp2 eval` at full size: the bundled MNIST training split
 * (60 000 images) stands in for synthetic data and is evaluated against the
 * 10 000 real test images with the full protocol (DP²-VAE Appendix B.4: LR,
 * MLP and CNN × 5 seeds) plus the Fréchet distance and per-class
 * precision/recall in the feature space of a CNN trained on the real
 * training split, and the membership audit's scoring (1 000 + 1 000 records
 * against a randomly initialised default decoder: its figures mean nothing,
 * its time is the audit's). This is the paper's "real data" reference row
 * (≈ 92 / 97 / 98–99 %).
 *
 *   node --import tsx bench/eval.ts
 *   DP2_BENCH_SEEDS=0,1 DP2_BENCH_N=10000 node --import tsx bench/eval.ts
 *   DP2_BENCH_PARTS=cnn,fidelity node --import tsx bench/eval.ts   (some parts only)
 *
 * Prints accuracies (mean ± std), the Fréchet distance and precision/recall,
 * and for every part (each classifier, the feature CNN, feature extraction,
 * Fréchet distance, k-NN precision/recall, the audit) its wall and CPU
 * seconds, the load average (the machine may be shared) and peak RSS. Never
 * fails on a time.
 */
import { loadavg } from 'node:os';
import { loadBundledMnist } from '../src-main/data/mnist';
import { selectBackend } from '../src-main/engine/backend';
import { defaultArchitecture, parameterSpecs } from '../src-main/engine/architecture';
import { SeededRng } from '../src-main/engine/rng';
import {
  CLASSIFIER_KINDS,
  auditDecoder,
  evaluateUtility,
  fidelityFromFeatures,
  frechetDistance,
  gaussianStats,
  toEvalJson,
  trainFeatureExtractor,
  type EvalImages,
  type FidelityResult,
} from '../src-main/eval';

function subset(set: EvalImages, n: number): EvalImages {
  if (n >= set.count) return set;
  const size = set.height * set.width;
  return { ...set, x: set.x.subarray(0, n * size), y: Array.from(set.y).slice(0, n), count: n };
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

interface Part {
  name: string;
  wall: number;
  cpu: number;
}
const parts: Part[] = [];

/** Runs `fn`, records its wall and CPU seconds under `name`. */
async function timed<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const result = await fn();
  const c = process.cpuUsage(c0);
  parts.push({ name, wall: (performance.now() - w0) / 1000, cpu: (c.user + c.system) / 1e6 });
  return result;
}

const seconds = (p: Part): string => `wall ${p.wall.toFixed(1)} s, cpu ${p.cpu.toFixed(1)} s`;
const last = (): Part => parts[parts.length - 1] as Part;

async function main(): Promise<void> {
  const backend = await selectBackend();
  const seeds = (process.env.DP2_BENCH_SEEDS ?? '0,1,2,3,4').split(',').map(Number);
  const only = process.env.DP2_BENCH_PARTS?.split(',');
  const want = (part: string): boolean => only === undefined || only.includes(part);
  const mnist = loadBundledMnist();
  const synthetic = subset(mnist.train, Number(process.env.DP2_BENCH_N ?? mnist.train.count));
  const realTest = mnist.test;
  console.log(
    `backend ${backend.name}; ${synthetic.count} "synthetic" (real MNIST train) vs ${realTest.count} real test; ` +
      `seeds ${seeds.join(',')}; load average ${load()}`,
  );

  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const results: Awaited<ReturnType<typeof evaluateUtility>>[] = [];
  for (const kind of CLASSIFIER_KINDS) {
    if (!want(kind)) continue;
    const r = await timed(kind, () =>
      evaluateUtility({ train: synthetic, test: realTest, seeds, classifiers: [kind] }),
    );
    const s = r[kind];
    if (!s) continue;
    results.push(r);
    const cfg = s.config;
    const steps = Math.ceil(synthetic.count / cfg.batchSize) * cfg.epochs * seeds.length;
    console.log(
      `${kind.padEnd(4)} ${s.mean.toFixed(2)} ± ${s.std.toFixed(2)} %  runs [${s.runs.map((a) => a.toFixed(2)).join(', ')}]  ` +
        `${seconds(last())} (${((1000 * last().wall) / steps).toFixed(1)} ms/step)  ` +
        `(${cfg.epochs} epoch(s), batch ${cfg.batchSize}, Adam ${cfg.learningRate} ${cfg.schedule ?? 'cosine'})`,
    );
  }

  let fidelity: FidelityResult | undefined;
  if (want('fidelity')) {
    const extractor = await timed('feature CNN', () =>
      trainFeatureExtractor({ realTrain: mnist.train, realTest }),
    );
    console.log(
      `feature CNN (1 epoch on the real train split + accuracy on real test): ${seconds(last())}; ` +
        `${extractor.realTestAccuracy?.toFixed(2)} % on real test`,
    );
    const { real, synth } = await timed('features', () => ({
      real: extractor.features(realTest),
      synth: extractor.features(synthetic),
    }));
    console.log(`features of ${realTest.count} + ${synthetic.count} images: ${seconds(last())}`);
    extractor.dispose();
    const fld = await timed('Fréchet distance', () =>
      frechetDistance(
        gaussianStats(real.values, real.count, real.dims),
        gaussianStats(synth.values, synth.count, synth.dims),
      ),
    );
    console.log(`Fréchet distance ${fld.toFixed(5)}: ${seconds(last())}`);
    fidelity = await timed('fidelity (Fréchet + precision/recall)', () =>
      fidelityFromFeatures({
        real: { ...real, labels: realTest.y },
        synthetic: { ...synth, labels: synthetic.y },
        feature: 'cnn-real-train',
      }),
    );
    console.log(
      `precision ${fidelity.precision?.toFixed(3)} recall ${fidelity.recall?.toFixed(3)} ` +
        `(k = ${fidelity.k}, ≤ 1000 per class) with the Fréchet distance: ${seconds(last())}`,
    );
  }

  if (want('audit')) {
    const arch = defaultArchitecture(10);
    const rng = SeededRng.fromSeed(1);
    const weights = parameterSpecs(arch, 'decoder').map((s) => {
      const w = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
      const limit = Math.sqrt(6 / (s.fanIn + s.fanOut));
      if (s.init === 'glorot-uniform')
        for (let i = 0; i < w.length; i++) w[i] = (2 * rng.nextFloat() - 1) * limit;
      return w;
    });
    const audit = await timed('audit', () =>
      auditDecoder({
        decoder: { arch, weights },
        train: { ...mnist.train, channels: 1 },
        test: { ...realTest, channels: 1 },
        epsilon: 10,
        delta: 1e-5,
      }),
    );
    console.log(
      `audit of ${audit.members} + ${audit.nonMembers} records (random decoder, timing only): ` +
        `AUC ${audit.auc.toFixed(3)}; ${seconds(last())}`,
    );
  }

  const totalWall = (performance.now() - wall0) / 1000;
  const c = process.cpuUsage(cpu0);
  if (results.length > 0) {
    const merged = Object.assign({}, ...results, fidelity ? { fidelity } : {}) as Parameters<
      typeof toEvalJson
    >[0];
    console.log(`dp2 eval --json: ${JSON.stringify(toEvalJson(merged))}`);
  }
  console.log('seconds per part:');
  for (const p of parts) console.log(`  ${p.name.padEnd(40)} ${seconds(p)}`);
  console.log(
    `total: wall ${totalWall.toFixed(1)} s, cpu ${((c.user + c.system) / 1e6).toFixed(1)} s; ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; load average ${load()}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
