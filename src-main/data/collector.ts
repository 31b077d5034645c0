import * as crypto from 'node:crypto';
import { UserError } from '../contract/errors';
import { formatBytes, MAX_PREPARED_BYTES } from './limits';
import { encodePng } from './png';
import { preprocessInto } from './preprocess';
import type { TargetShape } from './preprocess';
import type { ProblemLog } from './problems';
import type { DecodedImage, ImportPreview, PreparedImages } from './types';

const THUMBS_PER_CLASS = 2;

/** One-shot crypto.hash (Node ≥ 20.12) is several times cheaper per small image than createHash. */
const oneShot = (
  crypto as unknown as { hash?: (alg: string, data: Uint8Array, enc: 'base64') => string }
).hash;

/** sha1 of the bytes, base64. */
function sha1(data: Uint8Array): string {
  return oneShot
    ? oneShot('sha1', data, 'base64')
    : crypto.createHash('sha1').update(data).digest('base64');
}
const MAX_THUMBS = 20;

/**
 * One decoded image brought to the target shape, with what the collector
 * needs of the original: its size, channels and a digest of its pixels
 * (to find exact duplicates). Made where the image was decoded.
 */
export interface PreparedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  /** sha1 of the decoded pixels, base64. */
  sha1: string;
  /** size·size·channels bytes of the target shape. */
  pixels: Uint8Array;
}

/** Brings a decoded image to the target shape and digests its original pixels. */
export function prepareImage(img: DecodedImage, target: TargetShape): PreparedImage {
  const pixels = new Uint8Array(target.size * target.size * target.channels);
  preprocessInto(img, target, pixels, 0);
  return {
    width: img.width,
    height: img.height,
    channels: img.channels,
    sha1: sha1(img.data),
    pixels,
  };
}

/** Throws when `count` images of the target shape would not fit in memory. */
export function checkPreparedSize(count: number, target: TargetShape, where: string): void {
  const bytes = count * target.size * target.size * target.channels;
  if (bytes > MAX_PREPARED_BYTES) {
    throw new UserError(
      'INVALID_INPUT',
      `${where} holds ${count} images; at ${target.size}×${target.size}×${target.channels} they need ${formatBytes(bytes)}, more than DP² Studio keeps in memory (${formatBytes(MAX_PREPARED_BYTES)}); at this size at most ${Math.floor(MAX_PREPARED_BYTES / (bytes / count)).toLocaleString('en-US')} images fit. Choose a smaller image size or grayscale, or import a part of the images.`,
    );
  }
}

/**
 * Gathers decoded images one by one: brings them to the target shape (when
 * pixels are kept), counts classes, sizes and channels, finds exact
 * duplicates (same pixels, by sha1) and keeps a few thumbnails.
 */
export class ImageCollector {
  count = 0;
  duplicates = 0;
  readonly perClass: number[];
  private readonly sizes = new Map<string, { width: number; height: number; count: number }>();
  private gray = 0;
  private color = 0;
  private readonly seen = new Map<string, { file: string; label: number }>();
  private x: Uint8Array | undefined;
  private y: Uint8Array | Uint16Array | undefined;
  private readonly per: number;
  private readonly thumbs: { label: number; png: Uint8Array }[] = [];

  constructor(
    private readonly target: TargetShape,
    private readonly classNames: readonly string[],
    capacity: number,
    keepPixels: boolean,
    private readonly log: ProblemLog,
  ) {
    this.per = target.size * target.size * target.channels;
    this.perClass = new Array<number>(classNames.length).fill(0);
    if (keepPixels) {
      this.x = new Uint8Array(capacity * this.per);
      this.y = classNames.length > 256 ? new Uint16Array(capacity) : new Uint8Array(capacity);
    }
  }

  /** Adds one image with its label (an index into the class names). */
  add(img: DecodedImage, label: number, file: string): void {
    this.addPrepared(prepareImage(img, this.target), label, file);
  }

  /** Adds an image already brought to the target shape (on a decode worker, say). */
  addPrepared(img: PreparedImage, label: number, file: string): void {
    if (img.pixels.length !== this.per) {
      throw new Error(`addPrepared: ${img.pixels.length} bytes, the target shape has ${this.per}`);
    }
    const sizeKey = `${img.width}x${img.height}`;
    const s = this.sizes.get(sizeKey);
    if (s) s.count++;
    else this.sizes.set(sizeKey, { width: img.width, height: img.height, count: 1 });
    if (img.channels === 1) this.gray++;
    else this.color++;

    const key = `${img.width}x${img.height}x${img.channels}:${img.sha1}`;
    const first = this.seen.get(key);
    if (first) {
      this.duplicates++;
      if (first.label !== label) {
        this.log.warn(
          'duplicate-conflict',
          file,
          `is an exact copy of ${first.file} but has another class (${this.classNames[label] ?? label} here, ${this.classNames[first.label] ?? first.label} there).`,
          'Check which label is right and remove the wrong copy.',
        );
      } else {
        this.log.warn(
          'duplicate',
          file,
          `is an exact copy of ${first.file}.`,
          'Remove the copy: the privacy guarantee counts each image once, so a repeated image is less protected.',
        );
      }
    } else {
      this.seen.set(key, { file, label });
    }

    if (this.x && this.y) {
      if (this.count === this.y.length) this.grow(file);
      this.x.set(img.pixels, this.count * this.per);
      this.y[this.count] = label;
    }
    this.perClass[label] = (this.perClass[label] ?? 0) + 1;
    if ((this.perClass[label] ?? 0) <= THUMBS_PER_CLASS && this.thumbs.length < MAX_THUMBS) {
      const { size, channels } = this.target;
      this.thumbs.push({
        label,
        png: encodePng({ width: size, height: size, channels, data: img.pixels }),
      });
    }
    this.count++;
  }

  /**
   * Makes room for more images than planned: a multi-frame file (DICOM)
   * brings several. Checked against the prepared-size limit first.
   */
  private grow(file: string): void {
    const old = this.y;
    if (!this.x || !old) return;
    checkPreparedSize(this.count + 1, this.target, file);
    const next = Math.min(Math.max(16, old.length * 2), Math.floor(MAX_PREPARED_BYTES / this.per));
    const x = new Uint8Array(next * this.per);
    x.set(this.x);
    const y = old instanceof Uint16Array ? new Uint16Array(next) : new Uint8Array(next);
    y.set(old);
    this.x = x;
    this.y = y;
  }

  /** Sizes seen, most frequent first. */
  sizeHistogram(): ImportPreview['sizeHistogram'] {
    return [...this.sizes.values()].sort(
      (a, b) => b.count - a.count || a.width - b.width || a.height - b.height,
    );
  }

  /** Adds the warnings about mixed sizes and channels and about enlarging small images. */
  reportShapes(where: string): void {
    const hist = this.sizeHistogram();
    const { size, channels } = this.target;
    if (hist.length > 1) {
      const list = hist
        .slice(0, 4)
        .map((s) => `${s.width}×${s.height} (${s.count})`)
        .join(', ');
      this.log.warn(
        'mixed-sizes',
        where,
        `The images have ${hist.length} different sizes: ${list}${hist.length > 4 ? ', …' : ''}. Each is resized (shorter side) and centre-cropped to ${size}×${size}.`,
        'No action needed if the images show the same kind of content; crop them beforehand if the centre crop cuts off what matters.',
      );
    }
    const small = hist
      .filter((s) => Math.min(s.width, s.height) < size)
      .reduce((a, s) => a + s.count, 0);
    if (small > 0) {
      this.log.warn(
        'enlarged',
        where,
        `${small} images are smaller than ${size}×${size} and are enlarged, which blurs them.`,
        'Choose a smaller image size if the images are small.',
      );
    }
    if (this.gray > 0 && this.color > 0) {
      this.log.warn(
        'mixed-channels',
        where,
        `${this.gray} images are grayscale and ${this.color} are colour; all are converted to ${channels === 1 ? 'grayscale' : 'colour (RGB)'}.`,
        'No action needed; choose grayscale if colour carries no information in these images.',
      );
    } else if (this.color > 0 && channels === 1) {
      this.log.warn(
        'to-gray',
        where,
        'The images are in colour and are converted to grayscale.',
        'Choose 3 channels (RGB) if colour matters.',
      );
    }
  }

  /** Thumbnails with class names. */
  thumbnails(classes: readonly string[]): ImportPreview['thumbnails'] {
    return this.thumbs.map((t) => ({ className: classes[t.label] ?? String(t.label), png: t.png }));
  }

  /**
   * The collected images, with labels renumbered by `labelMap` (old → new
   * index; -1 never occurs for collected images) when classes were dropped.
   */
  images(classes: string[], labelMap?: Int32Array): PreparedImages | undefined {
    if (!this.x || !this.y) return undefined;
    const { size, channels } = this.target;
    const x =
      this.x.length === this.count * this.per ? this.x : this.x.slice(0, this.count * this.per);
    let y = this.y.length === this.count ? this.y : this.y.slice(0, this.count);
    if (labelMap) {
      const mapped =
        classes.length > 256 ? new Uint16Array(this.count) : new Uint8Array(this.count);
      for (let i = 0; i < this.count; i++) mapped[i] = labelMap[y[i] ?? 0] ?? 0;
      y = mapped;
    }
    return { x, y, count: this.count, height: size, width: size, channels, classes };
  }
}
