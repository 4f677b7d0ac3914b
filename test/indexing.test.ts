// Indexing and scans (torch.gather, index_select, max/min along a dim with indices, cumsum): the
// gather, scatter_add and cumsum primitives (shaders/gather.wgsl, shaders/cumsum.wgsl) against the CPU
// reference on odd shapes and special values, the CPU reference against loops written from the
// definitions here, float64 gradchecks, and a compiled step using them.
import { describe, expect, it } from 'vitest';
import { compile, F, gradcheck, nn, tensor, tidy, Generator, type Backend, type Tensor } from '../src/index.ts';
import { cpu, expectClose, getGpu, randomData, randomInput, rng, RUN_SEED } from './helpers.ts';

/** Values in [-2, 2), fresh each run. */
const input = (shape: number[], seed: number) => randomInput(shape, seed ^ RUN_SEED, -2, 2);
/** Positions 0..D-1 drawn for an index of `shape` (repeats included). */
const positions = (shape: number[], D: number, seed: number) => {
  const r = rng(seed);
  return Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(r() * D));
};
const bits = (v: Float32Array) => [...new Uint32Array(v.buffer, v.byteOffset, v.length)];
const strides = (shape: number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

describe('gather, scatter-add and cumsum on the CPU reference match their definitions', () => {
  it('gather: out[i][j][k] = x[i][index[i][j][k]][k] (dim 1), index smaller than x in the other dims', async () => {
    const xs = [3, 5, 4],
      is = [2, 7, 3];
    const x = input(xs, 1),
      idx = positions(is, 5, 2);
    const got = await tensor(x.data, xs, { backend: cpu })
      .gather(1, tensor(idx, is, { backend: cpu }))
      .toArray();
    const [sx, si] = [strides(xs), strides(is)];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 7; j++)
        for (let k = 0; k < 3; k++) {
          const want = Math.fround(x.data[i * sx[0] + idx[i * si[0] + j * si[1] + k] * sx[1] + k]);
          expect(got[i * si[0] + j * si[1] + k]).toBe(want);
        }
  });
  it('cumsum along each dim: y[.., d, ..] = sum of x[.., t, ..] for t <= d', async () => {
    const shape = [3, 4, 5],
      x = input(shape, 3);
    for (const dim of [0, 1, 2, -1]) {
      const d = dim < 0 ? 2 : dim;
      const got = await tensor(x.data, shape, { backend: cpu }).cumsum(dim).toArray();
      const st = strides(shape);
      for (let f = 0; f < 60; f++) {
        const c = Math.floor(f / st[d]) % shape[d];
        let want = 0;
        for (let t = 0; t <= c; t++) want += Math.fround(x.data[f + (t - c) * st[d]]);
        expect(Math.abs(got[f] - want), `dim ${dim} at ${f}`).toBeLessThanOrEqual(1e-5);
      }
    }
  });
});

describe('gradcheck (float64): gather, indexSelect, cumsum, max and min along a dim', () => {
  const check = (name: string, fn: (...xs: Tensor[]) => Tensor, inputs: { data: number[]; shape: number[] }[]) => {
    const r = gradcheck(fn, inputs);
    expect(r.ok, `${name}: max rel error ${r.maxRelError} at ${JSON.stringify(r.worst)}`).toBe(true);
  };
  it('gather with repeated positions (the gradient sums), along the first, middle and last dim', () => {
    for (const [dim, is] of [
      [0, [6, 3, 2]],
      [1, [2, 5, 2]],
      [2, [2, 3, 4]],
    ] as const) {
      const idx = positions([...is], [3, 3, 2][dim] ?? 3, 10 + dim);
      check(`gather dim ${dim}`, (x) => x.gather(dim, tensor(idx, [...is])).square(), [input([3, 3, 2], 20 + dim)]);
    }
  });
  it('indexSelect (repeats, reordering), cumsum, and max/min values along a dim', () => {
    check('indexSelect', (x) => x.indexSelect(1, tensor([2, 0, 2, 1])).mul(x.indexSelect(1, tensor([1, 1, 0, 2]))), [
      input([2, 3, 2], 30),
    ]);
    check('cumsum dim 0', (x) => x.cumsum(0).square(), [input([4, 3], 31)]);
    check('cumsum dim -1', (x) => x.cumsum(-1).mul(x), [input([2, 3, 5], 32)]);
    check('max dim 1', (x) => x.max(1).values.square(), [input([3, 4, 2], 33)]);
    check('min dim 0 keepdim', (x) => x.min(0, true).values.mul(x), [input([3, 4], 34)]);
  });
});

describe('max and min along a dim as torch.max(x, dim)', () => {
  it('the first maximum on ties, the first NaN where there is one; the gradient to that index only', async () => {
    for (const b of [cpu, await getGpu()] as Backend[]) {
      const x = tensor([1, 3, 3, -1, NaN, 2, NaN, 0, -0, 0, -5, -5], [3, 4], { backend: b, requiresGrad: true });
      const { values, indices } = x.max(1);
      // Row 2's -0 and 0 tie: the first, -0.
      expect([...(await indices.toArray())]).toEqual([1, 0, 0]);
      expect([...(await values.toArray())]).toEqual([3, NaN, -0]);
      values
        .mul(tensor([1, 1, 1], [3], { backend: b }))
        .sum()
        .backward();
      // torch.max(dim)'s backward puts the gradient at the index; amax's shares it among ties.
      expect([...(await x.grad!.toArray())]).toEqual([0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
      const y = tensor([1, 3, 3, -1], [1, 4], { backend: b, requiresGrad: true });
      y.amax(1).sum().backward();
      expect([...(await y.grad!.toArray())]).toEqual([0, 0.5, 0.5, 0]);
      const { values: mn, indices: mi } = tensor([2, -1, -1, 4, 0, 7], [2, 3], { backend: b }).min(0, true);
      expect(mn.shape).toEqual([1, 3]);
      expect([...(await mn.toArray())]).toEqual([2, -1, -1]);
      expect([...(await mi.toArray())]).toEqual([0, 0, 0]);
      expect(await tensor([1, 9, 2], [3], { backend: b }).max().item()).toBe(9);
      expect(() => x.max([0, 1] as never)).toThrow(/^max: dim must be one number \(amax\/amin reduce several\)/);
    }
  });
});

describe('the WebGPU kernels match the CPU reference', () => {
  it('gather and its gradient on odd shapes, along every dim', async () => {
    const gpu = await getGpu();
    for (const [xs, dim, is] of [
      [[7, 37, 3], 1, [7, 50, 3]],
      [[300, 5], 0, [257, 5]],
      [[2, 3, 129], 2, [2, 3, 1]],
      [[1], 0, [4]],
    ] as const) {
      const x = input([...xs], 40 + dim),
        idx = positions([...is], xs[dim]!, 50 + dim),
        r = input([...is], 60 + dim);
      const run = async (b: Backend) => {
        const t = tensor(x.data, [...xs], { backend: b, requiresGrad: true });
        const y = t.gather(dim, tensor(idx, [...is], { backend: b }));
        y.mul(tensor(r.data, [...is], { backend: b }))
          .sum()
          .backward();
        return { y, g: t.grad! };
      };
      const [g, c] = [await run(gpu), await run(cpu)];
      expect(bits(await g.y.toArray()), `gather ${xs} dim ${dim}`).toEqual(bits(await c.y.toArray()));
      await expectClose(g.g, c.g, 1e-5, 1e-5, `scatter-add ${xs} dim ${dim}`);
    }
  });

  it('special values pass through exactly; positions that are no index give NaN on both backends', async () => {
    const gpu = await getGpu();
    const x = [NaN, Infinity, -Infinity, -0, 0, 3e38, -1e-41, 1];
    for (const b of [cpu, gpu] as Backend[]) {
      const got = await tensor(x, [1, 8], { backend: b })
        .gather(1, tensor([0, 1, 2, 3, 4, 5, 6, 7, 3], [1, 9], { backend: b }))
        .toArray();
      // Denormals may flush to zero on a GPU (as every kernel here may); the rest are bit-exact.
      expect(bits(got).filter((_, i) => i !== 6)).toEqual(bits(new Float32Array([...x, -0])).filter((_, i) => i !== 6));
      const bad = await tensor(x, [8], { backend: b })
        .gather(0, tensor([-1, 8, 1.5, NaN, Infinity, -Infinity, 7], [7], { backend: b }))
        .toArray();
      expect([...bad]).toEqual([NaN, NaN, NaN, NaN, NaN, NaN, 1]);
      // The adjoint drops them: only position 7 gets its gradient.
      const t = tensor(
        x.map(() => 1),
        [8],
        { backend: b, requiresGrad: true },
      );
      t.gather(0, tensor([-1, 8, 1.5, NaN, 7, 7], [6], { backend: b }))
        .sum()
        .backward();
      expect([...(await t.grad!.toArray())]).toEqual([0, 0, 0, 0, 0, 0, 0, 2]);
      expect(tensor([], [0, 3], { backend: b }).gather(0, tensor([], [0, 3], { backend: b })).shape).toEqual([0, 3]);
    }
    expect(() => tensor([1, 2], [2]).gather(0, tensor([0], [1, 1]))).toThrow(
      /^gather: index of shape \[1, 1\] does not fit input \[2\] along dim 0/,
    );
    expect(() => tensor([1, 2], [2]).indexSelect(0, tensor([0], [1, 1]))).toThrow(
      /^indexSelect: index must be 1-D, got shape \[1, 1\]/,
    );
  });

  it('cumsum on odd shapes and special values (Inf - Inf is NaN from there on, as in torch)', async () => {
    const gpu = await getGpu();
    for (const [shape, dim] of [
      [[3, 300], 1],
      [[257, 3], 0],
      [[2, 5, 7], 1],
      [[1], 0],
    ] as const) {
      const x = input([...shape], 70 + dim);
      const run = async (b: Backend) => {
        const t = tensor(x.data, [...shape], { backend: b, requiresGrad: true });
        const y = t.cumsum(dim);
        y.square().sum().backward();
        return { y, g: t.grad! };
      };
      const [g, c] = [await run(gpu), await run(cpu)];
      // The kernel's running sum is in float32 and the reference's in float64: a recursive sum of D
      // terms errs by at most (D - 1) 2^-24 sum|terms| (Higham, Accuracy and Stability of Numerical
      // Algorithms, 2nd ed., section 4.2), bounded by D max|term|. (A fixed 1e-5 failed for one seed: a
      // running sum over a row of 300 was 0.02473 against 0.02472.)
      const D = shape[dim]!;
      const runningSumBound = (terms: ArrayLike<number>) =>
        (D - 1) * 2 ** -24 * D * Math.max(...Array.from(terms, Math.abs));
      await expectClose(g.y, c.y, runningSumBound(x.data), 0, `cumsum ${shape} dim ${dim}`);
      // The gradient is the same kind of sum, reversed, of 2y.
      const twoY = (await c.y.toArray()).map((v) => 2 * v);
      await expectClose(g.g, c.g, runningSumBound(twoY), 0, `cumsum grad ${shape} dim ${dim}`);
    }
    for (const b of [cpu, gpu] as Backend[]) {
      const got = await tensor([1, Infinity, -Infinity, 2, NaN, 0, 3e38, 3e38, -1], [9], { backend: b })
        .cumsum(0)
        .toArray();
      expect([...got]).toEqual([1, Infinity, NaN, NaN, NaN, NaN, NaN, NaN, NaN]);
      // A partial sum past float32's range: the kernel adds in float32 (as torch on CUDA), so it stays
      // Inf; the CPU reference adds in float64 (as torch's CPU kernel, whose accumulator is double) and
      // comes back into range.
      const big = await tensor([3e38, 3e38, -3e38], [3], { backend: b }).cumsum(0).toArray();
      expect([...big]).toEqual([Math.fround(3e38), Infinity, b === cpu ? Math.fround(3e38) : Infinity]);
      expect(tensor([], [0], { backend: b }).cumsum(0).shape).toEqual([0]);
    }
  });

  it('a compiled step using gather, indexSelect and cumsum equals the eager one', async () => {
    for (const b of [cpu, await getGpu()] as Backend[]) {
      const run = async (compiled: boolean) => {
        const lin = new nn.Linear(4, 6, { generator: new Generator(3), backend: b });
        const opt = new nn.Adam(lin.parameters(), { lr: 0.05 });
        const x = tensor(randomData(20, 5), [5, 4], { backend: b });
        const pick = tensor([5, 0, 3, 3, 1], [5, 1], { backend: b }),
          cols = tensor([1, 4, 2], [3], { backend: b });
        const fn = (xs: Tensor) =>
          tidy(() => {
            opt.zeroGrad();
            const h = lin.call(xs);
            const loss = h.gather(1, pick).square().mean().add(h.indexSelect(1, cols).cumsum(1).tanh().mean());
            loss.backward();
            opt.step();
            return loss;
          });
        const step = compiled ? compile(fn) : fn;
        const out: number[] = [];
        for (let i = 0; i < 4; i++) {
          const l = step(x);
          out.push(await l.item());
          l.dispose();
        }
        return out;
      };
      const [e, c] = [await run(false), await run(true)];
      c.forEach((v, i) => expect(Math.abs(v - e[i]), `${b.name} step ${i}`).toBeLessThanOrEqual(1e-5 * Math.abs(e[i])));
    }
  });
});

describe("Embedding, and the class losses' options at the edges", () => {
  it('Embedding: rows by index (any index shape), repeated indices sum their gradients, paddingIdx rows get none', async () => {
    for (const b of [cpu, await getGpu()] as Backend[]) {
      const e = new nn.Embedding(5, 3, { generator: new Generator(7), backend: b, paddingIdx: -1 });
      expect(e.paddingIdx).toBe(4);
      const w = await e.weight.toArray();
      expect([...w.slice(12)]).toEqual([0, 0, 0]);
      const idx = tensor([1, 4, 1, 0, 3, 1], [2, 3], { backend: b });
      const y = e.call(idx);
      expect(y.shape).toEqual([2, 3, 3]);
      const got = await y.toArray();
      [1, 4, 1, 0, 3, 1].forEach((r, k) =>
        expect([...got.slice(3 * k, 3 * k + 3)]).toEqual([...w.slice(3 * r, 3 * r + 3)]),
      );
      y.sum().backward();
      // Row 1 is used three times, 0 and 3 once, 2 never; 4 is the padding row.
      expect([...(await e.weight.grad!.toArray())]).toEqual([1, 1, 1, 3, 3, 3, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
    }
    expect(() => new nn.Embedding(3, 2, { paddingIdx: 3 })).toThrow(
      /^Embedding: paddingIdx 3 is not an index of 3 embeddings$/,
    );
    expect(() => new nn.Embedding(0, 2)).toThrow(
      /^Embedding: numEmbeddings and embeddingDim must be positive integers, got 0 and 2$/,
    );
  });

  it("the loss modules take torch's options; bad ones name the loss and the shapes", async () => {
    const x = tensor([
        [1, 2, 0.5],
        [0, -1, 3],
      ]),
      t = tensor([2, -100]),
      w = tensor([1, 2, 3]);
    const ce = new nn.CrossEntropyLoss({ weight: w, labelSmoothing: 0.1 });
    expect(ce.reduction).toBe('mean');
    expect(await ce.call(x, t.clamp(0)).item()).toBe(
      await F.crossEntropy(x, t.clamp(0), { weight: w, labelSmoothing: 0.1 }).item(),
    );
    // Only the first row counts (the second is ignored): -log softmax(x0)[2] with weight 3, over weight 3.
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(0.5));
    expect(await new nn.CrossEntropyLoss().call(x, t).item()).toBeCloseTo(lse - 0.5, 6);
    expect(await new nn.NLLLoss('sum').call(x.logSoftmax(1), t).item()).toBeCloseTo(lse - 0.5, 6);
    expect(() => F.crossEntropy(x, t, { weight: tensor([1, 2]) })).toThrow(
      /^crossEntropy: weight of shape \[2\] for 3 classes \(expected \[3\]\)$/,
    );
    expect(() => F.crossEntropy(x, t, { labelSmoothing: 1.5 })).toThrow(
      /^crossEntropy: labelSmoothing must be in \[0, 1\], not 1.5$/,
    );
    expect(() => F.crossEntropy(x, tensor([1, 2, 0]))).toThrow(
      /^crossEntropy: target of shape \[3\] for input \[2, 3\] \(expected class indices \[2\] or probabilities \[2, 3\]\)$/,
    );
    expect(() => F.crossEntropy(x, tensor([1, -100]), { ignoreIndex: 0 })).toThrow(
      /^crossEntropy: target label -100 \(at index 1\) is not a class index/,
    );
    expect(() => F.nllLoss(x, x)).toThrow(/^nllLoss: target of shape \[2, 3\]: expected class indices/);
    expect(() => F.bceWithLogits(x, x, { posWeight: tensor([1, 2]) })).toThrow(
      /^binary_cross_entropy_with_logits: posWeight \[2\] does not broadcast to the loss's \[2, 3\]$/,
    );
    expect(() => F.mse(x, tensor([1, 2]))).toThrow(
      /^mse_loss: shapes \[2, 3\] and \[2\] cannot be broadcast together$/,
    );
    // On WebGPU a bad label makes its row's loss +Inf (no readback to check it), an ignored one 0.
    const gpu = await getGpu();
    const rows = await F.crossEntropy(
      tensor(
        [
          [1, 2, 0.5],
          [0, -1, 3],
          [1, 1, 1],
        ],
        undefined,
        { backend: gpu },
      ),
      tensor([7, -100, 1], [3], { backend: gpu }),
      'none',
    ).toArray();
    expect(rows[0]).toBe(Infinity);
    expect(rows[1]).toBe(0);
    expect(rows[2]).toBeCloseTo(Math.log(3), 6);
  });
});
