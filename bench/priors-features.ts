/**
 * Time for the random-process prior's features of the 60 000 MNIST training
 * images (issue #18's target: under 60 s on 2 cores; loading the prior under
 * 1 s), on 1 and on 2 worker threads (features-parallel.ts), with the default
 * read-out (every stage, 2×2 grid). Uses the shipped prior when
 * resources/priors holds one, else a stand-in of the same layout
 * (DEFAULT_FEATURE_NET, one pre-training step) made in a temporary folder:
 * the time depends on the layout, not on the weights.
 *
 *   node --import tsx bench/priors-features.ts [--count 60000] [--workers 1,2]
 *
 * Prints figures only; never fails on a time. The load average is printed
 * beside each figure: on a shared machine the other jobs take cores too.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadBundledMnist } from '../src-main/data/mnist';
import { selectBackend } from '../src-main/engine/backend';
import { defaultReadout } from '../src-main/priors/features';
import { extractFeaturesInParallel } from '../src-main/priors/features-parallel';
import { DEFAULT_FEATURE_NET } from '../src-main/priors/network/architecture';
import { disposeNet } from '../src-main/priors/network/feature-net';
import { DEFAULT_PRIOR, loadPrior, priorsFolder, writePrior } from '../src-main/priors/prior-file';
import {
  DEFAULT_PRETRAIN,
  pretrainPrior,
  trainingRecord,
} from '../src-main/priors/pretrain/pretrain';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const count = Number(arg('count', '60000'));
const workerCounts = arg('workers', '1,2').split(',').map(Number);
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const backend = await selectBackend({ prefer: 'wasm' });
console.log(
  `backend ${backend.name}; ${availableParallelism()} cores; load average (1, 5, 15 min) ${load()}`,
);

/** The shipped prior's folder, or a temporary one with a stand-in of the default layout. */
async function priorFolder(): Promise<{ folder: string; cleanup: () => void }> {
  const shipped = priorsFolder();
  if (existsSync(join(shipped, `${DEFAULT_PRIOR}.manifest.json`))) {
    console.log(`prior: the shipped one (${shipped})`);
    return { folder: shipped, cleanup: () => undefined };
  }
  const folder = mkdtempSync(join(tmpdir(), 'dp2-bench-prior-'));
  const options = {
    ...DEFAULT_PRETRAIN,
    spec: DEFAULT_FEATURE_NET,
    families: ['spectral' as const],
    seed: 1,
    imagesPerFamily: 16,
    steps: 1,
    batchSize: 8,
    warmupSteps: 0,
  };
  const result = await pretrainPrior(options);
  await writePrior(
    folder,
    DEFAULT_PRIOR,
    result.net,
    trainingRecord(options, result, backend.name),
  );
  disposeNet(result.net);
  console.log(
    `prior: NOTE no shipped prior in ${shipped}; a stand-in of the default layout ` +
      `[${DEFAULT_FEATURE_NET.widths.join(', ')}] (one pre-training step) in ${folder}: ` +
      'the same cost per image, not the same features',
  );
  return { folder, cleanup: () => rmSync(folder, { recursive: true, force: true }) };
}

const { folder, cleanup } = await priorFolder();
try {
  // Loading: read, SHA-256 check, tensors (the first load also warms the file cache).
  const loads: number[] = [];
  let prior = loadPrior(DEFAULT_PRIOR, folder);
  for (let i = 0; i < 5; i++) {
    disposeNet(prior.net);
    const t = performance.now();
    prior = loadPrior(DEFAULT_PRIOR, folder);
    loads.push(performance.now() - t);
  }
  loads.sort((a, b) => a - b);
  console.log(
    `load prior (${prior.manifest.parameters.toLocaleString('en-US')} parameters; read, sha256, tensors): ` +
      `median ${loads[2]?.toFixed(0)} ms of 5 (min ${loads[0]?.toFixed(0)}, max ${loads[4]?.toFixed(0)})`,
  );
  const readout = defaultReadout(prior.net);
  disposeNet(prior.net);

  const { train } = loadBundledMnist();
  const n = Math.min(count, train.count);
  const images = {
    x: train.x.subarray(0, n * 784),
    count: n,
    height: 28,
    width: 28,
    channels: 1,
  };
  let reference: Float32Array | undefined;
  for (const workers of workerCounts) {
    const before = load();
    const t = performance.now();
    const cpu = process.cpuUsage();
    const r = await extractFeaturesInParallel(images, { folder, readout, workers });
    const seconds = (performance.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const same =
      reference === undefined
        ? ''
        : Buffer.from(r.features.buffer, r.features.byteOffset, r.features.byteLength).equals(
              Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength),
            )
          ? '; identical to the first run'
          : '; DIFFERENT from the first run';
    reference ??= r.features;
    console.log(
      `features of ${n.toLocaleString('en-US')} images 28×28, ${r.dims} each, ` +
        `${workers} worker${workers === 1 ? '' : 's'} (${r.threads} thread${r.threads === 1 ? '' : 's'} ran): ` +
        `${seconds.toFixed(1)} s, ${(n / seconds).toFixed(0)} images/s, ` +
        `CPU ${cpuSeconds.toFixed(1)} s (all threads: ${(cpuSeconds / seconds).toFixed(2)} cores busy)${same}; ` +
        `load average before ${before}, after ${load()}`,
    );
  }
} finally {
  cleanup();
}
