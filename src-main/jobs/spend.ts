import { recordGrantedSpend, type Store } from '../store';
import { grantSpend, ledgerRowSpec, ledgerSpecs, type RunNoise } from './budget';

/**
 * One write-ahead spend of a run: steps `fromStep..toStep` are granted as far
 * as the data set's cap allows and recorded, in one IMMEDIATE transaction
 * (store/ledger.ts `recordGrantedSpend`), so a second process spending on the
 * same images waits and then sees this spend. Returns the last step granted
 * (`fromStep - 1` when none fits); only granted steps may be taken.
 */
export function spendWithinCap(
  store: Store,
  input: {
    datasetId: number;
    runId: number;
    noise: RunNoise;
    fromStep: number;
    toStep: number;
    delta: number;
  },
): number {
  const { noise, fromStep, toStep } = input;
  return recordGrantedSpend(
    store,
    {
      datasetId: input.datasetId,
      runId: input.runId,
      spec: ledgerRowSpec(noise),
      fromStep,
      toStep,
      delta: input.delta,
    },
    ({ dataset, entries }) =>
      grantSpend({
        ledger: ledgerSpecs(entries),
        noise,
        fromStep,
        toStep,
        cap: dataset.budgetEpsilon,
        capDelta: dataset.budgetDelta,
      }),
  ).granted;
}
