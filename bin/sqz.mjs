#!/usr/bin/env node
// The `sqz` command: runs the CLI bundle that `npm install` (prepare) or `npm run build` makes.
import { existsSync } from 'node:fs';
const bundle = new URL('../build/sqz.mjs', import.meta.url);
if (!existsSync(bundle)) {
  console.error('sqz: build/sqz.mjs is missing; run `npm run build` in the squeeze-edge folder first');
  process.exit(1);
}
await import(bundle.href);
