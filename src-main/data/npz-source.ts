import { basename } from 'node:path';
import type { ArrayPart } from './array-scan';
import {
  classNamesFor,
  imagesFromArray,
  labelsFromArray,
  maxLabel,
  scanArrayParts,
} from './array-scan';
import type { ScanContext, ScanOutcome } from './context';
import { readNpz } from './npz';
import type { NpyArray } from './npy';

/** Known layouts: (images, labels) array names per split. */
const LAYOUTS: { name: string; train: [string, string][]; test: [string, string][] }[] = [
  {
    name: 'MedMNIST',
    train: [
      ['train_images', 'train_labels'],
      ['val_images', 'val_labels'],
    ],
    test: [['test_images', 'test_labels']],
  },
  { name: 'Keras', train: [['x_train', 'y_train']], test: [['x_test', 'y_test']] },
  { name: 'x/y', train: [['x', 'y']], test: [] },
  { name: 'images/labels', train: [['images', 'labels']], test: [] },
];

/**
 * Scans a .npz: the MedMNIST layout (`train_images`/`train_labels`, `val_*`,
 * `test_*`; train and val are imported for training, test is kept as the
 * test split), the Keras layout (`x_train`, `y_train`, `x_test`, `y_test`),
 * or `x` and `y` (DP² Studio's exchange format, with optional `classes`).
 */
export async function scanNpz(
  bytes: Uint8Array,
  ctx: ScanContext,
): Promise<ScanOutcome | undefined> {
  const file = basename(ctx.path);
  const arrays = readNpz(bytes, ctx.path);
  const layout = LAYOUTS.find((l) => {
    const [first] = l.train;
    return first !== undefined && arrays[first[0]] !== undefined && arrays[first[1]] !== undefined;
  });
  if (!layout) {
    ctx.log.error(
      'npz-layout',
      ctx.path,
      `holds the arrays ${Object.keys(arrays).join(', ')}, but not images with labels.`,
      'Save the images as "x" and the labels as "y" (numpy.savez(path, x=images, y=labels)), or use the MedMNIST layout (train_images, train_labels, …).',
    );
    return undefined;
  }
  const parts: ArrayPart[] = [];
  let trainCount = 0;
  let ok = true;
  const pairs = [
    ...layout.train.map((p) => ({ p, test: false })),
    ...layout.test.map((p) => ({ p, test: true })),
  ];
  for (const { p, test } of pairs) {
    const [xName, yName] = p;
    const xa: NpyArray | undefined = arrays[xName];
    const ya: NpyArray | undefined = arrays[yName];
    if (!xa && !ya) continue;
    if (!xa || !ya) {
      ctx.log.error(
        'npz-layout',
        ctx.path,
        `holds "${xa ? xName : yName}" but not "${xa ? yName : xName}".`,
        'Save the images and their labels together.',
      );
      ok = false;
      continue;
    }
    const images = imagesFromArray(xa, `${file}: ${xName}`, ctx);
    const labels = labelsFromArray(ya, `${file}: ${yName}`, ctx);
    if (!images || !labels) {
      ok = false;
      continue;
    }
    if (images.count !== labels.length) {
      ctx.log.error(
        'length-mismatch',
        ctx.path,
        `holds ${images.count} images in "${xName}" but ${labels.length} labels in "${yName}".`,
        'Save exactly one label per image, then import again.',
      );
      ok = false;
      continue;
    }
    parts.push({ ...images, labels, where: `${file}: ${xName}` });
    if (!test) trainCount += images.count;
  }
  if (!ok) return undefined;
  const shapes = new Set(parts.map((q) => `${q.height}x${q.width}`));
  if (shapes.size > 1) {
    ctx.log.warn(
      'mixed-sizes',
      ctx.path,
      `Its arrays hold images of different sizes (${[...shapes].join(', ')}).`,
      'No action needed: all are resized.',
    );
  }
  let given: string[] | undefined;
  const classesArr = arrays.classes;
  if (classesArr && Array.isArray(classesArr.data)) given = classesArr.data;
  const classes = await classNamesFor(
    maxLabel(parts.map((q) => q.labels)),
    ctx.path,
    given,
    `${file}`,
    ctx,
  );
  if (!classes) return undefined;
  const hasTest = parts.length > 0 && layout.test.some(([x]) => arrays[x] !== undefined);
  return scanArrayParts(ctx, 'npz', parts, classes, hasTest ? trainCount : undefined);
}
