/**
 * `npm run priors:train`: pre-trains the random-process prior from a seed and
 * writes its weights and manifest (docs/priors.md). The shipped prior in
 * resources/priors/ was made by this script with its defaults.
 *
 *   npm run priors:train -- [--seed 1] [--steps N] [--batch N]
 *        [--images-per-family N] [--out resources/priors] [--name random-process-prior]
 */
import { mkdirSync } from 'node:fs';
import { selectBackend } from '../src-main/engine/backend';
import { PRIOR_FAMILIES } from '../src-main/priors/families';
import { DEFAULT_FEATURE_NET } from '../src-main/priors/network/architecture';
import { DEFAULT_PRIOR, priorsFolder, writePrior } from '../src-main/priors/prior-file';
import {
  DEFAULT_PRETRAIN,
  pretrainPrior,
  trainingRecord,
} from '../src-main/priors/pretrain/pretrain';

const args = process.argv.slice(2);
function option(name: string, fallback: number): number;
function option(name: string, fallback: string): string;
function option(name: string, fallback: number | string): number | string {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined) throw new Error(`--${name} needs a value.`);
  if (typeof fallback === 'string') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} takes a whole number, not "${v}".`);
  return n;
}

const options = {
  ...DEFAULT_PRETRAIN,
  spec: DEFAULT_FEATURE_NET,
  families: PRIOR_FAMILIES,
  seed: option('seed', 1),
  steps: option('steps', DEFAULT_PRETRAIN.steps),
  batchSize: option('batch', DEFAULT_PRETRAIN.batchSize),
  imagesPerFamily: option('images-per-family', DEFAULT_PRETRAIN.imagesPerFamily),
};
const out = option('out', priorsFolder());
mkdirSync(out, { recursive: true });
const name = option('name', DEFAULT_PRIOR);

const backend = await selectBackend();
console.log(`Pre-training the random-process prior on ${backend.name}: ${JSON.stringify(options)}`);
const started = Date.now();
const result = await pretrainPrior(options, (step, steps, loss) => {
  if (step % 10 === 0 || step === steps) {
    const s = (Date.now() - started) / 1000;
    console.log(`step ${step}/${steps}  NT-Xent ${loss.toFixed(3)}  ${s.toFixed(0)} s`);
  }
});
const manifest = await writePrior(
  out,
  name,
  result.net,
  trainingRecord(options, result, backend.name),
);
console.log(
  `Wrote ${out}/${manifest.weights.file} (${manifest.weights.bytes} bytes, sha256 ${manifest.weights.sha256}) and its manifest.`,
);
