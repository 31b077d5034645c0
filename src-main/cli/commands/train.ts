import type { Handlers } from '../../contract';
import { dispatch } from '../../contract/dispatch';
import { UserError } from '../../contract/errors';
import { TRAIN_THREADS_ENV } from '../../engine/train-threads';
import { backendLabel } from '../../jobs/protocol';
import type { RunEvent } from '../../jobs/runner';
import type { ServiceContext } from '../../services/context';
import { choiceFlag, numberFlag, parseFlags, requireNumber } from '../args';
import { UsageError } from '../io';
import type { CliIo } from '../io';
import {
  DEFAULT_METHOD,
  isMethodId,
  METHOD_CARDS,
  METHOD_IDS,
  methodCard,
  settingsByName,
} from '../../methods/catalog';
import { PRESET_NAMES } from '../../methods/preset-names';
import { formatNumber } from '../mechanism-flags';
import { formatDuration } from './priors';
import { progressPrinter } from '../progress';
import { unwrap } from '../unwrap';

const METHOD_HELP = METHOD_CARDS.map(
  (c) =>
    `--method ${c.id}${c.id === DEFAULT_METHOD ? ' (the default)' : ''}: ${c.name}. ${c.description}\n  ${c.verdict}`,
).join('\n');

/** The settings the command line offers (internal ones have no flag). */
const SETTINGS = [...settingsByName()].flatMap(([key, e]) => {
  const flag = e.setting.flag;
  return flag === undefined || e.setting.internal ? [] : [[key, { ...e, flag }] as const];
});
const flagText = (flag: { name: string; value: string }): string =>
  `[--${flag.name} ${flag.value}]`;
/** Words joined into lines of at most 80 columns, each after `indent`. */
function wrap(words: string[], indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && indent.length + line.length + 1 + w.length > 80) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

const INDENT = ' '.repeat(12);
/** Flags every method takes, then each method's own. */
const SHARED_FLAGS = wrap(
  SETTINGS.filter(([, e]) => e.methods.length === METHOD_IDS.length).map(([, e]) =>
    flagText(e.flag),
  ),
  INDENT,
);
const OWN_FLAGS = METHOD_IDS.map((id) => {
  const own = SETTINGS.filter(
    ([, e]) => e.methods.length < METHOD_IDS.length && e.methods.includes(id),
  );
  return own.length === 0
    ? ''
    : `\n${INDENT}${id}: ${own.map(([, e]) => flagText(e.flag)).join(' ')}`;
}).join('');

export const TRAIN_USAGE = `Usage:
  dp2 train --dataset mnist|NAME --epsilon E [--delta D] [--method ${METHOD_IDS.join('|')}]
            [--preset ${PRESET_NAMES.join('|')}] [--out DIR] [--threads N] [--confirm] [--json]
${SHARED_FLAGS}${OWN_FLAGS}
  dp2 train --resume RUN_ID [--out DIR] [--threads N] [--json]

Methods: generators, best measured first (MNIST, docs/methods.md), then
classifiers (docs/classifier.md):
${METHOD_HELP}
DP-SGD samples every image independently with probability Q at each step
(Poisson sampling), clips each image's gradient to C and adds noise σ·C to
their sum; --batch B is its expected batch (Q = B / N); give --batch or
--sample-rate, not both. DP²-VAE with per-record encoders samples the same
way; each sampled image's own encoder takes --refine-steps S plain steps
(no noise, never released) before the decoder's noisy step;
--importance-samples K weighs K samples of each image's code together (an
importance-weighted bound; no privacy cost, about K times the time per step). DP²-VAE trains
one encoder per block first (stage 1, private, never released), then the
releasable decoder (stage 2). mepf spends its ε once, on one noisy release
of the class sums of image features (--features: the random-process prior
shipped with the app, by default); its generator then learns from the
release alone for --generator-steps S steps, at no further privacy cost.
--from-release RUN trains another generator from the release of mepf run
RUN (same data set) and spends nothing. When a class has too few images for
the noise, the plan says so and the run starts only with --confirm.
randp releases a classifier instead of images: the prior's features of every
image (no privacy cost), then a linear classifier trained with DP-SGD as
above (--momentum, --ema: its optimiser and the averaging of its steps).
Use it with "dp2 predict --model DIR/classifier --in X.npz --out P.npz".
The run stops at the target ε, at the data set's budget cap, or after T steps,
whichever comes first, and never spends past them. σ is calibrated from ε
unless given.
--seed N fixes what never touches the images: the initial weights (and
DP²-VAE's partition into blocks). It does not fix the sampling, the noise of
the mechanism or the VAE's per-image noise: those come from the operating
system's secure generator, so no two runs are the same.
--dataset mnist imports the bundled MNIST first if it is not there yet.
--out DIR writes decoder/, samples.npz, grid.png and certificate.json; for
randp, classifier/ (model.json and weights.bin, a TensorFlow.js graph model; model-card.json) and certificate.json.
--resume continues an interrupted run from its last checkpoint.
--threads N trains DP-SGD, DP²-VAE with per-record encoders and DP²-VAE's
stage 1 on N threads (default: one per core, at most 8; the same as
DP2_TRAIN_THREADS=N). It changes the speed, not the mechanism or its privacy.
Ctrl-C cancels the run (the privacy already spent stays in the ledger).`;

/** A stage's title and short task name, as its method's card says. */
function stageNames(
  method: string | undefined,
  stage: 'stage1' | 'stage2',
): { title: string; task: string } {
  const names = isMethodId(method) ? methodCard(method).stages[stage] : undefined;
  return names ?? { title: stage, task: stage };
}

function printer(io: CliIo) {
  const bar = progressPrinter(io);
  let epsilon = 0;
  let method: string | undefined;
  return (event: RunEvent) => {
    switch (event.type) {
      case 'backend':
        io.stderr(
          `Backend: ${backendLabel(event)}${event.tried.length ? ` (passed over: ${event.tried.map((t) => `${t.name}: ${t.reason}`).join('; ')})` : ''}\n`,
        );
        break;
      case 'stage':
        bar.end();
        method = event.method;
        io.stderr(`${stageNames(method, event.stage).title}…\n`);
        break;
      case 'epsilon':
        epsilon = event.epsilon;
        break;
      case 'progress': {
        const eta =
          event.etaSeconds === null ? '' : `, ${Math.ceil(event.etaSeconds / 60)} min left`;
        const eps = event.stage === 'stage2' ? `, ε = ${formatNumber(epsilon)}` : '';
        bar.report({
          task: stageNames(method, event.stage).task,
          done: event.step,
          total: event.totalSteps,
          detail: `${Math.round(event.samplesPerSecond)} samples/s${eps}${eta}`,
        });
        break;
      }
      case 'paused':
        io.stderr(`\nPaused at step ${event.step}.\n`);
        break;
      case 'done':
        bar.end();
        break;
      default:
        break;
    }
  };
}

export async function trainCommand(
  argv: string[],
  io: CliIo,
  handlers: Handlers,
  ctx: ServiceContext,
): Promise<void> {
  const { flags } = parseFlags(argv, {
    dataset: { type: 'string' },
    epsilon: { type: 'string' },
    delta: { type: 'string' },
    preset: { type: 'string' },
    method: { type: 'string' },
    ...Object.fromEntries(SETTINGS.map(([, e]) => [e.flag.name, { type: 'string' as const }])),
    out: { type: 'string' },
    resume: { type: 'string' },
    threads: { type: 'string' },
    confirm: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (flags.help) return io.stdout(TRAIN_USAGE + '\n');
  if (flags.threads !== undefined) {
    const n = Number(flags.threads);
    if (!Number.isSafeInteger(n) || n < 1 || n > 64)
      throw new UsageError(
        `--threads is "${String(flags.threads)}"; give a whole number from 1 to 64`,
      );
    // The training worker is forked from this process and reads it (engine/dpsgd-threads.ts).
    process.env[TRAIN_THREADS_ENV] = String(n);
  }
  const json = Boolean(flags.json);
  const unsubscribe = ctx.onRunEvent(printer(io));
  const abort = new AbortController();
  const onSigint = () => {
    io.stderr('\nCancelling within one step…\n');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    let started;
    // The run a generator is trained from (its release), for the closing line.
    let source: number | undefined;
    if (flags.resume !== undefined) {
      started = unwrap(
        await dispatch(
          handlers,
          'runs.resume',
          { runId: requireNumber(flags, 'resume'), wait: true },
          { signal: abort.signal },
        ),
      );
    } else {
      if (typeof flags.dataset !== 'string')
        throw new UsageError('--dataset is required (mnist, or a data set name)');
      const epsilon = requireNumber(flags, 'epsilon');
      const known = unwrap(await dispatch(handlers, 'datasets.list', {}));
      if (
        flags.dataset.toLowerCase() === 'mnist' &&
        !known.some((d) => d.name.toLowerCase() === 'mnist')
      ) {
        io.stderr('Importing the bundled MNIST as data set “mnist” (once)…\n');
        unwrap(await dispatch(handlers, 'datasets.import', { path: 'mnist', name: 'mnist' }));
      }
      const method = choiceFlag(flags, 'method', METHOD_IDS, DEFAULT_METHOD);
      const overrides = Object.fromEntries(
        SETTINGS.flatMap(([key, { setting, flag }]) => {
          const name = flag.name;
          if (flags[name] === undefined) return [];
          const value =
            setting.kind === 'choice'
              ? choiceFlag(flags, name, setting.choices ?? [])
              : numberFlag(flags, name);
          return value === undefined ? [] : [[key, value]];
        }),
      );
      const delta = numberFlag(flags, 'delta');
      const request = {
        dataset: flags.dataset,
        method,
        preset: choiceFlag(flags, 'preset', PRESET_NAMES, 'quick'),
        epsilon,
        ...(delta !== undefined ? { delta } : {}),
        overrides,
      };
      const plan = unwrap(await dispatch(handlers, 'runs.plan', request));
      {
        // the plan goes to stderr: stdout stays one JSON document with --json
        const h = plan.hyperparameters;
        if (typeof h.fromRelease === 'number') source = h.fromRelease;
        const head = methodCard(isMethodId(h.method) ? h.method : method).planLine(h, formatNumber);
        io.stderr(
          `${head}\n` +
            `  this run: ε ≤ ${formatNumber(plan.epsilon)} at δ = ${formatNumber(plan.delta)}; data set total ${formatNumber(plan.datasetSpent.before)} → ${formatNumber(plan.datasetSpent.after)}` +
            `${plan.datasetSpent.cap === null ? '' : ` (cap ${formatNumber(plan.datasetSpent.cap)})`}\n` +
            `  estimate: about ${formatDuration(plan.estimate.seconds)}, peak memory about ${plan.estimate.memory.peakMb} MB (${plan.estimate.memory.parts.map((p) => `${p.name} ${p.mb} MB`).join(', ')})\n` +
            plan.notes.map((n) => `  note: ${n}\n`).join(''),
        );
        if (plan.confirm !== null && !flags.confirm) {
          throw new UserError('INVALID_INPUT', `${plan.confirm} (dp2 train … --confirm)`);
        }
      }
      started = unwrap(
        await dispatch(
          handlers,
          'runs.start',
          { ...request, wait: true, confirmed: Boolean(flags.confirm) },
          { signal: abort.signal },
        ),
      );
    }
    const outcome = started.outcome;
    if (!outcome) throw new Error('the run ended without an outcome');
    if (outcome.status !== 'completed') {
      const why = outcome.error ? `: ${outcome.error.message}` : '';
      const next =
        outcome.status === 'interrupted'
          ? ` Resume it with: dp2 train --resume ${started.runId}`
          : '';
      throw new UserError(
        outcome.error?.code === 'BUDGET_EXCEEDED' ? 'BUDGET_EXCEEDED' : 'CANCELLED',
        `Run ${started.runId} ended ${outcome.status}${why}.${next}`,
      );
    }
    let exported: string[] = [];
    if (typeof flags.out === 'string') {
      exported = unwrap(
        await dispatch(handlers, 'runs.export', {
          runId: started.runId,
          outDir: flags.out,
          include: {
            decoder: true,
            samplesNpz: true,
            certificate: true,
            grids: true,
            release: true,
            classifier: true,
          },
        }),
      ).files;
    }
    if (json) {
      io.stdout(
        JSON.stringify({
          runId: started.runId,
          ...outcome,
          out: flags.out ?? null,
          files: exported,
        }) + '\n',
      );
      return;
    }
    const accuracy = unwrap(
      await dispatch(handlers, 'runs.show', { runId: started.runId }),
    ).testAccuracy;
    io.stdout(
      (source === undefined
        ? `Run ${started.runId} completed: ${outcome.steps} private steps, ε = ${formatNumber(outcome.epsilon)} (stopped by ${outcome.stoppedBy}).\n`
        : `Run ${started.runId} completed from the release of run ${source}: no privacy spent, the data set's ledger is unchanged; the generator carries that release's ε = ${formatNumber(outcome.epsilon)}.\n`) +
        (accuracy
          ? `Accuracy on the data set's ${accuracy.images} held-out test images: ${formatNumber(accuracy.accuracy)} % (computed on your images without noise: for you only, never exported).\n`
          : '') +
        (typeof flags.out === 'string' ? `Released to ${flags.out}: ${exported.join(', ')}\n` : ''),
    );
  } finally {
    process.removeListener('SIGINT', onSigint);
    unsubscribe();
  }
}
