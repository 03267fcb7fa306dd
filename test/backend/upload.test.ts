// What loading leaves behind in the wasm backend: every kind of weight places only the blocks its
// products and embedding rows read (no upload scratch), the weight keeps none of the record's arrays
// (JS memory is freed once the record is dropped), f16 matrices stay f16, and embedding rows read
// from WASM memory equal the reference backend's for every kind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsBackend } from '../../src/backend/js/index.ts';
import { WasmBackend } from '../../src/backend/wasm/index.ts';
import { SLACK } from '../../src/backend/wasm/heap.ts';
import { dequantize, type TensorRecord } from '../../src/format/kinds.ts';
import { Model } from '../../src/model/model.ts';
import { Rng } from '../../src/util/random.ts';
import { rtnQuantize } from '../../tools/baselines/rtn.ts';
import { denseRecord } from '../../tools/convert.ts';
import { syntheticModel } from '../../tools/synthetic.ts';
import { nuqModelRecords, randomNuq } from './_nuq.ts';

const [rows, cols] = [70, 100];

function records(rng: Rng): [string, TensorRecord][] {
  const w = rng.normals(rows * cols, 0.1);
  return [
    ['f32', denseRecord('w', [rows, cols], w, 'f32')],
    ['f16', denseRecord('w', [rows, cols], w, 'f16')],
    // about half of the halves subnormal: placed lifted by 2^shift (layout.ts liftHalves), read back exactly
    ['f16, subnormals', denseRecord('w', [rows, cols], w.map((v) => v * 2 ** -10), 'f16')],
    ['nuq 4-bit + sparse, row split', randomNuq(rng, 'w', rows, cols, { bits: 4, sparse: 0.05, splitParts: 2 })],
    ['nuq 3-bit', randomNuq(rng, 'w', rows, cols, { bits: 3 })],
    ['uniform 4-bit g32', rtnQuantize('w', w, rows, cols, { bits: 4, groupSize: 32 })],
  ];
}

/** Every typed array a record holds, except its row split (which the weight keeps: threads + 1 numbers). */
function recordArrays(rec: TensorRecord): ArrayBufferView[] {
  const out: ArrayBufferView[] = [];
  const walk = (v: unknown, key: string) => {
    if (key === 'rowSplit') return;
    if (ArrayBuffer.isView(v)) out.push(v);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(rec, '');
  return out;
}

/** Whether `root` reaches any of the buffers (own enumerable properties, recursively). */
function reaches(root: unknown, buffers: Set<ArrayBufferLike>): boolean {
  if (ArrayBuffer.isView(root)) return buffers.has(root.buffer);
  if (root && typeof root === 'object') return Object.values(root).some((v) => reaches(v, buffers));
  return false;
}

for (const fast of [false, true]) {
  test(`upload${fast ? ' (fast)' : ''} places only what the weight reads and keeps none of the record's arrays`, async () => {
    const b = await WasmBackend.create({ fast });
    for (const [what, rec] of records(new Rng(5))) {
      const before = b.heap.used;
      const w = b.upload(rec);
      // the blocks a weight reads: f16 halves (not widened), f32 values, LUT byte planes (64 bytes a
      // row) and indices and the sparse arrays (and with fast, the 7-bit table and the row step and offset), uniform
      // scales, zeros and values; each block rounded to 16 bytes and followed by the read slack
      const arrays = recordArrays(rec);
      let bytes = arrays.reduce((s, a) => s + a.byteLength, 0);
      if (rec.kind === 'nuq') bytes += rows * 64 - rec.lut.byteLength + (fast ? rows * 24 : 0);
      assert.ok(b.heap.used - before <= bytes + (arrays.length + (fast ? 2 : 0)) * (SLACK + 16), `${what}: placed ${b.heap.used - before} bytes for ${bytes}`);
      assert.not.ok(reaches(w, new Set(arrays.map((a) => a.buffer))), `${what}: the weight keeps a record array`);
    }
  });
}

// fast: the 3-bit indices are kept only in the int8 kernels' layout, and the embedding reads that
for (const fast of [false, true]) test(`embedding rows read from WASM memory equal the reference backend for every kind${fast ? ' (fast)' : ''}`, async () => {
  const wasm = await WasmBackend.create({ fast });
  const js = new JsBackend();
  for (const [what, rec] of records(new Rng(6))) {
    const ww = wasm.upload(rec);
    const jw = js.upload(rec);
    const [ow, oj] = [wasm.alloc(cols + 4), js.alloc(cols)];
    for (let r = 0; r < rows; r++) {
      wasm.write(ow, new Float32Array(cols + 4).fill(7));
      wasm.embed(ow, ww, r);
      js.embed(oj, jw, r);
      const got = wasm.read(ow);
      const want = js.read(oj);
      for (let c = 0; c < cols; c++) {
        if (Math.abs(got[c] - want[c]) > 1e-6 * Math.max(1, Math.abs(want[c]))) assert.unreachable(`${what} row ${r} column ${c}: ${got[c]} vs ${want[c]}`);
      }
      assert.equal(Array.from(got.subarray(cols)), [7, 7, 7, 7], `${what} row ${r}: written past the row`);
    }
  }
});

test('an f16 model: its matrices stay f16 in WASM memory (half of f32), its logits match the f32 twin and the reference backend', async () => {
  const m = syntheticModel({ seed: 3, dim: 64, hiddenDim: 172, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 333 });
  // the f32 twin holds the f16 values exactly, so both compute with the same weights
  const f16 = m.records.map((r) => (r.kind === 'f32' ? denseRecord(r.name, r.shape, r.data, 'f16') : r));
  const twin = f16.map((r) => (r.kind === 'f16' ? { name: r.name, kind: 'f32' as const, shape: r.shape, data: dequantize(r) } : r));
  const tokens = Array.from({ length: 11 }, (_, i) => (i * 37 + 1) % m.config.vocabSize);
  const run = async (recs: TensorRecord[], backend: WasmBackend | JsBackend) => {
    const used = backend instanceof WasmBackend ? backend.heap.used : 0;
    const model = await Model.fromRecords(m.config, m.tokenizer, recs, backend, { batch: 4, ctx: 16 });
    const placed = backend instanceof WasmBackend ? backend.heap.used - used : 0;
    // a batch (matmul) and a single token (matvec)
    const logits = [...model.forward(tokens, 0, 0), ...model.forward([5], tokens.length)];
    return { placed, logits: Float32Array.from(logits) };
  };
  const a = await run(f16, await WasmBackend.create());
  const b = await run(twin, await WasmBackend.create());
  const c = await run(f16, new JsBackend());
  let matrixBytes = 0;
  for (const r of f16) if (r.kind === 'f16') matrixBytes += r.data.byteLength;
  // the f32 twin places every matrix at twice the bytes; the rest (norms, run state) is the same
  assert.ok(Math.abs(b.placed - a.placed - matrixBytes) < 64 * f16.length, `f16 placed ${a.placed}, f32 ${b.placed}, matrices ${matrixBytes}`);
  let diff = 0, big = 0;
  for (let i = 0; i < a.logits.length; i++) {
    diff = Math.max(diff, Math.abs(a.logits[i] - b.logits[i]), Math.abs(a.logits[i] - c.logits[i]));
    big = Math.max(big, Math.abs(c.logits[i]));
  }
  assert.ok(diff / big <= 1e-5, `relative difference ${diff / big}`);
});

test('an f16 model and a SqueezeLLM one with an f16 embedding run on threads 2 and 3 with the single-thread logits', async () => {
  const m = syntheticModel({ seed: 4, dim: 64, hiddenDim: 172, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 333 });
  const f16 = m.records.map((r) => (r.kind === 'f32' ? denseRecord(r.name, r.shape, r.data, 'f16') : r));
  const nuqF16Embed = nuqModelRecords(m.records, 5, { sparse: 0.02 }).map((r) => (r.name === 'embed' && r.kind === 'f32' ? denseRecord(r.name, r.shape, r.data, 'f16') : r));
  const tokens = Array.from({ length: 19 }, (_, i) => (i * 37 + 1) % m.config.vocabSize);
  for (const [what, recs] of [['f16', f16], ['nuq, f16 embedding', nuqF16Embed]] as const) {
    const logits = async (threads: number) => {
      const backend = await WasmBackend.create({ threads, minSplitWork: 0 });
      try {
        const model = await Model.fromRecords(m.config, m.tokenizer, recs, backend, { batch: 8 });
        return [...model.forward(tokens, 0, 0), ...model.forward([5], tokens.length)];
      } finally {
        await backend.close();
      }
    };
    const want = await logits(1);
    for (const threads of [2, 3]) assert.equal(await logits(threads), want, `${what}, threads ${threads}`);
  }
});

test.run();
