/**
 * ε of what a run released, for the figures the analyst compares runs by:
 * its own ledger spend, its source release's when it trained from one, or
 * the composition its certificate states when its images also depend on a
 * linked private classifier (the method's `releasedEpsilon`). Every figure
 * comes from src-main/privacy (the ledger total, or the method's composition).
 */
import { RunPlan } from '../jobs/protocol';
import { isMethodId, methodOf } from '../methods/registry';
import { getRun, ledgerEntries, type Run, type Store } from '../store';
import { ledgerTotal } from './ledger-total';

/** ε a run spent (its own ledger rows, composed at its δ) and their steps. */
export function spentBy(store: Store, run: Run): { epsilon: number; steps: number } {
  const own = ledgerEntries(store, run.datasetId).filter((e) => e.runId === run.id);
  return ledgerTotal(own, run.delta);
}

/** The method's `releasedEpsilon` of a run's stored plan (images labelled by a classifier), or null. */
export function composedReleaseOf(run: Run): number | null {
  const stored = RunPlan.safeParse((run.hyperparameters as { plan?: unknown } | null)?.plan);
  if (!stored.success || !isMethodId(run.method)) return null;
  return methodOf(run.method).releasedEpsilon?.(stored.data, run.delta) ?? null;
}

/** ε of what a run released (module comment). */
export function releasedEpsilonOf(store: Store, run: Run): number {
  const composed = composedReleaseOf(run);
  if (composed !== null) return composed;
  const stored = RunPlan.safeParse((run.hyperparameters as { plan?: unknown } | null)?.plan);
  const source =
    stored.success && isMethodId(run.method)
      ? (methodOf(run.method).sourceRun?.(stored.data) ?? null)
      : null;
  return spentBy(store, source === null ? run : getRun(store, source)).epsilon;
}
