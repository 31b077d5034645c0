/**
 * `dp2 predict`: a released private classifier (a `randp` run's
 * `classifier/` folder) applied to a set of images, offline, so anyone can
 * use or evaluate it. The folder is verified first (the SHA-256 of its
 * model files against its model card), the images are read and converted as
 * `dp2 features` reads them, the folder's TensorFlow.js graph model runs
 * them, and the output is written whole or not at all.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UserError } from '../../contract/errors';
import { imagesFromArray } from '../../data/array-scan';
import { writeNpz } from '../../data/npz';
import { selectBackend } from '../../engine/backend';
import { writeWholeFile } from '../../io/whole-file';
import {
  predictImages,
  readClassifier,
  type LoadedClassifier,
} from '../../methods/randp/classifier';
import { parseFlags, requireString } from '../args';
import { UsageError, type CliIo } from '../io';
import { progressPrinter } from '../progress';
import { pickImageArray, readArrays, scanContext } from './features';

export const PREDICT_USAGE = `Usage:
  dp2 predict --model DIR --in X.npz --out P.npz [--array NAME]

Applies a private classifier (the classifier/ folder of a randp run, as
"dp2 train --method randp --out DIR" or "dp2 export" wrote it) to every image
in X.npz (or a .npy) and writes P.npz:
  pred   uint8 (N,), the most probable class of each image
  prob   float32 (N, K), the probability of each class (K = the model card's)
  classes  the class names, in the order of prob's columns

The images are array "x" (else "images", "train_images", "x_train", or the
only image array; --array picks another), shaped (N, H, W), (N, H, W, C) or
(N, C, H, W), grey or colour, converted as "dp2 import" does. Images of
another size or channel count than the model's are resized and converted as
its model card says (model-card.json, input.otherImages).
The folder's model (model.json and weights.bin, a TensorFlow.js graph model
that holds the prior's weights too) is refused when its files are not the
ones its model card names (SHA-256). Nothing is downloaded; on any error no
output file is left.`;

/** `dp2 predict`: see {@link PREDICT_USAGE}. */
export async function predictCommand(argv: string[], io: CliIo): Promise<void> {
  const { flags } = parseFlags(argv, {
    model: { type: 'string' },
    in: { type: 'string' },
    out: { type: 'string' },
    array: { type: 'string' },
  });
  if (flags.help) return io.stdout(PREDICT_USAGE + '\n');
  const modelDir = resolve(io.cwd, requireString(flags, 'model'));
  const input = resolve(io.cwd, requireString(flags, 'in'));
  const output = resolve(io.cwd, requireString(flags, 'out'));
  if (output === input) {
    throw new UsageError('--out names the input file; choose another file for the predictions');
  }
  const outFolder = dirname(output);
  if (!existsSync(outFolder) || !statSync(outFolder).isDirectory()) {
    throw new UserError(
      'NOT_FOUND',
      `The folder ${outFolder} (of --out) does not exist. Create it, or choose another place for the predictions.`,
    );
  }
  // The model first: an altered folder is refused before any image is read.
  await selectBackend({ env: io.env });
  const loaded = await readClassifier(modelDir);
  try {
    await predictInto(
      loaded,
      { input, output, array: typeof flags.array === 'string' ? flags.array : undefined },
      io,
    );
  } finally {
    loaded.model.dispose();
  }
}

/** Reads the images of `input`, predicts them and writes `output` (whole or not at all). */
async function predictInto(
  loaded: LoadedClassifier,
  files: { input: string; output: string; array: string | undefined },
  io: CliIo,
): Promise<void> {
  const { card } = loaded;
  const { input, output } = files;
  const arrays = await readArrays(input);
  const picked = pickImageArray(arrays, input, files.array);
  const where = `${basename(input)}: ${picked.name}`;
  const ctx = scanContext(input);
  const part = imagesFromArray(picked.array, where, ctx);
  const errors = ctx.log.list().filter((p) => p.severity === 'error');
  if (!part || errors.length > 0) {
    const first = errors
      .slice(0, 3)
      .map((p) => `${p.file} ${p.problem} ${p.action}`)
      .join(' ');
    throw new UserError('INVALID_INPUT', `${input} holds no images: ${first}`);
  }
  if (part.count === 0) {
    throw new UserError(
      'INVALID_INPUT',
      `${where} holds no images. Give --in a file with at least one image.`,
    );
  }

  const { height, width, channels } = card.input;
  const differs = part.height !== height || part.width !== width || part.channels !== channels;
  io.stderr(
    `Classifier: ${card.classes.length} classes, ${height}×${width}×${channels} images, ε = ${card.privacy.epsilon.toPrecision(3)} at δ = ${card.privacy.delta}; model files verified (SHA-256).\n` +
      `${part.count.toLocaleString('en-US')} images ${part.height}×${part.width}×${part.channels} from "${picked.name}"` +
      (differs ? `, brought to ${height}×${width}×${channels} as the model card says` : '') +
      '.\n',
  );
  const progress = progressPrinter(io);
  let result;
  try {
    result = await predictImages(loaded, part, (done, total) =>
      progress.report({ task: 'Predicting', done, total }),
    );
  } finally {
    progress.end();
  }
  const bytes = writeNpz({
    pred: { data: result.pred, shape: [part.count] },
    prob: { data: result.prob, shape: [part.count, card.classes.length] },
    classes: { data: [...card.classes] },
  });
  await writeWholeFile(output, bytes, 'The predictions');
  io.stdout(
    `Wrote ${output}: the predicted class of ${part.count.toLocaleString('en-US')} images (pred) and their class probabilities (prob).\n`,
  );
}
