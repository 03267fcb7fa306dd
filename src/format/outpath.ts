// Where writers put files (Node only). Every writer (.sqz, GGUF, small text files, the quantize
// work folder) goes through here, so a user's output path is checked one way, temporaries are named
// one way, and what a killed process left behind is found one way:
//   - checkOutputFile: the parent folder must exist and the path must not be a folder (a UsageError
//     naming it, before any work starts), and stale temporaries of dead processes beside it are swept;
//   - tempPath / tempDirPrefix: `<out>.<pid>.tmp`, `<out>.<pid>.body.tmp`, `.sqz-<tag>-<pid>-XXXXXX/`;
//   - trackTemp: temporaries of this process, removed by removeTrackedTemps() (the CLI calls it on
//     Ctrl-C and SIGTERM before exiting).
// docs/RELIABILITY.md states what a killed write leaves.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../util/errors.ts';

/** A temporary file beside `path` owned by this process: `<path>.<pid>.<tag>` (tag 'tmp' or 'body.tmp'). */
export function tempPath(path: string, tag: 'tmp' | 'body.tmp' = 'tmp'): string {
  return `${path}.${process.pid}.${tag}`;
}

/** The mkdtemp prefix of a hidden work folder of this process in `dir`: `.sqz-<tag>-<pid>-`. */
export function tempDirPrefix(dir: string, tag: string): string {
  return join(dir, `.sqz-${tag}-${process.pid}-`);
}

const STALE_FILE = /^.+\.(\d+)\.(?:body\.)?tmp$/;
const STALE_DIR = /^\.sqz-[a-z]+-(\d+)-[A-Za-z0-9]{6}$/;

/** Whether a process with this id is running (EPERM: it is, under another user). */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporaries in `dir` that a process no longer running left behind (a killed or
 * crashed write): files `<name>.<pid>.tmp` / `<name>.<pid>.body.tmp` and folders
 * `.sqz-<tag>-<pid>-XXXXXX`. Returns the names removed. Errors (a folder we cannot list) are ignored:
 * sweeping is housekeeping, never a reason to fail a write.
 */
export function sweepStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = STALE_FILE.exec(name) ?? STALE_DIR.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // another process may be sweeping the same folder
    }
  }
  return removed;
}

/**
 * Checks that `path` can be written as a file: its folder exists and it is not itself a folder.
 * Throws a UsageError naming the path (one line for the CLI). Sweeps the folder's stale temporaries.
 */
export function checkOutputFile(path: string): void {
  if (typeof path !== 'string' || path === '') throw new UsageError('the output file name is empty');
  const full = resolve(path);
  if (/[\\/]$/.test(path) || isDir(full)) {
    throw new UsageError(`output ${path} is a folder; give a file name inside it`);
  }
  checkOutputFolder(dirname(full), path);
  sweepStaleTemps(dirname(full));
}

/** The folder a file (or a folder made with a single mkdir) goes into must exist. */
export function checkOutputFolder(dir: string, forPath = dir): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new UsageError(`cannot write ${forPath}: the folder ${dir} does not exist (create it first)`);
  }
  if (!st.isDirectory()) throw new UsageError(`cannot write ${forPath}: ${dir} is not a folder`);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const tracked = new Set<string>();

/** Registers a temporary of this process, to be removed if the process is interrupted. */
export function trackTemp(path: string): void {
  tracked.add(path);
}

export function untrackTemp(path: string): void {
  tracked.delete(path);
}

/** Removes every tracked temporary now (synchronously: this runs just before the process exits). */
export function removeTrackedTemps(): void {
  for (const p of tracked) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort: the next write to the folder sweeps what is left
    }
  }
  tracked.clear();
}
