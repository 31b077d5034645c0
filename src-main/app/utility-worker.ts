import { utilityProcess } from 'electron';
import { join } from 'node:path';
import type { WorkerChannel, WorkerLauncher } from '../jobs/runner';
import type { OffloadChannel, OffloadLauncher } from '../services/offload';

/**
 * Starts training workers as Electron utility processes (DESIGN.md's process
 * model): the bundled `out/main/worker.js`, speaking the same messages as
 * under `child_process.fork` through `process.parentPort`.
 */
export function utilityWorkerLauncher(env: NodeJS.ProcessEnv): WorkerLauncher {
  return (): WorkerChannel => {
    const child = utilityProcess.fork(join(import.meta.dirname, 'worker.js'), [], {
      serviceName: 'DP² Studio training',
      stdio: 'inherit',
      env,
    });
    return {
      get pid() {
        return child.pid;
      },
      send: (message) => child.postMessage(message),
      onMessage: (handler) => void child.on('message', handler),
      onExit: (handler) => void child.once('exit', (code) => handler(code, null)),
      kill: () => void child.kill(),
    };
  };
}

/** Helper processes for heavy requests (evaluation): the bundled `out/main/offload-worker.js`. */
export function utilityOffloadLauncher(env: NodeJS.ProcessEnv): OffloadLauncher {
  return (): OffloadChannel => {
    const child = utilityProcess.fork(join(import.meta.dirname, 'offload-worker.js'), [], {
      serviceName: 'DP² Studio evaluation',
      stdio: 'inherit',
      env,
    });
    return {
      send: (message) => child.postMessage(message),
      onMessage: (handler) => void child.on('message', handler),
      onExit: (handler) => void child.once('exit', (code) => handler(code)),
      kill: () => void child.kill(),
    };
  };
}
