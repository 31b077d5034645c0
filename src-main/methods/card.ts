/**
 * The part of a training method that is plain data: what the analyst is told
 * before choosing it (its name, what it releases, what it measures) and the
 * schema of the plan a run of it stores. Free of Node and of the engine, so
 * the contract (bundled into the sandboxed preload) and the screens may read it.
 */
import type { z } from 'zod';
import type { Setting } from './settings';

interface FigureBase {
  preset: string;
  epsilon: number;
  /** Wall time on a 2-core laptop-class CPU, in minutes (≈). */
  minutes: number;
}

/** A generator's measured result (MNIST, evaluation protocol v2; docs/methods.md). */
export interface GeneratorFigure extends FigureBase {
  /** Accuracy of a CNN trained on synthetic images, tested on the real test split: its range in %. */
  cnnAccuracy: readonly [number, number];
}

/** A classifier's measured result (MNIST; docs/classifier.md). */
export interface ClassifierFigure extends FigureBase {
  /** Accuracy of the released classifier itself on the real test split: its range in %. */
  testAccuracy: readonly [number, number];
}

/**
 * A measured result of a method's preset. A generator's and a classifier's
 * figures measure different things and are never compared.
 */
export type MeasuredFigure = GeneratorFigure | ClassifierFigure;

/** A stage of a method, as the analyst sees it. */
export interface StageCard {
  /** A title (the command line's heading) and a short task name (progress lines). */
  title: string;
  task: string;
  /** The Run screen's label of its progress bar. */
  label: string;
  /** One line: what the stage does with privacy. */
  hint: string;
  /** Its loss curve on the Run screen (the worker's `recon` and `kl` figures), or null for none. */
  loss: { title: string; recon: string; kl: string | null } | null;
}

export interface MethodCard<Id extends string = string, Plan extends z.ZodType = z.ZodType> {
  /** The identifier runs, certificates, the CLI (`--method`) and the store use. */
  id: Id;
  /** Display name. */
  name: string;
  /** One line: what the method does. */
  description: string;
  /** The kind of result it releases. */
  releases: 'generator' | 'classifier' | 'embedding';
  /** What it needs beyond a data set (a public prior, a GPU-sized budget); empty: nothing. */
  needs: readonly string[];
  /** What it measures, best first; methods are offered in the order of their best figure. */
  measured: readonly MeasuredFigure[];
  /** One line: what the figures mean for the analyst (why a weak method is weak). */
  verdict: string;
  /** Its stages as progress reports and the Run screen name them. */
  stages: Readonly<Partial<Record<'stage1' | 'stage2', StageCard>>>;
  /** One line naming a resolved plan's settings (the plan's hyperparameters as the contract returns them). */
  planLine(h: Readonly<Record<string, number | string>>, format: (x: number) => string): string;
  /** The settings the analyst may give on top of a preset, in the form's order. */
  settings: Readonly<Record<string, Setting>>;
  /** The schema of the plan a run of this method stores (strict: another method's plan never parses). */
  planSchema: Plan;
}

/**
 * A method's best measured figure (the lower end of its range), for ordering
 * methods of the same kind: CNN accuracy on synthetic images for a
 * generator, test accuracy of the released model for a classifier.
 */
export function bestMeasured(card: MethodCard): number {
  return Math.max(
    -Infinity,
    ...card.measured.map((f) => ('cnnAccuracy' in f ? f.cnnAccuracy[0] : f.testAccuracy[0])),
  );
}

/** The order in which the kinds of result are offered: generators first (the app's default task). */
export const RELEASE_ORDER = ['generator', 'classifier', 'embedding'] as const;
