import { MechanismSpec } from '../contract/schemas';
import { UserError } from '../contract/errors';
import { composedEpsilon } from '../privacy/compose-specs';
import type { LedgerEntry } from '../store';

/** The ledger rows' mechanisms, checked against the contract (a row we cannot read is never ignored). */
export function ledgerSpecs(entries: readonly LedgerEntry[]): MechanismSpec[] {
  return entries.map((entry) => {
    const parsed = MechanismSpec.safeParse(entry.spec);
    if (!parsed.success) {
      throw new UserError(
        'CORRUPT_DATA',
        `Privacy ledger row ${entry.id} (run ${entry.runId}) holds a mechanism this version cannot account for. ` +
          'The total cannot be computed safely; keep the database and contact support.',
      );
    }
    return parsed.data;
  });
}

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
