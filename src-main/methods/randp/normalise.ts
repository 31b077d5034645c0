/**
 * Feature normalisation for the private linear probe of DP-RandP (phase 2),
 * using nothing computed from the private data: either per-record operations
 * (each record's own feature vector, scaled to a fixed L2 norm), or per-feature
 * statistics of PUBLIC images — the prior's own procedurally generated
 * families (src-main/priors/families), which contain no real data, so their
 * mean and spread are data-independent constants of the prior.
 *
 * Why normalise at all: DP-SGD clips each record's gradient to C and adds
 * noise of the same scale to every coordinate; features on very different
 * scales make some weights learn at a rate the noise swamps. A fixed scale per
 * feature (public) and a fixed norm per record (per-record) equalise this
 * without looking at the private records.
 */
import { UserError } from '../../contract/errors';
import { generateFamily, PRIOR_FAMILIES, type PriorFamily } from '../../priors/families';
import { extractFeatures } from '../../priors/features';
import type { FeatureReadout, FoldedNet } from '../../priors/network/feature-net';

/** Per-feature shift and scale: x' = (x − shift)·scale. */
export interface FeatureScaling {
  shift: Float32Array;
  scale: Float32Array;
  /** What the statistics were computed on (for the model card). */
  source: string;
}

/** How features are normalised before the probe. */
export interface NormaliseOptions {
  /** Per-feature shift/scale from public data (applied first), or none. */
  scaling?: FeatureScaling | undefined;
  /** Then each record's vector is scaled to this L2 norm (0 or absent: not). */
  rowNorm?: number | undefined;
}

/** Options of {@link publicFeatureScaling}. */
export interface PublicScalingOptions {
  readout: FeatureReadout;
  /** Procedural images per family (default 1000). */
  perFamily?: number;
  /** Seed of the procedural images (default 7: not the prior's training seed). */
  seed?: number;
  /** Side and channels of the images, as the private set's (default 28, 1). */
  size?: number;
  channels?: number;
  families?: readonly PriorFamily[];
}

/**
 * Per-feature mean and standard deviation of the prior's features on its own
 * procedural images (public: made from a seed, no real data). Depends only on
 * the prior, the read-out and these options — never on private records.
 */
export async function publicFeatureScaling(
  net: FoldedNet,
  options: PublicScalingOptions,
): Promise<FeatureScaling> {
  const perFamily = options.perFamily ?? 1000;
  const seed = options.seed ?? 7;
  const size = options.size ?? 28;
  const channels = options.channels ?? 1;
  const families = options.families ?? PRIOR_FAMILIES;
  let sum: Float64Array | null = null;
  let sq: Float64Array | null = null;
  let n = 0;
  for (const family of families) {
    const images = generateFamily({ family, seed, count: perFamily, size, channels });
    const { features, dims } = await extractFeatures(net, images, { readout: options.readout });
    sum ??= new Float64Array(dims);
    sq ??= new Float64Array(dims);
    for (let i = 0; i < images.count; i++) {
      for (let d = 0; d < dims; d++) {
        const v = features[i * dims + d] as number;
        sum[d] = (sum[d] as number) + v;
        sq[d] = (sq[d] as number) + v * v;
      }
    }
    n += images.count;
  }
  if (!sum || !sq)
    throw new UserError(
      'INVALID_INPUT',
      'Public feature statistics need at least one procedural family.',
    );
  const shift = new Float32Array(sum.length);
  const scale = new Float32Array(sum.length);
  for (let d = 0; d < sum.length; d++) {
    const m = (sum[d] as number) / n;
    const v = Math.max(0, (sq[d] as number) / n - m * m);
    shift[d] = m;
    // A floor keeps near-constant features from being blown up into noise.
    scale[d] = 1 / (Math.sqrt(v) + 1e-3);
  }
  return {
    shift,
    scale,
    source: `prior features of ${perFamily} procedural images per family (${families.join(', ')}), seed ${seed}, ${size}×${size}×${channels}`,
  };
}

/**
 * The features of `count` records, normalised (a new array): first the public
 * per-feature shift/scale when given, then each row scaled to `rowNorm`.
 * Each output row depends on its own input row only.
 */
export function normaliseFeatures(
  features: Float32Array,
  count: number,
  dims: number,
  options: NormaliseOptions,
): Float32Array {
  if (features.length !== count * dims) {
    throw new UserError(
      'INVALID_INPUT',
      `The feature array holds ${features.length} values, not ${count} × ${dims}.`,
    );
  }
  const { scaling, rowNorm } = options;
  if (scaling && scaling.shift.length !== dims) {
    throw new UserError(
      'INVALID_INPUT',
      `The feature scaling is for ${scaling.shift.length} features, but the records have ${dims}. Compute it with the same prior and read-out.`,
    );
  }
  const out = new Float32Array(features.length);
  for (let i = 0; i < count; i++) {
    const o = i * dims;
    let s = 0;
    for (let d = 0; d < dims; d++) {
      let v = features[o + d] as number;
      if (scaling) v = (v - (scaling.shift[d] as number)) * (scaling.scale[d] as number);
      out[o + d] = v;
      s += v * v;
    }
    if (rowNorm && rowNorm > 0) {
      const f = s > 0 ? rowNorm / Math.sqrt(s) : 0;
      for (let d = 0; d < dims; d++) out[o + d] = (out[o + d] as number) * f;
    }
  }
  return out;
}
