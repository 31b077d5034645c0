/**
 * Empirical membership audit of a released decoder: score records that were
 * in the training data (members) and records that were not (non-members)
 * with a likelihood under the decoder, treat the score as a membership
 * attack (higher = "member"), and compare the attack's success with what
 * (ε, δ)-DP allows.
 *
 * - AUC: the probability that a random member outscores a random
 *   non-member, ties counting one half (the Mann–Whitney U statistic / n₁n₀;
 *   Hanley and McNeil 1982), computed exactly from mid-ranks.
 * - TPR at a low FPR (1 % by default): the reading recommended by Carlini et
 *   al. 2022, "Membership inference attacks from first principles", since a
 *   good average (AUC) can hide a confident attack on a few records.
 * - The bound: no attacker beats TPR ≤ min(1, e^ε·FPR + δ,
 *   1 − e^{−ε}(1 − δ − FPR)) against an (ε, δ)-DP release
 *   (`membershipTprBound` in src-main/privacy, Kairouz et al. 2015); the AUC
 *   bound is that curve's area, integrated numerically.
 *
 * An attack above the bound points to a privacy bug (or to too few records:
 * with n members, TPR moves in steps of 1/n). Scores are computed on
 * private records, so the audit is a private figure (DESIGN.md, "The privacy
 * boundary"): shown in the app, never exported.
 */
import { UserError } from '../contract/errors';
import { membershipTprBound } from '../privacy';
import { checkImages, type EvalImages } from './images';

/** The false-positive rate at which the TPR is read, unless given. */
export const DEFAULT_AUDIT_FPR = 0.01;

/**
 * Scores each record (higher = more likely a member), e.g. the Monte-Carlo
 * log-likelihood of (x, y) under the released decoder with prior draws
 * (decoder-audit.ts) — never through the run's encoders, which are private.
 * `x` holds `shape.count` images of `shape.height`×`shape.width`×
 * `shape.channels` bytes (NHWC).
 */
export type ScoreRecords = (
  x: Uint8Array,
  y: ArrayLike<number>,
  shape: { count: number; height: number; width: number; channels: number },
) => Float64Array | Promise<Float64Array>;

/** What an audit found, next to what (ε, δ) allows. */
export interface MembershipAudit {
  /** Attack AUC in [0, 1] (0.5 = guessing). */
  auc: number;
  /** The FPR at which the TPR is read (e.g. 0.01). */
  fpr: number;
  /** The best TPR of a threshold attack whose FPR is at most `fpr`. */
  tprAtFpr: number;
  /** The FPR that threshold actually has (≤ `fpr`). */
  achievedFpr: number;
  /** The largest values any attacker can reach against an (ε, δ)-DP release. */
  bound: { epsilon: number; delta: number; tprAtFpr: number; auc: number };
  /** True when the attack beats the bound (a privacy bug, or too few records). */
  exceedsBound: boolean;
  members: number;
  nonMembers: number;
}

function checkScores(scores: ArrayLike<number>, what: string): void {
  if (scores.length === 0) {
    throw new UserError('INVALID_INPUT', `The membership audit needs at least one ${what} record.`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i] as number)) {
      throw new UserError(
        'INVALID_INPUT',
        `The score of ${what} record ${i + 1} is not a number; the scoring function must return a number for every record.`,
      );
    }
  }
}

/**
 * Exact attack AUC: P(member score > non-member score) + ½·P(equal), from
 * mid-ranks of the pooled scores (ties share the average of their ranks).
 */
export function attackAuc(
  memberScores: ArrayLike<number>,
  nonMemberScores: ArrayLike<number>,
): number {
  checkScores(memberScores, 'member');
  checkScores(nonMemberScores, 'non-member');
  const n1 = memberScores.length;
  const n0 = nonMemberScores.length;
  const pooled = new Float64Array(n1 + n0);
  for (let i = 0; i < n1; i++) pooled[i] = memberScores[i] as number;
  for (let i = 0; i < n0; i++) pooled[n1 + i] = nonMemberScores[i] as number;
  const order = Array.from(pooled.keys()).sort(
    (a, b) => (pooled[a] as number) - (pooled[b] as number),
  );
  // Sum of the members' ranks (1-based), each tie group at its mid-rank. Twice the ranks stay integers.
  let twiceRankSum = 0;
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && pooled[order[end] as number] === pooled[order[start] as number])
      end++;
    const twiceMidRank = start + 1 + end; // 2 × (start+1 + end)/2
    for (let i = start; i < end; i++) if ((order[i] as number) < n1) twiceRankSum += twiceMidRank;
    start = end;
  }
  const u = twiceRankSum / 2 - (n1 * (n1 + 1)) / 2;
  return u / (n1 * n0);
}

/**
 * The best true-positive rate of the attacks "member if score ≥ t" whose
 * false-positive rate is at most `fpr`, and that attack's FPR. Only
 * deterministic thresholds count (no randomised tie-breaking), so ties are
 * all in or all out.
 */
export function tprAtFpr(
  memberScores: ArrayLike<number>,
  nonMemberScores: ArrayLike<number>,
  fpr: number = DEFAULT_AUDIT_FPR,
): { tpr: number; fpr: number } {
  checkScores(memberScores, 'member');
  checkScores(nonMemberScores, 'non-member');
  if (!(fpr >= 0 && fpr <= 1)) {
    throw new UserError(
      'INVALID_INPUT',
      `The false-positive rate is ${fpr}; it must be between 0 and 1.`,
    );
  }
  const members = Float64Array.from(memberScores).sort().reverse();
  const others = Float64Array.from(nonMemberScores).sort().reverse();
  const n1 = members.length;
  const n0 = others.length;
  // Thresholds at each distinct score, from high to low; FPR and TPR only grow.
  let best = { tpr: 0, fpr: 0 };
  let i = 0; // members ≥ t
  let j = 0; // non-members ≥ t
  while (i < n1 || j < n0) {
    const t = Math.max(
      i < n1 ? (members[i] as number) : -Infinity,
      j < n0 ? (others[j] as number) : -Infinity,
    );
    while (i < n1 && (members[i] as number) >= t) i++;
    while (j < n0 && (others[j] as number) >= t) j++;
    const f = j / n0;
    if (f > fpr) break;
    best = { tpr: i / n1, fpr: f };
  }
  return best;
}

/** Points of the trapezoid rule for the area under the DP bound curve. */
const BOUND_GRID = 20_000;

/**
 * The largest AUC any attacker can reach against an (ε, δ)-DP release: the
 * area under FPR ↦ membershipTprBound(ε, δ, FPR) (a concave, piecewise-linear
 * curve, so the trapezoid rule on a fine grid is accurate to ~1e-8).
 */
export function membershipAucBound(epsilon: number, delta: number): number {
  let area = 0;
  let prev = membershipTprBound({ epsilon, delta, fpr: 0 }).tpr;
  for (let i = 1; i <= BOUND_GRID; i++) {
    const cur = membershipTprBound({ epsilon, delta, fpr: i / BOUND_GRID }).tpr;
    area += (prev + cur) / (2 * BOUND_GRID);
    prev = cur;
  }
  return Math.min(area, 1);
}

/** The audit from scores already computed (pure). */
export function auditFromScores(options: {
  memberScores: ArrayLike<number>;
  nonMemberScores: ArrayLike<number>;
  epsilon: number;
  delta: number;
  fpr?: number;
}): MembershipAudit {
  const { memberScores, nonMemberScores, epsilon, delta } = options;
  const fpr = options.fpr ?? DEFAULT_AUDIT_FPR;
  const auc = attackAuc(memberScores, nonMemberScores);
  const at = tprAtFpr(memberScores, nonMemberScores, fpr);
  const tprBound = membershipTprBound({ epsilon, delta, fpr }).tpr;
  const aucBound = membershipAucBound(epsilon, delta);
  return {
    auc,
    fpr,
    tprAtFpr: at.tpr,
    achievedFpr: at.fpr,
    bound: { epsilon, delta, tprAtFpr: tprBound, auc: aucBound },
    exceedsBound: at.tpr > tprBound + 1e-12 || auc > aucBound + 1e-9,
    members: memberScores.length,
    nonMembers: nonMemberScores.length,
  };
}

/**
 * Scores `members` and `nonMembers` with `scoreRecords` and audits the
 * result against (ε, δ) (module comment).
 */
export async function membershipAudit(options: {
  scoreRecords: ScoreRecords;
  members: EvalImages;
  nonMembers: EvalImages;
  epsilon: number;
  delta: number;
  fpr?: number;
}): Promise<MembershipAudit> {
  const score = async (set: EvalImages, what: string): Promise<Float64Array> => {
    const g = checkImages(set, what);
    const s = await options.scoreRecords(set.x, set.y, { count: set.count, ...g });
    if (!(s instanceof Float64Array) || s.length !== set.count) {
      throw new UserError(
        'INVALID_INPUT',
        `The scoring function returned ${s?.length ?? 'no'} scores for ${set.count} ${what}; it must return one Float64Array entry per record.`,
      );
    }
    return s;
  };
  const memberScores = await score(options.members, 'member records');
  const nonMemberScores = await score(options.nonMembers, 'non-member records');
  return auditFromScores({ ...options, memberScores, nonMemberScores });
}
