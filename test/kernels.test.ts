// Every WebGPU kernel against the CPU reference: fresh random inputs, shapes that are not multiples of
// any tile or vector width, size 1, empty tensors, broadcasting corner cases and large values.
import { describe, expect, it } from 'vitest';
import { tensor, where, fma, concat, stack, type Tensor } from '../src/index.ts';
import { UNARY_OPS, BINARY_OPS, type UnaryOp } from '../src/backend/kernels.ts';
import { unary, binary } from '../src/ops/elementwise.ts';
import { MATMUL_VARIANTS } from '../src/backend/webgpu/tuner.ts';
import { cpu, expectClose, getGpu, pair, randomData } from './helpers.ts';

// Inputs in each op's domain, and the tolerance WGSL's builtins allow (exp/log: ~3 ulp + range error).
const DOMAIN: Partial<Record<UnaryOp, [number, number]>> = {
  log: [0.01, 50],
  log1p: [-0.99, 50],
  sqrt: [0, 50],
  rsqrt: [0.01, 50],
  pow_scalar: [-3, 3],
};
const PARAMS: Partial<Record<UnaryOp, [number, number]>> = {
  leaky_relu: [0.2, 0],
  clamp: [-0.3, 0.5],
  pow_scalar: [3, 0],
  affine: [1.5, -0.25],
};

describe('elementwise kernels match the cpu reference', () => {
  for (const op of UNARY_OPS) {
    it(`unary ${op} on odd shapes, size 1 and empty`, async () => {
      const gpu = await getGpu();
      const [lo, hi] = DOMAIN[op] ?? [-4, 4];
      const [p0, p1] = PARAMS[op] ?? [0, 0];
      for (const shape of [[37, 53], [1], [0], [3, 1, 5]]) {
        const [c, g] = pair(shape, 11 + shape.length, gpu, lo, hi);
        await expectClose(unary(op, g, p0, p1), unary(op, c, p0, p1), 1e-5, 2e-5, `${op} ${shape}`);
      }
    });
  }

  it('unary ops stay finite and exact in the tails (|x| = 80)', async () => {
    const gpu = await getGpu();
    const data = Float32Array.from([-80, -30, -1e-3, 0, 1e-3, 30, 80]);
    for (const op of ['sigmoid', 'tanh', 'softplus', 'exp', 'relu', 'leaky_relu'] as UnaryOp[]) {
      const c = unary(op, tensor(data, [7], { backend: cpu }), 0.1);
      const g = unary(op, tensor(data, [7], { backend: gpu }), 0.1);
      await expectClose(g, c, 1e-6, 2e-5, op);
      expect(
        (await g.toArray()).every((v) => !Number.isNaN(v)),
        `${op} has no NaN`,
      ).toBe(true);
    }
  });

  for (const op of BINARY_OPS) {
    it(`binary ${op} with broadcasting, same-shape (vec4 path) and scalars`, async () => {
      const gpu = await getGpu();
      const cases: [number[], number[]][] = [
        [
          [37, 53],
          [37, 53],
        ],
        [
          [5, 1, 7],
          [3, 1],
        ],
        [[1], [4, 9]],
        [
          [6, 1],
          [1, 5],
        ],
        [[], [3, 3]],
        [
          [0, 3],
          [1, 3],
        ],
        [[13], [13]],
        // rank 8 that merges to no fewer dims, and rows shorter than the 4 outputs of an invocation
        [
          [2, 1, 3, 1, 2, 3, 1, 5],
          [3, 1, 2, 1, 1, 5],
        ],
        [
          [5, 1, 3],
          [1, 2, 1],
        ],
        [
          [3, 7, 1, 1],
          [1, 7, 5, 2],
        ],
      ];
      for (const [sa, sb] of cases) {
        const lo = op === 'pow' ? 0.1 : -3;
        const [ca, ga] = pair(sa, 21, gpu, lo, 3);
        const [cb, gb] = pair(sb, 22, gpu, -3, 3);
        // Make comparisons see ties too.
        const [ca2, ga2] = op.length === 2 ? [cb.broadcastTo(sb).mul(1), gb.broadcastTo(sb).mul(1)] : [ca, ga];
        const A = op.length === 2 && sa.length === sb.length && sa.every((v, i) => v === sb[i]) ? [ca2, ga2] : [ca, ga];
        await expectClose(binary(op, A[1], gb), binary(op, A[0], cb), 1e-5, 1e-4, `${op} ${sa} ${sb}`);
      }
    });
  }

  it('pow follows PyTorch for negative bases with integer exponents', async () => {
    const gpu = await getGpu();
    const x = [-2, -1.5, 0, 1.5, 2];
    for (const p of [2, 3, -1, 0]) {
      const g = await tensor(x, undefined, { backend: gpu })
        .pow(
          tensor(
            x.map(() => p),
            undefined,
            { backend: gpu },
          ),
        )
        .toArray();
      x.forEach((v, i) => expect(g[i]).toBeCloseTo(v ** p, 4));
    }
  });

  it('where and the fused multiply-add broadcast like the reference', async () => {
    const gpu = await getGpu();
    const [cc, gc] = pair([4, 1, 6], 31, gpu);
    const [ca, ga] = pair([5, 6], 32, gpu);
    const [cb, gb] = pair([1], 33, gpu);
    await expectClose(where(gc.gt(0), ga, gb), where(cc.gt(0), ca, cb), 0, 0, 'where');
    await expectClose(fma(gc, ga, gb), fma(cc, ca, cb), 1e-6, 1e-5, 'fma');
  });
});

describe('reductions match the cpu reference', () => {
  const shapes: [number[], (number | number[] | undefined)[]][] = [
    [
      [7, 9, 11],
      [undefined, 0, 1, 2, -1, [0, 2], [1, 2], [0, 1]],
    ],
    [[1], [0, undefined]],
    [
      [3, 5000],
      [1, 0, undefined],
    ],
    [
      [2, 9000, 3],
      [1, [0, 1]],
    ],
  ];
  for (const op of ['sum', 'mean', 'amax', 'amin', 'logsumexp'] as const) {
    for (const variant of ['rows', 'workgroup'] as const) {
      it(`${op} (${variant} kernel) over every kind of dim set, with keepdim, long rows in several passes`, async () => {
        const gpu = await getGpu();
        gpu.reduceVariant = variant;
        for (const [shape, dimsList] of shapes) {
          const [c, g] = pair(shape, 41, gpu, -5, 5);
          for (const dims of dimsList) {
            for (const keep of [false, true]) {
              const n = Array.isArray(dims)
                ? dims.reduce((a, d) => a * shape.at(d)!, 1)
                : dims === undefined
                  ? c.size
                  : shape.at(dims)!;
              await expectClose(
                g[op](dims, keep),
                c[op](dims, keep),
                1e-5 * Math.sqrt(n),
                1e-5,
                `${op} ${shape} dims=${dims} keepdim=${keep}`,
              );
            }
          }
        }
      });
    }
  }

  for (const variant of ['rows', 'workgroup'] as const)
    it(`argmax and argmin (${variant} kernel) pick the first extreme, also on ties and along any dim`, async () => {
      const gpu = await getGpu();
      gpu.reduceVariant = variant;
      const [c, g] = pair([13, 70], 51, gpu);
      for (const d of [0, 1, undefined]) {
        await expectClose(g.argmax(d), c.argmax(d), 0, 0, `argmax ${d}`);
        await expectClose(g.argmin(d, true), c.argmin(d, true), 0, 0, `argmin ${d}`);
      }
      const ties = tensor(
        [
          [1, 3, 3, 0],
          [2, 2, 2, 2],
        ],
        undefined,
        { backend: gpu },
      );
      expect(await ties.argmax(1).tolist()).toEqual([1, 0]);
      expect(await ties.argmin(1).tolist()).toEqual([3, 0]);
    });

  for (const variant of ['rows', 'workgroup'] as const)
    it(`reductions with no outputs, or none but one of nothing (${variant} kernel), as torch gives them`, async () => {
      const gpu = await getGpu();
      gpu.reduceVariant = variant;
      // [0, 3] over dim 1: no rows (a kept size of 0 once made a kernel dividing by zero); [3, 0]: sums of nothing.
      const none = tensor(new Float32Array(0), [0, 3], { backend: gpu });
      for (const y of [none.sum(1), none.amax(1), none.argmax(1), none.logsumexp(1)]) {
        expect(y.shape).toEqual([0]);
        expect((await y.toArray()).length).toBe(0);
      }
      expect([...(await tensor(new Float32Array(0), [3, 0], { backend: gpu }).sum(1).toArray())]).toEqual([0, 0, 0]);
      // The device took no error from it: a later reduction runs.
      expect([...(await tensor([1, 5, 2], undefined, { backend: gpu }).amax().toArray())]).toEqual([5]);
    });

  it('reducing dims that end the shape first, then the others, gives the naive sums and extrema', async () => {
    // [n, c, h, w] over [0, 2, 3] (batch norm's reduction) and [1, 3]: checked against plain loops.
    const gpu = await getGpu();
    const shape = [3, 5, 4, 7];
    const [c, g] = pair(shape, 61, gpu, -3, 3);
    const x = await c.toArray();
    const at = (i: number, j: number, k: number, l: number) => x[((i * 5 + j) * 4 + k) * 7 + l];
    const naive = (
      keep: (i: number, j: number, k: number, l: number) => number,
      size: number,
      f: (a: number, b: number) => number,
      init: number,
    ) => {
      const out = new Array(size).fill(init);
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 5; j++)
          for (let k = 0; k < 4; k++)
            for (let l = 0; l < 7; l++) out[keep(i, j, k, l)] = f(out[keep(i, j, k, l)], at(i, j, k, l));
      return out;
    };
    for (const [dims, keep, size] of [
      [[0, 2, 3], (_i: number, j: number) => j, 5],
      [[1, 3], (i: number, _j: number, k: number) => i * 4 + k, 12],
    ] as const) {
      for (const [op, f, init] of [
        ['sum', (a: number, b: number) => a + b, 0],
        ['amax', Math.max, -Infinity],
        ['amin', Math.min, Infinity],
      ] as const) {
        const want = naive(keep, size, f, init);
        for (const t of [c, g]) {
          const got = await t[op]([...dims]).toArray();
          want.forEach((w, i) =>
            expect(Math.abs(got[i] - w), `${op} dims=${dims} on ${t.backend.name} [${i}]`).toBeLessThan(1e-4),
          );
          expect(t[op]([...dims], true).shape).toEqual(
            shape.map((s, d) => ((dims as readonly number[]).includes(d) ? 1 : s)),
          );
        }
      }
    }
  });

  it('sum of large values keeps float32 precision (tree, not serial)', async () => {
    const gpu = await getGpu();
    const n = 1 << 20;
    const s = await tensor(new Float32Array(n).fill(1.1), [n], { backend: gpu }).sum().item();
    expect(Math.abs(s - n * 1.1) / (n * 1.1)).toBeLessThan(1e-5);
  });

  it('logsumexp is stable for large inputs', async () => {
    const gpu = await getGpu();
    const x = tensor(
      [
        [1000, 1000],
        [-1000, -1000],
      ],
      undefined,
      { backend: gpu },
    );
    const r = await x.logsumexp(1).toArray();
    expect(r[0]).toBeCloseTo(1000 + Math.log(2), 3);
    expect(r[1]).toBeCloseTo(-1000 + Math.log(2), 3);
  });
});

describe('movement kernels match the cpu reference', () => {
  it('permute, transpose, slice with steps, broadcast_to', async () => {
    const gpu = await getGpu();
    const [c, g] = pair([3, 5, 7, 2], 61, gpu);
    await expectClose(g.permute([2, 0, 3, 1]), c.permute([2, 0, 3, 1]), 0, 0, 'permute');
    await expectClose(g.transpose(1, -1), c.transpose(1, -1), 0, 0, 'transpose');
    await expectClose(g.slice(2, 1, 6, 2), c.slice(2, 1, 6, 2), 0, 0, 'slice step 2');
    await expectClose(g.slice(1, -3), c.slice(1, -3), 0, 0, 'slice negative');
    await expectClose(g.slice(0, 2, 2), c.slice(0, 2, 2), 0, 0, 'empty slice');
    const [c2, g2] = pair([37, 53], 63, gpu);
    await expectClose(g2.t(), c2.t(), 0, 0, 'transpose 37x53 (runs over long rows)');
    await expectClose(g2.slice(1, 3, 50, 3), c2.slice(1, 3, 50, 3), 0, 0, 'slice long rows step 3');
    // Contiguous rows of 19: two full runs of 8 (the unrolled path) and a tail of 3 (the loop).
    const [c3, g3] = pair([4, 3, 19], 64, gpu);
    await expectClose(g3.permute([1, 0, 2]), c3.permute([1, 0, 2]), 0, 0, 'permute keeping contiguous rows');
    await expectClose(g2.slice(0, 5, 31), c2.slice(0, 5, 31), 0, 0, 'slice of whole rows');
    const [c1, g1] = pair([5, 1, 2], 62, gpu);
    await expectClose(g1.broadcastTo([4, 5, 3, 2]), c1.broadcastTo([4, 5, 3, 2]), 0, 0, 'broadcast_to');
  });

  it('concat and stack along any dim, including empty parts', async () => {
    const gpu = await getGpu();
    const parts = [
      [2, 3, 4],
      [2, 5, 4],
      [2, 0, 4],
      [2, 1, 4],
    ].map((s, i) => pair(s, 70 + i, gpu));
    await expectClose(
      concat(
        parts.map((p) => p[1]),
        1,
      ),
      concat(
        parts.map((p) => p[0]),
        1,
      ),
      0,
      0,
      'cat dim 1',
    );
    const same = [0, 1, 2].map((i) => pair([3, 4], 80 + i, gpu));
    await expectClose(
      stack(
        same.map((p) => p[1]),
        1,
      ),
      stack(
        same.map((p) => p[0]),
        1,
      ),
      0,
      0,
      'stack',
    );
  });

  it('pad in constant, reflect and replicate modes', async () => {
    const gpu = await getGpu();
    const [c, g] = pair([2, 3, 5, 6], 90, gpu);
    for (const mode of ['constant', 'reflect', 'replicate'] as const) {
      await expectClose(g.pad([2, 1, 3, 4], mode, 0.5), c.pad([2, 1, 3, 4], mode, 0.5), 0, 0, mode);
    }
    // reflect: [1,2,3] padded by 2 on each side is [3,2,1,2,3,2,1], as in torch.nn.functional.pad.
    expect(
      await tensor([[1, 2, 3]], undefined, { backend: gpu })
        .pad([2, 2], 'reflect')
        .tolist(),
    ).toEqual([[3, 2, 1, 2, 3, 2, 1]]);
  });
});

describe('matmul variants match the cpu reference', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [37, 53, 29],
    [64, 64, 64],
    [33, 36, 20],
    [3, 5, 700],
    [130, 7, 1],
    [12, 44, 7],
    [36, 8, 12],
  ];
  for (const variant of MATMUL_VARIANTS) {
    it(`${variant}: odd shapes, transposed operands, batches with broadcasting`, async () => {
      const gpu = await getGpu();
      gpu.tuner.forced = variant;
      try {
        for (const [M, N, K] of shapes) {
          for (const [tA, tB] of [
            [false, false],
            [true, false],
            [false, true],
            [true, true],
          ]) {
            const [ca, ga] = pair(tA ? [2, K, M] : [2, M, K], 100 + M, gpu);
            const [cb, gb] = pair(tB ? [1, N, K] : [1, K, N], 200 + N, gpu);
            const { bmm } = await import('../src/ops/matmul.ts');
            await expectClose(
              bmm(ga, gb, tA, tB),
              bmm(ca, cb, tA, tB),
              1e-5 * Math.sqrt(K),
              1e-4,
              `${variant} ${M}x${N}x${K} tA=${tA} tB=${tB}`,
            );
          }
        }
        // PyTorch's matmul semantics: vectors, and broadcast batch dims.
        const [cx, gx] = pair([4, 1, 6, 5], 300, gpu);
        const [cy, gy] = pair([3, 5, 7], 301, gpu);
        await expectClose(gx.matmul(gy), cx.matmul(cy), 1e-5, 1e-4, 'broadcast batch');
        const [cv, gv] = pair([5], 302, gpu);
        await expectClose(gx.matmul(gv), cx.matmul(cv), 1e-5, 1e-4, 'matrix @ vector');
        await expectClose(gv.matmul(gy), cv.matmul(cy), 1e-5, 1e-4, 'vector @ batch');
      } finally {
        gpu.tuner.forced = null;
      }
    });
  }

  it('reg, vec4, vec4t and tiled give bit-identical results (k summed in order with fma)', async () => {
    const gpu = await getGpu();
    const { bmm } = await import('../src/ops/matmul.ts');
    for (const [tA, tB, M, N, K] of [
      [false, false, 36, 40, 28],
      [true, false, 36, 40, 29],
      [false, true, 37, 41, 28],
    ] as const) {
      const [, a] = pair(tA ? [1, K, M] : [1, M, K], 500 + K, gpu);
      const [, b] = pair(tB ? [1, N, K] : [1, K, N], 600 + K, gpu);
      const results: Float32Array[] = [];
      for (const v of ['reg', 'vec4', 'vec4t', 'tiled'] as const) {
        gpu.tuner.forced = v;
        results.push(await bmm(a, b, tA, tB).toArray());
      }
      gpu.tuner.forced = null;
      for (const r of results.slice(1)) expect(r).toEqual(results[0]);
    }
  });

  it('large values and an empty inner dimension', async () => {
    const gpu = await getGpu();
    // Large positive values: no cancellation, so the float32 error stays relative to the result.
    const big = randomData(40 * 30, 5, 1e3, 1e4);
    const [c, g] = [tensor(big, [40, 30], { backend: cpu }), tensor(big, [40, 30], { backend: gpu })];
    await expectClose(g.matmul(g.t()), c.matmul(c.t()), 0, 1e-5, 'large');
    const z = tensor(new Float32Array(0), [3, 0], { backend: gpu }).matmul(
      tensor(new Float32Array(0), [0, 4], { backend: gpu }),
    );
    expect(await z.tolist()).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
  });

  it('the tuner measures the variants and then keeps its choice', async () => {
    const gpu = await getGpu();
    const [, a] = pair([200, 96], 400, gpu);
    const [, b] = pair([96, 160], 401, gpu);
    const first = a.matmul(b) as Tensor;
    await gpu.tuner.settle();
    const key = [...gpu.tuner.timings.keys()].find((k) => k.startsWith('mm:N:N:1:256:256:128'));
    expect(key, 'a measurement for the shape class').toBeDefined();
    const times = gpu.tuner.timings.get(key!)!;
    expect(Object.keys(times).sort()).toEqual(['reg', 'tiled', 'vec4']);
    const best = Object.entries(times).sort((x, y) => x[1]! - y[1]!)[0][0];
    expect(gpu.tuner.choices.get(key!)).toBe(best);
    await expectClose(a.matmul(b), first, 1e-4, 1e-4, 'same result with the measured variant');
  });
});
