import { UserError } from '../contract/errors';
import type { ImageCollector } from './collector';
import type { DicomWindowing } from './dicom';
import type { DicomTally } from './dicom-tally';
import type { TargetShape } from './preprocess';
import type { ProblemLog } from './problems';
import type { ReadBudget } from './read-budget';
import type { ImportFormat, ProgressCallback } from './types';

/** What every source reader gets: the target shape, where to report, and how to stop. */
export interface ScanContext {
  /** The path the user chose, as given. */
  path: string;
  target: TargetShape;
  keepPixels: boolean;
  log: ProblemLog;
  skipUnreadable: boolean;
  maxFileBytes: number;
  /** Bytes of files held in memory at once by this scan's reads. */
  budget: ReadBudget;
  signal: AbortSignal | undefined;
  onProgress: ProgressCallback | undefined;
  /** How DICOM pixel values become grey levels. */
  dicomWindow: DicomWindowing;
  /** What the DICOM files held (allow-listed values and counts). */
  dicom: DicomTally;
  /** Worker threads that decode the files of a large tree (1: this thread). */
  decodeThreads: number;
  /** A labels CSV (its path and text), when the classes come from it instead of the sub-folders. */
  labels?: { path: string; text: string };
}

/** What a source reader hands back to scan.ts. */
export interface ScanOutcome {
  format: ImportFormat;
  /** Class names by provisional label. */
  classes: string[];
  collector: ImageCollector;
  /** When classes without images are dropped: provisional label → final label (or -1). */
  dropEmptyClasses: boolean;
  /** Number of leading images that form the training split when the source brings its own test set. */
  givenTrainCount?: number;
}

/** Throws UserError CANCELLED when the caller aborted. */
export function throwIfCancelled(ctx: ScanContext): void {
  if (ctx.signal?.aborted) {
    throw new UserError(
      'CANCELLED',
      `The import of ${ctx.path} was cancelled. Nothing was imported.`,
    );
  }
}

/** Lets other work (IPC, timers) run between batches. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** File name extensions that mark an image, for messages about files that cannot be read. */
const IMAGE_EXTENSIONS = new Set([
  'png',
  'jpg',
  'jpeg',
  'jpe',
  'jfif',
  'bmp',
  'dib',
  'gif',
  'tif',
  'tiff',
  'webp',
  'dcm',
  'heic',
  'heif',
  'jp2',
  'avif',
]);

/** True when the name ends in an image extension (used only to word messages, never to pick a decoder). */
export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && IMAGE_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

/** Names skipped silently: hidden files and folders, and system clutter from macOS and Windows. */
export function isIgnoredName(name: string): boolean {
  return (
    name.startsWith('.') ||
    name === '__MACOSX' ||
    name === 'Thumbs.db' ||
    name === 'desktop.ini' ||
    name === '$RECYCLE.BIN' ||
    name === 'System Volume Information'
  );
}

/** Targets for the target shape from the chosen preprocessing. */
export type { TargetShape };

/** Sorts class names: numerically when all are whole numbers, else by code points (the same everywhere). */
export function sortClassNames(names: Iterable<string>): string[] {
  const list = [...new Set(names)];
  if (list.length > 0 && list.every((n) => /^\d+$/.test(n))) {
    return list.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
  return list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
