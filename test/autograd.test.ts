// Every backward rule against central finite differences in float64 on the CPU reference, and the
// autodiff engine's bookkeeping (accumulation, broadcasting, noGrad, graph freeing).
import { describe, expect, it } from 'vitest';
import {
  gradcheck,
  tensor,
  where,
  fma,
  concat,
  stack,
  noGrad,
  tidy,
  memoryStats,
  withBackend,
  CpuBackend,
  type Tensor,
} from '../src/index.ts';
import { UNARY_OPS, BINARY_OPS, type UnaryOp } from '../src/backend/kernels.ts';
import { BINARY, UNARY } from '../src/backend/elementwise_table.ts';
import { unary, binary } from '../src/ops/elementwise.ts';
import { bmm } from '../src/ops/matmul.ts';
import { randomInput } from './helpers.ts';

/** The shared random input (helpers.ts), on [-2, 2] unless told. */
const input = (shape: number[], seed: number, lo = -2, hi = 2) => randomInput(shape, seed, lo, hi);

function check(
  name: string,
  fn: (...xs: Tensor[]) => Tensor,
  inputs: { data: number[]; shape: number[] }[],
  tol = 1e-6,
) {
  const r = gradcheck(fn, inputs, { tol });
  expect(r.ok, `${name}: max rel error ${r.maxRelError} at ${JSON.stringify(r.worst)}`).toBe(true);
}

// Keep inputs away from kinks (relu at 0, abs at 0, clamp bounds) where finite differences straddle them.
const DOMAIN: Partial<Record<UnaryOp, [number, number]>> = {
  log: [0.2, 3],
  log1p: [-0.8, 3],
  sqrt: [0.2, 3],
  rsqrt: [0.2, 3],
  reciprocal: [0.3, 3],
};
const PARAMS: Partial<Record<UnaryOp, [number, number]>> = {
  leaky_relu: [0.2, 0],
  clamp: [-0.5, 0.7],
  pow_scalar: [3, 0],
  affine: [1.5, -0.25],
};

describe('gradcheck of every op (float64 finite differences)', () => {
  for (const op of UNARY_OPS) {
    it(`unary ${op}`, () => {
      const [lo, hi] = DOMAIN[op] ?? [-2, 2];
      const x = input([3, 4], 1, lo, hi);
      // shift points off the kinks by a margin larger than eps
      x.data = x.data
        .map((v) => (Math.abs(v) < 1e-3 ? v + 0.01 : v))
        .map((v) => (op === 'clamp' && (Math.abs(v + 0.5) < 1e-3 || Math.abs(v - 0.7) < 1e-3) ? v + 0.01 : v));
      const [p0, p1] = PARAMS[op] ?? [0, 0];
      if (UNARY[op].grad === null) {
        // Piecewise constant: no gradient flows (the engine gives zero).
        const t = tensor(x.data, x.shape, { requiresGrad: true, backend: new CpuBackend() });
        unary(op, t).sum().backward();
        expect(t.grad).toBeNull();
        return;
      }
      check(op, (t) => unary(op, t, p0, p1), [x]);
    });
  }
  for (const op of BINARY_OPS) {
    it(`binary ${op} with broadcasting`, () => {
      const lo = op === 'pow' ? 0.3 : -2;
      const a = input([2, 3, 4], 2, lo, 2),
        b = input([3, 1], 3, op === 'pow' || op === 'div' ? 0.5 : -2, 2);
      if (BINARY[op].grad === null) {
        const ta = tensor(a.data, a.shape, { requiresGrad: true, backend: new CpuBackend() });
        binary(op, ta, ta.mul(0.5)).sum().backward();
        expect(ta.grad).toBeNull();
        return;
      }
      check(op, (x, y) => binary(op, x, y), [a, b]);
    });
  }
  it('where and fma', () => {
    check('where', (c, a, b) => where(c.gt(0), a, b), [input([3, 4], 4), input([4], 5), input([3, 1], 6)]);
    check('fma', (a, b, c) => fma(a, b, c), [input([3, 4], 7), input([4], 8), input([3, 1], 9)]);
  });
  it('reductions: sum, mean, max, min, logsumexp, softmax, logSoftmax over dim sets', () => {
    const x = input([3, 4, 5], 10);
    for (const dims of [undefined, 1, [0, 2]] as (number | number[] | undefined)[]) {
      check(`sum ${dims}`, (t) => t.sum(dims, true), [x]);
      check(`mean ${dims}`, (t) => t.mean(dims), [x]);
      check(`amax ${dims}`, (t) => t.amax(dims), [x]);
      check(`amin ${dims}`, (t) => t.amin(dims, true), [x]);
      check(`logsumexp ${dims}`, (t) => t.logsumexp(dims), [x]);
    }
    check('softmax', (t) => t.softmax(1), [x]);
    check('logSoftmax', (t) => t.logSoftmax(-1), [x]);
  });
  it('movement: reshape, permute, slice, concat, stack, pad (3 modes), broadcast_to', () => {
    const x = input([2, 3, 4], 11);
    check('reshape', (t) => t.reshape([4, 6]), [x]);
    check('permute', (t) => t.permute([2, 0, 1]), [x]);
    check('slice', (t) => t.slice(2, 1, 4, 2), [x]);
    check('concat', (a, b) => concat([a, b], 1), [x, input([2, 2, 4], 12)]);
    check('stack', (a, b) => stack([a, b], 0), [x, input([2, 3, 4], 13)]);
    for (const mode of ['constant', 'reflect', 'replicate'] as const)
      check(`pad ${mode}`, (t) => t.pad([2, 1, 1, 2], mode, 0.3), [x]);
    check('broadcast_to', (t) => t.broadcastTo([5, 2, 3, 4]), [input([3, 1], 14)]);
  });
  it('matmul: transposes, batches, broadcast batch, vectors', () => {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      check(`bmm ${tA} ${tB}`, (a, b) => bmm(a, b, tA, tB), [
        input(tA ? [3, 4, 2] : [3, 2, 4], 15),
        input(tB ? [1, 5, 4] : [1, 4, 5], 16),
      ]);
    }
    check('matmul broadcast', (a, b) => a.matmul(b), [input([2, 1, 3, 4], 17), input([5, 4, 2], 18)]);
    check('matmul vec', (a, b) => a.matmul(b), [input([4], 19), input([4, 3], 20)]);
  });
});

describe('the autodiff engine', () => {
  const cpu = new CpuBackend();
  it('accumulates gradients over calls and through shared subexpressions', async () => {
    await withBackend(cpu, async () => {
      const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
      const y = x.mul(x).add(x); // dy/dx = 2x + 1
      y.sum().backward();
      expect(await x.grad!.tolist()).toEqual([3, 5, 7]);
      x.mul(2).sum().backward();
      expect(await x.grad!.tolist()).toEqual([5, 7, 9]);
    });
  });
  it('records nothing under noGrad and through detach', () => {
    withBackend(cpu, () => {
      const x = tensor([1, 2], undefined, { requiresGrad: true });
      expect(noGrad(() => x.mul(2)).requiresGrad).toBe(false);
      expect(x.detach().mul(2).requiresGrad).toBe(false);
      expect(() => x.detach().sum().backward()).toThrow(/does not require grad/);
    });
  });
  it('rejects backward from a non-scalar without a gradient, naming the shape', () => {
    withBackend(cpu, () => {
      const x = tensor([[1, 2]], undefined, { requiresGrad: true });
      expect(() => x.mul(2).backward()).toThrow(/non-scalar output of shape \[1, 2\]/);
    });
  });
  it('frees the graph so memory stays flat over many steps', () => {
    withBackend(cpu, () => {
      const w = tensor([0.5, -0.5, 0.25], undefined, { requiresGrad: true });
      const step = () =>
        tidy(() => {
          const loss = w.mul(w).sum();
          loss.backward();
          w.grad!.dispose();
          w.grad = null;
        });
      step();
      const before = memoryStats();
      for (let i = 0; i < 200; i++) step();
      expect(memoryStats()).toEqual(before);
    });
  });
});
