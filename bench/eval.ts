/**
 * The evaluation of `dp2 eval` at full size: the bundled MNIST training split
 * (60 000 images) stands in for synthetic data and is evaluated against the
 * 10 000 real test images with the full protocol (DP²-VAE Appendix B.4: LR,
 * MLP and CNN × 5 seeds) plus the Fréchet distance in the feature space of a
 * CNN trained on the real training split. This is the paper's "real data"
 * reference row (≈ 92 / 97 / 98–99 %).
 *
 *   node --import tsx bench/eval.ts
 *   DP2_BENCH_SEEDS=0,1 DP2_BENCH_N=10000 node --import tsx bench/eval.ts
 *
 * Prints accuracies (mean ± std), the Fréchet distance and precision/recall,
 * wall and CPU time per classifier and in total, the load average (the
 * machine may be shared) and peak RSS. Never fails on a time.
 */
import { loadavg } from 'node:os';
import { loadBundledMnist } from '../src-main/data/mnist';
import { selectBackend } from '../src-main/engine/backend';
import {
  CLASSIFIER_KINDS,
  evaluateFidelity,
  evaluateUtility,
  toEvalJson,
  trainFeatureExtractor,
  type EvalImages,
} from '../src-main/eval';

function subset(set: EvalImages, n: number): EvalImages {
  if (n >= set.count) return set;
  const size = set.height * set.width;
  return { ...set, x: set.x.subarray(0, n * size), y: Array.from(set.y).slice(0, n), count: n };
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const backend = await selectBackend();
  const seeds = (process.env.DP2_BENCH_SEEDS ?? '0,1,2,3,4').split(',').map(Number);
  const mnist = loadBundledMnist();
  const synthetic = subset(mnist.train, Number(process.env.DP2_BENCH_N ?? mnist.train.count));
  const realTest = mnist.test;
  console.log(
    `backend ${backend.name}; ${synthetic.count} "synthetic" (real MNIST train) vs ${realTest.count} real test; ` +
      `seeds ${seeds.join(',')}; load average ${load()}`,
  );

  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const rows: string[] = [];
  const results: Awaited<ReturnType<typeof evaluateUtility>>[] = [];
  for (const kind of CLASSIFIER_KINDS) {
    const c = process.cpuUsage();
    const r = await evaluateUtility({
      train: synthetic,
      test: realTest,
      seeds,
      classifiers: [kind],
    });
    const s = r[kind];
    if (!s) continue;
    results.push(r);
    const cfg = s.config;
    rows.push(
      `${kind.padEnd(4)} ${s.mean.toFixed(2)} ± ${s.std.toFixed(2)} %  runs [${s.runs.map((a) => a.toFixed(2)).join(', ')}]  ` +
        `wall ${s.seconds.toFixed(1)} s  cpu ${cpuSeconds(c).toFixed(1)} s  ` +
        `(${cfg.epochs} epoch(s), batch ${cfg.batchSize}, Adam ${cfg.learningRate} ${cfg.schedule ?? 'cosine'})`,
    );
    console.log(rows[rows.length - 1]);
  }
  const utilityWall = (performance.now() - wall0) / 1000;
  const utilityCpu = cpuSeconds(cpu0);
  console.log(
    `utility total: wall ${utilityWall.toFixed(1)} s, cpu ${utilityCpu.toFixed(1)} s; load average ${load()}`,
  );

  const f0 = performance.now();
  const fc = process.cpuUsage();
  const extractor = await trainFeatureExtractor({ realTrain: mnist.train, realTest });
  const trainS = (performance.now() - f0) / 1000;
  const fidelity = evaluateFidelity({ extractor, realTest, synthetic });
  extractor.dispose();
  console.log(
    `fld ${fidelity.fld.toFixed(5)} (feature CNN: ${extractor.realTestAccuracy?.toFixed(2)} % on real test); ` +
      `precision ${fidelity.precision?.toFixed(3)} recall ${fidelity.recall?.toFixed(3)} (k = ${fidelity.k}); ` +
      `wall ${((performance.now() - f0) / 1000).toFixed(1)} s (extractor ${trainS.toFixed(1)} s), cpu ${cpuSeconds(fc).toFixed(1)} s`,
  );
  const totalWall = (performance.now() - wall0) / 1000;
  const merged = Object.assign({}, ...results, { fidelity }) as Parameters<typeof toEvalJson>[0];
  console.log(`dp2 eval --json: ${JSON.stringify(toEvalJson(merged))}`);
  console.log(
    `total: wall ${totalWall.toFixed(1)} s, cpu ${cpuSeconds(cpu0).toFixed(1)} s; ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; load average ${load()}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
