/**
 * Labels from a CSV file that maps each image file to its class, for trees
 * whose folders do not say the class (a DICOMDIR-style export, one flat
 * folder). The first column names the file, relative to the imported folder
 * or zip (or by its bare name when that is unique); the second is the class.
 */
import { resolve } from 'node:path';
import { UserError } from '../contract/errors';
import { sortClassNames } from './context';
import { readFileLimited } from './fs-utils';
import type { LimitedRead } from './fs-utils';
import { formatBytes } from './limits';
import type { ScanContext } from './context';
import type { ImageTree, TreeFile } from './image-tree';

/** Largest labels CSV read: plenty for millions of rows, small enough to hold. */
export const MAX_LABELS_CSV_BYTES = 64 * 1024 ** 2;

/** One data row of the CSV: where it is, the file it names and the class it gives. */
export interface LabelRow {
  line: number;
  file: string;
  label: string;
}

/** Splits one CSV line on `delimiter`, honouring double quotes ("" inside quotes is a quote). */
function splitLine(line: string, delimiter: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
    } else if (ch === delimiter) {
      cells.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

/** The delimiter of the first line: tab, semicolon (spreadsheets in many locales) or comma. */
function delimiterOf(first: string): string {
  for (const d of ['\t', ';', ',']) if (first.includes(d)) return d;
  return ',';
}

/** Forward slashes, no leading `./` or `/`: the form tree paths are compared in. */
export function normaliseRelPath(p: string): string {
  return p
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/^\/+/, '');
}

/**
 * Parses a labels CSV into rows (empty lines skipped). Rows with fewer than
 * two cells or an empty cell are reported on `ctx.log` as errors naming the
 * line. The header row, if any, is returned separately: it is the first row
 * when `isHeader` says so.
 */
export function parseLabelsCsv(
  text: string,
  csvPath: string,
  ctx: Pick<ScanContext, 'log'>,
  isHeader: (cells: string[]) => boolean,
): LabelRow[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const firstLine = lines.find((l) => l.trim() !== '') ?? '';
  const delimiter = delimiterOf(firstLine);
  const rows: LabelRow[] = [];
  let seenFirst = false;
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    const cells = splitLine(raw, delimiter);
    if (!seenFirst) {
      seenFirst = true;
      if (isHeader(cells)) return;
    }
    const [file = '', label = ''] = cells;
    if (file === '' || label === '') {
      ctx.log.error(
        'labels-row',
        `${csvPath}, line ${i + 1}`,
        file === ''
          ? 'names no file.'
          : `gives no class for ${file} (each line needs a file and its class, separated by "${delimiter === '\t' ? 'tab' : delimiter}").`,
        'Complete or remove the line, then import again.',
        'INVALID_INPUT',
      );
      return;
    }
    rows.push({ line: i + 1, file, label });
  });
  return rows;
}

/**
 * Pairs the files of a tree with the classes a labels CSV gives them.
 * Problems, each reported once on `ctx.log`: a row naming a file that is not
 * in the tree, or a bare name found in several folders (errors); a file
 * listed twice with different classes (error) or the same class (warning);
 * files of the tree that the CSV does not list (one warning: they are not
 * imported). The CSV file itself, when it lies in the tree, is skipped.
 */
export function labelTreeFromCsv(
  tree: ImageTree,
  text: string,
  csvPath: string,
  ctx: Pick<ScanContext, 'log' | 'path'>,
): { classes: string[]; candidates: { file: TreeFile; label: number }[] } {
  const csvFull = resolve(csvPath);
  const isCsv = (f: TreeFile): boolean => resolve(f.display) === csvFull;
  const byPath = new Map<string, TreeFile>();
  const byName = new Map<string, TreeFile[]>();
  for (const f of tree.files) {
    if (isCsv(f)) continue;
    byPath.set(f.rel.join('/'), f);
    const name = f.rel[f.rel.length - 1] ?? '';
    const list = byName.get(name);
    if (list) list.push(f);
    else byName.set(name, [f]);
  }
  const find = (file: string): TreeFile | TreeFile[] | undefined => {
    const rel = normaliseRelPath(file);
    const exact = byPath.get(rel);
    if (exact) return exact;
    if (rel.includes('/')) return undefined;
    const named = byName.get(rel);
    return named && named.length === 1 ? named[0] : named;
  };
  // A first row whose first cell names no file of the tree is the header.
  const rows = parseLabelsCsv(text, csvPath, ctx, (cells) => find(cells[0] ?? '') === undefined);

  const assigned = new Map<TreeFile, { label: string; line: number }>();
  for (const row of rows) {
    const where = `${csvPath}, line ${row.line}`;
    const hit = find(row.file);
    if (hit === undefined) {
      ctx.log.error(
        'labels-missing-file',
        where,
        `names ${row.file}, which is not in ${ctx.path}.`,
        'Correct the file name (relative to the imported folder) or remove the line.',
        'INVALID_INPUT',
      );
      continue;
    }
    if (Array.isArray(hit)) {
      ctx.log.error(
        'labels-ambiguous-file',
        where,
        `names ${row.file}, and ${hit.length} files of ${ctx.path} have that name.`,
        'Give the path relative to the imported folder, such as series1/' + row.file + '.',
        'INVALID_INPUT',
      );
      continue;
    }
    const before = assigned.get(hit);
    if (before) {
      if (before.label !== row.label) {
        ctx.log.error(
          'labels-conflict',
          where,
          `gives ${row.file} the class "${row.label}", but line ${before.line} gives it "${before.label}".`,
          'Keep one line per file.',
          'INVALID_INPUT',
        );
      } else {
        ctx.log.warn(
          'labels-repeated',
          where,
          `repeats ${row.file} (already on line ${before.line}).`,
          'No action needed; the file is imported once.',
        );
      }
      continue;
    }
    assigned.set(hit, { label: row.label, line: row.line });
  }
  const unlisted = tree.files.filter((f) => !isCsv(f) && !assigned.has(f));
  if (unlisted.length > 0) {
    const names = unlisted
      .slice(0, 3)
      .map((f) => f.rel.join('/'))
      .join(', ');
    ctx.log.warn(
      'labels-unlisted',
      ctx.path,
      `${unlisted.length} files are not listed in ${csvPath} and are not imported (${names}${unlisted.length > 3 ? ', …' : ''}).`,
      'Add them to the CSV with their class if they belong to the data set.',
    );
  }
  const classes = sortClassNames([...assigned.values()].map((a) => a.label));
  const index = new Map(classes.map((c, i) => [c, i]));
  const candidates = tree.files
    .filter((f) => assigned.has(f))
    .map((file) => ({ file, label: index.get(assigned.get(file)?.label ?? '') ?? 0 }));
  candidates.sort((a, b) => a.label - b.label);
  return { classes, candidates };
}

/**
 * Reads a labels CSV (at most {@link MAX_LABELS_CSV_BYTES}) as UTF-8.
 * Throws a UserError naming the file when it is missing, too large or not text.
 */
export async function labelsCsvText(path: string): Promise<{ path: string; text: string }> {
  let read: LimitedRead;
  try {
    read = await readFileLimited(path, MAX_LABELS_CSV_BYTES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_INPUT',
      code === 'ENOENT'
        ? `The labels file ${path} does not exist. Choose the CSV again.`
        : `The labels file ${path} cannot be read (${(err as Error).message}). Check its permissions.`,
    );
  }
  if (read.kind === 'too-large') {
    throw new UserError(
      'INVALID_INPUT',
      `The labels file ${path} is ${formatBytes(read.size)}, larger than a labels CSV can be (${formatBytes(MAX_LABELS_CSV_BYTES)}). Choose the CSV that lists each image file with its class.`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(read.bytes);
  } catch {
    throw new UserError(
      'INVALID_INPUT',
      `The labels file ${path} is not text (UTF-8). Save it from the spreadsheet as "CSV UTF-8", then import again.`,
    );
  }
  if (text.includes('\u0000')) {
    throw new UserError(
      'INVALID_INPUT',
      `The labels file ${path} is not a CSV (it holds binary data). Choose the CSV that lists each image file with its class.`,
    );
  }
  return { path, text };
}
