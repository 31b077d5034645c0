import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  attackAuc,
  auditFromScores,
  membershipAucBound,
  membershipAudit,
  tprAtFpr,
} from '../../../src-main/eval/audit';
import { membershipTprBound } from '../../../src-main/privacy';

function normals(n: number, mean: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  SeededRng.fromSeed(seed).fillNormal(out);
  return out.map((v) => v + mean);
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 via erf; |error| < 1.5e-7). */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

test('AUC of identical score sets is exactly 0.5; of separated sets 1 (and 0 reversed)', () => {
  const s = normals(500, 0, 1);
  assert.equal(attackAuc(s, s), 0.5);
  assert.equal(attackAuc([5, 6, 7], [1, 2, 3, 4]), 1);
  assert.equal(attackAuc([1, 2], [5, 6, 7]), 0);
});

test('AUC on a hand case with ties: members [3, 2, 2], non-members [2, 1] → 5/6', () => {
  // Pairs: 3>2, 3>1, 2=2 (½), 2>1, 2=2 (½), 2>1 → 5 of 6.
  assert.ok(Math.abs(attackAuc([3, 2, 2], [2, 1]) - 5 / 6) < 1e-15);
  // All tied: ½.
  assert.equal(attackAuc([1, 1, 1], [1, 1]), 0.5);
});

test('AUC of N(d, 1) vs N(0, 1) scores is Φ(d/√2)', () => {
  const d = 1;
  const auc = attackAuc(normals(20000, d, 2), normals(20000, 0, 3));
  assert.ok(Math.abs(auc - phi(d / Math.SQRT2)) < 0.01, `auc ${auc}`);
});

test('TPR at FPR on a hand case, ties all in or all out', () => {
  // Non-members: 10 scores 0…9; members: 9.5, 9, 8, 1.
  const others = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(tprAtFpr([9.5, 9, 8, 1], others, 0.1), { tpr: 0.5, fpr: 0.1 });
  assert.deepEqual(tprAtFpr([9.5, 9, 8, 1], others, 0.05), { tpr: 0.25, fpr: 0 });
  assert.deepEqual(tprAtFpr([9.5, 9, 8, 1], others, 0.2), { tpr: 0.75, fpr: 0.2 });
  // A tie between a member and the top non-member cannot be split.
  assert.deepEqual(tprAtFpr([9, 9], others, 0.05), { tpr: 0, fpr: 0 });
});

test('TPR at 1 % FPR of N(d, 1) vs N(0, 1) scores is 1 − Φ(z₀.₉₉ − d)', () => {
  const d = 2;
  const z99 = 2.326347874;
  const { tpr, fpr } = tprAtFpr(normals(40000, d, 4), normals(40000, 0, 5), 0.01);
  assert.ok(fpr <= 0.01);
  assert.ok(Math.abs(tpr - (1 - phi(z99 - d))) < 0.02, `tpr ${tpr}`);
});

test('the audit reports the (ε, δ) bound from membershipTprBound', () => {
  const audit = auditFromScores({
    memberScores: normals(2000, 0.05, 6),
    nonMemberScores: normals(2000, 0, 7),
    epsilon: 1,
    delta: 1e-5,
  });
  assert.equal(
    audit.bound.tprAtFpr,
    membershipTprBound({ epsilon: 1, delta: 1e-5, fpr: 0.01 }).tpr,
  );
  assert.equal(audit.exceedsBound, false);
  assert.equal(audit.members, 2000);
  const leaky = auditFromScores({
    memberScores: [5, 6, 7],
    nonMemberScores: [1, 2, 3],
    epsilon: 1,
    delta: 1e-5,
  });
  assert.equal(leaky.auc, 1);
  assert.equal(leaky.tprAtFpr, 1);
  assert.equal(leaky.exceedsBound, true);
});

test('AUC bound: ½ at ε = δ = 0, near 1 for large ε, and exact for pure ε-DP', () => {
  assert.ok(Math.abs(membershipAucBound(0, 0) - 0.5) < 1e-9);
  assert.ok(membershipAucBound(20, 0) > 0.999);
  // δ = 0: the curve min(e^ε f, 1 − e^−ε(1 − f)) has area e^ε/(1 + e^ε).
  const e = Math.exp(1);
  assert.ok(Math.abs(membershipAucBound(1, 0) - e / (1 + e)) < 1e-7);
});

test('membershipAudit calls the scoring function on both sets', async () => {
  const set = (count: number, value: number) => ({
    x: new Uint8Array(count * 4).fill(value),
    y: new Uint8Array(count),
    count,
    height: 2,
    width: 2,
  });
  const calls: number[] = [];
  const audit = await membershipAudit({
    scoreRecords: (x, _y, shape) => {
      calls.push(shape.count);
      return Float64Array.from({ length: shape.count }, (_, i) => (x[i * 4] as number) + i * 0.001);
    },
    members: set(50, 10),
    nonMembers: set(60, 0),
    epsilon: 2,
    delta: 1e-5,
  });
  assert.deepEqual(calls, [50, 60]);
  assert.equal(audit.auc, 1);
  await assert.rejects(
    membershipAudit({
      scoreRecords: () => new Float64Array(3),
      members: set(5, 1),
      nonMembers: set(5, 0),
      epsilon: 1,
      delta: 0,
    }),
    /one Float64Array entry per record/,
  );
});

test('scores that are not numbers are refused with a plain message', () => {
  assert.throws(() => attackAuc([NaN], [1]), /not a number/);
  assert.throws(() => attackAuc([], [1]), /at least one member/);
});
