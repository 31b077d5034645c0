/**
 * Speed of the procedural image families of the random-process prior:
 * images per second for each family at 28 and 64 pixels, grey and colour,
 * in one thread.
 *
 *   node --import tsx bench/priors-families.ts
 *   node --import tsx bench/priors-families.ts --sheets DIR [--size 64]
 *
 * With --sheets it instead writes one PNG contact sheet per family and
 * channel count (8×8 images) into DIR, to look at the families by eye.
 * Prints figures only; never fails on a time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodePng } from '../src-main/data/png';
import { generateFamily, PRIOR_FAMILIES, type PriorImages } from '../src-main/priors/families';

const args = process.argv.slice(2);
const sheetsAt = args.indexOf('--sheets');
const sizeAt = args.indexOf('--size');

/** Tiles `cols` images per row with a 2-pixel white gutter. */
function contactSheet(images: PriorImages, cols: number): Uint8Array {
  const { count, height: h, width: w, channels: ch } = images;
  const rows = Math.ceil(count / cols);
  const gap = 2;
  const W = cols * (w + gap) + gap;
  const H = rows * (h + gap) + gap;
  const data = new Uint8Array(W * H * ch).fill(255);
  for (let n = 0; n < count; n++) {
    const ox = gap + (n % cols) * (w + gap);
    const oy = gap + Math.floor(n / cols) * (h + gap);
    for (let y = 0; y < h; y++) {
      const src = (n * h + y) * w * ch;
      data.set(images.x.subarray(src, src + w * ch), ((oy + y) * W + ox) * ch);
    }
  }
  return encodePng({ width: W, height: H, channels: ch, data });
}

if (sheetsAt >= 0) {
  const dir = args[sheetsAt + 1];
  if (!dir) throw new Error('--sheets needs a folder to write the contact sheets into.');
  const size = sizeAt >= 0 ? Number(args[sizeAt + 1]) : 64;
  mkdirSync(dir, { recursive: true });
  for (const family of PRIOR_FAMILIES) {
    for (const channels of [3, 1]) {
      const images = generateFamily({ family, seed: 1, count: 64, size, channels });
      const file = join(dir, `${family}-${size}px-${channels === 3 ? 'colour' : 'grey'}.png`);
      writeFileSync(file, contactSheet(images, 8));
      console.log(`wrote ${file}`);
    }
  }
} else {
  const budgetMs = Number(process.env.DP2_BENCH_MS ?? 1000);
  console.log(
    `load average before: ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  console.log('family        size  channels  images/s');
  for (const family of PRIOR_FAMILIES) {
    for (const size of [28, 64]) {
      for (const channels of [1, 3]) {
        generateFamily({ family, seed: 0, count: 4, size, channels }); // warm-up (JIT)
        let made = 0;
        let chunk = 8;
        const t0 = performance.now();
        let elapsed = 0;
        while (elapsed < budgetMs) {
          generateFamily({ family, seed: 1, count: chunk, size, channels, start: made });
          made += chunk;
          elapsed = performance.now() - t0;
          chunk = Math.min(256, chunk * 2);
        }
        const rate = (made / elapsed) * 1000;
        console.log(
          `${family.padEnd(13)} ${String(size).padStart(4)}  ${String(channels).padStart(8)}  ${rate.toFixed(0).padStart(8)}`,
        );
      }
    }
  }
  console.log(
    `load average after: ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
}
