import { randomInt } from 'node:crypto';
import { rename } from 'node:fs/promises';
import type { CallContext, Handlers } from '../contract';
import type { z } from 'zod';
import type { DatasetDto, ImportPreviewDto } from '../contract/datasets';
import { UserError } from '../contract/errors';
import { fingerprintImages, importSource, previewImport, writeDatasetFiles } from '../data';
import type { ImportPreview, Preprocessing } from '../data';
import {
  deleteDataset,
  findDataset,
  getDataset,
  insertDataset,
  ledgerEntriesByFingerprint,
  listDatasets,
  setBudgetCap,
} from '../store';
import type { Dataset } from '../store';
import type { ServiceContext } from './context';
import { abandonImport, claimImport, releaseImport } from './import-staging';
import { ledgerSpecs } from '../jobs/budget';
import { ledgerTotal } from './ledger-total';

type DatasetHandlers = Pick<
  Handlers,
  | 'datasets.preview'
  | 'datasets.import'
  | 'datasets.list'
  | 'datasets.show'
  | 'datasets.delete'
  | 'datasets.setBudget'
  | 'datasets.ledger'
>;

function toPreviewDto(preview: ImportPreview): z.infer<typeof ImportPreviewDto> {
  return {
    ...preview,
    thumbnails: preview.thumbnails.map((t) => ({
      className: t.className,
      dataUrl: `data:image/png;base64,${Buffer.from(t.png).toString('base64')}`,
    })),
  };
}

function preprocessingOf(dataset: Dataset): { size: number; channels: number } {
  const p = dataset.preprocessing as Partial<Preprocessing> | null;
  return { size: p?.size ?? 28, channels: p?.channels ?? 1 };
}

/** A data set as the faces show it, with its spend composed by the accountant. */
export function datasetDto(ctx: ServiceContext, dataset: Dataset): z.infer<typeof DatasetDto> {
  const entries = ledgerEntriesByFingerprint(ctx.store, dataset.fingerprint);
  return {
    id: dataset.id,
    name: dataset.name,
    format: dataset.format,
    publicId: dataset.publicId,
    trainCount: dataset.trainCount,
    testCount: dataset.testCount,
    classNames: dataset.classNames,
    ...preprocessingOf(dataset),
    createdAt: dataset.createdAt,
    budget: { epsilon: dataset.budgetEpsilon, delta: dataset.budgetDelta },
    spent: ledgerTotal(entries, dataset.budgetDelta),
  };
}

/**
 * Data sets: preview and import (whole or absent), list, show, delete (private
 * data goes, releases and the ledger stay), budget caps and the ledger.
 */
function importHooks(call: CallContext, task: string) {
  return {
    ...(call.signal ? { signal: call.signal } : {}),
    onProgress: (done: number, total: number) => call.onProgress?.({ task, done, total }),
  };
}

export function datasetHandlers(ctx: ServiceContext): DatasetHandlers {
  return {
    'datasets.preview': async ({ path, preprocessing, skipUnreadable, labels }, call) => {
      const preview = await previewImport({
        path,
        ...(labels !== undefined ? { labels } : {}),
        preprocessing: { ...preprocessing, splitSeed: 0 },
        skipUnreadable,
        ...importHooks(call, 'Reading images'),
      });
      return toPreviewDto(preview);
    },

    'datasets.import': async (
      { path, preprocessing, skipUnreadable, labels, name, budget },
      call,
    ) => {
      if (findDataset(ctx.store, name)) {
        throw new UserError(
          'ALREADY_EXISTS',
          `A data set named “${name}” already exists. Choose another name.`,
        );
      }
      const splitSeed = randomInt(2 ** 31);
      const { images, split, preview } = await importSource({
        path,
        ...(labels !== undefined ? { labels } : {}),
        preprocessing: { ...preprocessing, splitSeed },
        skipUnreadable,
        ...importHooks(call, 'Importing images'),
      });
      // Claimed, written under a temporary name, renamed, then recorded in
      // one transaction: a failure at any point leaves no data set behind,
      // and another process's start-up clean-up keeps away while we live.
      const folders = await claimImport(ctx.dataHome, ctx.store.owner);
      let dataset: Dataset;
      try {
        await writeDatasetFiles(folders.staging, { images, split });
        await rename(folders.staging, folders.final);
        dataset = insertDataset(ctx.store, {
          name,
          fingerprint: fingerprintImages(images),
          format: preview.format,
          preprocessing: { ...preprocessing, splitSeed },
          splitSeed,
          trainCount: split.train.length,
          testCount: split.test.length,
          classNames: images.classes,
          filesDir: folders.final,
          ...(budget
            ? {
                budgetEpsilon: budget.epsilon,
                ...(budget.delta ? { budgetDelta: budget.delta } : {}),
              }
            : {}),
        });
      } catch (err) {
        await abandonImport(folders);
        throw err;
      }
      // The row owns the folder now; a claim that cannot be removed is only
      // a leftover name, cleared at a later start once this process is gone.
      await releaseImport(folders).catch(() => undefined);
      return { dataset: datasetDto(ctx, dataset), preview: toPreviewDto(preview) };
    },

    'datasets.list': async () => listDatasets(ctx.store).map((d) => datasetDto(ctx, d)),

    'datasets.show': async ({ name }) => datasetDto(ctx, getDataset(ctx.store, name)),

    'datasets.delete': async ({ name }) => {
      const result = deleteDataset(ctx.store, name);
      return {
        name: result.dataset.name,
        removedPaths: result.removed.length,
        keptReleasable: result.keptArtifacts.length,
        cancelledRuns: result.cancelledRuns,
      };
    },

    'datasets.setBudget': async ({ name, epsilon, delta }) => {
      const dataset = getDataset(ctx.store, name);
      const spent = ledgerTotal(
        ledgerEntriesByFingerprint(ctx.store, dataset.fingerprint),
        delta ?? dataset.budgetDelta,
      );
      if (epsilon !== null && spent.epsilon > epsilon) {
        throw new UserError(
          'BUDGET_EXCEEDED',
          `“${dataset.name}” has already spent ε = ${spent.epsilon.toPrecision(3)}; a cap of ${epsilon} would be below it. ` +
            'Choose a cap at least as large as what is spent.',
        );
      }
      return datasetDto(
        ctx,
        setBudgetCap(ctx.store, name, { epsilon, ...(delta ? { delta } : {}) }),
      );
    },

    'datasets.ledger': async ({ name }) => {
      const dataset = getDataset(ctx.store, name, { includeDeleted: true });
      const entries = ledgerEntriesByFingerprint(ctx.store, dataset.fingerprint);
      const specs = ledgerSpecs(entries);
      return {
        dataset: dataset.name,
        deleted: dataset.deletedAt !== null,
        budget: { epsilon: dataset.budgetEpsilon, delta: dataset.budgetDelta },
        entries: entries.map((entry, i) => ({
          runId: entry.runId,
          spec: specs[i] as (typeof specs)[number],
          fromStep: entry.fromStep,
          toStep: entry.toStep,
          delta: entry.delta,
          recordedAt: entry.recordedAt,
        })),
        total: ledgerTotal(entries, dataset.budgetDelta),
      };
    },
  };
}
