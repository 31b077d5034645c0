/**
 * Disk-backed store of the K encoders θ_k of DP²-VAE (Jiang et al., arXiv
 * 2208.03409): written by stage 1 (Algorithm 1), read and updated one at a
 * time by stage 2 (Algorithm 2), where each θ_k also carries its own
 * optimiser state.
 *
 * Why disk: at K = 2500 the default encoders alone are 2500 × 542 480 float32
 * ≈ 5.4 GB, and with Adam moments ≈ 16 GB — more than the 8 GB a user's
 * machine may have. Each encoder is one file (`enc-<k>.v<version>.bin`:
 * 32-byte header, parameters, then Adam m and v when present), so memory holds
 * only the current stage-1 group plus a bounded LRU cache (`cacheBytes`).
 *
 * Crash safety, with checkpoints that refer to files rather than copy 16 GB:
 * a checkpoint records the version of every encoder (`prepareSnapshot`, which
 * flushes and fsyncs them). Those files are never overwritten: the next
 * update of encoder k after a snapshot goes to a new version; the superseded
 * file is deleted only once the next checkpoint is durable
 * (`commitSnapshot`). Resuming (`restore`) deletes every file the checkpoint
 * does not name. Files are written to a temporary name and renamed.
 *
 * Privacy: encoders and their optimiser state touched private data without
 * noise; the folder is a private artifact (never exported or released).
 * float32 is kept (no float16) so checkpoints and resumes are bit-exact and
 * Adam's second moments keep their range.
 */
import { open, readdir, readFile, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../contract/errors';
import { renamePath, syncFile, writeAll, writeFailure } from '../io/whole-file';
import { parameterCount, type Architecture } from './architecture';

/** One encoder with its optimiser state (moments null when not yet trained in stage 2 or for SGD). */
export interface EncoderState {
  params: Float32Array;
  m: Float32Array | null;
  v: Float32Array | null;
  /** Optimiser updates applied in stage 2. */
  t: number;
}

const MAGIC = 0x434e4532; // "2ENC" little-endian
const FORMAT = 1;
const HEADER_BYTES = 32;
const NAME_RE = /^enc-(\d{6})\.v(\d+)\.bin$/;

function fileName(k: number, version: number): string {
  return `enc-${String(k).padStart(6, '0')}.v${version}.bin`;
}

function stateBytes(s: EncoderState): number {
  return s.params.byteLength + (s.m?.byteLength ?? 0) + (s.v?.byteLength ?? 0);
}

export interface EncoderStoreOptions {
  /** Bytes of encoder state kept in memory (LRU); default 256 MiB. */
  cacheBytes?: number;
}

export class EncoderStore {
  readonly dir: string;
  readonly blocks: number;
  readonly paramCount: number;
  private readonly current: Int32Array;
  private pinned: Int32Array;
  private pending: Int32Array | null = null;
  private readonly cache = new Map<number, { state: EncoderState; dirty: boolean }>();
  private cached = 0;
  private readonly cacheBytes: number;
  private readonly unsynced = new Set<number>();

  private constructor(dir: string, blocks: number, paramCount: number, cacheBytes: number) {
    this.dir = dir;
    this.blocks = blocks;
    this.paramCount = paramCount;
    this.current = new Int32Array(blocks).fill(-1);
    this.pinned = new Int32Array(blocks).fill(-1);
    this.cacheBytes = cacheBytes;
  }

  /**
   * Opens (creating if needed) the store in `dir` for K = `blocks` encoders of
   * `arch`. Existing files are indexed; leftover temporary files are removed.
   */
  static async open(
    dir: string,
    arch: Architecture,
    blocks: number,
    options: EncoderStoreOptions = {},
  ): Promise<EncoderStore> {
    if (!Number.isInteger(blocks) || blocks < 1)
      throw new RangeError(`Invalid number of blocks ${blocks}.`);
    await mkdir(dir, { recursive: true });
    const store = new EncoderStore(
      dir,
      blocks,
      parameterCount(arch, 'encoder'),
      options.cacheBytes ?? 256 << 20,
    );
    for (const name of await readdir(dir)) {
      if (name.endsWith('.tmp')) {
        await rm(join(dir, name), { force: true });
        continue;
      }
      const m = NAME_RE.exec(name);
      if (!m) continue;
      const k = Number(m[1]);
      const v = Number(m[2]);
      if (k >= blocks) continue;
      // The oldest version present is the one a checkpoint may still name.
      if (store.current[k] === -1 || v < (store.current[k] as number)) {
        store.current[k] = v;
        store.pinned[k] = v;
      }
    }
    return store;
  }

  /** Whether encoder k exists (trained by stage 1). */
  has(k: number): boolean {
    return (this.current[k] ?? -1) >= 0;
  }

  /** Blocks whose encoder does not exist yet. */
  missingBlocks(): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.blocks; k++) if (!this.has(k)) out.push(k);
    return out;
  }

  /** Copy of the current version of every encoder. */
  versions(): Uint32Array {
    return Uint32Array.from(this.current, (v) => Math.max(v, 0));
  }

  private path(k: number, version: number): string {
    return join(this.dir, fileName(k, version));
  }

  private encode(k: number, version: number, s: EncoderState): Uint8Array {
    const p = this.paramCount;
    const moments = s.m !== null && s.v !== null;
    const buf = new Uint8Array(HEADER_BYTES + 4 * p * (moments ? 3 : 1));
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, FORMAT, true);
    dv.setUint32(8, k, true);
    dv.setUint32(12, version, true);
    dv.setUint32(16, p, true);
    dv.setUint32(20, s.t, true);
    dv.setUint32(24, moments ? 1 : 0, true);
    const body = new Float32Array(buf.buffer, HEADER_BYTES);
    body.set(s.params, 0);
    if (moments) {
      body.set(s.m as Float32Array, p);
      body.set(s.v as Float32Array, 2 * p);
    }
    return buf;
  }

  private decode(k: number, version: number, bytes: Buffer): EncoderState {
    const p = this.paramCount;
    const bad = (why: string): never => {
      throw new UserError(
        'CORRUPT_DATA',
        `The saved encoder ${k} (${fileName(k, version)} in ${this.dir}) is damaged: ${why}. Start the run again from stage 1.`,
      );
    };
    if (bytes.byteLength < HEADER_BYTES) bad('the file is too short');
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== FORMAT) bad('unknown format');
    if (dv.getUint32(8, true) !== k || dv.getUint32(12, true) !== version)
      bad('it belongs to another encoder');
    if (dv.getUint32(16, true) !== p) bad('it was made for another model');
    const moments = dv.getUint32(24, true) === 1;
    if (bytes.byteLength !== HEADER_BYTES + 4 * p * (moments ? 3 : 1)) bad('wrong size');
    // Copy into aligned, owned arrays.
    const all = new Float32Array(bytes.byteLength / 4 - HEADER_BYTES / 4);
    new Uint8Array(all.buffer).set(bytes.subarray(HEADER_BYTES));
    return {
      params: all.subarray(0, p),
      m: moments ? all.subarray(p, 2 * p) : null,
      v: moments ? all.subarray(2 * p, 3 * p) : null,
      t: dv.getUint32(20, true),
    };
  }

  private async writeFile(path: string, bytes: Uint8Array, sync: boolean): Promise<void> {
    const tmp = `${path}.tmp`;
    try {
      const fh = await open(tmp, 'w');
      try {
        await writeAll(fh, bytes, tmp);
        if (sync) await syncFile(fh, tmp);
      } finally {
        await fh.close();
      }
      await renamePath(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw writeFailure(err, 'the encoders of this run', path);
    }
  }

  private async syncDir(): Promise<void> {
    try {
      const fh = await open(this.dir, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch {
      // Directories cannot be fsynced on some platforms (Windows); rename is still atomic there.
    }
  }

  /**
   * Stage 1: stores the trained encoder k as version 0 (no optimiser state),
   * durably (fsync), replacing any earlier version.
   */
  async writeTrained(k: number, params: Float32Array): Promise<void> {
    if (params.length !== this.paramCount)
      throw new RangeError('Encoder size does not match the model.');
    await this.writeFile(
      this.path(k, 0),
      this.encode(k, 0, { params, m: null, v: null, t: 0 }),
      true,
    );
    for (const stale of await this.fileVersions(k))
      if (stale !== 0) await rm(this.path(k, stale), { force: true });
    this.current[k] = 0;
    this.pinned[k] = 0;
    this.dropCached(k);
  }

  /** Makes sure stage 1's fsynced files are recorded in the directory itself. */
  async syncDirectory(): Promise<void> {
    await this.syncDir();
  }

  private async fileVersions(k: number): Promise<number[]> {
    const prefix = `enc-${String(k).padStart(6, '0')}.v`;
    const out: number[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith(prefix)) continue;
      const m = NAME_RE.exec(name);
      if (m) out.push(Number(m[2]));
    }
    return out;
  }

  private dropCached(k: number): void {
    const e = this.cache.get(k);
    if (e) {
      this.cached -= stateBytes(e.state);
      this.cache.delete(k);
    }
  }

  /** Encoder k with its optimiser state (from the cache or its file). */
  async load(k: number): Promise<EncoderState> {
    const hit = this.cache.get(k);
    if (hit) {
      this.cache.delete(k);
      this.cache.set(k, hit); // most recently used
      return hit.state;
    }
    const version = this.current[k] ?? -1;
    if (version < 0) {
      throw new UserError(
        'NOT_FOUND',
        `Encoder ${k} has not been trained yet (stage 1 is incomplete).`,
      );
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path(k, version));
    } catch {
      throw new UserError(
        'CORRUPT_DATA',
        `The saved encoder ${k} is missing from ${this.dir}. Start the run again from stage 1.`,
      );
    }
    const state = this.decode(k, version, bytes);
    await this.remember(k, state, false);
    return state;
  }

  /** Records a new state of encoder k (kept in memory; written on eviction or snapshot). */
  async save(k: number, state: EncoderState): Promise<void> {
    if (state.params.length !== this.paramCount)
      throw new RangeError('Encoder size does not match the model.');
    if (!this.has(k)) throw new RangeError(`Encoder ${k} does not exist.`);
    this.dropCached(k);
    await this.remember(k, state, true);
  }

  private async remember(k: number, state: EncoderState, dirty: boolean): Promise<void> {
    this.cache.set(k, { state, dirty });
    this.cached += stateBytes(state);
    for (const [key, entry] of this.cache) {
      if (this.cached <= this.cacheBytes || key === k) break;
      if (entry.dirty) await this.flush(key, entry.state);
      this.dropCached(key);
    }
  }

  private isProtected(k: number, version: number): boolean {
    return this.pinned[k] === version || (this.pending !== null && this.pending[k] === version);
  }

  /** Writes encoder k's state to a file no checkpoint refers to (without fsync). */
  private async flush(k: number, state: EncoderState): Promise<void> {
    const cur = this.current[k] as number;
    let version = cur;
    if (this.isProtected(k, cur)) {
      version = Math.max(cur, this.pinned[k] as number, (this.pending?.[k] ?? 0) as number) + 1;
    }
    await this.writeFile(this.path(k, version), this.encode(k, version, state), false);
    if (version !== cur && !this.isProtected(k, cur)) await rm(this.path(k, cur), { force: true });
    this.current[k] = version;
    this.unsynced.add(k);
  }

  /**
   * Checkpoint, phase 1: writes every modified encoder, fsyncs the files and the
   * folder, and returns the versions the checkpoint must record. Until
   * {@link commitSnapshot}, these files are protected too.
   */
  async prepareSnapshot(): Promise<Uint32Array> {
    for (const [k, entry] of this.cache) {
      if (entry.dirty) {
        await this.flush(k, entry.state);
        entry.dirty = false;
      }
    }
    for (const k of this.unsynced) {
      const path = this.path(k, this.current[k] as number);
      const fh = await open(path, 'r+');
      try {
        await syncFile(fh, path).catch((err: unknown) => {
          throw writeFailure(err, 'the encoders of this run', path);
        });
      } finally {
        await fh.close();
      }
    }
    this.unsynced.clear();
    await this.syncDir();
    this.pending = Int32Array.from(this.current);
    return this.versions();
  }

  /**
   * Checkpoint, phase 2 (after the checkpoint naming `versions` is durable):
   * those versions become the protected ones; files only the previous
   * checkpoint referred to are deleted.
   */
  async commitSnapshot(versions: Uint32Array): Promise<void> {
    if (versions.length !== this.blocks)
      throw new RangeError('Snapshot size does not match the store.');
    const old = this.pinned;
    this.pinned = Int32Array.from(versions);
    this.pending = null;
    for (let k = 0; k < this.blocks; k++) {
      const v = old[k] as number;
      if (v >= 0 && v !== this.pinned[k] && v !== this.current[k])
        await rm(this.path(k, v), { force: true });
    }
  }

  /**
   * Resume: makes `versions` (from the checkpoint being resumed) current and
   * protected, and deletes every other encoder file (updates made after that
   * checkpoint). Fails in plain words when a named file is missing.
   */
  async restore(versions: Uint32Array): Promise<void> {
    if (versions.length !== this.blocks) {
      throw new UserError(
        'CORRUPT_DATA',
        `The checkpoint names ${versions.length} encoders but the run has ${this.blocks} blocks.`,
      );
    }
    this.cache.clear();
    this.cached = 0;
    this.unsynced.clear();
    this.pending = null;
    const wanted = new Set<string>();
    for (let k = 0; k < this.blocks; k++) wanted.add(fileName(k, versions[k] as number));
    const present = new Set(await readdir(this.dir));
    for (const name of wanted) {
      if (!present.has(name)) {
        throw new UserError(
          'CORRUPT_DATA',
          `The encoder file ${name} named by the checkpoint is missing from ${this.dir}; this checkpoint cannot be resumed.`,
        );
      }
    }
    for (const name of present) {
      const m = NAME_RE.exec(name);
      if (m && Number(m[1]) < this.blocks && !wanted.has(name))
        await rm(join(this.dir, name), { force: true });
    }
    for (let k = 0; k < this.blocks; k++) {
      this.current[k] = versions[k] as number;
      this.pinned[k] = versions[k] as number;
    }
  }
}
