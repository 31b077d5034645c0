import assert from 'node:assert/strict';

/** Sample mean and standard deviation of a parameter's values. */
function meanStd(a: Float32Array): [number, number] {
  let s = 0;
  let s2 = 0;
  for (const v of a) {
    s += v;
    s2 += v * v;
  }
  const mean = s / a.length;
  return [mean, Math.sqrt(s2 / a.length - mean * mean)];
}

/**
 * Asserts that a decoder trained under overwhelming noise is still "at its
 * initialisation in distribution": no coordinate moved more than `maxMove`
 * from `start` (Adam moves each by at most ≈ lr per step, whatever the
 * gradient), and every weight matrix (even index; biases are odd) has the
 * mean and spread of a fresh Glorot initialisation `fresh`, within 6
 * standard errors of the two sample statistics.
 */
export function assertAtInitialisation(
  end: readonly Float32Array[],
  start: readonly Float32Array[],
  fresh: readonly Float32Array[],
  maxMove: number,
): void {
  end.forEach((w, i) => {
    let moved = 0;
    for (let j = 0; j < w.length; j++) moved = Math.max(moved, Math.abs(w[j]! - start[i]![j]!));
    assert.ok(moved <= maxMove, `parameter ${i} moved ${moved}`);
    if (i % 2 === 0) {
      const [m1, s1] = meanStd(w);
      const [m0, s0] = meanStd(fresh[i]!);
      const n = w.length;
      assert.ok(
        Math.abs(m1 - m0) < 6 * s0 * Math.sqrt(2 / n),
        `parameter ${i}: mean ${m1} vs ${m0}`,
      );
      assert.ok(Math.abs(s1 / s0 - 1) < 6 / Math.sqrt(n), `parameter ${i}: std ${s1} vs ${s0}`);
    }
  });
}
