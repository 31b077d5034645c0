import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../../src-main/engine/rng';
import { coverage, kthNeighbourRadii, precisionRecall } from '../../../src-main/eval/manifold';

function cloud(
  count: number,
  dims: number,
  centre: number,
  seed: number,
): { values: Float64Array; count: number; dims: number } {
  const values = new Float64Array(count * dims);
  SeededRng.fromSeed(seed).fillNormal(values);
  for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) + centre;
  return { values, count, dims };
}

test('k-th neighbour radii on a line: points 0, 1, 3, 6 with k = 1 and k = 2', () => {
  const pts = { values: [0, 1, 3, 6], count: 4, dims: 1 };
  assert.deepEqual(Array.from(kthNeighbourRadii(pts, 1)), [1, 1, 4, 9]); // squared distances
  assert.deepEqual(Array.from(kthNeighbourRadii(pts, 2)), [9, 4, 9, 25]);
});

test('precision and recall of a set against itself are 1', () => {
  const a = cloud(300, 8, 0, 1);
  assert.deepEqual(precisionRecall(a, a), { precision: 1, recall: 1 });
});

test('far-apart sets have precision and recall 0; overlapping samples score high', () => {
  const real = cloud(300, 4, 0, 1);
  assert.deepEqual(precisionRecall(real, cloud(300, 4, 50, 2)), { precision: 0, recall: 0 });
  const { precision, recall } = precisionRecall(real, cloud(300, 4, 0, 3));
  assert.ok(precision > 0.8 && recall > 0.8, `${precision} ${recall}`);
});

test('mode collapse: a synthetic set covering one blob of two has high precision, low recall', () => {
  const a = cloud(200, 2, 0, 1);
  const b = cloud(200, 2, 20, 2);
  const real = { values: Float64Array.from([...a.values, ...b.values]), count: 400, dims: 2 };
  const { precision, recall } = precisionRecall(real, cloud(200, 2, 0, 3));
  assert.ok(precision > 0.85, `precision ${precision}`);
  assert.ok(recall < 0.6, `recall ${recall}`);
});

test('coverage counts a point on a ball boundary as inside', () => {
  const points = { values: [0, 0], count: 1, dims: 2 };
  const queries = { values: [3, 4, 3, 4.001], count: 2, dims: 2 };
  assert.equal(coverage(queries, points, Float64Array.of(25)), 0.5);
});
