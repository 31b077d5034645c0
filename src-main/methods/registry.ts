/**
 * The registry of training methods: one line per method. The worker, the
 * runner, the services and the CLI find a method here by its id or by a
 * stored plan; nothing outside `src-main/methods` branches on a method's id.
 *
 * The cards (catalog.ts) list the same methods for the contract and the
 * screens; a test checks both lists agree.
 */
import { UserError } from '../contract/errors';
import type { RunNoise } from '../jobs/budget';
import type { RunPlan } from '../jobs/protocol';
import { isMethodId, METHOD_IDS, type MethodId } from './catalog';
import type { MethodDescriptor, StageWork } from './descriptor';
import { dp2vae } from './dp2vae';
import { dp2vaePerRecord } from './dp2vae-per-record';
import { dpsgd } from './dpsgd';
import { mepf } from './mepf';
import { randp } from './randp';
import { termwise } from './termwise';

const METHODS: Readonly<Record<MethodId, MethodDescriptor>> = {
  dpsgd,
  'dp2vae-per-record': dp2vaePerRecord,
  dp2vae,
  mepf,
  randp,
  termwise,
};

export { isMethodId };

/** The method of that id, or a plain-words refusal listing the methods there are. */
export function methodOf(id: unknown): MethodDescriptor {
  if (!isMethodId(id)) {
    throw new UserError(
      'UNSUPPORTED',
      `The training method "${String(id)}" is not available in this version; use ${METHOD_IDS.join(' or ')}.`,
    );
  }
  return METHODS[id];
}

/** The method that made a stored plan, or CORRUPT_DATA when no method owns it. */
export function methodOfPlan(plan: RunPlan): MethodDescriptor {
  for (const id of METHOD_IDS) {
    const m = METHODS[id];
    if (m.ownsPlan(plan)) return m;
  }
  throw new UserError(
    'CORRUPT_DATA',
    `A stored plan names the training method "${String(plan.method)}", which this version does not have.`,
  );
}

/** Every method, best measured first. */
export function allMethods(): MethodDescriptor[] {
  return METHOD_IDS.map((id) => METHODS[id]);
}

/** The noise of a stored plan, as its method's privacy plan states it. */
export function planNoise(plan: RunPlan): RunNoise {
  return methodOfPlan(plan).noise(plan);
}

/**
 * Examples each stage of a stored plan processes (for the duration
 * estimate): its method's stageWork, else the generic reading — a one-shot
 * release (one pass of the feature map per image, then the generator's
 * steps), a Poisson-sampled private stage, or a pre-training stage and then
 * fixed-size steps.
 */
export function planStageWork(plan: RunPlan, trainCount: number): StageWork[] {
  const m = methodOfPlan(plan);
  if (m.stageWork) return m.stageWork(plan, trainCount);
  const fields = plan as Record<string, unknown>;
  const num = (key: string): number => (typeof fields[key] === 'number' ? fields[key] : 0);
  if (typeof fields.generatorSteps === 'number') {
    return [
      { stage: 'stage1', samples: num('steps') * trainCount },
      { stage: 'stage2', samples: num('generatorSteps') * num('generatorBatch') },
    ];
  }
  if (typeof fields.sampleRate === 'number') {
    return [{ stage: 'stage2', samples: num('steps') * num('sampleRate') * trainCount }];
  }
  return [
    { stage: 'stage1', samples: num('pretrainEpochs') * trainCount },
    { stage: 'stage2', samples: num('steps') * num('batchSize') },
  ];
}

/** How many times its model's work per image a stored plan asks for (its method's workPerImage). */
export function planWork(plan: RunPlan): number {
  const m = methodOfPlan(plan);
  return m.workPerImage ? m.workPerImage(plan) : 1;
}
