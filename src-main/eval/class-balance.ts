/**
 * Baselines for reading an accuracy on imbalanced classes (hospital sets are
 * often two classes, one of them rare): the majority-class rate, what a
 * classifier that always answers the commonest class scores, and the
 * balanced accuracy, the mean over the classes of the share of each class
 * recognised (chance is 100/K % whatever the balance).
 */

/** Images per class label (labels 0 … max). */
export function classCounts(labels: ArrayLike<number>): number[] {
  const counts: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    while (counts.length <= l) counts.push(0);
    counts[l] = (counts[l] as number) + 1;
  }
  return counts;
}

/** The commonest label of `labels` and its share, in % (the lowest label on a tie). */
export function majorityRate(labels: ArrayLike<number>): { label: number; rate: number } {
  const counts = classCounts(labels);
  let label = 0;
  counts.forEach((c, l) => {
    if (c > (counts[label] as number)) label = l;
  });
  return { label, rate: labels.length === 0 ? 0 : (100 * (counts[label] ?? 0)) / labels.length };
}

/**
 * Classes count as imbalanced when the commonest present class has more than
 * 1.5 times the images of the rarest present one (MNIST's test split: 1.27).
 */
export const IMBALANCE_RATIO = 1.5;

/** Whether the classes present in `labels` are imbalanced ({@link IMBALANCE_RATIO}). */
export function isImbalanced(labels: ArrayLike<number>): boolean {
  const present = classCounts(labels).filter((c) => c > 0);
  if (present.length < 2) return false;
  return Math.max(...present) > IMBALANCE_RATIO * Math.min(...present);
}

/**
 * Balanced accuracy in %: the mean, over the classes present in `truth`, of
 * the share of that class's images predicted as that class.
 */
export function balancedAccuracy(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (truth.length !== predicted.length) {
    throw new RangeError(`${truth.length} labels but ${predicted.length} predictions.`);
  }
  const counts = classCounts(truth);
  const right = counts.map(() => 0);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] as number;
    if (predicted[i] === t) right[t] = (right[t] as number) + 1;
  }
  const present = counts.flatMap((c, l) => (c > 0 ? [(right[l] as number) / c] : []));
  if (present.length === 0) return 0;
  return (100 * present.reduce((a, b) => a + b, 0)) / present.length;
}
