// Import benchmark: 60 000 grayscale 28×28 PNGs (the bundled MNIST training set, 10 class
// folders) are written to a temporary folder (not timed), then importSource is timed on it.
// Prints images/s, total seconds and peak RSS. Target: under 30 s on a 2-core machine.
// Usage: node --import tsx bench/import.ts [count]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importSource, loadBundledMnist, writePngFolder } from '../src-main/data/index';
import type { PreparedImages } from '../src-main/data/index';

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 60000);
  const mnist = loadBundledMnist().train;
  const n = Math.min(count, mnist.count);
  const images: PreparedImages = {
    x: mnist.x.subarray(0, n * 784),
    y: mnist.y.subarray(0, n),
    count: n,
    height: 28,
    width: 28,
    channels: 1,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  };
  const dir = await mkdtemp(join(tmpdir(), 'dp2-bench-import-'));
  try {
    const folder = join(dir, 'mnist-png');
    let t = performance.now();
    await writePngFolder(folder, images);
    console.log(
      `setup: wrote ${n} PNG files in ${((performance.now() - t) / 1000).toFixed(1)} s (not timed)`,
    );

    t = performance.now();
    const result = await importSource({
      path: folder,
      preprocessing: { size: 28, channels: 1, testFraction: 0.1, splitSeed: 1 },
    });
    const seconds = (performance.now() - t) / 1000;
    if (result.images.count !== n)
      throw new Error(`imported ${result.images.count} of ${n} images`);
    const rssMiB = process.resourceUsage().maxRSS / 1024;
    console.log(
      `import: ${n} images in ${seconds.toFixed(2)} s = ${Math.round(n / seconds)} images/s`,
    );
    console.log(
      `duplicates: ${result.preview.duplicates}, problems: ${result.preview.problems.length}`,
    );
    console.log(`peak RSS: ${rssMiB.toFixed(0)} MiB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
