// The harness's stand-in for src-main/app/preload.ts: the same client, with a
// Playwright binding as the transport instead of ipcRenderer.
import { createClient } from '../../src-main/contract/client';

declare global {
  interface Window {
    __dp2Invoke(channel: string, request: unknown): Promise<unknown>;
  }
}

const invoke = window.__dp2Invoke.bind(window);
Object.defineProperty(window, 'dp2', {
  value: createClient((channel, request) => invoke(channel, request)),
  writable: false,
  configurable: false,
});
