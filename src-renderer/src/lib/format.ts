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

/** "2 h 05 min", "4 min 10 s", "12 s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
