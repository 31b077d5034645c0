import { z } from 'zod';

// The renderer runs under a strict CSP without 'unsafe-eval': keep zod from
// probing `new Function` for its JIT.
z.config({ jitless: true });

/** A probability in (0, 1): δ. */
export const Delta = z.number().gt(0, 'δ must be greater than 0').lt(1, 'δ must be smaller than 1');
/** A noise multiplier σ. */
export const Sigma = z.number().gt(0, 'σ (noise) must be greater than 0').lte(1e6);
/** A privacy budget ε. */
export const Epsilon = z.number().gt(0, 'ε must be greater than 0').lte(1e4);
/** A number of training steps. */
export const Steps = z.number().int('steps must be a whole number').min(0).max(1e9);
export const Blocks = z.number().int('blocks must be a whole number').min(1).max(1e8);
export const SampleRate = z.number().gt(0, 'the sampling rate q must be greater than 0').lte(1);

/** `dp2vae`: one of K blocks, replace-one; σ is the paper's (noise σC on the clipped block mean). */
const Dp2vaeFields = { mechanism: z.literal('dp2vae'), blocks: Blocks };
/** `dpsgd`: Poisson sampling at rate q, add/remove; σ relative to the per-example clip. */
const DpsgdFields = { mechanism: z.literal('dpsgd'), sampleRate: SampleRate };

export const MechanismSpec = z.discriminatedUnion('mechanism', [
  z.strictObject({ ...Dp2vaeFields, sigma: Sigma, steps: Steps }),
  z.strictObject({ ...DpsgdFields, sigma: Sigma, steps: Steps }),
]);
export type MechanismSpec = z.infer<typeof MechanismSpec>;

/** A mechanism whose σ is to be found. */
export const MechanismWithoutSigma = z.discriminatedUnion('mechanism', [
  z.strictObject({ ...Dp2vaeFields, steps: Steps }),
  z.strictObject({ ...DpsgdFields, steps: Steps }),
]);
export type MechanismWithoutSigma = z.infer<typeof MechanismWithoutSigma>;

/** RDP (fast, a little loose) or PLD (tighter, slower). */
export const AccountantName = z.enum(['rdp', 'pld']);
export const AccountantInfo = z.strictObject({ name: AccountantName, version: z.string() });
/** The RDP order that gives the bound; null under PLD (it has none). */
const Order = z.number().nullable();

export const AccountRequest = z.strictObject({
  spec: MechanismSpec,
  delta: Delta,
  accountant: AccountantName.default('rdp'),
});
export const AccountResponse = z.strictObject({
  epsilon: z.number().nonnegative(),
  order: Order,
  delta: z.number(),
  accountant: AccountantInfo,
});

export const AccountBatchCase = z.strictObject({
  id: z.union([z.string(), z.number()]),
  spec: MechanismSpec,
  delta: Delta,
});
export const AccountBatchRequest = z.strictObject({
  cases: z.array(AccountBatchCase).max(100_000),
  accountant: AccountantName.default('rdp'),
});
export const AccountBatchResponse = z.array(
  z.strictObject({
    id: z.union([z.string(), z.number()]),
    epsilon: z.number().nonnegative(),
    order: Order,
  }),
);

export const CalibrateRequest = z.strictObject({
  spec: MechanismWithoutSigma,
  epsilon: Epsilon,
  delta: Delta,
  accountant: AccountantName.default('rdp'),
});
export const CalibrateResponse = z.strictObject({
  sigma: z.number().positive(),
  epsilon: z.number().nonnegative(),
  order: Order,
  accountant: AccountantInfo,
});

export const ExploreMethod = z.enum(['dp2vae', 'dpsgd']);

/**
 * Everything the Budget Explorer needs for one redraw, in one round trip:
 * the data set size, δ, the method's sampling knob (blocks or batch size),
 * the planned steps, and either a target ε or a chosen σ.
 */
export const ExploreRequest = z
  .strictObject({
    method: ExploreMethod,
    datasetSize: z.number().int().min(2, 'the data set needs at least 2 images').max(1e9),
    delta: Delta,
    blocks: Blocks.optional(),
    batchSize: z.number().int().min(1).optional(),
    steps: Steps.min(1, 'plan at least one step'),
    target: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('epsilon'), epsilon: Epsilon }),
      z.strictObject({ kind: z.literal('sigma'), sigma: Sigma }),
    ]),
    curvePoints: z.number().int().min(2).max(400).default(200),
  })
  .superRefine((req, ctx) => {
    if (req.method === 'dp2vae' && req.blocks === undefined)
      ctx.addIssue({
        code: 'custom',
        message: 'DP²-VAE needs the number of blocks',
        path: ['blocks'],
      });
    if (req.method === 'dpsgd' && req.batchSize === undefined)
      ctx.addIssue({ code: 'custom', message: 'DP-SGD needs the batch size', path: ['batchSize'] });
    if (req.method === 'dp2vae' && req.blocks !== undefined && req.blocks > req.datasetSize)
      ctx.addIssue({
        code: 'custom',
        message: 'there cannot be more blocks than images',
        path: ['blocks'],
      });
    if (req.method === 'dpsgd' && req.batchSize !== undefined && req.batchSize > req.datasetSize)
      ctx.addIssue({
        code: 'custom',
        message: 'the batch cannot be larger than the data set',
        path: ['batchSize'],
      });
  });

export const CurvePoint = z.strictObject({ steps: z.number(), epsilon: z.number() });

export const ExploreResponse = z.strictObject({
  sigma: z.number().positive(),
  /** ε spent after the planned steps (equals the target, or below it, when a target ε was given). */
  epsilon: z.number().nonnegative(),
  order: Order,
  sampleRate: z.number(),
  curve: z.array(CurvePoint),
  reading: z.strictObject({
    fpr: z.number(),
    tprBound: z.number(),
    posteriorBound: z.number(),
  }),
  accountant: AccountantInfo,
});

export const RecommendDeltaRequest = z.strictObject({
  datasetSize: z.number().int().min(1).max(1e9),
});
export const RecommendDeltaResponse = z.strictObject({ delta: z.number(), reason: z.string() });

export const AppInfoResponse = z.strictObject({
  version: z.string(),
  accountant: AccountantInfo,
  dataHome: z.string(),
  /** What opening the data folder found that the user must be told (a restored ledger, a damaged database). */
  notices: z.array(z.string()),
});

export const Empty = z.strictObject({});

/** Asks the desktop shell for a path with the system's own picker. */
export const ChoosePathRequest = z.strictObject({
  purpose: z.enum(['import-folder', 'import-file', 'labels-file', 'export-folder']),
});
export const ChoosePathResponse = z.strictObject({ path: z.string().nullable() });
