import { test } from 'node:test';
import assert from 'node:assert/strict';
import { membershipTprBound, posteriorBound } from '../../../src-main/privacy';
import { assertClose, assertUserError } from './helpers';

test('membership TPR bound (Kairouz, Oh, Viswanath 2015)', () => {
  // No privacy loss: an attacker does no better than guessing.
  for (const fpr of [0, 0.01, 0.3, 1])
    assert.equal(membershipTprBound({ epsilon: 0, delta: 0, fpr }).tpr, fpr);
  // Small FPR: the e^ε·FPR + δ branch.
  assertClose(
    membershipTprBound({ epsilon: 1, delta: 1e-5, fpr: 0.01 }).tpr,
    Math.E * 0.01 + 1e-5,
    1e-15,
    'low',
  );
  // Large FPR: the 1 − e^−ε(1 − δ − FPR) branch.
  assertClose(
    membershipTprBound({ epsilon: 1, delta: 1e-5, fpr: 0.9 }).tpr,
    1 - Math.exp(-1) * (1 - 1e-5 - 0.9),
    1e-15,
    'high',
  );
  // Large ε: capped at 1.
  assert.equal(membershipTprBound({ epsilon: 50, delta: 1e-5, fpr: 0.01 }).tpr, 1);
  // The bound grows with ε and δ.
  const a = membershipTprBound({ epsilon: 2, delta: 1e-5, fpr: 0.05 }).tpr;
  assert.ok(a > membershipTprBound({ epsilon: 1, delta: 1e-5, fpr: 0.05 }).tpr);
  assert.ok(membershipTprBound({ epsilon: 2, delta: 1e-3, fpr: 0.05 }).tpr > a);
});

test('posterior belief from a 50 % prior is e^ε/(1 + e^ε)', () => {
  assert.equal(posteriorBound({ epsilon: 0 }).posterior, 0.5);
  assertClose(posteriorBound({ epsilon: Math.log(3) }).posterior, 0.75, 1e-15, 'ln 3');
  assertClose(posteriorBound({ epsilon: 1 }).posterior, Math.E / (1 + Math.E), 1e-15, 'ε=1');
  assert.equal(posteriorBound({ epsilon: 1000 }).posterior, 1);
});

test('bad readings are refused with the field named', () => {
  assertUserError(
    () => membershipTprBound({ epsilon: -1, delta: 0, fpr: 0.1 }),
    'INVALID_INPUT',
    /epsilon/,
  );
  assertUserError(
    () => membershipTprBound({ epsilon: 1, delta: 1.5, fpr: 0.1 }),
    'INVALID_INPUT',
    /delta/,
  );
  assertUserError(
    () => membershipTprBound({ epsilon: 1, delta: 0, fpr: NaN }),
    'INVALID_INPUT',
    /fpr/,
  );
  assertUserError(() => posteriorBound({ epsilon: NaN }), 'INVALID_INPUT', /epsilon/);
});
