import { resolve } from 'node:path';
import type { Handlers, ResponseOf } from '../../contract';
import type { ImageSize } from '../../contract/datasets';
import { dispatch } from '../../contract/dispatch';
import { choiceFlag, numberFlag, parseFlags } from '../args';
import { UsageError } from '../io';
import type { CliIo } from '../io';
import { formatNumber } from '../mechanism-flags';
import { progressPrinter } from '../progress';
import { unwrap } from '../unwrap';

export const IMPORT_USAGE = `Usage:
  dp2 import PATH --name NAME [--size 28|32|64|128] [--channels 1|3] [--test-fraction 0.1]
                  [--labels FILE.csv] [--dicom-window file|full|stored]
                  [--skip-unreadable] [--budget E] [--preview] [--json]

Imports a private image data set into DP² Studio's data folder: a folder with
one sub-folder per class (PNG, JPEG, BMP, DICOM), a .zip of such a folder, a .npz
(MedMNIST layout or x/y), MNIST IDX files, or "mnist" for the bundled MNIST.
Images are resized and centre-cropped to --size, converted to --channels, and
a held-out test split (--test-fraction) is made and never used for training.
--preview lists what would be imported and every problem found, importing
nothing. --budget sets the data set's privacy cap ε. Nothing is half-imported:
on any error the data folder is left as it was.

--labels names a CSV that gives each file its class (file,class per line;
the file relative to PATH, or its bare name when unique) for folders whose
sub-folders are not the classes, such as a DICOMDIR export.
--dicom-window sets how DICOM pixel values become grey levels: "file" (the
file's own window, as a viewer shows it; the default), "full" (each image's
full range) or "stored" (the stored values, unwindowed). Of a DICOM header
only modality, size, bit depth, photometric interpretation and transfer syntax
are read; patient names, IDs, dates and every other field are dropped.`;

export const DATASETS_USAGE = `Usage:
  dp2 datasets [list] [--json]
  dp2 datasets show NAME [--json]
  dp2 datasets delete NAME
  dp2 datasets cap NAME --epsilon E|none [--delta D]

delete removes the data set's private data (images, encoders, checkpoints)
and keeps released decoders, their certificates and the privacy ledger.
cap sets the most privacy (ε at δ) all runs on the data set may spend together.`;

export const LEDGER_USAGE = `Usage:
  dp2 ledger --dataset NAME [--json]

Lists every privacy spend recorded for the data set (also after it was
deleted) and the total, composed by the accountant.`;

type DatasetDto = ResponseOf<'datasets.show'>;

function describeDataset(d: DatasetDto): string {
  const cap = d.budget.epsilon === null ? 'no cap' : `cap ε = ${formatNumber(d.budget.epsilon)}`;
  return (
    `${d.name}: ${d.trainCount.toLocaleString('en-US')} training + ${d.testCount.toLocaleString('en-US')} held-out test images, ` +
    `${d.classNames.length} classes, ${d.size}×${d.size}×${d.channels} (${d.format})\n` +
    `  privacy spent: ε = ${formatNumber(d.spent.epsilon)} at δ = ${formatNumber(d.spent.delta)} over ${d.spent.runs} run(s); ${cap}\n`
  );
}

/** The DICOM lines of a preview: counts and allow-listed header values only. */
function describeDicom(d: NonNullable<ResponseOf<'datasets.preview'>['dicom']>): string {
  const list = (items: { name: string; count: number }[]): string =>
    items.map((i) => `${i.name} ${i.count}`).join(', ');
  return (
    `  DICOM: ${d.files} file(s), ${d.frames} image(s); modality ${list(d.modalities)}; ${list(d.transferSyntaxes)}\n` +
    (d.withPatientFields > 0
      ? `  ${d.withPatientFields} file(s) carried patient fields (names, IDs, dates): dropped, never stored\n`
      : '')
  );
}

export async function importCommand(argv: string[], io: CliIo, handlers: Handlers): Promise<void> {
  const { flags, positionals } = parseFlags(
    argv,
    {
      name: { type: 'string' },
      size: { type: 'string' },
      channels: { type: 'string' },
      'test-fraction': { type: 'string' },
      'skip-unreadable': { type: 'boolean' },
      labels: { type: 'string' },
      'dicom-window': { type: 'string' },
      budget: { type: 'string' },
      preview: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    { positionals: 1 },
  );
  if (flags.help) return io.stdout(IMPORT_USAGE + '\n');
  const path = positionals[0];
  if (!path) throw new UsageError('give the folder or file to import');
  const source = {
    path: path === 'mnist' ? path : resolve(io.cwd, path),
    preprocessing: {
      size: Number(
        choiceFlag(flags, 'size', ['28', '32', '64', '128'] as const, '28'),
      ) as ImageSize,
      channels: Number(choiceFlag(flags, 'channels', ['1', '3'] as const, '1')) as 1 | 3,
      testFraction: numberFlag(flags, 'test-fraction') ?? 0.1,
      dicomWindow: choiceFlag(flags, 'dicom-window', ['file', 'full', 'stored'] as const, 'file'),
    },
    skipUnreadable: Boolean(flags['skip-unreadable']),
    ...(typeof flags.labels === 'string' ? { labels: resolve(io.cwd, flags.labels) } : {}),
  };
  const progress = progressPrinter(io);
  const call = { onProgress: progress.report };
  if (flags.preview) {
    const preview = unwrap(await dispatch(handlers, 'datasets.preview', source, call));
    progress.end();
    if (flags.json)
      return io.stdout(
        JSON.stringify({ ...preview, thumbnails: preview.thumbnails.length }) + '\n',
      );
    io.stdout(
      `${preview.total.toLocaleString('en-US')} images (${preview.format}); ` +
        `${preview.split.train} for training, ${preview.split.test} held out${preview.split.given ? ' (the source’s own test set)' : ''}\n` +
        preview.perClass.map((c) => `  ${c.name}: ${c.count}`).join('\n') +
        '\n' +
        (preview.duplicates ? `  ${preview.duplicates} exact duplicate image(s)\n` : '') +
        (preview.dicom ? describeDicom(preview.dicom) : '') +
        preview.problems
          .map((p) => `  ${p.severity}: ${p.file}: ${p.problem} — ${p.action}`)
          .join('\n') +
        (preview.problems.length ? '\n' : ''),
    );
    return;
  }
  if (typeof flags.name !== 'string')
    throw new UsageError('--name is required (the name the data set will have)');
  const budget = numberFlag(flags, 'budget');
  const result = unwrap(
    await dispatch(
      handlers,
      'datasets.import',
      {
        ...source,
        name: flags.name,
        ...(budget !== undefined ? { budget: { epsilon: budget } } : {}),
      },
      call,
    ),
  );
  progress.end();
  if (flags.json) return io.stdout(JSON.stringify(result.dataset) + '\n');
  io.stdout(`Imported ${describeDataset(result.dataset)}`);
  for (const p of result.preview.problems)
    io.stdout(`  ${p.severity}: ${p.file}: ${p.problem} — ${p.action}\n`);
}

export async function datasetsCommand(
  argv: string[],
  io: CliIo,
  handlers: Handlers,
): Promise<void> {
  const { flags, positionals } = parseFlags(
    argv,
    { json: { type: 'boolean' }, epsilon: { type: 'string' }, delta: { type: 'string' } },
    { positionals: 2 },
  );
  if (flags.help) return io.stdout(DATASETS_USAGE + '\n');
  const [action = 'list', name] = positionals;
  const needName = (): string => {
    if (!name) throw new UsageError(`dp2 datasets ${action} needs the data set's name`);
    return name;
  };
  switch (action) {
    case 'list': {
      const all = unwrap(await dispatch(handlers, 'datasets.list', {}));
      if (flags.json) return io.stdout(JSON.stringify(all) + '\n');
      if (all.length === 0)
        return io.stdout('No data sets yet. Import one with: dp2 import PATH --name NAME\n');
      for (const d of all) io.stdout(describeDataset(d));
      return;
    }
    case 'show': {
      const d = unwrap(await dispatch(handlers, 'datasets.show', { name: needName() }));
      if (flags.json) return io.stdout(JSON.stringify(d) + '\n');
      io.stdout(
        describeDataset(d) +
          `  classes: ${d.classNames.join(', ')}\n  identifier in certificates: ${d.publicId}\n`,
      );
      return;
    }
    case 'delete': {
      const r = unwrap(await dispatch(handlers, 'datasets.delete', { name: needName() }));
      if (flags.json) return io.stdout(JSON.stringify(r) + '\n');
      io.stdout(
        `Deleted “${r.name}”: its private data is gone (${r.removedPaths} item(s)); ` +
          `${r.keptReleasable} released artifact(s) and the privacy ledger are kept.\n`,
      );
      return;
    }
    case 'cap': {
      if (flags.epsilon === undefined)
        throw new UsageError('--epsilon is required (a number, or "none")');
      const epsilon = flags.epsilon === 'none' ? null : numberFlag(flags, 'epsilon');
      const delta = numberFlag(flags, 'delta');
      const d = unwrap(
        await dispatch(handlers, 'datasets.setBudget', {
          name: needName(),
          epsilon: epsilon ?? null,
          ...(delta !== undefined ? { delta } : {}),
        }),
      );
      if (flags.json) return io.stdout(JSON.stringify(d) + '\n');
      io.stdout(describeDataset(d));
      return;
    }
    default:
      throw new UsageError(`unknown action "${action}" (list, show, delete or cap)`);
  }
}

export async function ledgerCommand(argv: string[], io: CliIo, handlers: Handlers): Promise<void> {
  const { flags } = parseFlags(argv, { dataset: { type: 'string' }, json: { type: 'boolean' } });
  if (flags.help) return io.stdout(LEDGER_USAGE + '\n');
  if (typeof flags.dataset !== 'string') throw new UsageError('--dataset is required');
  const ledger = unwrap(await dispatch(handlers, 'datasets.ledger', { name: flags.dataset }));
  if (flags.json) return io.stdout(JSON.stringify(ledger) + '\n');
  io.stdout(
    `Privacy ledger of “${ledger.dataset}”${ledger.deleted ? ' (data set deleted)' : ''}\n`,
  );
  for (const e of ledger.entries) {
    const k =
      e.spec.mechanism === 'dp2vae'
        ? `K = ${e.spec.blocks}`
        : `q = ${formatNumber(e.spec.sampleRate)}`;
    io.stdout(
      `  run ${e.runId}: steps ${e.fromStep}–${e.toStep} of ${e.spec.mechanism} (${k}, σ = ${formatNumber(e.spec.sigma)}), recorded ${e.recordedAt}\n`,
    );
  }
  const cap =
    ledger.budget.epsilon === null
      ? 'no cap set'
      : `cap ε = ${formatNumber(ledger.budget.epsilon)}`;
  io.stdout(
    `Total: ε = ${formatNumber(ledger.total.epsilon)} at δ = ${formatNumber(ledger.total.delta)} ` +
      `over ${ledger.total.steps.toLocaleString('en-US')} steps in ${ledger.total.runs} run(s); ${cap}\n`,
  );
  if (ledger.total.relationNote) io.stdout(`${ledger.total.relationNote}\n`);
}
