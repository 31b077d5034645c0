/**
 * The default δ for a data set of `datasetSize` records: the largest power of
 * ten strictly below 1/N. δ bounds the probability that the ε guarantee fails
 * outright; the usual rule (Dwork & Roth 2014, §2.3) is δ ≪ 1/N, since a
 * mechanism that publishes each record with probability δ is (0, δ)-DP.
 * For MNIST (N = 60 000) this gives the paper's δ = 1e-5.
 */
export function recommendedDelta({ datasetSize }: { datasetSize: number }): {
  delta: number;
  reason: string;
} {
  const n = Math.max(1, Math.floor(datasetSize));
  let exponent = Math.floor(Math.log10(1 / n));
  // strictly below 1/N: step down one decade when 1/N is itself a power of ten
  if (10 ** exponent >= 1 / n) exponent -= 1;
  const delta = Number(`1e${exponent}`);
  const reason =
    `δ is the small chance that the privacy promise fails outright. ` +
    `It is kept below 1/N = 1/${n.toLocaleString('en-US')} ≈ ${(1 / n).toExponential(1)}, ` +
    `so that even then no particular patient is expected to be exposed.`;
  return { delta, reason };
}
