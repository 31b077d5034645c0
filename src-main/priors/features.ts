/**
 * Features of a set of images under the random-process prior: the network
 * (network/feature-net.ts) applied in batches, each layer read out by average
 * pooling over a grid of regions. Images of any size and channel count are
 * taken; sides below 28 or above 128 pixels are resized (bilinear) into that
 * range, the one the prior was made for, keeping the aspect ratio.
 */
import * as tf from '@tensorflow/tfjs';
import { yieldToEvents } from '../engine/cooperate';
import { featureMapOps, type FeatureMap } from './feature-map';
import { PRIOR_SIZE_MAX, PRIOR_SIZE_MIN } from './families';
import { featureLayers } from './network/architecture';
import {
  featureCount,
  readFeatures,
  type FeatureReadout,
  type FoldedNet,
} from './network/feature-net';

/** Images as bytes, N·H·W·C row-major (NHWC), like the app's image sets. */
export interface ImageBytes {
  x: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * The read-out the prior's users get unless they ask for another: every
 * stage, pooled over a 3×3 grid (measured against other grids:
 * docs/priors.md).
 */
export function defaultReadout(net: FoldedNet): FeatureReadout {
  return { layers: featureLayers(net.spec), grid: 3 };
}

/** Side lengths the images are resized to before the network (unchanged when in range). */
export function networkSize(height: number, width: number): { height: number; width: number } {
  const short = Math.min(height, width);
  const long = Math.max(height, width);
  const scale =
    short < PRIOR_SIZE_MIN
      ? PRIOR_SIZE_MIN / short
      : long > PRIOR_SIZE_MAX
        ? PRIOR_SIZE_MAX / long
        : 1;
  return { height: Math.round(height * scale), width: Math.round(width * scale) };
}

/** Images per batch of {@link extractFeatures} unless told otherwise. */
export const FEATURE_BATCH = 256;

/** Options of {@link extractFeatures}. */
export interface ExtractOptions {
  readout: FeatureReadout;
  /** Images per batch (default {@link FEATURE_BATCH}). */
  batchSize?: number;
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
  /** A per-record map applied to each batch's features (feature-map.ts); absent: the raw read-out. */
  map?: FeatureMap | undefined;
}

/**
 * Features of every image, [count × featureCount] row-major. Yields to the
 * event loop between batches, so progress and cancellation get through.
 */
export async function extractFeatures(
  net: FoldedNet,
  images: ImageBytes,
  options: ExtractOptions,
): Promise<{ features: Float32Array; dims: number }> {
  const { count, height, width, channels } = images;
  const dims = featureCount(net.spec, options.readout);
  const out = new Float32Array(count * dims);
  const batch = options.batchSize ?? FEATURE_BATCH;
  const target = networkSize(height, width);
  const per = height * width * channels;
  const map = options.map ? featureMapOps(options.map) : null;
  try {
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const pixels = new Float32Array(n * per);
      const src = images.x.subarray(start * per, (start + n) * per);
      for (let i = 0; i < pixels.length; i++) pixels[i] = (src[i] as number) / 255;
      const f = tf.tidy(() => {
        let x: tf.Tensor4D = tf.tensor4d(pixels, [n, height, width, channels]);
        if (target.height !== height || target.width !== width) {
          x = tf.image.resizeBilinear(x, [target.height, target.width], true);
        }
        const raw = readFeatures(net, x, options.readout);
        return map ? map.apply(raw) : raw;
      });
      out.set((await f.data()) as Float32Array, start * dims);
      f.dispose();
      options.onProgress?.(start + n, count);
      await yieldToEvents();
    }
  } finally {
    map?.dispose();
  }
  return { features: out, dims };
}
