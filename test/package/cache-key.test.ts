// The build-time cache key (tools/plugin/prepare.ts): the bytes of every input count, for a
// checkpoint folder each file's name too, and the options that decide the output; a file's time,
// the paths themselves and threads do not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareHash, type PrepareOptions } from '../../tools/plugin/prepare.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqz-cache-key-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

const FILES = { 'config.json': '{"dim":64}', 'model.safetensors': 'weights', 'sub/tokenizer.json': '{}' };

test('a checkpoint folder: same bytes under another path hit; a changed byte, a renamed or an extra file miss; times do not count', async () => {
  const a = folder('a', FILES);
  const base: PrepareOptions = { checkpoint: a, bits: 4 };
  const key = await prepareHash(base);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.is(await prepareHash({ ...base, checkpoint: folder('copy', FILES) }), key, 'same bytes elsewhere');
  utimesSync(join(a, 'model.safetensors'), new Date(0), new Date(0));
  assert.is(await prepareHash(base), key, 'a touched file');

  const changed = folder('changed', { ...FILES, 'model.safetensors': 'weighTs' });
  assert.is.not(await prepareHash({ ...base, checkpoint: changed }), key, 'one byte');
  const extra = folder('extra', { ...FILES, 'notes.txt': '' });
  assert.is.not(await prepareHash({ ...base, checkpoint: extra }), key, 'an extra (empty) file');
  const renamed = folder('renamed', FILES);
  renameSync(join(renamed, 'sub', 'tokenizer.json'), join(renamed, 'sub', 'tokenizer2.json'));
  assert.is.not(await prepareHash({ ...base, checkpoint: renamed }), key, 'a renamed file');
  // content moved from one file to the next must not collide: names and sizes frame each file
  const shifted = folder('shifted', { ...FILES, 'config.json': '{"dim":64}w', 'model.safetensors': 'eights' });
  assert.is.not(await prepareHash({ ...base, checkpoint: shifted }), key, 'bytes shifted between files');
});

test('options and calibration bytes count; threads, callbacks, cacheDir and output do not', async () => {
  const ckpt = join(tmp, 'm.bin');
  writeFileSync(ckpt, 'model');
  const calib = join(tmp, 'calib.txt');
  writeFileSync(calib, 'once upon a time');
  const base: PrepareOptions = { checkpoint: ckpt, bits: 4, calib };
  const key = await prepareHash(base);
  for (const other of [{ bits: 3 as const }, { seed: 1 }, { sensitivity: 0.05 }, { samples: 10 }, { lutType: 'f32' as const }, { calib: undefined }]) {
    assert.is.not(await prepareHash({ ...base, ...other }), key, JSON.stringify(other));
  }
  const same = { threads: 4, cacheDir: join(tmp, 'c'), output: join(tmp, 'o.sqz'), onProgress: () => {} };
  assert.is(await prepareHash({ ...base, ...same }), key);
  const calib2 = join(tmp, 'calib2.txt');
  writeFileSync(calib2, 'once upon a time');
  assert.is(await prepareHash({ ...base, calib: calib2 }), key, 'the same calibration bytes elsewhere');
  writeFileSync(calib2, 'once upon a tima');
  assert.is.not(await prepareHash({ ...base, calib: calib2 }), key, 'other calibration bytes');
});

test.run();
