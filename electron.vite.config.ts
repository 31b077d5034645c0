import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { Plugin } from 'vite';
import { CONTENT_SECURITY_POLICY } from './src-main/app/csp';

/** Puts the app's CSP into index.html too (minus frame-ancestors, which a meta tag cannot carry). */
function cspMeta(): Plugin {
  const policy = CONTENT_SECURITY_POLICY.split('; ')
    .filter((d) => !d.startsWith('frame-ancestors'))
    .join('; ');
  return {
    name: 'dp2-csp-meta',
    apply: 'build',
    transformIndexHtml: (html) =>
      html.replace(
        '<head>',
        `<head>\n    <meta http-equiv="Content-Security-Policy" content="${policy}" />`,
      ),
  };
}

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      // native and optional modules (better-sqlite3, tfjs-node) stay external
      externalizeDeps: true,
      rollupOptions: {
        input: {
          index: resolve(import.meta.dirname, 'src-main/app/main.ts'),
          // the training worker, run in a utility process
          worker: resolve(import.meta.dirname, 'src-main/jobs/worker.ts'),
          // heavy requests (evaluation) answered away from the window's process
          'offload-worker': resolve(import.meta.dirname, 'src-main/services/offload-worker.ts'),
          // the evaluation's worker threads (src-main/eval/parallel.ts), started by the above
          'eval-worker': resolve(import.meta.dirname, 'src-main/eval/eval-worker.ts'),
          // data-parallel DP-SGD's worker threads (src-main/engine/dpsgd-threads.ts)
          'dpsgd-worker': resolve(import.meta.dirname, 'src-main/engine/dpsgd-worker.ts'),
          // stage 1 of DP²-VAE on every core (src-main/engine/stage1-threads.ts)
          'stage1-worker': resolve(import.meta.dirname, 'src-main/engine/stage1-worker.ts'),
          // the prior's feature worker threads (src-main/priors/features-parallel.ts)
          'features-worker': resolve(import.meta.dirname, 'src-main/priors/features-worker.ts'),
          // the import's decode worker threads (src-main/data/decode-pool.ts)
          'decode-worker': resolve(import.meta.dirname, 'src-main/data/decode-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      // sandboxed preloads cannot require npm modules: bundle zod and the contract in
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'src-main/app/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src-renderer'),
    plugins: [svelte({ configFile: resolve(import.meta.dirname, 'svelte.config.js') }), cspMeta()],
    build: {
      outDir: resolve(import.meta.dirname, 'out/renderer'),
      rollupOptions: { input: resolve(import.meta.dirname, 'src-renderer/index.html') },
    },
  },
});
