#!/usr/bin/env node
// `dp2`: the command line over the same services as the desktop app. It runs
// the TypeScript sources through tsx, so it works right after `npm install`.
import { register } from 'tsx/esm/api';

register();
await import('../src-main/cli/index.ts');
