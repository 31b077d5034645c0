// Runs sandboxed with context isolation: it may only use `electron`'s
// renderer modules, so it is bundled (with the contract and zod) as CommonJS.
import { contextBridge, ipcRenderer } from 'electron';
import { createClient } from '../contract/client';

// Only the payload crosses: the renderer never sees ipcRenderer or the event.
contextBridge.exposeInMainWorld(
  'dp2',
  createClient((channel, request) => ipcRenderer.invoke(channel, request)),
);
