/**
 * The catalog of training methods: one line per method (its card). The
 * registry (registry.ts) holds the same methods with their training code;
 * this list is the part the contract, the CLI help and the screens read, and
 * it is free of Node and of the engine so the sandboxed preload may bundle it.
 *
 * Methods are listed by the kind of result they release (generators first),
 * then best-measured first within a kind (a classifier's test accuracy and a
 * generator's CNN-on-synthetic accuracy are not comparable). The first
 * generator is the default of `dp2 train` and of New run.
 */
import { z } from 'zod';
import { bestMeasured, RELEASE_ORDER, type MethodCard } from './card';
import type { Setting } from './settings';
import { dp2vaeCard } from './dp2vae/card';
import { perRecordCard } from './dp2vae-per-record/card';
import { dpsgdCard } from './dpsgd/card';
import { mepfCard } from './mepf/card';
import { randpCard } from './randp/card';
import { termwiseCard } from './termwise/card';

const CARDS = [dpsgdCard, perRecordCard, dp2vaeCard, mepfCard, randpCard, termwiseCard] as const;

/** A training method's identifier. */
export type MethodId = (typeof CARDS)[number]['id'];

/** The cards by kind of release (generators first), best measured first within a kind (ties keep the listed order). */
export const METHOD_CARDS: readonly MethodCard<MethodId>[] = [...CARDS].sort(
  (a, b) =>
    RELEASE_ORDER.indexOf(a.releases) - RELEASE_ORDER.indexOf(b.releases) ||
    bestMeasured(b) - bestMeasured(a),
);

/** The identifiers, best measured first. */
export const METHOD_IDS = METHOD_CARDS.map((c) => c.id) as [MethodId, ...MethodId[]];

/**
 * The generator that measures best: the default wherever a method is not
 * named (a classifier answers another question, so it is never the default).
 */
export const DEFAULT_METHOD: MethodId = (METHOD_CARDS.find((c) => c.releases === 'generator') ??
  METHOD_CARDS[0])!.id;

/** The method identifier as the contract validates it. */
export const MethodIdSchema = z.enum(METHOD_IDS);

/** Whether `id` names a training method of this version. */
export function isMethodId(id: unknown): id is MethodId {
  return typeof id === 'string' && (METHOD_IDS as readonly string[]).includes(id);
}

type PlanSchemas = (typeof CARDS)[number]['planSchema'];

/** The stored plan of a run of any method (strict schemas: at most one parses). */
export const PlanSchema = z.union(
  CARDS.map((c) => c.planSchema) as unknown as [PlanSchemas, PlanSchemas, ...PlanSchemas[]],
);

/**
 * The method whose plan schema a stored plan parses as (plans stored before
 * methods had ids parse as the one whose schema leaves the id optional).
 */
export function methodOfStoredPlan(plan: unknown): MethodId | undefined {
  return CARDS.find((c) => c.planSchema.safeParse(plan).success)?.id;
}

type Cards = (typeof CARDS)[number];
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (
  x: infer I,
) => void
  ? I
  : never;
/** Every method's settings by name, with their schemas (a name means the same in every method). */
type SettingsShape<Internal extends boolean> = UnionToIntersection<
  {
    [C in Cards as C['id']]: {
      [
        K in keyof C['settings'] as C['settings'][K] extends { internal: true }
          ? Internal extends true
            ? K
            : never
          : K
      ]: C['settings'][K] extends { schema: infer S } ? S : never;
    };
  }[MethodId]
>;

function settingsShape(internal: boolean): Record<string, z.ZodType> {
  return Object.fromEntries(
    CARDS.flatMap((c) =>
      Object.entries(c.settings as Readonly<Record<string, Setting>>)
        .filter(([, v]) => internal || !v.internal)
        .map(([k, v]) => [k, v.schema]),
    ),
  );
}

/**
 * The settings the analyst may give on top of a preset, any method's (the
 * chosen method refuses another's when it plans the run): what the contract
 * and the command line accept.
 */
export const SettingsSchema = z
  .strictObject(settingsShape(false) as SettingsShape<false>)
  .partial();

/** The same with the settings only the runner's programmatic callers give. */
export const AllSettingsSchema = z
  .strictObject(settingsShape(true) as SettingsShape<true>)
  .partial();

/** Every setting by name (in the order the methods list them), with the methods that have it. */
export function settingsByName(): Map<string, { setting: Setting; methods: MethodId[] }> {
  const out = new Map<string, { setting: Setting; methods: MethodId[] }>();
  for (const card of METHOD_CARDS) {
    for (const [key, setting] of Object.entries(card.settings)) {
      const entry = out.get(key) ?? { setting, methods: [] };
      entry.methods.push(card.id);
      out.set(key, entry);
    }
  }
  return out;
}

/** The card of a method. */
export function methodCard(id: MethodId): MethodCard<MethodId> {
  const card = METHOD_CARDS.find((c) => c.id === id);
  if (!card) throw new Error(`No training method ${String(id)} in the catalog.`);
  return card;
}
