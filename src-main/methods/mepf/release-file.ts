/**
 * A `mepf` release file read back with its φ rebuilt (to train a generator
 * from it, or to draw images the release places firmly in their class), and
 * the prior a plan was made with, refused in plain words when the installed
 * one differs.
 */
import { readFile } from 'node:fs/promises';
import { UserError } from '../../contract/errors';
import { loadPrior, type LoadedPrior } from '../../priors/prior-file';
import { DEFAULT_FEATURE_NET } from '../../priors/network/architecture';
import {
  combinedEmbedding,
  embeddingFromDescription,
  priorEmbedding,
  randomNetEmbedding,
  defaultRffPool,
  rffEmbedding,
  type Embedding,
  type EmbeddingDescription,
} from './embedding';
import { RFF_SCALES } from './plan';
import type { MepfPlan } from './plan-schema';
import { releaseFromJson, type MepfRelease } from './release';

/** The installed prior, refused in plain words when it is not the one the plan was made with. */
export function planPrior(plan: MepfPlan): LoadedPrior {
  const prior = loadPrior();
  if (plan.priorSha256 && prior.manifest.weights.sha256 !== plan.priorSha256) {
    throw new UserError(
      'INVALID_INPUT',
      `This run was planned with another random-process prior (SHA-256 ${plan.priorSha256.slice(0, 12)}…) than the one installed now. Start a new run.`,
    );
  }
  return prior;
}

/** A release file read back, with its φ rebuilt. */
export async function readRelease(
  path: string,
  plan: MepfPlan,
): Promise<{ release: MepfRelease; embedding: Embedding }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `The release ${path} is missing, so no generator can be trained from it. Start a new run.`,
    );
  }
  const { release, embedding: description } = releaseFromJson(text);
  if (release.sigma !== plan.sigma || release.countWeight !== plan.countWeight) {
    throw new UserError(
      'CORRUPT_DATA',
      `The release ${path} was not made with this run's settings (σ, count weight); it is not used.`,
    );
  }
  const prior = usesPrior(description) ? planPrior(plan) : undefined;
  return { release, embedding: await embeddingFromDescription(description, prior) };
}

function usesPrior(d: EmbeddingDescription): boolean {
  return d.source === 'prior' || (d.source === 'combined' && d.parts.some(usesPrior));
}

/** φ of a new release: the plan's feature source for the data set's image shape. */
export async function newEmbedding(
  plan: MepfPlan,
  image: { height: number; width: number; channels: number },
): Promise<Embedding> {
  switch (plan.features) {
    case 'prior':
      return priorEmbedding(planPrior(plan), image);
    case 'random-net':
      return randomNetEmbedding(DEFAULT_FEATURE_NET, plan.seed, image);
    case 'rff': {
      // The kernels' scales are relative to the pooled view the features see.
      const pool = defaultRffPool(image);
      const root = Math.sqrt((image.height / pool) * (image.width / pool) * image.channels);
      return combinedEmbedding(
        RFF_SCALES.map((scale, i) =>
          rffEmbedding(image, { seed: plan.seed + i, lengthScale: scale * root, pool }),
        ),
      );
    }
  }
}
