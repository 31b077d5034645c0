import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  erfc,
  log1pExp,
  logAdd,
  logComb,
  logErfc,
  logExpm1,
  logFactorial,
  logSumExp,
} from '../../../src-main/privacy/numeric';
import { assertClose } from './helpers';

// Reference values: mpmath.erfc / mpmath.log(mpmath.erfc(x)) at 30 digits.
const ERFC: Array<[number, number, number]> = [
  [-5, 1.9999999999984626, 0.6931471805591766],
  [-1, 1.8427007929497148, 0.6112323176780705],
  [-0.3, 1.3286267594591274, 0.28414589714140825],
  [0, 1, 0],
  [0.2, 0.7772974107895215, -0.2519322337826167],
  [0.46875, 0.507386526782062, -0.6784821856143961],
  [0.5, 0.4795001221869535, -0.7350111298370844],
  [1, 0.15729920705028513, -1.8496055099332482],
  [2, 0.004677734981047266, -5.364941264616638],
  [3, 0.00002209049699858544, -10.720363041981113],
  [4, 1.541725790028002e-8, -17.987778312103007],
  [4.5, 1.9661604415428876e-10, -22.34976830343594],
  [10, 2.088487583762545e-45, -102.87988902484489],
  [27, 5.23705e-319, -732.8688865078974],
];

test('erfc matches mpmath to 1e-14 relative across its range', () => {
  for (const [x, value] of ERFC) {
    if (value > 1e-300) assertClose(erfc(x), value, 1e-14, `erfc(${x})`);
  }
  assert.equal(erfc(40), 0);
  assert.equal(erfc(-40), 2);
});

test('logErfc stays accurate where erfc underflows', () => {
  for (const [x, , logValue] of ERFC)
    assertClose(logErfc(x), logValue, 1e-14, `logErfc(${x})`, 1e-15);
  assertClose(logErfc(30), -903.9741171106439, 1e-14, 'logErfc(30)');
  assertClose(logErfc(100), -10005.177585122665, 1e-14, 'logErfc(100)');
  assertClose(logErfc(1e4), -100000009.78270532, 1e-14, 'logErfc(1e4)');
  assert.equal(logErfc(-1e4), Math.LN2);
  assert.equal(logErfc(Infinity), -Infinity);
});

test('log-space helpers', () => {
  assertClose(logAdd(Math.log(2), Math.log(3)), Math.log(5), 1e-15, 'logAdd');
  assert.equal(logAdd(-Infinity, 1.5), 1.5);
  assertClose(logAdd(1000, 1000), 1000 + Math.LN2, 1e-15, 'logAdd large');
  assert.equal(logExpm1(0), -Infinity);
  assertClose(logExpm1(1e-10), Math.log(1e-10), 1e-9, 'logExpm1 small');
  assertClose(logExpm1(800), 800, 1e-15, 'logExpm1 large');
  assertClose(logSumExp([1000, 1000, 1000]), 1000 + Math.log(3), 1e-15, 'logSumExp');
  assert.equal(logSumExp([-Infinity, -Infinity]), -Infinity);
  assertClose(log1pExp(800), 800, 1e-15, 'log1pExp large');
  assertClose(log1pExp(-40), Math.exp(-40), 1e-12, 'log1pExp small');
});

test('log-factorials and binomials are exact to a few ulps', () => {
  assert.equal(logFactorial(0), 0);
  assert.equal(logFactorial(1), 0);
  assertClose(logFactorial(10), Math.log(3628800), 1e-15, '10!');
  // log(1000!) = mpmath.loggamma(1001)
  assertClose(logFactorial(1000), 5912.128178488163, 1e-15, '1000!');
  // log(10000!) = mpmath.loggamma(10001)
  assertClose(logFactorial(10000), 82108.92783681436, 1e-15, '10000!');
  assertClose(logComb(10, 3), Math.log(120), 1e-14, 'C(10,3)');
  assert.equal(logComb(7, 0), 0);
});
