/**
 * The method registry: the catalog (what the contract and the screens read)
 * and the registry (what the worker, runner and services use) list the same
 * methods; the default is the one that measures best; stored plans find
 * their method, including plans stored before methods had ids.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TRAIN_USAGE } from '../../../src-main/cli/commands/train';
import { UserError } from '../../../src-main/contract/errors';
import { PresetsRequest } from '../../../src-main/contract/live';
import { RunOverrides, RunPlanRequest } from '../../../src-main/contract/runs';
import { bestMeasured } from '../../../src-main/methods/card';
import { DEFAULT_METHOD, METHOD_CARDS, METHOD_IDS } from '../../../src-main/methods/catalog';
import { allMethods, methodOf, methodOfPlan } from '../../../src-main/methods/registry';
import { PRESET_NAMES } from '../../../src-main/methods/preset-names';
import type { Setting } from '../../../src-main/methods/settings';

test('the catalog and the registry list the same methods, in the same order', () => {
  assert.deepEqual(
    allMethods().map((m) => m.card.id),
    [...METHOD_IDS],
  );
  for (const m of allMethods()) {
    assert.equal(methodOf(m.card.id), m);
    assert.deepEqual(Object.keys(m.presets), [...PRESET_NAMES]);
    for (const name of PRESET_NAMES) assert.ok(m.presets[name].summary.length > 0);
  }
});

test('generators come first, ordered by what they measure; the best generator is the default everywhere; classifiers follow', () => {
  const kinds = METHOD_CARDS.map((c) => c.releases);
  const firstClassifier = kinds.indexOf('classifier');
  assert.ok(firstClassifier > 0, 'a classifier is offered, after the generators');
  assert.ok(kinds.slice(0, firstClassifier).every((k) => k === 'generator'));
  assert.ok(kinds.slice(firstClassifier).every((k) => k !== 'generator'));
  // A generator's figures score a CNN trained on its synthetic images; a classifier's, itself: never compared.
  for (const card of METHOD_CARDS) {
    for (const f of card.measured) {
      assert.equal('cnnAccuracy' in f, card.releases === 'generator', `${card.id}'s figures`);
    }
  }
  const scores = METHOD_CARDS.filter((c) => c.releases === 'generator').map(bestMeasured);
  assert.deepEqual(
    scores,
    [...scores].sort((a, b) => b - a),
  );
  assert.ok(
    bestMeasured(METHOD_CARDS.find((c) => c.id === 'randp')!) > scores[0]!,
    'the classifier measures higher on its own scale, and still is not the default',
  );
  assert.equal(DEFAULT_METHOD, 'dp2vae-per-record');
  assert.equal(
    RunPlanRequest.parse({ dataset: 'digits', epsilon: 10 }).method,
    'dp2vae-per-record',
    'the contract fills in the best method',
  );
  assert.equal(PresetsRequest.parse({}).method, 'dp2vae-per-record');
  assert.match(TRAIN_USAGE, /--method dp2vae-per-record \(the default\)/);
  // The weak method stays on offer, saying what it measures and why.
  assert.match(TRAIN_USAGE, /--method dp2vae: DP²-VAE\..*\n.*CNN ≈ 26 % at ε = 10/);
});

test('a stored plan finds its method; plans stored before methods had ids are DP²-VAE', () => {
  const legacy = {
    blocks: 4,
    sigma: 1,
    clip: 1,
    steps: 10,
    pretrainEpochs: 1,
    batchSize: 16,
    lr: 1e-3,
    seed: 1,
    optimizer: 'adam' as const,
    pretrainLr: 1e-3,
    pretrainClip: 5,
  };
  assert.equal(methodOfPlan(legacy).card.id, 'dp2vae');
  assert.equal(methodOfPlan({ ...legacy, method: 'dp2vae' }).relation, 'replace-one');
  const dpsgdPlan = {
    method: 'dpsgd' as const,
    sampleRate: 0.1,
    batchSize: 10,
    sigma: 1,
    clip: 1,
    steps: 10,
    lr: 0.01,
    seed: 1,
    optimizer: 'adam' as const,
  };
  assert.equal(methodOfPlan(dpsgdPlan).relation, 'add-remove');
  assert.throws(
    () => methodOfPlan({ ...dpsgdPlan, method: 'gan' } as never),
    (err: unknown) => err instanceof UserError && err.code === 'CORRUPT_DATA',
  );
  assert.throws(
    () => methodOf('gan'),
    (err: unknown) =>
      err instanceof UserError &&
      err.code === 'UNSUPPORTED' &&
      METHOD_IDS.every((id) => err.message.includes(id)),
  );
});

test('a setting means the same in every method that has it; the contract accepts exactly their settings', () => {
  const seen = new Map<string, unknown>();
  const internal = new Set<string>();
  for (const card of METHOD_CARDS) {
    for (const [key, setting] of Object.entries(card.settings)) {
      if (setting.internal) internal.add(key);
      assert.ok(setting.label.length > 0 && setting.help.length > 0, `${card.id}.${key}`);
      const other = seen.get(key);
      if (other !== undefined) assert.equal(setting.schema, other, `${key} has one schema`);
      seen.set(key, setting.schema);
    }
  }
  const offered = [...seen.keys()].filter((k) => !internal.has(k)).sort();
  assert.deepEqual([...internal].sort(), [
    'countWeight',
    'pretrainClip',
    'pretrainLr',
    'publicPerFamily',
    'refineLr',
  ]);
  assert.deepEqual(Object.keys(RunOverrides.shape).sort(), offered);
  assert.deepEqual(offered, [
    'accountant',
    'batchSize',
    'blocks',
    'clip',
    'divergence',
    'divergenceClip',
    'divergenceWeight',
    'emaDecay',
    'features',
    'fromRelease',
    'generatorBatch',
    'generatorSteps',
    'importanceSamples',
    'labeller',
    'lr',
    'momentum',
    'optimizer',
    'pretrainEpochs',
    'refineSteps',
    'sampleRate',
    'seed',
    'sigma',
    'steps',
    'termwiseMode',
  ]);
  assert.equal(RunOverrides.safeParse({ blocks: 0 }).success, false, 'bounds come along');
  assert.equal(RunOverrides.safeParse({ sampleRate: 1.5 }).success, false);
  assert.equal(RunOverrides.safeParse({ gamma: 1 }).success, false, 'unknown settings refused');
});

test('dp2 train offers a flag for every setting of every method, and names whose it is', () => {
  for (const card of METHOD_CARDS) {
    for (const setting of Object.values(card.settings) as Setting[]) {
      if (setting.internal) continue;
      assert.ok(setting.flag, 'a setting the contract accepts has a flag');
      assert.ok(
        TRAIN_USAGE.includes(`[--${setting.flag.name} ${setting.flag.value}]`),
        `--${setting.flag.name} in the help`,
      );
    }
  }
  // Flags every method takes come first, then each method's own.
  assert.match(TRAIN_USAGE, /\n {12}\[--sigma S\] \[--accountant rdp\|pld\] \[--lr η\]\n/);
  assert.match(
    TRAIN_USAGE,
    /\n {12}randp: \[--batch B\] \[--sample-rate Q\] \[--steps T\] \[--clip C\] \[--momentum M\] \[--ema D\]\n/,
  );
  assert.doesNotMatch(TRAIN_USAGE, /randp: .*--seed /, 'nothing of a randp run is seeded');
  assert.match(
    TRAIN_USAGE,
    /\n {12}dp2vae: \[--batch B\] .*\[--blocks K\] \[--pretrain-epochs E\]\n/,
  );
  assert.match(TRAIN_USAGE, /\n {12}dpsgd: \[--batch B\] \[--sample-rate Q\]/);
  assert.match(
    TRAIN_USAGE,
    /\n {12}dp2vae-per-record: .*\[--sample-rate Q\] .*\[--refine-steps S\]/,
  );
  assert.match(
    TRAIN_USAGE,
    /\n {12}mepf: \[--seed N\] \[--features prior\|random-net\|rff\] \[--generator-steps S\]/,
  );
  assert.doesNotMatch(TRAIN_USAGE, /mepf: .*--(clip|batch|steps) /);
});
