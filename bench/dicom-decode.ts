// DICOM decode benchmark: one 512×512 16-bit CT-like slice (12 bits stored, signed, rescale
// and window in the header) written by the test writer in each transfer syntax (not timed),
// then decodeDicom timed on it, 'file' windowing. Prints ms/file and MB/s of file read per
// syntax, and the load average. Target (issue 22): 10 000 such files, half compressed, import
// to 64×64 in < 60 s on 2 cores, i.e. ≲ 12 ms/file per core including reading and resizing.
// Usage: node --import tsx bench/dicom-decode.ts [repeats]
import { loadavg } from 'node:os';
import { decodeDicom, ensureDicomCodecs } from '../src-main/data/dicom/index';
import { ensureWriterCodecs, writeDicom, type WriterSyntax } from '../test/helpers/dicom-writer';

/** Each syntax at full size; JPEG 2000 also with minSide 64 (the reduced-resolution decode for a 64×64 import). */
const CASES: [WriterSyntax, number | undefined][] = [
  ['explicit-le', undefined],
  ['implicit-le', undefined],
  ['explicit-be', undefined],
  ['deflated', undefined],
  ['rle', undefined],
  ['jpeg-lossless', undefined],
  ['jpeg-ls', undefined],
  ['j2k-lossless', undefined],
  ['j2k-lossless', 64],
];

/** A smooth disc (body) on air with noise, in HU + 1024, 12 bits: what a CT slice looks like to a codec. */
function ctSlice(size: number, seed: number): Int16Array {
  const px = new Int16Array(size * size);
  let s = seed * 2654435761;
  const rand = (): number => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 16) / 65536;
  };
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - c, y - c) / (size * 0.45);
      const tissue =
        r < 1 ? 40 + 60 * Math.cos(x / 17) * Math.sin(y / 23) + (r < 0.2 ? 600 : 0) : -1000;
      px[y * size + x] = Math.round(tissue + (rand() - 0.5) * 30);
    }
  }
  return px;
}

async function main(): Promise<void> {
  const repeats = Number(process.argv[2] ?? 40);
  await Promise.all([ensureDicomCodecs(), ensureWriterCodecs()]);
  const size = 512;
  const frames = [ctSlice(size, 1), ctSlice(size, 2)];
  console.log(
    `decodeDicom, ${size}×${size} 16-bit (12 stored, signed), 'file' window; ${repeats} decodes each`,
  );
  console.log(
    `load average at start: ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  for (const [transferSyntax, minSide] of CASES) {
    const options = { windowing: 'file' as const, maxPixels: 2 ** 26, minSide };
    const files = frames.map((frame) =>
      writeDicom({
        rows: size,
        columns: size,
        frames: [frame],
        transferSyntax,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleIntercept: 0,
        rescaleSlope: 1,
        windowCenter: 40,
        windowWidth: 400,
        modality: 'CT',
      }),
    );
    // warm-up (JIT, wasm memory growth)
    for (const f of files) decodeDicom(f, 'bench.dcm', options);
    const t = performance.now();
    let bytes = 0;
    for (let i = 0; i < repeats; i++) {
      const f = files[i % files.length]!;
      bytes += f.length;
      decodeDicom(f, 'bench.dcm', options);
    }
    const ms = (performance.now() - t) / repeats;
    const kib = files[0]!.length / 1024;
    console.log(
      `${(transferSyntax + (minSide ? ` minSide ${minSide}` : '')).padEnd(26)} ${ms.toFixed(2).padStart(7)} ms/file   file ${kib.toFixed(0).padStart(4)} KiB   ${(bytes / 2 ** 20 / ((ms * repeats) / 1000)).toFixed(0).padStart(5)} MiB/s`,
    );
  }
  console.log(
    `load average at end: ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
}

await main();
