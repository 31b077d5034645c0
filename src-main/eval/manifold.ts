/**
 * Improved precision and recall of generated samples (Kynkäänniemi et al.
 * 2019, "Improved precision and recall metric for assessing generative
 * models", Eq. 1–3): each set's manifold is the union of balls around its
 * points, each ball's radius the distance to that point's k-th nearest
 * neighbour within the set (k = 3 as in the paper).
 *
 *   precision = share of synthetic points inside the real manifold
 *               (how many samples look real: fidelity);
 *   recall    = share of real points inside the synthetic manifold
 *               (how much of the real variety is produced: diversity).
 *
 * Distances are Euclidean in a feature space (fidelity.ts); pairwise
 * distances cost O(n²·d), so callers subsample large sets.
 */

/** A set of feature rows (row-major [count, dims]). */
export interface FeatureRows {
  values: ArrayLike<number>;
  count: number;
  dims: number;
}

/** Neighbour used for the radii (Kynkäänniemi et al. 2019 use k = 3). */
export const DEFAULT_K = 3;

function squaredNorms(a: FeatureRows): Float64Array {
  const out = new Float64Array(a.count);
  for (let i = 0; i < a.count; i++) {
    let s = 0;
    const off = i * a.dims;
    for (let j = 0; j < a.dims; j++) s += (a.values[off + j] as number) ** 2;
    out[i] = s;
  }
  return out;
}

/** Squared distance between row i of `a` and row j of `b`, directly (no cancellation). */
function squaredDistance(a: FeatureRows, i: number, b: FeatureRows, j: number): number {
  let s = 0;
  const oa = i * a.dims;
  const ob = j * b.dims;
  for (let t = 0; t < a.dims; t++)
    s += ((a.values[oa + t] as number) - (b.values[ob + t] as number)) ** 2;
  return s;
}

/**
 * Squared distance from every row of `a` to its k-th nearest other row
 * (itself excluded; duplicates count as neighbours at distance 0).
 */
export function kthNeighbourRadii(a: FeatureRows, k: number = DEFAULT_K): Float64Array {
  if (!Number.isInteger(k) || k < 1)
    throw new RangeError(`k must be a positive whole number, not ${k}.`);
  if (a.count <= k) {
    throw new RangeError(
      `The k-th neighbour radius needs more than k = ${k} points; there are ${a.count}.`,
    );
  }
  const radii = new Float64Array(a.count);
  const best = new Float64Array(k);
  for (let i = 0; i < a.count; i++) {
    best.fill(Infinity);
    for (let j = 0; j < a.count; j++) {
      if (j === i) continue;
      const d = squaredDistance(a, i, a, j);
      if (d >= (best[k - 1] as number)) continue;
      // Insert into the sorted list of the k smallest.
      let p = k - 1;
      while (p > 0 && (best[p - 1] as number) > d) {
        best[p] = best[p - 1] as number;
        p--;
      }
      best[p] = d;
    }
    radii[i] = best[k - 1] as number;
  }
  return radii;
}

/**
 * Share of the rows of `queries` that lie within at least one ball of the
 * manifold `(points, radii²)`.
 */
export function coverage(
  queries: FeatureRows,
  points: FeatureRows,
  radiiSquared: Float64Array,
): number {
  if (queries.count === 0) return NaN;
  // Check the largest balls first: an early hit ends the scan for that query.
  const order = Array.from(radiiSquared.keys()).sort(
    (x, y) => (radiiSquared[y] as number) - (radiiSquared[x] as number),
  );
  const qn = squaredNorms(queries);
  const pn = squaredNorms(points);
  let inside = 0;
  for (let i = 0; i < queries.count; i++) {
    for (const j of order) {
      const r = radiiSquared[j] as number;
      // Cheap reject by the reverse triangle inequality: (‖q‖ − ‖p‖)² ≤ ‖q − p‖².
      const gap = Math.sqrt(qn[i] as number) - Math.sqrt(pn[j] as number);
      if (gap * gap > r * (1 + 1e-12)) continue;
      if (squaredDistance(queries, i, points, j) <= r) {
        inside++;
        break;
      }
    }
  }
  return inside / queries.count;
}

/** Improved precision and recall of `synthetic` against `real` (module comment). */
export function precisionRecall(
  real: FeatureRows,
  synthetic: FeatureRows,
  k: number = DEFAULT_K,
): { precision: number; recall: number } {
  if (real.dims !== synthetic.dims) {
    throw new RangeError(
      `Precision/recall between ${real.dims}- and ${synthetic.dims}-dimensional features.`,
    );
  }
  const realRadii = kthNeighbourRadii(real, k);
  const synthRadii = kthNeighbourRadii(synthetic, k);
  return {
    precision: coverage(synthetic, real, realRadii),
    recall: coverage(real, synthetic, synthRadii),
  };
}
