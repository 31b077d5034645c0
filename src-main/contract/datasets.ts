import { z } from 'zod';
import { Delta, Epsilon, MechanismSpec } from './schemas';

/** A data set's name as the analyst types it. */
export const DatasetName = z
  .string()
  .trim()
  .min(1, 'give the data set a name')
  .max(120, 'the name is too long (120 characters at most)');

/** Sides of the square images an import can prepare, in pixels. */
export const IMAGE_SIZES = [28, 32, 64, 128] as const;
export type ImageSize = (typeof IMAGE_SIZES)[number];

export const PreprocessingRequest = z.strictObject({
  size: z.union([z.literal(28), z.literal(32), z.literal(64), z.literal(128)]).default(28),
  channels: z.union([z.literal(1), z.literal(3)]).default(1),
  testFraction: z
    .number()
    .min(0)
    .max(0.5, 'hold out at most half of the images for testing')
    .default(0.1),
  /** DICOM grey levels: the file's window (as a viewer shows), each image's full range, or the stored values as they are. */
  dicomWindow: z.enum(['file', 'full', 'stored']).default('file'),
});

export const ImportSource = z.strictObject({
  /** A folder, a .zip, a .npz, IDX files, or `mnist` for the bundled MNIST. */
  path: z.string().min(1, 'choose a folder or file to import'),
  preprocessing: PreprocessingRequest.default({
    size: 28,
    channels: 1,
    testFraction: 0.1,
    dicomWindow: 'file',
  }),
  /** A CSV giving each file its class, when the sub-folders are not the classes. */
  labels: z.string().min(1, 'choose the labels CSV').optional(),
  /** Skip unreadable image files (reported as warnings) instead of stopping. */
  skipUnreadable: z.boolean().default(false),
});

export const ImportProblemDto = z.strictObject({
  file: z.string(),
  problem: z.string(),
  action: z.string(),
  severity: z.enum(['error', 'warning']),
});

export const ImportPreviewDto = z.strictObject({
  format: z.string(),
  total: z.number(),
  perClass: z.array(z.strictObject({ name: z.string(), count: z.number() })),
  sizeHistogram: z.array(
    z.strictObject({ width: z.number(), height: z.number(), count: z.number() }),
  ),
  /** PNG data URLs: private, shown inside the app only. */
  thumbnails: z.array(z.strictObject({ className: z.string(), dataUrl: z.string() })),
  problems: z.array(ImportProblemDto),
  duplicates: z.number(),
  split: z.strictObject({ train: z.number(), test: z.number(), given: z.boolean() }),
  /** Allow-listed header values and counts of the DICOM files (identifying fields are dropped). */
  dicom: z
    .strictObject({
      files: z.number(),
      frames: z.number(),
      withPatientFields: z.number(),
      modalities: z.array(z.strictObject({ name: z.string(), count: z.number() })),
      transferSyntaxes: z.array(z.strictObject({ name: z.string(), count: z.number() })),
      photometric: z.array(z.strictObject({ name: z.string(), count: z.number() })),
    })
    .optional(),
});

export const ImportRequest = ImportSource.extend({
  name: DatasetName,
  budget: z.strictObject({ epsilon: Epsilon.nullable(), delta: Delta.optional() }).optional(),
});

export const LedgerTotal = z.strictObject({
  epsilon: z.number(),
  delta: z.number(),
  /** The neighbouring relation the total (and so the cap) is stated in. */
  relation: z.enum(['add-remove', 'replace-one']).nullable(),
  /** The same in words (null when nothing was spent). */
  relationNote: z.string().nullable(),
  steps: z.number(),
  runs: z.number(),
});

export const DatasetDto = z.strictObject({
  id: z.number(),
  name: z.string(),
  format: z.string(),
  /** The random identifier certificates name the data set by (never a hash of its images). */
  publicId: z.string(),
  trainCount: z.number(),
  testCount: z.number(),
  classNames: z.array(z.string()),
  size: z.number(),
  channels: z.number(),
  createdAt: z.string(),
  budget: z.strictObject({ epsilon: z.number().nullable(), delta: z.number() }),
  spent: LedgerTotal,
});

export const DatasetRef = z.strictObject({ name: DatasetName });

export const DeleteDatasetResponse = z.strictObject({
  name: z.string(),
  removedPaths: z.number(),
  keptReleasable: z.number(),
  cancelledRuns: z.array(z.number()),
});

export const SetBudgetRequest = z.strictObject({
  name: DatasetName,
  epsilon: Epsilon.nullable(),
  delta: Delta.optional(),
});

export const LedgerEntryDto = z.strictObject({
  runId: z.number(),
  /** The mechanism of the steps this row pays for (its `steps` = toStep − fromStep + 1). */
  spec: MechanismSpec,
  fromStep: z.number(),
  toStep: z.number(),
  delta: z.number(),
  recordedAt: z.string(),
});

export const LedgerResponse = z.strictObject({
  dataset: z.string(),
  deleted: z.boolean(),
  budget: z.strictObject({ epsilon: z.number().nullable(), delta: z.number() }),
  entries: z.array(LedgerEntryDto),
  total: LedgerTotal,
});
