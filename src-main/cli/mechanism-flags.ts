import type { MechanismWithoutSigma } from '../contract';
import { choiceFlag, requireNumber } from './args';
import type { FlagSpec, ParsedFlags } from './args';

export const MECHANISM_FLAGS: FlagSpec = {
  mechanism: { type: 'string' },
  blocks: { type: 'string' },
  q: { type: 'string' },
  steps: { type: 'string' },
};

/** `--mechanism dp2vae --blocks K` or `--mechanism dpsgd --q Q`, with `--steps T`. */
export function mechanismFromFlags(flags: ParsedFlags): MechanismWithoutSigma {
  const mechanism = choiceFlag(flags, 'mechanism', ['dp2vae', 'dpsgd'] as const);
  const steps = requireNumber(flags, 'steps');
  return mechanism === 'dp2vae'
    ? { mechanism, blocks: requireNumber(flags, 'blocks'), steps }
    : { mechanism, sampleRate: requireNumber(flags, 'q'), steps };
}

/** One line naming the mechanism and its parameters, for people. */
export function describeMechanism(spec: MechanismWithoutSigma & { sigma?: number }): string {
  const sigma = spec.sigma === undefined ? '' : `, σ = ${formatNumber(spec.sigma)}`;
  const steps = `${spec.steps.toLocaleString('en-US')} steps`;
  return spec.mechanism === 'dp2vae'
    ? `DP²-VAE: 1 of ${spec.blocks.toLocaleString('en-US')} blocks per step (replace-one)${sigma}, ${steps}`
    : `DP-SGD: Poisson sampling q = ${formatNumber(spec.sampleRate)} (add/remove)${sigma}, ${steps}`;
}

/** Four significant digits, no exponent for everyday magnitudes. */
export function formatNumber(x: number): string {
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e6) return String(Number(x.toPrecision(4)));
  return x.toExponential(3);
}
