// Where a worker-thread entry lives. Workers always run a built bundle from build/ (scripts/build.mjs),
// so they are plain JavaScript whether the caller runs from the CLI bundle (build/sqz.mjs, whose
// sibling it is) or from sources under tsx (src/util/ -> ../../build/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SqzError } from './errors.ts';

export function workerEntry(file: string): URL {
  for (const rel of [`./${file}`, `../../build/${file}`]) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  throw new SqzError(`worker bundle ${file} is missing; run \`npm run build\` in the squeeze-edge folder`);
}
