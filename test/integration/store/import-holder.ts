/**
 * Child process of the import clean-up test: an import caught half-way.
 * Claims a data set folder, writes private bytes into its staging folder and,
 * for "renamed", renames it into place (the row is never written). Prints
 * "ready <id>" and then waits until it is killed.
 * Usage: node --import tsx import-holder.ts DATA_HOME staging|renamed
 */
import { writeSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openStore } from '../../../src-main/store';
import { claimImport } from '../../../src-main/services/import-staging';

const [home, stage] = process.argv.slice(2);
if (!home || (stage !== 'staging' && stage !== 'renamed'))
  throw new Error('usage: import-holder DATA_HOME staging|renamed');

const store = openStore({ path: join(home, 'dp2.sqlite') });
const folders = await claimImport(home, store.owner);
await mkdir(folders.staging);
await writeFile(join(folders.staging, 'train_x.npy'), 'private pixels');
if (stage === 'renamed') await rename(folders.staging, folders.final);
writeSync(1, `ready ${folders.id}\n`);
setInterval(() => undefined, 60_000);
