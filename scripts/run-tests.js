#!/usr/bin/env node
// Runs every test file under the given test/ sub-folders (default: all) in ONE
// node:test invocation, so the run ends with a single "pass N / fail N" summary.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const folders = process.argv.slice(2);
const roots = (folders.length ? folders : ['unit', 'integration', 'e2e']).map((f) =>
  join('test', f),
);

/** @param {string} dir @returns {string[]} */
function collect(dir) {
  let entries;
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = roots.flatMap(collect);
if (files.length === 0) {
  console.error(`No test files found under ${roots.join(', ')}.`);
  process.exit(1);
}
// Two files at a time at least: node's default (one fewer than the cores) runs one at a
// time on 2 cores, where many tests wait on child processes, Chromium or the disk
// (measured on 2 cores: 619 s against 860–940 s one at a time).
const concurrency = Math.max(2, availableParallelism() - 1);
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${concurrency}`,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, DP2_TEST: '1' } },
);
process.exit(result.status ?? 1);
