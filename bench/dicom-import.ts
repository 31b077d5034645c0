// DICOM import benchmark (issue 22's target: 10 000 files of 512×512 16-bit, half of them
// compressed, import to 64×64 in < 60 s on 2 cores). Writes the files once into a cached
// folder under the system's temp folder (two class folders; half explicit VR little endian,
// half compressed in the syntaxes given, in turn; 200 distinct CT-like slices per class and
// syntax, repeated — duplicates cost the import the same as new files), then times
// importSource on it with each number of decode threads. Prints seconds, files/s, peak RSS
// and the load average.
// Usage: node --import tsx bench/dicom-import.ts [--count 10000]
//          [--compressed rle,jpeg-lossless,jpeg-ls,j2k-lossless] [--threads 1,2]
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importSource } from '../src-main/data/index';
import { ensureWriterCodecs, writeDicom, type WriterSyntax } from '../test/helpers/dicom-writer';

const SIZE = 512;
const DISTINCT = 200;

/** A disc of soft tissue with a bright core on air, noisy: a CT slice to a codec (HU, 12 bits). */
function ctSlice(seed: number): Int16Array {
  const px = new Int16Array(SIZE * SIZE);
  let s = (seed * 2654435761) >>> 0;
  const rand = (): number => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 16) / 65536;
  };
  const c = SIZE / 2 + (seed % 17) - 8;
  const core = 0.15 + (seed % 5) * 0.03;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const r = Math.hypot(x - c, y - c) / (SIZE * 0.45);
      const tissue =
        r < 1 ? 40 + 60 * Math.cos(x / 17) * Math.sin(y / 23) + (r < core ? 600 : 0) : -1000;
      px[y * SIZE + x] = Math.round(tissue + (rand() - 0.5) * 30);
    }
  }
  return px;
}

function dicomFile(seed: number, transferSyntax: WriterSyntax): Uint8Array {
  return writeDicom({
    rows: SIZE,
    columns: SIZE,
    frames: [ctSlice(seed)],
    transferSyntax,
    bitsStored: 12,
    pixelRepresentation: 1,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    windowCenter: 40,
    windowWidth: 400,
    modality: 'CT',
    patient: { name: 'BENCH^PATIENT', id: `ID${seed}` },
  });
}

/** The cached folder of `count` files (written when missing, under a temporary name first). */
async function folderOf(count: number, compressed: WriterSyntax[]): Promise<string> {
  const folder = join(tmpdir(), `dp2-bench-dicom-${count}-${compressed.join('+')}`);
  if (existsSync(folder)) {
    console.log(`files: reusing ${folder}`);
    return folder;
  }
  await ensureWriterCodecs();
  const staging = `${folder}.partial`;
  await rm(staging, { recursive: true, force: true });
  const t = performance.now();
  const cache = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const cls = i % 2 === 0 ? 'normal' : 'abnormal';
    const k = Math.floor(i / 2);
    const syntax: WriterSyntax =
      k % 2 === 0 ? 'explicit-le' : (compressed[Math.floor(k / 2) % compressed.length] ?? 'rle');
    const seed = (k % DISTINCT) + (cls === 'normal' ? 0 : 1000);
    const key = `${syntax}:${seed}`;
    let bytes = cache.get(key);
    if (!bytes) {
      bytes = dicomFile(seed, syntax);
      cache.set(key, bytes);
    }
    // DICOMDIR-style names: no extension.
    const dir = join(staging, cls, `SE${String(Math.floor(k / 500)).padStart(4, '0')}`);
    if (k % 500 === 0 || k < 2) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `IM${String(k).padStart(6, '0')}`), bytes);
  }
  await rename(staging, folder);
  console.log(
    `files: wrote ${count} to ${folder} in ${((performance.now() - t) / 1000).toFixed(1)} s (not timed)`,
  );
  return folder;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '10000' },
      compressed: { type: 'string', default: 'rle,jpeg-lossless,jpeg-ls,j2k-lossless' },
      threads: { type: 'string', default: '1,2' },
    },
  });
  const count = Number(values.count);
  const compressed = values.compressed.split(',') as WriterSyntax[];
  const folder = await folderOf(count, compressed);
  console.log(
    `${count} DICOM files ${SIZE}×${SIZE} 16-bit: half explicit VR LE, half ${compressed.join(' / ')}; import to 64×64 grey`,
  );
  for (const threads of values.threads.split(',').map(Number)) {
    const load = loadavg()[0]!.toFixed(2);
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);
    const t = performance.now();
    const cpu = process.cpuUsage();
    const { images, preview } = await importSource({
      path: folder,
      preprocessing: { size: 64, channels: 1, testFraction: 0.1, splitSeed: 1 },
      decodeThreads: threads,
    });
    const s = (performance.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    // CPU time of every thread of this process (workers included): on a machine with
    // nothing else running, the wall time cannot be below it divided by the cores used.
    const cpuSeconds = (used.user + used.system) / 1e6;
    clearInterval(timer);
    console.log(
      `threads ${threads}: ${images.count} images in ${s.toFixed(1)} s = ${(images.count / s).toFixed(0)} files/s ` +
        `(target < 60 s for 10 000); CPU ${cpuSeconds.toFixed(1)} s over all threads; peak RSS ${(peak / 2 ** 20).toFixed(0)} MB; load average at start ${load}; ` +
        `${preview.dicom?.withPatientFields ?? 0} files had patient fields (dropped)`,
    );
  }
}

await main();
