/**
 * Shared types of the data-import layer: what the analyst chooses
 * (preprocessing), what an import yields (prepared images, a preview with
 * every problem found), and the decoded-image shape used between steps.
 */
import type { ImageSize } from '../contract/datasets';
import type { DicomWindowing } from './dicom';
import type { ReadBudget } from './read-budget';

/** How imported images are brought to one shape. */
export interface Preprocessing {
  /** Side of the square output images, in pixels. */
  size: ImageSize;
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /** Share of the images held out as the test split, in [0, 1). */
  testFraction: number;
  /** Seed of the data-independent train/test split. */
  splitSeed: number;
  /** How DICOM pixel values become grey levels (default `file`: the file's own window, as a viewer shows it). */
  dicomWindow?: DicomWindowing;
}

/** Images of one shape with integer labels; `x` is N·H·W·C bytes, row-major (NHWC). */
export interface PreparedImages {
  x: Uint8Array;
  /** One label per image, an index into `classes`. Uint16Array when there are more than 256 classes. */
  y: Uint8Array | Uint16Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  /** Class names; label i names classes[i]. */
  classes: string[];
}

/** One thing found wrong with the input: which file, what is wrong, what to do. */
export interface ImportProblem {
  file: string;
  problem: string;
  action: string;
  /** `error` stops the import; `warning` is handled and only reported. */
  severity: 'error' | 'warning';
}

/** Where the images come from. */
export type ImportFormat = 'image-folder' | 'zip' | 'npz' | 'idx' | 'mnist';

/** What an import would bring in, shown to the analyst before importing. */
export interface ImportPreview {
  format: ImportFormat;
  /** Images that will be imported. */
  total: number;
  perClass: { name: string; count: number }[];
  /** Original image sizes and how many images have each, most frequent first. */
  sizeHistogram: { width: number; height: number; count: number }[];
  /** A few preprocessed images as small PNG files (private: for viewing inside the app only). */
  thumbnails: { className: string; png: Uint8Array }[];
  problems: ImportProblem[];
  /** Images that are exact copies of an earlier image (same pixels). */
  duplicates: number;
  /**
   * The train/test split: `given` when the source brings its own test set
   * (bundled MNIST, MNIST IDX pairs, MedMNIST or Keras-style .npz), else drawn
   * from `testFraction` and `splitSeed`.
   */
  split: { train: number; test: number; given: boolean };
  /** What the DICOM files held, when there were any: allow-listed header values and counts only. */
  dicom?: DicomSummary;
}

/**
 * A summary of the DICOM files of an import. Only values of the header's
 * allow-list appear (modality, transfer syntax, photometric interpretation);
 * identifying fields are counted per file and dropped, never kept.
 */
export interface DicomSummary {
  files: number;
  /** Images taken from them (a multi-frame file gives one per frame). */
  frames: number;
  /** Files that carried patient or other identifying fields (all dropped). */
  withPatientFields: number;
  modalities: { name: string; count: number }[];
  transferSyntaxes: { name: string; count: number }[];
  photometric: { name: string; count: number }[];
}

/** Indices of the training and test images within a PreparedImages. */
export interface Split {
  train: Uint32Array;
  test: Uint32Array;
}

/** A decoded image: 8-bit samples, row-major, channels interleaved (1 = gray, 3 = RGB). */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** Progress callback: `done` of `total` items handled so far. */
export type ProgressCallback = (done: number, total: number) => void;

/** Options shared by `previewImport` and `importSource`. */
export interface ImportOptions {
  /** A folder, a .zip, a .npz, an IDX file or folder, or `mnist` for the bundled MNIST. */
  path: string;
  preprocessing: Preprocessing;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  /**
   * When true, unreadable or unsupported image files are skipped and reported
   * as warnings instead of stopping the import. Default false.
   */
  skipUnreadable?: boolean;
  /**
   * A CSV that gives each file its class (file, class per line), for a
   * folder or zip whose sub-folders are not the classes.
   */
  labels?: string;
  /**
   * Worker threads that decode a large folder or zip (default: the
   * DP2_IMPORT_THREADS environment variable, else one per core up to two).
   */
  decodeThreads?: number;
  /** Largest single file read, in bytes (default 2 GiB). */
  maxFileBytes?: number;
  /**
   * Bytes of files held in memory at once by the scan's reads (default a new
   * budget of DEFAULT_READ_BUDGET_BYTES); its `peak` tells the most held.
   */
  readBudget?: ReadBudget;
}

/** What `importSource` returns. */
export interface ImportResult {
  images: PreparedImages;
  split: Split;
  preview: ImportPreview;
}
