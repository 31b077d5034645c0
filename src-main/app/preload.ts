// Runs sandboxed with context isolation: it may only use `electron`'s
// renderer modules, so it is bundled (with the contract and zod) as CommonJS.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { createClient } from '../contract/client';

// Only the payload crosses: the renderer never sees ipcRenderer or the event.
contextBridge.exposeInMainWorld(
  'dp2',
  createClient((channel, request) => ipcRenderer.invoke(channel, request)),
);

// Where a dropped file or folder lives: Electron no longer puts it on File.path.
contextBridge.exposeInMainWorld('dp2Files', {
  pathOf: (file: File): string => webUtils.getPathForFile(file),
});
