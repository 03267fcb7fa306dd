// npm run test:cuda's kernel checks (test/cuda/kernels.ts) can run: on the host stand-in of the
// binding, whose launchers are the references themselves, every check must pass and every kernel be
// reached. This keeps the GPU harness from rotting between GPU sessions; the kernels themselves are
// checked only on a GPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../src/util/compare.ts';
import { runKernelChecks } from '../cuda/kernels.ts';
import { EmulatedCuda } from './_cuda-emulator.ts';

test('test:cuda kernel checks pass on the emulated device and reach every launcher', () => {
  const dev = new EmulatedCuda();
  const bad: string[] = [];
  const kernels = new Set<string>();
  runKernelChecks(
    dev,
    (name, got, want, tol) => {
      kernels.add(name.split(' ')[0]);
      if (!(maxRelErr(got, want) <= tol)) bad.push(`${name}: ${maxRelErr(got, want)}`);
    },
    { quick: true },
  );
  assert.equal(bad, []);
  assert.equal([...kernels].sort(), ['attention', 'csr_spmv', 'dense_matvec', 'embed', 'lut_matvec', 'residual_add', 'rmsnorm', 'rope', 'swiglu', 'uniform_matvec']);
  assert.is(dev.live, 0, 'every device buffer freed');
});

test('a kernel off by 1e-4 of its output fails its checks, and only its own', () => {
  class OffLut extends EmulatedCuda {
    override matmulLut(out: number, lut: number, half: 0 | 1, idx: number, x: number, rows: number, cols: number, n: number, bits: number): void {
      super.matmulLut(out, lut, half, idx, x, rows, cols, n, bits);
      this.write(out, this.read(out, rows * n).map((v) => v * (1 + 1e-4)));
    }
  }
  const failed = new Set<string>();
  runKernelChecks(new OffLut(), (name, got, want, tol) => void (maxRelErr(got, want) <= tol || failed.add(name.split(' ')[0])), { quick: true });
  assert.equal([...failed], ['lut_matvec']);
});

test.run();
