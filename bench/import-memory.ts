// Import memory benchmark: peak resident memory of a folder import of 256 files of 8 MiB
// (RGB noise BMPs of 1672×1672, two class folders), written once to a temporary folder (not
// measured). Each import runs in a fresh child process and reports its peak RSS; it runs with
// the default read budget and with an unbounded one (all 256 files of a batch in memory at
// once, as before the budget existed).
// Usage: node --import tsx bench/import-memory.ts [files] [MiB per file]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeBmp } from '../src-main/data/decode-bmp';
import { importSource } from '../src-main/data/index';
import { DEFAULT_READ_BUDGET_BYTES } from '../src-main/data/limits';
import { ReadBudget } from '../src-main/data/read-budget';

const MiB = 1024 * 1024;

/** In the child: import `folder` with a read budget of `budget` bytes; print one JSON line. */
async function child(folder: string, budget: number): Promise<void> {
  const before = process.resourceUsage().maxRSS;
  const readBudget = new ReadBudget(budget);
  const t = performance.now();
  const result = await importSource({
    path: folder,
    preprocessing: { size: 64, channels: 1, testFraction: 0.1, splitSeed: 1 },
    readBudget,
  });
  process.stdout.write(
    `${JSON.stringify({
      images: result.images.count,
      seconds: (performance.now() - t) / 1000,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      baseRssMiB: before / 1024,
      peakInFlightMiB: readBudget.peak / MiB,
    })}\n`,
  );
}

async function main(): Promise<void> {
  const files = Number(process.argv[2] ?? 256);
  const mib = Number(process.argv[3] ?? 8);
  const side = Math.floor(Math.sqrt((mib * MiB) / 3));
  const dir = await mkdtemp(join(tmpdir(), 'dp2-bench-import-memory-'));
  try {
    const folder = join(dir, 'images');
    const t = performance.now();
    for (let i = 0; i < files; i++) {
      const cls = join(folder, i % 2 === 0 ? 'a' : 'b');
      await mkdir(cls, { recursive: true });
      const bmp = encodeBmp({
        width: side,
        height: side,
        channels: 3,
        data: randomBytes(side * side * 3),
      });
      await writeFile(join(cls, `${i}.bmp`), bmp);
    }
    console.log(
      `setup: ${files} BMPs of ${side}×${side} RGB (${((side * side * 3) / MiB).toFixed(1)} MiB each) in ${((performance.now() - t) / 1000).toFixed(1)} s (not measured)`,
    );
    const self = fileURLToPath(import.meta.url);
    for (const [label, budget] of [
      [`read budget ${DEFAULT_READ_BUDGET_BYTES / MiB} MiB (default)`, DEFAULT_READ_BUDGET_BYTES],
      ['read budget 256 MiB', 256 * MiB],
      ['unbounded (one batch of 256 files at once)', Number.MAX_SAFE_INTEGER],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', self, '--child', folder, String(budget)],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      );
      const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`the import failed: ${r.stderr.slice(-2000)}`);
      const m = JSON.parse(line) as Record<string, number>;
      console.log(
        `${label}: ${m.images} images in ${m.seconds?.toFixed(1)} s, peak RSS ${m.peakRssMiB?.toFixed(0)} MiB ` +
          `(${((m.peakRssMiB ?? 0) - (m.baseRssMiB ?? 0)).toFixed(0)} MiB above start), ` +
          `file bytes in flight at most ${m.peakInFlightMiB?.toFixed(0)} MiB`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3] ?? '', Number(process.argv[4]));
else await main();
