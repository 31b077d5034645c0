/**
 * What a training method is to the rest of the app: one descriptor per
 * method (in `src-main/methods/<id>/index.ts`), listed once in the registry.
 * Everything method-specific sits behind it; the worker, the runner, the
 * services and the CLI only read it.
 */
import type { ImageShape, Architecture } from '../engine/architecture';
import type { ImageBatch } from '../engine/generate';
import type { RunNoise } from '../jobs/budget';
import type { RunPlan, WorkerConfig } from '../jobs/protocol';
import type { TrainingContext } from '../jobs/training-context';
import type { AnyCertificate } from '../privacy/certificate';
import type { MethodCard } from './card';
import type { ResolvePlanInput, ResolvedRunPlan } from './plan-input';
import type { PresetName } from './preset-names';

/** The inputs of a run's certificate besides its plan. */
export interface CertificateContext {
  /** Noisy steps the released decoder took. */
  steps: number;
  delta: number;
  /** The data set's random public identifier. */
  datasetId: string;
  backend: string;
  version: string;
  created?: Date;
}

/** Examples one stage of a run processes. */
export interface StageWork {
  stage: 'stage1' | 'stage2';
  samples: number;
}

export interface MethodDescriptor<P extends RunPlan = RunPlan> {
  /** Who the method is and what it measures (also in the catalog). */
  card: MethodCard;
  /** The neighbouring relation its certificate states (docs/privacy.md). */
  relation: 'add-remove' | 'replace-one';
  /** Its presets, in the order of PRESET_NAMES, each with one plain sentence. */
  presets: Readonly<Record<PresetName, { summary: string }>>;
  /** Whether a stored plan is this method's (plans stored before methods had ids included). */
  ownsPlan(plan: RunPlan): plan is P;
  /** Preset + overrides + data set size + target (ε, δ) → the full plan (σ calibrated via src-main/privacy). */
  resolvePlan(input: ResolvePlanInput): ResolvedRunPlan<P>;
  /** The plan's privacy: its mechanism and noise, as the accountant composes it (src-main/privacy). */
  noise(plan: P): RunNoise;
  /** The model a preset trains for this image shape. */
  architecture(preset: PresetName, image: ImageShape, classes: number): Architecture;
  /** The certificate of a decoder it released; ε recomputed by the accountant. */
  certificate(plan: P, context: CertificateContext): AnyCertificate;
  /** Private folders it keeps under the run's folder besides `checkpoints/` (e.g. `encoders`). */
  privateFolders: readonly 'encoders'[];
  /**
   * How many times its model's work per image the plan's settings ask for
   * (absent: 1), so that a measured speed serves plans with other settings.
   */
  workPerImage?(plan: P): number;
  /**
   * Examples each stage of the plan processes, for the duration estimate
   * (absent: read from the plan's common fields, registry.ts planStageWork).
   */
  stageWork?(plan: P, trainCount: number): StageWork[];
  /**
   * For a method that can train again from an earlier run's release (no new
   * spend): the run a plan reads from, or null. Absent: never.
   */
  sourceRun?(plan: P): number | null;
  /**
   * For a method whose images a released private classifier labels: the
   * classifier's run (the runner keeps a copy with the run), or null.
   * Absent: never.
   */
  linkedClassifier?(plan: P): number | null;
  /**
   * ε at δ of what a run of the plan releases, where that is more than the
   * run's own mechanism (its images also depend on the linked classifier):
   * the composition its certificate states. Absent or null: the run's own ε.
   */
  releasedEpsilon?(plan: P, delta: number): number | null;
  /**
   * The plan of such a run, completed from the source run's stored plan (the
   * release's privacy settings); a plain-words refusal when the source is not
   * a release this method can train from.
   */
  fromSource?(plan: P, source: RunPlan, sourceRunId: number): P;
  /**
   * What the plan's noise does to each class of the data set, in plain
   * words (the counts are private: these lines are shown inside the app
   * only), and, when a class is too small for its noise, why the analyst
   * must confirm before the run starts (null: nothing to confirm). Absent:
   * nothing to say.
   */
  classNotes?(
    plan: P,
    data: { classes: readonly string[]; counts: readonly number[] },
  ): { notes: string[]; confirm: string | null };
  /**
   * Draws images from a released decoder the method's own way (post-processing
   * of what it released: the decoder and, where it made one, its release
   * file); absent: the decoder's plain draw.
   */
  sample?(input: {
    arch: Architecture;
    weights: Float32Array[];
    plan: P;
    perClass: number;
    seed: number;
    release: string | null;
    /** The run's copy of the classifier that labels its images (`linkedClassifier`), or null. */
    classifier: string | null;
  }): Promise<ImageBatch>;
  /** The training loop, run inside the worker process against a small context. */
  train(config: WorkerConfig, plan: P, ctx: TrainingContext): Promise<void>;
}

/**
 * Checks a descriptor against its own plan type where it is written, and
 * returns it as a descriptor of any plan: the registry hands it only plans
 * its `ownsPlan` accepted (and the worker only plans it resolved).
 */
export function defineMethod<P extends RunPlan>(d: MethodDescriptor<P>): MethodDescriptor {
  return d as unknown as MethodDescriptor;
}
