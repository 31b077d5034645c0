import type { LimitedRead } from './fs-utils';

/** A file of an image tree: its path relative to the tree's root, and how to name it to the user. */
export interface TreeFile {
  rel: string[];
  display: string;
}

/** The outcome of reading one file of a tree. */
export type TreeRead = LimitedRead | { kind: 'error'; message: string };

/**
 * A folder of class folders, on disk or inside a zip: its files, its folders
 * (so that empty class folders are seen) and a way to read files in batches.
 */
export interface ImageTree {
  files: TreeFile[];
  dirs: string[][];
  /**
   * Reads the first files of `files`, as many as the scan's read budget
   * allows (at least one); the reads stay counted against the budget until
   * the next call, so the caller handles them all before asking for more.
   */
  readBatch(files: readonly TreeFile[]): Promise<TreeRead[]>;
  /** Optional hint: the order in which files will be read, so a zip can inflate ahead in large windows. */
  plan?(files: readonly TreeFile[]): void;
}
