import { UserError } from '../contract/errors';
import { RdpAccountant } from './accountant';
import { mechanismEvent } from './mechanisms';
import type { MechanismSpec } from './mechanisms';

/**
 * ε at `delta` of several runs on the same data (a data set's ledger, or its
 * past runs plus a planned one), composed by adding their Rényi divergences
 * order by order (Mironov 2017, Proposition 1) — never by summing ε by hand.
 * All runs must share one neighbouring relation: mixing add/remove (DP-SGD)
 * with replace-one (DP²-VAE) needs a conversion this version does not make.
 */
export function composedEpsilon(options: { specs: readonly MechanismSpec[]; delta: number }): {
  epsilon: number;
  order: number;
} {
  const { specs, delta } = options;
  const counted = specs.filter((s) => s.steps > 0);
  if (counted.length === 0) return { epsilon: 0, order: Number.NaN };
  const events = counted.map((spec) => mechanismEvent(spec));
  const relation = events[0]?.neighbouring;
  if (events.some((e) => e.neighbouring !== relation)) {
    throw new UserError(
      'UNSUPPORTED',
      'This data set has runs accounted under different neighbouring relations (DP-SGD and DP²-VAE); ' +
        'their total cannot be composed in this version. Each run’s own ε is still exact.',
    );
  }
  let accountant = RdpAccountant.create({ neighbouring: relation ?? 'replace-one' });
  for (const { event } of events) accountant = accountant.compose(event);
  return accountant.epsilon({ delta });
}
