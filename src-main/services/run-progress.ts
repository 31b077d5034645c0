import { getMetrics, getSampleGrid } from '../store';
import type { MetricRow } from '../store';
import type { ServiceContext } from './context';

/**
 * Thins a series to at most `max` points by averaging equal runs of steps
 * (a noisy loss is read by its trend; the last point is always the newest).
 */
export function thinSeries(points: readonly [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points.slice();
  const out: [number, number][] = [];
  const per = points.length / max;
  for (let b = 0; b < max; b++) {
    const from = Math.floor(b * per);
    const to = Math.min(points.length, Math.floor((b + 1) * per));
    let sum = 0;
    let n = 0;
    for (let i = from; i < to; i++) {
      const v = points[i]?.[1] ?? Number.NaN;
      if (Number.isFinite(v)) {
        sum += v;
        n++;
      }
    }
    const last = points[to - 1];
    if (last && n > 0) out.push([last[0], sum / n]);
  }
  return out;
}

function groupSeries(rows: readonly MetricRow[], max: number) {
  const groups = new Map<string, { stage: string; name: string; points: [number, number][] }>();
  for (const row of rows) {
    const key = `${row.stage}|${row.name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { stage: row.stage, name: row.name, points: [] }));
    if (Number.isFinite(row.value)) g.points.push([row.step, row.value]);
  }
  return [...groups.values()].map((g) => ({ ...g, points: thinSeries(g.points, max) }));
}

/** The Run screen's view of one run: stored curves and grid, plus the live figures of this session. */
export function runProgress<R>(
  ctx: ServiceContext,
  { run, maxPoints }: { run: R & { id: number }; maxPoints: number },
) {
  const grid = getSampleGrid(ctx.store, run.id);
  return {
    run,
    active: ctx.runs.has(run.id),
    live: ctx.live.get(run.id),
    series: groupSeries(getMetrics(ctx.store, run.id), maxPoints),
    grid: grid ? { step: grid.step, png: Buffer.from(grid.png).toString('base64') } : null,
  };
}
