import { ledgerSpecs } from '../jobs/budget';
import { composedEpsilon } from '../privacy/compose-specs';
import type { LedgerEntry } from '../store';

/** A data set's total privacy spend at δ, composed by the accountant over every ledger row. */
export function ledgerTotal(
  entries: readonly LedgerEntry[],
  delta: number,
): { epsilon: number; delta: number; steps: number; runs: number } {
  const specs = ledgerSpecs(entries);
  return {
    epsilon: composedEpsilon({ specs, delta }).epsilon,
    delta,
    steps: specs.reduce((n, s) => n + s.steps, 0),
    runs: new Set(entries.map((e) => e.runId)).size,
  };
}
