/**
 * `dp2 priors show`: what the random-process prior shipped with the app is,
 * how it was trained, and whether the weights on disk are the ones its
 * manifest records (issue #18).
 */
import { join } from 'node:path';
import { selectBackend } from '../../engine/backend';
import { defaultReadout } from '../../priors/features';
import { featureLayers, layerChannels } from '../../priors/network/architecture';
import { disposeNet, featureCount, type FeatureReadout } from '../../priors/network/feature-net';
import {
  DEFAULT_PRIOR,
  loadPrior,
  priorsFolder,
  type PriorManifest,
} from '../../priors/prior-file';
import { parseFlags } from '../args';
import { UsageError } from '../io';
import type { CliIo } from '../io';
import { formatNumber } from '../mechanism-flags';

export const PRIORS_USAGE = `Usage:
  dp2 priors [show] [--json]

Prints the manifest of the random-process prior shipped with DP² Studio: a
feature network trained only on procedurally generated images (no real
data), how it was trained, and the SHA-256 of its weights, after checking
that the weights on disk match it. Exit status 1 when the prior is missing
or altered. --json prints the manifest as JSON.`;

/** Whole numbers with thousands separators. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Seconds as `1 h 02 min`, `3 min 05 s` or `12 s`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(r).padStart(2, '0')} s`;
  return `${r} s`;
}

/** The loss curve in one line: its first, middle and last values. */
export function summariseLoss(curve: readonly number[], every: number, steps: number): string {
  if (curve.length === 0) return 'not recorded';
  // Entry i is the mean over steps i·every + 1 … (i + 1)·every; the last block may be shorter.
  const at = (i: number): string =>
    `${formatNumber(curve[i] as number)} (step ${count(Math.min((i + 1) * every, steps))})`;
  const last = curve.length - 1;
  const points: [string, number][] = [
    ['first', 0],
    ['middle', Math.floor(last / 2)],
    ['last', last],
  ];
  // A short curve has fewer than three distinct points: name each once.
  const shown = points.filter(([, i], k) => points.findIndex(([, j]) => j === i) === k);
  return (
    shown.map(([label, i]) => `${label} ${at(i)}`).join(', ') +
    `; ${curve.length} means of ${every} step${every === 1 ? '' : 's'} each`
  );
}

/**
 * The manifest in readable form, for a prior whose weights were verified in
 * `folder`; `readout` is the default read-out of its network.
 */
export function describePrior(m: PriorManifest, folder: string, readout: FeatureReadout): string {
  const t = m.training;
  const layers = featureLayers(m.network);
  const lines = [
    `${m.name}`,
    `  ${m.statement}`,
    `  network:        widths ${m.network.widths.join(', ')} (stem stride ${m.network.stemStride}), ` +
      `${count(m.parameters)} parameters`,
    `  feature layers: ${layers.map((l) => `${l} (${layerChannels(m.network, l)} channels)`).join(', ')}; ` +
      `by default all, ${readout.grid}×${readout.grid} grid: ${count(featureCount(m.network, readout))} features per image`,
    `  families:       ${t.families.join(', ')}`,
    `  images:         ${count(t.imagesPerFamily)} per family (${count(t.imagesPerFamily * t.families.length)} in all), ` +
      `${t.imageSize}×${t.imageSize} pixels, views of ${t.viewSize}×${t.viewSize}; seed ${t.seed}`,
    `  steps:          ${count(t.steps)} × batch ${count(t.batchSize)} (${count(t.imagesSeen)} images seen)`,
    `  objective:      ${t.objective}, temperature ${formatNumber(t.temperature)}`,
    `  augmentations:  ${t.augmentations}`,
    `  optimizer:      ${t.optimizer}`,
    `  wall time:      ${formatDuration(t.wallSeconds)} on ${t.backend}`,
    `  loss:           ${summariseLoss(t.lossCurve, t.lossEvery, t.steps)}`,
    `  weights:        ${join(folder, m.weights.file)}, ${count(m.weights.bytes)} bytes`,
    `  sha256:         ${m.weights.sha256}`,
    `                  the weights on disk match it (checked now)`,
  ];
  return lines.join('\n') + '\n';
}

/** `dp2 priors [show] [--json]`: see {@link PRIORS_USAGE}. */
export async function priorsCommand(argv: string[], io: CliIo): Promise<void> {
  const { flags, positionals } = parseFlags(
    argv,
    { json: { type: 'boolean' } },
    { positionals: 1 },
  );
  if (flags.help) return io.stdout(PRIORS_USAGE + '\n');
  const sub = positionals[0] ?? 'show';
  if (sub !== 'show') throw new UsageError(`unknown subcommand "${sub}" (use "show")`);
  const folder = priorsFolder(io.env);
  await selectBackend({ env: io.env });
  // Loading checks the weights' size and SHA-256 and says what to reinstall if they are wrong.
  const prior = loadPrior(DEFAULT_PRIOR, folder);
  const readout = defaultReadout(prior.net);
  disposeNet(prior.net);
  if (flags.json) return io.stdout(JSON.stringify(prior.manifest, null, 2) + '\n');
  io.stdout(describePrior(prior.manifest, folder, readout));
}
