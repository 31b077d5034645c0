/**
 * Starts a worker thread whose entry is a module of ours, wherever the code
 * runs: from the TypeScript sources under tsx (`npx dp2`, tests, benches),
 * or from the app's bundle (electron.vite.config.ts puts each worker entry at
 * out/main/<name>.js). Worker threads, not processes: the packaged app
 * cannot fork `node` (the RunAsNode fuse is off).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** Options of {@link startModuleWorker}. */
export interface ModuleWorkerOptions {
  /** `import.meta.url` of the module that starts the worker (beside the worker's source). */
  here: string;
  /** The worker's file name without extension, e.g. `eval-worker` (its rollup input name too). */
  name: string;
  /** Given to the worker as `workerData` (structured clone; shared memory stays shared). */
  workerData?: unknown;
}

/**
 * A worker thread running `<name>.ts` beside `here` (sources under tsx) or
 * the bundled `<name>.js` (the app). Its start-up errors arrive as the
 * worker's 'error' or 'exit' events, as with any Worker.
 */
export function startModuleWorker({ here, name, workerData }: ModuleWorkerOptions): Worker {
  if (here.endsWith('.ts')) {
    // A worker does not inherit the parent's tsx loader: register it there first.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL(`./${name}.ts`, here).href;
    const boot =
      `import(${JSON.stringify(tsx)})` +
      `.then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(boot, { eval: true, workerData });
  }
  // The app's bundle: out/main/<name>.js, beside the calling module or one folder
  // up (shared code lands in out/main/chunks/).
  const entry =
    [new URL(`./${name}.js`, here), new URL(`../${name}.js`, here)].find((u) =>
      existsSync(fileURLToPath(u)),
    ) ?? new URL(`./${name}.js`, here);
  return new Worker(entry, { workerData });
}
