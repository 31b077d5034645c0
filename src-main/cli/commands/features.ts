/**
 * `dp2 features`: the random-process prior's features of a set of images
 * (issue #18), so that anyone can check them or fit their own probe. The
 * images are read and converted exactly as the importers do; the prior is
 * verified (SHA-256) before use; the output is written whole or not at all.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UserError } from '../../contract/errors';
import { imagesFromArray } from '../../data/array-scan';
import type { ScanContext } from '../../data/context';
import { readFileLimited } from '../../data/fs-utils';
import { DEFAULT_MAX_ARRAY_BYTES, formatBytes } from '../../data/limits';
import type { NpyArray, NpyInput } from '../../data/npy';
import { parseNpy } from '../../data/npy';
import { readNpz, writeNpz } from '../../data/npz';
import { ProblemLog } from '../../data/problems';
import { DicomTally } from '../../data/dicom-tally';
import { ReadBudget } from '../../data/read-budget';
import { selectBackend } from '../../engine/backend';
import { writeWholeFile } from '../../io/whole-file';
import { defaultReadout, networkSize } from '../../priors/features';
import {
  extractFeaturesInParallel,
  featureWorkerCount,
  plannedFeatureThreads,
} from '../../priors/features-parallel';
import { featureLayers, type FeatureNetSpec } from '../../priors/network/architecture';
import { disposeNet, featureCount, type FeatureReadout } from '../../priors/network/feature-net';
import { DEFAULT_PRIOR, loadPrior, priorsFolder, readPriorManifest } from '../../priors/prior-file';
import { numberFlag, parseFlags, requireString } from '../args';
import { UsageError } from '../io';
import type { CliIo } from '../io';
import { progressPrinter } from '../progress';

export const FEATURES_USAGE = `Usage:
  dp2 features --in X.npz --out F.npz [--layer stage1|stage2|stage3] [--grid G] [--array NAME]

Computes the features of every image in X.npz (or a .npy) under the random-
process prior shipped with DP² Studio (trained only on procedurally generated
images; see "dp2 priors show"), and writes them to F.npz:
  features      float32 (N, D), one row per image
  y, classes    the input's labels and class names, when it has them
  layers, grid  the read-out used; prior, prior_sha256  the prior used

The images are array "x" (else "images", "train_images", "x_train", or the
only image array; --array picks another), shaped (N, H, W), (N, H, W, C) or
(N, C, H, W), any size and 1, 3 or 4 channels, converted as "dp2 import" does.
Every stage is read by default; --layer keeps one. Each layer is averaged
over a G×G grid of regions (--grid, default 3; 1 = global average).
The prior's weights are checked against their SHA-256 before use. Nothing is
downloaded; on any error no output file is left. The work is spread over
DP2_FEATURE_WORKERS threads (default 2, or 1 on a one-core machine).`;

/** Array names tried, in order, when --array is not given; each with its labels' name. */
const IMAGE_ARRAYS: [string, string][] = [
  ['x', 'y'],
  ['images', 'labels'],
  ['train_images', 'train_labels'],
  ['x_train', 'y_train'],
];

/** The labels' array usually stored beside image array `name`. */
function labelsNameFor(name: string): string | undefined {
  const known = IMAGE_ARRAYS.find(([x]) => x === name)?.[1];
  if (known) return known;
  if (name.endsWith('_images')) return `${name.slice(0, -'_images'.length)}_labels`;
  if (name.startsWith('x_')) return `y_${name.slice(2)}`;
  return undefined;
}

/** `a, b or c`. */
function orList(items: readonly string[]): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`;
}

/** How an array looks in messages: `x (uint8, 20×28×28)`. */
function describeArray(name: string, a: NpyArray): string {
  return `${name} (${a.dtype}, shape (${a.shape.join(', ')}))`;
}

/** Whether an array could be a stack of images (numeric, 3 or 4 axes). */
function looksLikeImages(a: NpyArray): boolean {
  return !Array.isArray(a.data) && (a.shape.length === 3 || a.shape.length === 4);
}

/**
 * The image array to use and its name: `--array` when given, else the first
 * of {@link IMAGE_ARRAYS} present, else the one array shaped like images.
 */
export function pickImageArray(
  arrays: Record<string, NpyArray>,
  path: string,
  chosen: string | undefined,
): { name: string; array: NpyArray } {
  const list = Object.entries(arrays)
    .map(([n, a]) => describeArray(n, a))
    .join(', ');
  if (chosen !== undefined) {
    const array = arrays[chosen];
    if (!array) {
      throw new UserError(
        'NOT_FOUND',
        `${path} has no array "${chosen}"; it holds ${list}. Give one of these names to --array.`,
      );
    }
    return { name: chosen, array };
  }
  for (const [name] of IMAGE_ARRAYS) {
    const array = arrays[name];
    if (array) return { name, array };
  }
  const stacks = Object.entries(arrays).filter(([, a]) => looksLikeImages(a));
  const [only] = stacks;
  if (stacks.length === 1 && only) return { name: only[0], array: only[1] };
  if (stacks.length > 1) {
    throw new UserError(
      'INVALID_INPUT',
      `${path} holds several arrays that could be images (${stacks.map(([n]) => n).join(', ')}). ` +
        'Choose one with --array NAME.',
    );
  }
  throw new UserError(
    'INVALID_INPUT',
    `${path} holds no images: its arrays are ${list}, none a stack of images. ` +
      'Save the images as "x", shaped (N, H, W) or (N, H, W, C), with numpy.savez(path, x=images).',
  );
}

/** The arrays of a .npz or .npy file, read with a bounded amount of memory. */
export async function readArrays(path: string): Promise<Record<string, NpyArray>> {
  let read;
  try {
    read = await readFileLimited(path, DEFAULT_MAX_ARRAY_BYTES);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') {
      throw new UserError('NOT_FOUND', `There is no file ${path}. Check the path given to --in.`);
    }
    if (code === 'EISDIR') {
      throw new UserError(
        'INVALID_INPUT',
        `${path} is a folder, not a .npz file. Give --in a .npz (or .npy) file of images.`,
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new UserError(
        'INVALID_INPUT',
        `DP² Studio may not read ${path} (permission denied). Check the file's permissions.`,
      );
    }
    if (code === 'ENOMEM') {
      throw new UserError('INVALID_INPUT', `${path} cannot be read: ${(err as Error).message}.`);
    }
    throw err;
  }
  if (read.kind === 'too-large') {
    throw new UserError(
      'INVALID_INPUT',
      `${path} is ${formatBytes(read.size)}, more than DP² Studio reads at once ` +
        `(${formatBytes(DEFAULT_MAX_ARRAY_BYTES)}). Split the images into smaller .npz files and run dp2 features on each.`,
    );
  }
  const bytes = read.bytes;
  const magic = (sig: number[]): boolean => sig.every((b, i) => bytes[i] === b);
  if (magic([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) {
    const name = basename(path).replace(/\.npy$/i, '');
    return { [name]: parseNpy(bytes, path) };
  }
  // A zip starts with a local file header, or is empty (end of central directory).
  if (!magic([0x50, 0x4b, 0x03, 0x04]) && !magic([0x50, 0x4b, 0x05, 0x06])) {
    throw new UserError(
      'INVALID_INPUT',
      `${path} holds no images: it is not a NumPy .npz or .npy file. ` +
        'Save the images with numpy.savez(path, x=images) and give that file to --in.',
    );
  }
  return readNpz(bytes, path, { maxBytes: DEFAULT_MAX_ARRAY_BYTES });
}

/** A scan context for imagesFromArray: only its problem log is used here. */
export function scanContext(path: string): ScanContext {
  return {
    path,
    target: { size: 28, channels: 1 },
    keepPixels: false,
    log: new ProblemLog(),
    skipUnreadable: false,
    maxFileBytes: DEFAULT_MAX_ARRAY_BYTES,
    budget: new ReadBudget(),
    signal: undefined,
    onProgress: undefined,
    dicomWindow: 'file',
    dicom: new DicomTally(),
    decodeThreads: 1,
  };
}

/** Side of layer `layer`'s feature maps for an image whose shorter side is `side` pixels. */
export function layerSide(spec: FeatureNetSpec, side: number, layer: string): number {
  const k = featureLayers(spec).indexOf(layer) + 1;
  // 'same' convolutions: a stride s maps n pixels to ⌈n/s⌉.
  let n = Math.ceil(side / spec.stemStride);
  for (let i = 0; i < k; i++) n = Math.ceil(n / 2);
  return n;
}

/**
 * Throws in plain words when the features of `count` images, `dims` each,
 * would take more than `maxBytes` as float32 (they are held in memory whole).
 */
export function checkFeatureBytes(
  count: number,
  dims: number,
  readout: FeatureReadout,
  maxBytes = DEFAULT_MAX_ARRAY_BYTES,
): void {
  const bytes = count * dims * 4;
  if (bytes <= maxBytes) return;
  const fewer = readout.layers.length > 1 ? ' one layer (--layer stage1),' : '';
  const coarser = readout.grid > 1 ? ' a coarser grid (--grid 1),' : '';
  throw new UserError(
    'INVALID_INPUT',
    `The features of ${count.toLocaleString('en-US')} images, ${dims.toLocaleString('en-US')} numbers each, ` +
      `would take ${formatBytes(bytes)}, more than DP² Studio writes at once (${formatBytes(maxBytes)}). ` +
      `Nothing was written. Choose${fewer}${coarser} or split the images into smaller files.`,
  );
}

/** `dp2 features`: see {@link FEATURES_USAGE}. */
export async function featuresCommand(argv: string[], io: CliIo): Promise<void> {
  const { flags } = parseFlags(argv, {
    in: { type: 'string' },
    out: { type: 'string' },
    layer: { type: 'string' },
    grid: { type: 'string' },
    array: { type: 'string' },
  });
  if (flags.help) return io.stdout(FEATURES_USAGE + '\n');
  const input = resolve(io.cwd, requireString(flags, 'in'));
  const output = resolve(io.cwd, requireString(flags, 'out'));
  if (output === input) {
    throw new UsageError('--out names the input file; choose another file for the features');
  }
  const gridFlag = numberFlag(flags, 'grid');
  if (gridFlag !== undefined && (!Number.isInteger(gridFlag) || gridFlag < 1)) {
    throw new UsageError(
      `--grid must be a whole number of at least 1, got "${String(flags.grid)}"`,
    );
  }
  // Checked before any work, like the flags.
  const workers = featureWorkerCount(io.env);
  const outFolder = dirname(output);
  if (!existsSync(outFolder) || !statSync(outFolder).isDirectory()) {
    throw new UserError(
      'NOT_FOUND',
      `The folder ${outFolder} (of --out) does not exist. Create it, or choose another place for the features.`,
    );
  }

  // The manifest first: it is small and says which layers there are.
  const folder = priorsFolder(io.env);
  const manifest = readPriorManifest(DEFAULT_PRIOR, folder);
  const layers = featureLayers(manifest.network);
  const layerFlag = flags.layer;
  if (layerFlag !== undefined && (typeof layerFlag !== 'string' || !layers.includes(layerFlag))) {
    throw new UsageError(`--layer must be ${orList(layers)}; got "${String(layerFlag)}"`);
  }

  const arrays = await readArrays(input);
  const picked = pickImageArray(
    arrays,
    input,
    typeof flags.array === 'string' ? flags.array : undefined,
  );
  const where = `${basename(input)}: ${picked.name}`;
  const ctx = scanContext(input);
  const part = imagesFromArray(picked.array, where, ctx);
  const problems = ctx.log.list();
  const errors = problems.filter((p) => p.severity === 'error');
  if (!part || errors.length > 0) {
    const first = errors
      .slice(0, 3)
      .map((p) => `${p.file} ${p.problem} ${p.action}`)
      .join(' ');
    throw new UserError('INVALID_INPUT', `${input} holds no images: ${first}`);
  }
  const others = Object.entries(arrays)
    .filter(([n, a]) => n !== picked.name && looksLikeImages(a))
    .map(([n]) => n);
  if (others.length > 0) {
    io.stderr(
      `dp2 features: the images are "${picked.name}"; ${orList(others.map((n) => `"${n}"`))} ` +
        `${others.length === 1 ? 'is' : 'are'} not used (choose with --array NAME).\n`,
    );
  }
  for (const p of problems)
    io.stderr(`dp2 features: warning: ${p.file} ${p.problem} ${p.action}\n`);
  if (part.count === 0) {
    throw new UserError(
      'INVALID_INPUT',
      `${where} holds no images (shape (${picked.array.shape.join(', ')})). Give --in a file with at least one image.`,
    );
  }

  // Labels and class names travel with the features, unchanged, when they fit.
  const extra: Record<string, NpyInput> = {};
  const labelsName = labelsNameFor(picked.name);
  const labels = labelsName === undefined ? undefined : arrays[labelsName];
  if (labels) {
    if (labels.shape[0] === part.count) extra.y = { data: labels.data, shape: labels.shape };
    else {
      io.stderr(
        `dp2 features: warning: ${basename(input)}: ${labelsName} has ${labels.shape[0] ?? 0} labels for ` +
          `${part.count} images; the labels are not copied to the output.\n`,
      );
    }
  }
  const classes = arrays.classes;
  if (extra.y && classes && Array.isArray(classes.data)) extra.classes = { data: classes.data };

  const backend = await selectBackend({ env: io.env });
  const prior = loadPrior(DEFAULT_PRIOR, folder);
  let features: Float32Array;
  let readout: FeatureReadout;
  let dims: number;
  try {
    const standard = defaultReadout(prior.net);
    const grid = gridFlag ?? standard.grid;
    readout = typeof layerFlag === 'string' ? { layers: [layerFlag], grid } : { ...standard, grid };
    const size = networkSize(part.height, part.width);
    for (const layer of readout.layers) {
      const side = layerSide(prior.net.spec, Math.min(size.height, size.width), layer);
      if (grid > side) {
        throw new UsageError(
          `--grid ${grid} is finer than layer ${layer}'s ${side}×${side} feature maps for ` +
            `${part.height}×${part.width} images; use --grid ${side} or less`,
        );
      }
    }
    dims = featureCount(prior.net.spec, readout);
    checkFeatureBytes(part.count, dims, readout);
    const threads = plannedFeatureThreads(part, workers);
    io.stderr(
      `Prior ${prior.manifest.name}: weights verified (sha256 ${prior.manifest.weights.sha256.slice(0, 12)}…). ` +
        `${part.count.toLocaleString('en-US')} images ${part.height}×${part.width}×${part.channels} from "${picked.name}"` +
        (size.height !== part.height || size.width !== part.width
          ? `, resized to ${size.height}×${size.width}`
          : '') +
        `; ${dims} features each, on ${backend.name}` +
        (threads > 1 ? ` (${threads} threads)` : '') +
        '.\n',
    );
    const progress = progressPrinter(io);
    try {
      // On worker threads (two cores: about half the time), each loading and checking the
      // prior itself; this thread's copy serves when they cannot start.
      ({ features } = await extractFeaturesInParallel(part, {
        prior: DEFAULT_PRIOR,
        folder,
        net: prior.net,
        workers,
        readout,
        onProgress: (done, total) => progress.report({ task: 'Computing features', done, total }),
      }));
    } finally {
      progress.end();
    }
  } finally {
    disposeNet(prior.net);
  }

  const bytes = writeNpz({
    features: { data: features, shape: [part.count, dims] },
    ...extra,
    layers: { data: [...readout.layers] },
    grid: { data: new Int32Array([readout.grid]) },
    prior: { data: [prior.manifest.name] },
    prior_sha256: { data: [prior.manifest.weights.sha256] },
  });
  await writeWholeFile(output, bytes, 'The features');
  io.stdout(
    `Wrote ${output}: ${part.count.toLocaleString('en-US')} images × ${dims} features ` +
      `(${readout.layers.join(', ')}; ${readout.grid}×${readout.grid} grid)${extra.y ? ' with their labels' : ''}.\n`,
  );
}
