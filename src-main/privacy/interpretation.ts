/**
 * Plain-language readings of an (ε, δ) guarantee for people who do not think
 * in ε: how well can an attacker tell whether one person's record was used?
 */
import { requireEpsilon, requireProbability } from './validate';

/**
 * The most true-positive rate any membership-inference attacker can reach at
 * a given false-positive rate against an (ε, δ)-DP release — the hypothesis-
 * testing characterisation of differential privacy (Kairouz, Oh, Viswanath
 * 2015, "The composition theorem for differential privacy", Theorem 2.1;
 * Wasserman and Zhou 2010):
 *
 *   TPR ≤ min(1, e^ε·FPR + δ, 1 − e^{−ε}·(1 − δ − FPR)).
 *
 * `epsilon` ≥ 0, `delta` and `fpr` in [0, 1].
 */
export function membershipTprBound(options: { epsilon: number; delta: number; fpr: number }): {
  tpr: number;
} {
  const epsilon = requireEpsilon('epsilon', options?.epsilon);
  const delta = requireProbability('delta', options.delta);
  const fpr = requireProbability('fpr', options.fpr);
  const tpr = Math.min(
    1,
    Math.exp(epsilon) * fpr + delta,
    1 - Math.exp(-epsilon) * (1 - delta - fpr),
  );
  return { tpr };
}

/**
 * The highest belief an attacker who starts from a 50 % prior can end up with
 * that one given person was in the training data, after seeing an ε-DP
 * release: e^ε/(1 + e^ε) (Bayes' rule with a likelihood ratio of at most e^ε;
 * Kasiviswanathan and Smith 2014, "On the 'semantics' of differential
 * privacy"). This ignores δ: with probability up to δ the bound may fail, so
 * quote it together with δ.
 */
export function posteriorBound(options: { epsilon: number }): { posterior: number } {
  const epsilon = requireEpsilon('epsilon', options?.epsilon);
  // e^ε/(1 + e^ε) = 1/(1 + e^−ε), which stays finite for large ε.
  return { posterior: 1 / (1 + Math.exp(-epsilon)) };
}
