/**
 * A plan's words about the data set's classes (its method's `classNotes`):
 * read from the stored train labels (not the images). The counts are private
 * figures; the lines go to the analyst's screen and terminal, never into an
 * export.
 */
import { readTrainClassCounts } from '../data/dataset-files';
import { methodOfPlan } from '../methods/registry';
import type { Dataset } from '../store';
import type { RunPlan } from './protocol';

export async function planClassNotes(
  ds: Dataset,
  plan: RunPlan,
): Promise<{ notes: string[]; confirm: string | null }> {
  const method = methodOfPlan(plan);
  if (!method.classNotes) return { notes: [], confirm: null };
  return method.classNotes(plan, await readTrainClassCounts(ds.filesDir));
}
