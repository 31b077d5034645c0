/**
 * The baselines printed beside every accuracy, on hand-made imbalanced
 * labels: the majority-class rate, the balanced accuracy (mean recall over
 * the classes) and when classes count as imbalanced.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  balancedAccuracy,
  classCounts,
  isImbalanced,
  majorityRate,
} from '../../../src-main/eval/class-balance';

// 90 healthy (0) and 10 ill (1): a two-class hospital set.
const truth = [...Array<number>(90).fill(0), ...Array<number>(10).fill(1)];

test('a classifier that always says "healthy" scores the majority rate, and 50 % balanced', () => {
  const always0 = Array<number>(100).fill(0);
  assert.deepEqual(majorityRate(truth), { label: 0, rate: 90 });
  assert.equal(balancedAccuracy(truth, always0), 50);
  assert.equal(isImbalanced(truth), true);
});

test('balanced accuracy is the mean of the per-class recalls', () => {
  // 81 of 90 healthy right (0.9), 5 of 10 ill right (0.5): accuracy 86 %, balanced 70 %.
  const predicted = truth.map((t, i) => (t === 0 ? (i < 81 ? 0 : 1) : i < 95 ? 1 : 0));
  assert.equal(balancedAccuracy(truth, predicted), 70);
  // Classes absent from the truth do not count (label 2 is predicted, never true).
  assert.equal(balancedAccuracy([0, 0, 1, 1], [0, 2, 1, 1]), 75);
  assert.throws(() => balancedAccuracy([0, 1], [0]), /2 labels but 1 predictions/);
});

test('balanced classes are not flagged; ties go to the lowest label', () => {
  const even = [0, 1, 2, 0, 1, 2];
  assert.equal(isImbalanced(even), false);
  assert.deepEqual(majorityRate(even), { label: 0, rate: (100 * 2) / 6 });
  // MNIST's test split is within 1.5× (892 to 1135 per class).
  assert.equal(
    isImbalanced([...Array<number>(892).fill(5), ...Array<number>(1135).fill(1)]),
    false,
  );
  assert.equal(isImbalanced([...Array<number>(10).fill(0), ...Array<number>(16).fill(1)]), true);
  assert.deepEqual(classCounts([2, 2, 0]), [1, 0, 2]);
  assert.deepEqual(majorityRate([]), { label: 0, rate: 0 });
});
