import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../contract/errors';
import { encodePng, imagesToNpz, writePngFolder } from '../data';
import type { PreparedImages } from '../data';
import { generateImages, grid, selectBackend } from '../engine';
import type { ImageBatch } from '../engine';
import { readDecoderFile } from '../engine/decoder-file';
import { classifierFolderOf } from '../jobs/linked-runs';
import { RunPlan } from '../jobs/protocol';
import { methodOfPlan } from '../methods/registry';
import { getDataset, getRun, listArtifacts, registerArtifact } from '../store';
import type { ArtifactKind, Store } from '../store';

/** A run's releasable decoder and certificate (refusing runs that have none yet). */
export function releasedOf(
  store: Store,
  runId: number,
): { decoderDir: string; certificate: string } {
  const run = getRun(store, runId);
  const [decoder] = listArtifacts(store, { runId, kind: 'decoder', visibility: 'releasable' });
  const [certificate] = listArtifacts(store, {
    runId,
    kind: 'certificate',
    visibility: 'releasable',
  });
  if (!decoder && listArtifacts(store, { runId, kind: 'classifier' }).length > 0) {
    throw new UserError(
      'INVALID_INPUT',
      `Run ${runId} released a classifier, not a generator: it makes no images. Apply it to images with "dp2 predict --model FOLDER/classifier" after "dp2 export --run ${runId} --out FOLDER".`,
    );
  }
  if (!decoder || !certificate) {
    throw new UserError(
      'NOT_FOUND',
      `Run ${runId} has no released generator yet (its status is ${run.status}). Finish its training first.`,
    );
  }
  return { decoderDir: decoder.path, certificate: certificate.path };
}

/**
 * Draws `perClass` synthetic images of every class from a run's released
 * decoder. Post-processing of a differentially private release: it costs no
 * privacy, and the seed makes it repeatable.
 */
export async function sampleRun(
  store: Store,
  { runId, perClass, seed }: { runId: number; perClass: number; seed: number },
): Promise<ImageBatch & { classes: string[] }> {
  const { decoderDir } = releasedOf(store, runId);
  const { arch, weights } = await readDecoderFile(decoderDir);
  await selectBackend();
  const run = getRun(store, runId);
  const stored = RunPlan.safeParse((run.hyperparameters as { plan?: unknown } | null)?.plan);
  const method = stored.success ? methodOfPlan(stored.data) : null;
  const images =
    stored.success && method?.sample
      ? await method.sample({
          arch,
          weights,
          plan: stored.data,
          perClass,
          seed,
          release: releaseFileOf(store, method.sourceRun?.(stored.data) ?? runId),
          classifier:
            (method.linkedClassifier?.(stored.data) ?? null) === null
              ? null
              : classifierFolderOf(store, runId),
        })
      : generateImages(arch, weights, { perClass, seed });
  const dataset = getDataset(store, run.datasetId, { includeDeleted: true });
  return { ...images, classes: dataset.classNames };
}

/** The releasable release file a run made (a one-shot method's), or null. */
function releaseFileOf(store: Store, runId: number): string | null {
  const [release] = listArtifacts(store, { runId, kind: 'release', visibility: 'releasable' });
  return release && existsSync(release.path) ? release.path : null;
}

/**
 * Writes samples to `out` (a `.npz` file, or a folder of PNGs) with the run's
 * `certificate.json` beside them, whole or absent: everything goes to a
 * temporary sibling first and is renamed at the end.
 */
export async function writeSamples(
  images: PreparedImages,
  { out, certificate }: { out: string; certificate: string },
): Promise<{ out: string; certificate: string }> {
  const asNpz = out.toLowerCase().endsWith('.npz');
  const certOut = asNpz ? join(dirname(out), 'certificate.json') : join(out, 'certificate.json');
  if (existsSync(out))
    throw new UserError(
      'ALREADY_EXISTS',
      `${out} already exists. Choose a new file or folder name.`,
    );
  if (asNpz && existsSync(certOut)) {
    throw new UserError(
      'ALREADY_EXISTS',
      `${certOut} already exists; write the samples into another folder.`,
    );
  }
  const staging = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${Date.now()}`);
  try {
    await mkdir(dirname(out), { recursive: true });
    if (asNpz) {
      await writeFile(staging, imagesToNpz(images));
      await copyFile(certificate, certOut);
      await rename(staging, out);
    } else {
      await writePngFolder(staging, images);
      await copyFile(certificate, join(staging, 'certificate.json'));
      await rename(staging, out);
    }
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (asNpz) await rm(certOut, { force: true });
    throw err;
  }
  return { out, certificate: certOut };
}

/**
 * Stores samples (.npz and PNGs) and a grid of ten per class in the run's
 * folder as releasable artifacts, for export. Made once per (perClass, seed);
 * a crash between writing and registering is mended on the next call.
 */
export async function storeRunSamples(
  store: Store,
  { runId, perClass, seed }: { runId: number; perClass: number; seed: number },
): Promise<void> {
  const runDir = dirname(releasedOf(store, runId).decoderDir);
  const folder = join(runDir, `samples-${perClass}-${seed}`);
  if (!existsSync(folder)) {
    const images = await sampleRun(store, { runId, perClass, seed });
    const tens = perClass === 10 ? images : await sampleRun(store, { runId, perClass: 10, seed });
    const staging = `${folder}.partial`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, 'samples.npz'), imagesToNpz(images));
    await writePngFolder(join(staging, 'png'), images);
    // one row per class, ten samples each
    await writeFile(join(staging, 'grid.png'), encodePng(grid(tens, tens.classes.length, 10)));
    await rename(staging, folder);
  }
  const { datasetId } = getRun(store, runId);
  const registered = new Set(listArtifacts(store, { runId }).map((a) => a.path));
  const made: [ArtifactKind, string][] = [
    ['samples', join(folder, 'samples.npz')],
    ['samples', join(folder, 'png')],
    ['grid', join(folder, 'grid.png')],
  ];
  for (const [kind, path] of made) {
    if (!registered.has(path))
      registerArtifact(store, { kind, runId, datasetId, path, visibility: 'releasable' });
  }
}
