/**
 * The data-import layer: image folders, zips, .npz, MNIST IDX and the
 * bundled MNIST in; prepared images, previews with every problem found,
 * seeded splits, stored data sets, .npz and PNG exports out.
 */
export type {
  DecodedImage,
  ImportFormat,
  ImportOptions,
  ImportPreview,
  ImportProblem,
  ImportResult,
  PreparedImages,
  Preprocessing,
  ProgressCallback,
  Split,
} from './types';
export { importSource, previewImport, validatePreprocessing, BUNDLED_MNIST } from './scan';
export { decodeImage, detectImageFormat } from './decode-image';
export type { ImageFormat } from './decode-image';
export { decodeBmp, encodeBmp } from './decode-bmp';
export {
  convertChannels,
  grayToRgb,
  pixelsToUint8,
  preprocessImage,
  preprocessInto,
  resizeCropInto,
  rgbToGray,
} from './preprocess';
export type { NumericArray, PixelScaling, TargetShape } from './preprocess';
export { givenSplit, seededRandom, splitIndices } from './split';
export type { SeededRandom } from './split';
export {
  DATASET_HEADER,
  fingerprintImages,
  readDatasetFiles,
  subsetImages,
  writeDatasetFiles,
} from './dataset-files';
export type { DatasetHeader } from './dataset-files';
export { imagesToNpz, readNpz, writeNpz } from './npz';
export { encodeNpy, parseNpy } from './npy';
export type { NpyArray, NpyInput } from './npy';
export { classFolderNames, encodePng, writePngFolder } from './png';
export type { RawImage } from './png';
export { parseIdx } from './idx';
export type { IdxArray } from './idx';
export { bundledMnistFolder, loadBundledMnist } from './mnist';
export type { BundledMnist, LabelledImages } from './mnist';
export { DEFAULT_MAX_FILE_BYTES, MAX_IMAGE_PIXELS, MAX_PREPARED_BYTES } from './limits';
