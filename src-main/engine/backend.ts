/**
 * Choice of the TensorFlow.js backend that trains the models.
 *
 * Order (first that loads wins): native TensorFlow with CUDA
 * (`@tensorflow/tfjs-node-gpu`), native TensorFlow on the CPU
 * (`@tensorflow/tfjs-node`), WebAssembly with XNNPACK
 * (`@tensorflow/tfjs-backend-wasm`), pure JavaScript ('cpu'). Measured on the
 * development machine for the default model (bench/train.ts, 2 shared cores):
 * WebAssembly runs stage 1 ≈ 15–19× and stage 2 ≈ 4–7× faster than 'cpu'
 * (with our BatchMatMul kernel; tfjs's own is ≈ 25× slower on batched or
 * transposed products). The native packages are optional dependencies that
 * need a download at install time, so they are tried first but may be absent.
 *
 * `DP2_BACKEND=cpu|wasm|tensorflow|tensorflow-gpu` forces one backend (for
 * tests and benches); if it cannot load, selection fails with a plain reason.
 * Kernels missing from the chosen backend are registered here (wasm-kernels.ts)
 * so every model trains on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../contract/errors';
import { registerWasmKernels } from './wasm-kernels';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_NAMES: readonly BackendName[] = [
  'tensorflow-gpu',
  'tensorflow',
  'wasm',
  'cpu',
];

/** The default order, fastest first. */
export const DEFAULT_BACKEND_ORDER: readonly BackendName[] = BACKEND_NAMES;

export interface BackendAttempt {
  name: BackendName;
  /** One line: why this backend was not used. */
  reason: string;
}

export interface BackendSelection {
  name: BackendName;
  /** Backends tried before the chosen one, each with the reason it was passed over. */
  tried: BackendAttempt[];
}

export interface SelectBackendOptions {
  /** Backend(s) to try first; the rest of the default order follows. */
  prefer?: BackendName | readonly BackendName[];
  /** Environment to read DP2_BACKEND from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n')[0] ?? '').slice(0, 200);
}

/** Imports a module by a name TypeScript does not resolve (optional dependency). */
async function importOptional(specifier: string): Promise<unknown> {
  try {
    return await import(/* @vite-ignore */ specifier);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`${specifier} is not installed (an optional package)`, { cause: err });
    }
    throw err;
  }
}

async function activate(name: string): Promise<void> {
  if (!tf.findBackendFactory(name)) {
    throw new Error(`backend '${name}' is not registered with this copy of TensorFlow.js`);
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend '${name}' failed to initialise`);
  await tf.ready();
}

/** Folder holding the .wasm binaries of tfjs-backend-wasm (so nothing is fetched). */
export function wasmBinaryFolder(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

async function tryLoad(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow-gpu':
      await importOptional('@tensorflow/tfjs-node-gpu');
      await activate('tensorflow');
      return;
    case 'tensorflow':
      await importOptional('@tensorflow/tfjs-node');
      await activate('tensorflow');
      return;
    case 'wasm':
      setWasmPaths(wasmBinaryFolder());
      await activate('wasm');
      registerWasmKernels();
      return;
    case 'cpu':
      await activate('cpu');
      return;
  }
}

function parseForced(env: NodeJS.ProcessEnv): BackendName | undefined {
  const raw = env.DP2_BACKEND?.trim();
  if (!raw) return undefined;
  if (!(BACKEND_NAMES as readonly string[]).includes(raw)) {
    throw new UserError(
      'INVALID_INPUT',
      `DP2_BACKEND is "${raw}"; it must be one of ${BACKEND_NAMES.join(', ')} (or unset).`,
    );
  }
  return raw as BackendName;
}

let current: BackendSelection | undefined;

/** The selection made by the last successful {@link selectBackend}, if any. */
export function currentBackend(): BackendSelection | undefined {
  return current;
}

/**
 * Loads the fastest backend that works here and makes it tfjs's active one.
 * Each backend passed over is listed with a one-line reason.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  const forced = parseForced(options.env ?? process.env);
  const preferred =
    options.prefer === undefined ? [] : ([] as BackendName[]).concat(options.prefer);
  const order: BackendName[] = forced
    ? [forced]
    : [...preferred, ...DEFAULT_BACKEND_ORDER.filter((b) => !preferred.includes(b))];
  const tried: BackendAttempt[] = [];
  for (const name of order) {
    try {
      await tryLoad(name);
      current = { name, tried };
      return current;
    } catch (err) {
      tried.push({ name, reason: oneLine(err) });
    }
  }
  const why = tried.map((t) => `${t.name}: ${t.reason}`).join('; ');
  throw new UserError(
    'UNSUPPORTED',
    forced
      ? `DP2_BACKEND asks for the ${forced} backend, which cannot load here (${why}).`
      : `No TensorFlow.js backend could load on this machine (${why}).`,
  );
}
