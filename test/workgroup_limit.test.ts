// Dispatches past maxComputeWorkgroupsPerDimension (issue 31, case 15): every kernel family on a problem
// whose natural grid exceeds the limit in a dimension, against the CPU reference. A backend whose limit
// is lowered to 16 (ContextOptions.limits) reaches each path at small sizes: grids fold into y and, past
// 16^2 workgroups, z (up to 16^3: the cases stay below); the kernels with 3-D grids of tiles (GEMM cores,
// conv, Winograd) then find their tile from the flat workgroup index (DispatchSpec.flatGroups).
// A watch on the context checks that each case really asked for a grid past the limit. Four cases run
// past the adapter's real limit of 65,535: a pad over 65,535 * 256 + 1,001 elements, a
// matmul with 2.1M rows, a bmm of batch 65,600 and a conv on one 1452 x 1452 image.
import { afterAll, describe, expect, it } from 'vitest';
import {
  F,
  Generator,
  Tensor,
  compile,
  conv2d,
  convTranspose2d,
  full,
  nn,
  rand,
  tensor,
  where,
  type Backend,
} from '../src/index.ts';
import { WebGPUBackend } from '../src/backend/webgpu/index.ts';
import { CONV_VARIANTS, MATMUL_VARIANTS } from '../src/backend/webgpu/tuner.ts';
import { convGeom } from '../src/ops/conv.ts';
import { Classifier } from '../src/models/classifier.ts';
import type { MatmulSpec } from '../src/backend/kernels.ts';
import { cpu, expectClose, getGpu, randomData, rng } from './helpers.ts';

const LIMIT = 16;

let lowB: Promise<WebGPUBackend> | null = null;
/** A WebGPU backend whose maxComputeWorkgroupsPerDimension is LIMIT (measurements off: forced or guessed variants). */
function getLow(): Promise<WebGPUBackend> {
  if (!lowB) {
    lowB = WebGPUBackend.create({ quiet: true, limits: { maxComputeWorkgroupsPerDimension: LIMIT } }).then((b) => {
      b.tuner.autotune = false;
      // The reductions' design of CPU-like adapters, one invocation per row, on any adapter: a GPU's default,
      // a workgroup per row, has no folding past 16^3 = 4,096 rows at this limit (at a real one, 65,535^3),
      // which the compiled cases below pass. The workgroup design past the limit has its own case.
      b.reduceVariant = 'rows';
      // Without the lowered limit no case below would reach a path past it.
      const got = b.ctx.limits.maxComputeWorkgroupsPerDimension;
      if (got !== LIMIT) throw new Error(`the context's limit is ${got}, not the ${LIMIT} asked for`);
      return b;
    });
    afterAll(async () => (await lowB!).dispose());
  }
  return lowB;
}

/** The widest grid dimension each kernel asked for, before the context folded it (grid(), or a flatGroups refold). */
const watches = new WeakMap<WebGPUBackend, Map<string, number>>();
function watch(b: WebGPUBackend): Map<string, number> {
  let widest = watches.get(b);
  if (widest) return widest;
  widest = new Map();
  watches.set(b, widest);
  const ctx = b.ctx,
    grid = ctx.grid.bind(ctx),
    dispatch = ctx.dispatch.bind(ctx);
  let asked = 0;
  ctx.grid = (count) => {
    asked = count;
    return grid(count);
  };
  ctx.dispatch = (spec) => {
    const w = Math.max(asked, ...spec.workgroups.map((g) => g ?? 1));
    asked = 0;
    // By kernel, and by label (the generated kernels are all fused_ops: a reduction is reduce:<op>).
    for (const k of [spec.kernel, spec.label ?? spec.kernel]) widest!.set(k, Math.max(widest!.get(k) ?? 0, w));
    dispatch(spec);
  };
  return widest;
}

/** Asserts that `kernels` (every one, or with `some` at least one) asked for more workgroups in a dimension than `limit`. */
function expectPast(widest: Map<string, number>, kernels: string[], limit = LIMIT, some = false): void {
  const past = kernels.filter((k) => (widest.get(k) ?? 0) > limit);
  if (some)
    expect(
      past.length,
      `one of ${kernels.join(', ')} past ${limit} (asked: ${JSON.stringify([...widest])})`,
    ).toBeGreaterThan(0);
  else expect(past, `asked: ${JSON.stringify([...widest])}`).toEqual(kernels);
}

type Make = (shape: number[], seed: number, lo?: number, hi?: number) => Tensor;

/** Runs `f` on the backend and on the CPU reference with the same inputs and compares every result. */
async function matchesCpu(b: Backend, f: (mk: Make, be: Backend) => Tensor[], atol = 1e-5, what = ''): Promise<void> {
  const made = new Map<string, Float32Array>();
  const run = (be: Backend) =>
    f((shape, seed, lo = -1, hi = 1) => {
      const key = `${shape}|${seed}|${lo}|${hi}`;
      if (!made.has(key))
        made.set(
          key,
          randomData(
            shape.reduce((x, y) => x * y, 1),
            seed,
            lo,
            hi,
          ),
        );
      return tensor(made.get(key)!, shape, { backend: be });
    }, be);
  const got = run(b),
    want = run(cpu);
  for (let i = 0; i < want.length; i++) await expectClose(got[i], want[i], atol, 1e-4, `${what} result ${i}`);
}

/** Integer positions in [0, n) as an int32 tensor. */
const positions = (shape: number[], n: number, seed: number, be: Backend) => {
  const r = rng(seed);
  return tensor(
    Int32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => Math.floor(r() * n)),
    shape,
    { backend: be },
  );
};

/** x.grad after backward() of sum(y * r) for a fixed random r (so every gradient kernel runs). */
function gradOf(x: Tensor, y: Tensor, seed: number): Tensor {
  y.mul(tensor(randomData(y.size, seed), y.shape, { backend: y.backend }))
    .sum()
    .backward();
  return x.grad!;
}

describe('kernels whose grid exceeds maxComputeWorkgroupsPerDimension (lowered to 16)', () => {
  it('the lowered limit is the one the context checks, and a plain 1-D kernel past it is still refused', async () => {
    const low = await getLow();
    expect(low.ctx.limits.maxComputeWorkgroupsPerDimension).toBe(LIMIT);
    expect(low.ctx.device.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThan(LIMIT);
    const buf = low.ctx.pool.acquire(16);
    expect(() =>
      low.ctx.dispatch({ kernel: 'cumsum', buffers: [buf], uniforms: new ArrayBuffer(16), workgroups: [LIMIT + 1] }),
    ).toThrow(`kernel cumsum: ${LIMIT + 1} workgroups in dimension x exceed maxComputeWorkgroupsPerDimension=${LIMIT}`);
    low.ctx.pool.release(buf);
    // Folded into y and z: 1000 workgroups as 16 x 16 x 4.
    const [x, y, z] = low.ctx.grid(1000);
    expect(Math.max(x, y, z)).toBeLessThanOrEqual(LIMIT);
    expect(x * y * z).toBeGreaterThanOrEqual(1000);
    expect(z).toBeGreaterThan(1);
  });

  it('elementwise kernels (unary, binary, strided binary, ternary, fill, strided copy, pad) fold their grids into y and z', async () => {
    const low = await getLow(),
      widest = watch(low);
    widest.clear();
    // [263, 1009]: 265,367 elements, 260 workgroups of 4-value invocations and 1,037 of 1-value ones (z > 1).
    const S = [263, 1009];
    await matchesCpu(
      low,
      (mk, be) => {
        const x = mk(S, 1),
          y = mk(S, 2),
          row = mk([1, 1009], 3);
        return [
          x.exp(),
          x.add(y),
          x.mul(row),
          where(x.gt(y), x, y),
          full(S, 2.5, { backend: be }).add(x),
          x.permute([1, 0]),
          x.pad([1, 2, 3, 0]),
          x.pad([2, 2, 1, 1], 'reflect'),
        ];
      },
      1e-5,
      'elementwise',
    );
    // Every elementwise op (unary, binary, broadcast, ternary, fill) is a kernel from the IR: fused_ops.
    expectPast(widest, ['fused_ops', 'copy_strided', 'pad']);
  });

  it('gather, index_select, scatter-add (the gather gradient), cumsum and random draws fold their grids', async () => {
    const low = await getLow(),
      widest = watch(low);
    widest.clear();
    await matchesCpu(
      low,
      (mk, be) => {
        // 263 x 41 = 10,783 elements (43 workgroups).
        const x = mk([263, 41], 4);
        x.requiresGrad = true;
        const idx = positions([263, 41], 41, 5, be);
        const g = x.gather(1, idx);
        const sel = x.indexSelect(0, positions([270], 263, 6, be));
        const dx = gradOf(x, g, 7);
        // 13,000 lines of 3 (51 workgroups), forward and reverse (its gradient).
        const c = mk([13000, 3], 8);
        c.requiresGrad = true;
        const cs = c.cumsum(1);
        const dc = gradOf(c, cs, 9);
        return [g, sel, dx, cs, dc, rand([263, 1009], { backend: be, generator: new Generator(9) })];
      },
      1e-5,
      'indexing',
    );
    expectPast(widest, ['gather', 'cumsum', 'random']);
  });

  for (const variant of ['rows', 'workgroup'] as const) {
    it(`reductions (${variant} kernel) over many rows and over long rows fold their grids`, async () => {
      const low = await getLow(),
        widest = watch(low);
      const before = low.reduceVariant;
      low.reduceVariant = variant;
      widest.clear();
      try {
        // Rows: 20,000 / 64 = 313 workgroups (rows kernel), 3,000 (workgroup kernel; 16^3 = 4,096 at most).
        await matchesCpu(
          low,
          (mk) => {
            const a = mk([variant === 'rows' ? 20000 : 3000, 5], 10),
              l = mk([60, 5000], 11);
            return [a.sum(1), a.amax(1), a.argmax(1), a.mean(0), l.sum(1), l.logsumexp(1), a.softmax(1)];
          },
          1e-4,
          `reduce ${variant}`,
        );
      } finally {
        low.reduceVariant = before;
      }
      expectPast(widest, ['reduce:sum', 'reduce:max', 'reduce:argmax']);
    });
  }

  // Each matmul core on every layout, with grids past 16: a batch of 17 of 531 rows (17 row tiles of 32);
  // 1,036 columns (33 column tiles of 32, 17 of vec4's 64); the split-K cases are one workgroup per
  // output, 18 x 17 x 13 and 5 x 4 x 17 (the others have more than split-K's 16,384 outputs; with the
  // lowered limit a grid holds at most 16^3 = 4,096 workgroups).
  const MATMULS: MatmulSpec[] = [
    { batch: 17, M: 531, N: 20, K: 8, transA: false, transB: false, strideA: 531 * 8, strideB: 8 * 20 },
    { batch: 1, M: 17, N: 1036, K: 12, transA: false, transB: false, strideA: 0, strideB: 0 },
    { batch: 17, M: 532, N: 36, K: 7, transA: true, transB: false, strideA: 532 * 7, strideB: 7 * 36 },
    { batch: 17, M: 531, N: 34, K: 8, transA: false, transB: true, strideA: 531 * 8, strideB: 0 },
    { batch: 2, M: 9, N: 1030, K: 12, transA: false, transB: true, strideA: 9 * 12, strideB: 1030 * 12 },
    { batch: 13, M: 17, N: 18, K: 37, transA: false, transB: false, strideA: 17 * 37, strideB: 37 * 18 },
    { batch: 17, M: 4, N: 5, K: 37, transA: true, transB: true, strideA: 4 * 37, strideB: 37 * 5 },
  ];
  for (const variant of MATMUL_VARIANTS) {
    it(`matmul and bmm (${variant} core) with tile grids past the limit in x, y and z`, async () => {
      const low = await getLow(),
        widest = watch(low);
      low.tuner.forced = variant;
      widest.clear();
      try {
        for (const [i, s] of MATMULS.entries()) {
          const aLen = s.strideA ? s.batch * s.strideA : s.M * s.K,
            bLen = s.strideB ? s.batch * s.strideB : s.K * s.N;
          await matchesCpu(
            low,
            (mk, be) => {
              const a = mk([aLen], 20 + i),
                b = mk([bLen], 30 + i);
              return [new Tensor(be, be.matmul(a.storage, b.storage, s), [s.batch, s.M, s.N])];
            },
            1e-5 * Math.sqrt(s.K),
            `${variant} spec ${i}`,
          );
        }
        // And through the tensor API: bmm with a batch of 70, a matmul with 2,300 rows (72 row tiles).
        await matchesCpu(
          low,
          (mk) => [mk([70, 3, 5], 40).matmul(mk([70, 5, 3], 41)), mk([2300, 7], 42).matmul(mk([7, 1], 43))],
          1e-5,
          `${variant} api`,
        );
      } finally {
        low.tuner.forced = null;
      }
      expectPast(widest, [`matmul_${variant}`]);
    });
  }

  // A: 1,032 output pixels (33 column tiles of 32; the weight gradient [20, 27] by split-K is 27 x 20
  // workgroups); col2im by runs has 8 * 3 * 43 rows (17 workgroups). B: DCGAN's 4x4 stride 2, where
  // Winograd applies: 17 output channels, 1,156 tiles (19 workgroups of 64 by elements). Both keep im2col's
  // patches under 16^3 workgroups. C: 530 output channels (17 row tiles; its weight gradient [530, 36] is
  // too large for split-K).
  const CONVS: { x: number[]; w: number[]; o: { stride?: number; padding?: number } }[] = [
    { x: [8, 3, 43, 3], w: [20, 3, 3, 3], o: { padding: 1 } },
    { x: [4, 3, 66, 66], w: [17, 3, 4, 4], o: { stride: 2, padding: 1 } },
    { x: [1, 4, 5, 4], w: [530, 4, 3, 3], o: { padding: 1 } },
  ];
  type ConvCore = [(typeof CONV_VARIANTS)[number], 'runs' | 'elements'];
  const CONV_CORES: ConvCore[] = CONV_VARIANTS.flatMap((v): ConvCore[] =>
    v === 'im2col' || v === 'winograd'
      ? [
          [v, 'runs'],
          [v, 'elements'],
        ]
      : [[v, 'runs']],
  );
  for (const [variant, split] of CONV_CORES) {
    it(`conv2d forward, input and weight gradients (${variant} core${variant === 'im2col' || variant === 'winograd' ? `, by ${split}` : ''}) past the limit`, async () => {
      const low = await getLow(),
        widest = watch(low);
      low.tuner.forced = variant;
      const before = low.im2colVariant;
      low.im2colVariant = split;
      widest.clear();
      try {
        for (const [i, c] of CONVS.entries()) {
          const g = convGeom(c.x, c.w, c.o);
          const K = g.C * g.KH * g.KW;
          await matchesCpu(
            low,
            (mk, be) => {
              const x = mk(c.x, 50 + i),
                w = mk(c.w, 60 + i),
                dy = mk([g.n, g.O, g.OH, g.OW], 70 + i);
              return [
                new Tensor(be, be.conv('conv2d', x.storage, w.storage, g), [g.n, g.O, g.OH, g.OW]),
                new Tensor(be, be.conv('conv2d_grad_input', dy.storage, w.storage, g), c.x),
                new Tensor(be, be.conv('conv2d_grad_weight', dy.storage, x.storage, g), c.w),
              ];
            },
            1e-5 * Math.sqrt(Math.max(K, g.O * g.KH * g.KW, g.n * g.OH * g.OW)),
            `${variant} conv ${i}`,
          );
        }
      } finally {
        low.tuner.forced = null;
        low.im2colVariant = before;
      }
      const kernels =
        variant === 'im2col' ? ['im2col', 'col2im'] : variant === 'winograd' ? ['winograd'] : [`conv_${variant}`];
      expectPast(widest, kernels);
    });
  }

  it('conv_transpose2d, pooling and their gradients past the limit', async () => {
    const low = await getLow(),
      widest = watch(low);
    widest.clear();
    // The reg core, as on a CPU-like adapter: a GPU's guess is another core (tiled, or split-K).
    low.tuner.forced = 'reg';
    try {
      await matchesCpu(
        low,
        (mk) => {
          // The weight gradient: 530 rows (17 tiles).
          const x = mk([2, 530, 9, 8], 80),
            w = mk([530, 5, 3, 3], 81);
          x.requiresGrad = true;
          w.requiresGrad = true;
          const y = convTranspose2d(x, w, null, { stride: 2, padding: 1 });
          y.mul(mk(y.shape, 82)).sum().backward();
          const p = mk([3, 5, 61, 67], 83);
          p.requiresGrad = true;
          const avg = F.avgPool2d(p, 2),
            mx = F.maxPool2d(p, 3, { stride: 2, padding: 1 });
          avg
            .mul(mk(avg.shape, 84))
            .sum()
            .add(mx.mul(mk(mx.shape, 85)).sum())
            .backward();
          return [y, x.grad!, w.grad!, avg, mx, p.grad!];
        },
        1e-4,
        'transpose and pooling',
      );
    } finally {
      low.tuner.forced = null;
    }
    expectPast(widest, ['conv_reg', 'copy_strided']);
  });

  it('SGD and Adam updates of a parameter of 13,493 elements (53 workgroups) fold their grids', async () => {
    const low = await getLow(),
      widest = watch(low);
    widest.clear();
    await matchesCpu(
      low,
      (mk) => {
        const p = mk([131, 103], 90),
          q = mk([131, 103], 91);
        p.requiresGrad = true;
        q.requiresGrad = true;
        const opts = [new nn.SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }), new nn.Adam([q], { lr: 0.05 })];
        for (let i = 0; i < 3; i++) {
          for (const o of opts) o.zeroGrad();
          p.mul(p).sum().add(q.exp().sum()).backward();
          for (const o of opts) o.step();
        }
        return [p, q];
      },
      1e-5,
      'optimizers',
    );
    expectPast(widest, ['optim']);
  });

  it('a compiled (recorded) training step replays its folded dispatches: the classifier', async () => {
    const low = await getLow(),
      widest = watch(low);
    widest.clear();
    const run = async (be: Backend, compiled: boolean) => {
      const m = new Classifier({ width: 2, hidden: 16, backend: be, generator: new Generator(11) });
      const x = tensor(randomData(8 * 784, 12, 0, 1), [8, 1, 28, 28], { backend: be });
      const labels = tensor(
        Float32Array.from({ length: 8 }, (_, i) => i % 10),
        [8],
        { backend: be },
      );
      const f = (xx: Tensor, ll: Tensor) => m.trainStep({ x: xx, labels: ll });
      const c = compiled ? compile(f) : null;
      const step = c ?? f;
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = step(x, labels);
        losses.push((await r.toArray())[0]);
        r.dispose();
      }
      if (c) expect(c.stats.replays).toBeGreaterThan(0);
      return { losses, params: m.parameters() };
    };
    const got = await run(low, true),
      want = await run(cpu, false);
    got.losses.forEach((v, i) => expect(v, `loss ${i}`).toBeCloseTo(want.losses[i], 4));
    for (const [i, p] of got.params.entries()) await expectClose(p, want.params[i], 1e-4, 1e-3, `param ${i}`);
    // The first conv: 8 x 784 outputs of one channel, 196 column tiles; the fused kernels fold too.
    expectPast(
      widest,
      [...widest.keys()].filter((k) => k.includes('conv_')),
      LIMIT,
      true,
    );
    expectPast(widest, ['fused_ops']);
  });

  it('fused elementwise and reduction kernels of a compiled function fold their grids', async () => {
    const low = await getLow(),
      widest = watch(low);
    widest.clear();
    const f = (x: Tensor) => [x.mul(1.5).exp().sub(1), x.exp().sum(1)];
    const data = randomData(13000 * 5, 13);
    const g = compile((x: Tensor) => f(x));
    const xl = tensor(data, [13000, 5], { backend: low }),
      xc = tensor(data, [13000, 5], { backend: cpu });
    for (let i = 0; i < 3; i++) {
      const [a, s] = g(xl),
        [ea, es] = f(xc);
      await expectClose(a, ea, 1e-5, 1e-4, `fused elementwise ${i}`);
      await expectClose(s, es, 1e-4, 1e-4, `fused sum ${i}`);
    }
    expect(g.stats.replays).toBeGreaterThan(0);
    expectPast(widest, ['fused_ops']);
  });
});

describe("kernels past the adapter's real limit of 65,535 workgroups", () => {
  const real = async () => {
    const gpu = await getGpu();
    gpu.tuner.autotune = false;
    return { gpu, widest: watch(gpu), max: gpu.ctx.limits.maxComputeWorkgroupsPerDimension };
  };

  it('a pad over 65,535 * 256 + 1,001 elements (one per invocation)', async () => {
    const { gpu, widest, max } = await real();
    widest.clear();
    // (The elementwise kernels make 4 values an invocation: past the real limit only beyond 268M.)
    const n = max * 256 + 1001;
    await matchesCpu(gpu, (mk) => [mk([n - 3], 100).pad([1, 2])], 0, 'pad');
    expectPast(widest, ['pad'], max);
  });

  it('a matmul with 2.1M rows (65,626 row tiles)', async () => {
    const { gpu, widest, max } = await real();
    widest.clear();
    await matchesCpu(gpu, (mk) => [mk([2_100_001, 3], 102).matmul(mk([3, 5], 103))], 1e-5, 'matmul rows');
    expectPast(
      widest,
      MATMUL_VARIANTS.map((v) => `matmul_${v}`),
      max,
      true,
    );
  });

  it('a bmm of batch 65,600', async () => {
    const { gpu, widest, max } = await real();
    widest.clear();
    await matchesCpu(gpu, (mk) => [mk([65_600, 3, 5], 104).matmul(mk([65_600, 5, 2], 105))], 1e-5, 'bmm batch');
    expectPast(
      widest,
      MATMUL_VARIANTS.map((v) => `matmul_${v}`),
      max,
      true,
    );
  });

  it('a conv on one 1452 x 1452 image (65,704 column tiles)', async () => {
    const { gpu, widest, max } = await real();
    widest.clear();
    await matchesCpu(gpu, (mk) => [conv2d(mk([1, 1, 1452, 1452], 106), mk([2, 1, 3, 3], 107))], 1e-5, 'conv image');
    // (The adapter's guess: the reg core on CPU-like adapters, tiled on GPUs.)
    expectPast(widest, ['conv_reg', 'conv_tiled'], max, true);
  });
});
