import { ledgerSpecs } from '../jobs/budget';
import { composedEpsilon } from '../privacy/compose-specs';
import type { LedgerEntry } from '../store';

/** A data set's total privacy spend at δ, composed by the accountant over every ledger row. */
export function ledgerTotal(
  entries: readonly LedgerEntry[],
  delta: number,
): {
  epsilon: number;
  delta: number;
  relation: 'add-remove' | 'replace-one' | null;
  relationNote: string | null;
  steps: number;
  runs: number;
} {
  const specs = ledgerSpecs(entries);
  const total = composedEpsilon({ specs, delta });
  return {
    epsilon: total.epsilon,
    delta,
    relation: total.relation,
    relationNote: relationNote(specs, total.relation),
    steps: specs.reduce((n, s) => n + s.steps, 0),
    runs: new Set(entries.map((e) => e.runId)).size,
  };
}

/**
 * Which neighbouring relation the total — and so the cap — is read in, in
 * words; null when nothing was spent. A ledger that mixes add/remove runs
 * (DP-SGD) with replace-one runs (DP²-VAE) is stated under replace-one
 * (compose-specs.ts explains the conversion).
 */
function relationNote(
  specs: readonly { mechanism: string }[],
  relation: 'add-remove' | 'replace-one' | null,
): string | null {
  if (relation === null) return null;
  const kinds = new Set(specs.map((s) => s.mechanism));
  if (relation === 'add-remove')
    return 'The total and the cap are read for adding or removing one image (every run here used DP-SGD).';
  if (kinds.size > 1)
    return 'This data set mixes runs of both kinds (DP-SGD: adding or removing one image; DP²-VAE: replacing one image). The total and the cap are read for replacing one image: each DP-SGD run counts twice its own ε (group privacy), which is safe but looser.';
  return 'The total and the cap are read for replacing one image by another (every run here used DP²-VAE).';
}
