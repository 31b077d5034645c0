import { open, rename, rm } from 'node:fs/promises';

/**
 * Writes `data` to `path` whole or not at all: a temporary sibling, fsync,
 * then rename over `path` (atomic on one file system). A failure removes the
 * temporary file and leaves `path` as it was.
 */
export async function writeFileDurable(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
