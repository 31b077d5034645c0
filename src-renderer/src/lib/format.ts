/** Four significant digits; exponent only for very small or large values. */
export function formatNumber(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e6) return Number(x.toPrecision(digits)).toLocaleString('en-US');
  return x.toExponential(Math.max(0, digits - 2));
}

/** δ in the usual "1e-5" form. */
export function formatDelta(delta: number): string {
  const exponent = Math.round(Math.log10(delta));
  return Math.abs(10 ** exponent - delta) < 1e-12 * delta
    ? `1e${exponent}`
    : delta.toExponential(1);
}

export function formatPercent(p: number): string {
  return `${(p * 100).toFixed(p < 0.1 ? 1 : 0)} %`;
}
