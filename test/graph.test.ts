// The one dispatch point (src/graph/apply.ts) and its primitive table (src/graph/primitives.ts): every
// kernel of the vocabulary maps to a rule, pad's backward is the true adjoint in every mode, and no
// backend kernel runs outside apply() over a whole training step, each recorded node coming from it.
import { describe, expect, it } from 'vitest';
import {
  gradcheck,
  tensor,
  conv2d,
  CpuBackend,
  withBackend,
  Generator,
  tidy,
  type Backend,
  type Tensor,
} from '../src/index.ts';
import { apply, dispatchStats } from '../src/tensor.ts';
import { RULES, PRIMITIVES, type Primitive } from '../src/graph/primitives.ts';
import { UNARY_OPS, BINARY_OPS, TERNARY_OPS, REDUCE_OPS, PAD_MODES } from '../src/backend/kernels.ts';
import type { ElementwiseKernel } from '../src/backend/backend.ts';
import { MlpVAE } from '../src/models/vae.ts';
import { randomInput } from './helpers.ts';

// The Backend members that compute tensors (the rest move bytes, manage memory, or update optimizer state
// in place): a kernel added to the Backend interface without an entry below fails to compile.
// ('elementwise' with `optim` also runs compiled graphs' fused kernels, src/graph/interpret.ts.)
type KernelMethod = Exclude<
  keyof Backend,
  'name' | 'description' | 'gpu' | 'read' | 'write' | 'free' | 'memory' | 'sync' | 'dispose'
>;

// The backend's kernel methods and the primitive (or primitive family, whose `op` param picks the kernel
// op) that calls each.
const kernelOf = {
  // Every elementwise op, and a fill, is a kernel from the IR (an optimizer step too: an effect).
  elementwise: ['unary', 'binary', 'ternary', 'fill'],
  reduce: ['reduce'],
  move: ['permute', 'broadcast', 'slice', 'unslice', 'concat', 'pad', 'gather', 'scatter_add', 'cumsum'],
  random: ['random'],
  alloc: ['upload'],
  matmul: ['matmul'],
  conv: ['conv2d', 'conv2d_grad_input', 'conv2d_grad_weight'],
} satisfies Record<KernelMethod, Primitive[]>;

/**
 * Wraps each kernel method of `backend` so that `onCall` hears of every call, before it runs (with its
 * first argument: conv's kind, an elementwise kernel).
 */
function spyKernels(backend: CpuBackend, onCall: (k: KernelMethod, first: unknown) => void): void {
  for (const k of Object.keys(kernelOf) as KernelMethod[]) {
    const orig = (backend[k] as (...a: unknown[]) => unknown).bind(backend);
    (backend as unknown as Record<string, unknown>)[k] = (...a: unknown[]) => (onCall(k, a[0]), orig(...a));
  }
}

describe('the primitive table', () => {
  it('reaches a backend kernel from every primitive but reshape (a view), and runs every op of each family', () => {
    // The table's type already gives each primitive a rule; what it does not give: a primitive added to
    // the table that calls no kernel named above, which only a view may do.
    const reached = new Set<Primitive>(Object.values(kernelOf).flat());
    expect(PRIMITIVES.filter((p) => !reached.has(p))).toEqual(['reshape']);
    const cpu = new CpuBackend();
    expect(RULES.reshape.run(cpu, [], { shape: [4] }, [4], [[2, 2]])).toBe('view');
    // Every op of each family's vocabulary runs through its primitive, which calls the family's kernel.
    const called: KernelMethod[] = [];
    spyKernels(cpu, (k) => called.push(k));
    const runs = (kernel: KernelMethod, what: string, f: () => Tensor, shape: number[]) => {
      called.length = 0;
      expect(f().shape, what).toEqual(shape);
      expect(called, what).toContain(kernel);
    };
    withBackend(cpu, () =>
      tidy(() => {
        const x = tensor([0.5, 1.5, 2.5, 3.5], [2, 2], { requiresGrad: true });
        for (const op of UNARY_OPS) runs('elementwise', op, () => apply('unary', [x], { op, p0: 0.5, p1: 1 }), [2, 2]);
        for (const op of BINARY_OPS) runs('elementwise', op, () => apply('binary', [x, x], { op }), [2, 2]);
        for (const op of TERNARY_OPS) runs('elementwise', op, () => apply('ternary', [x, x, x], { op }), [2, 2]);
        for (const op of REDUCE_OPS)
          runs('reduce', op, () => apply('reduce', [x], { op, dims: [1], keepdim: false }), [2]);
        for (const mode of PAD_MODES)
          runs('move', mode, () => apply('pad', [x], { before: [0, 1], after: [1, 1], mode, value: 0 }), [3, 4]);
      }),
    );
  });
});

describe("pad's backward is the adjoint (gradcheck, float64)", () => {
  const cases: { shape: number[]; pads: number[] }[] = [
    { shape: [5], pads: [1, 1] },
    { shape: [7], pads: [3, 2] },
    { shape: [2, 5, 7], pads: [3, 1, 2, 4] },
    { shape: [1, 2, 5, 3], pads: [2, 2, 4, 3] },
    { shape: [3, 4], pads: [0, 2, 3, 0] },
  ];
  for (const mode of PAD_MODES) {
    for (const { shape, pads } of cases) {
      // reflect needs pad < size: use the widest valid pads
      const p = mode === 'reflect' ? pads.map((v, i) => Math.min(v, shape[shape.length - 1 - (i >> 1)] - 1)) : pads;
      it(`${mode} pad [${p.join(', ')}] of ${JSON.stringify(shape)}`, () => {
        const r = gradcheck(
          (t) => t.pad(p, mode, 0.7).mul(t.pad(p, mode, 0.7)),
          [randomInput(shape, shape.length * 7 + p[0], -2, 2)],
        );
        expect(r.ok, `max rel error ${r.maxRelError} at ${JSON.stringify(r.worst)}`).toBe(true);
      });
    }
  }
});

describe('every op dispatches through apply()', () => {
  it('no backend kernel runs outside apply() over a VAE training step, and every recorded node comes from it', async () => {
    const backend = new CpuBackend();
    const outside: string[] = [];
    let kernelCalls = 0;
    spyKernels(backend, (k) => {
      kernelCalls++;
      if (dispatchStats().depth === 0) outside.push(k);
    });
    await withBackend(backend as Backend, async () => {
      const model = new MlpVAE({ inputDim: 12, hidden: 6, zDim: 3, generator: new Generator(3), backend } as never);
      const x = tensor(
        Float32Array.from({ length: 4 * 12 }, (_, i) => (i % 5) / 5),
        [4, 12],
        { backend },
      );
      tidy(() => {
        const before = dispatchStats();
        const t = model.elbo(x, new Generator(4));
        const mid = dispatchStats();
        // The nodes of the step's forward graph: each was recorded by apply() (record() is gone).
        const nodes = new Set<Tensor>();
        const stack: Tensor[] = [t.loss];
        while (stack.length) {
          const n = stack.pop()!;
          if (!n.gradFn || nodes.has(n)) continue;
          nodes.add(n);
          stack.push(...n.gradFn.inputs);
        }
        expect(mid.recorded - before.recorded).toBe(nodes.size);
        expect(mid.calls - before.calls).toBeGreaterThan(nodes.size);
        t.loss.backward();
        model.optimizers()[0].step();
      });
    });
    expect(kernelCalls).toBeGreaterThan(50);
    expect(outside).toEqual([]);
  });

  it('backward runs no kernel for an input that needs no gradient (data, masks, targets)', () => {
    const backend = new CpuBackend();
    const calls: string[] = [];
    // An elementwise kernel by its expression's kind (a binary op, a fill's constant, ...), conv by its kind.
    spyKernels(backend, (k, first) =>
      calls.push(
        k === 'conv' ? `${k}:${String(first)}` : k === 'elementwise' ? (first as ElementwiseKernel).expr.kind : k,
      ),
    );
    const x = tensor(
      Float32Array.from({ length: 2 * 1 * 5 * 5 }, (_, i) => i / 50),
      [2, 1, 5, 5],
      { backend },
    );
    const w = tensor(
      Float32Array.from({ length: 3 * 9 }, (_, i) => (i - 13) / 13),
      [3, 1, 3, 3],
      { backend, requiresGrad: true },
    );
    const m = tensor(
      Float32Array.from({ length: 4 * 6 }, (_, i) => i % 3),
      [4, 6],
      { backend },
    );
    const v = tensor(
      Float32Array.from({ length: 6 * 2 }, (_, i) => i / 12),
      [6, 2],
      { backend, requiresGrad: true },
    );
    // conv of data x: the weight's gradient only; data @ v and data * v: v's only.
    const y = withBackend(backend, () =>
      conv2d(x, w)
        .sum()
        .add(
          m
            .matmul(v)
            .mul(m.slice(1, 0, 2))
            .sum(),
        ),
    );
    calls.length = 0;
    y.backward();
    expect(calls.filter((c) => c === 'conv:conv2d_grad_input')).toEqual([]);
    expect(calls.filter((c) => c === 'conv:conv2d_grad_weight')).toHaveLength(1);
    expect(calls.filter((c) => c === 'matmul')).toHaveLength(1);
    // Of the product's gradient only g * mask (for the matmul's output), not g * (m @ v) for the mask.
    expect(calls.filter((c) => c === 'binary')).toHaveLength(1);
    expect(w.grad && v.grad && x.grad === null && m.grad === null).toBe(true);
  });
});
