#!/usr/bin/env node
// `npm run bench [name…]`: runs bench/<name>.ts (all by default); each prints its figures.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const names = process.argv.slice(2);
const files = (
  names.length ? names.map((n) => `${n}.ts`) : readdirSync('bench').filter((f) => f.endsWith('.ts'))
)
  .sort()
  .map((f) => `bench/${f}`);
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
