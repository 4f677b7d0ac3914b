// nn: the optimizer kernels against their CPU twins, gradcheck of the functional layers and losses,
// reparameterized sampling, modules and state dicts, and small models trained with the same seed on
// both backends (the loss curves agree step by step, and the loss falls).
import { describe, expect, it } from 'vitest';
import {
  F,
  nn,
  compile,
  gradcheck,
  tensor,
  Generator,
  randn,
  rand,
  tidy,
  withBackend,
  reparameterize,
  type Backend,
  type Tensor,
} from '../src/index.ts';
import { cpu, expectClose, forEachBackend, getGpu, pair, randomInput } from './helpers.ts';

function check(name: string, fn: (...xs: Tensor[]) => Tensor, inputs: { data: number[]; shape: number[] }[]) {
  const r = gradcheck(fn, inputs);
  expect(r.ok, `${name}: max rel error ${r.maxRelError} at ${JSON.stringify(r.worst)}`).toBe(true);
}

describe('optimizer kernels match their cpu twins', () => {
  const configs = [
    { kind: 'sgd', o: { lr: 0.1 } },
    { kind: 'sgd', o: { lr: 0.05, momentum: 0.9, weightDecay: 0.01 } },
    { kind: 'sgd', o: { lr: 0.05, momentum: 0.9, nesterov: true } },
    { kind: 'adam', o: { lr: 0.01, betas: [0.5, 0.999] as [number, number], weightDecay: 0.001 } },
    { kind: 'adamw', o: { lr: 0.01, betas: [0.5, 0.999] as [number, number], weightDecay: 0.1 } },
  ] as const;
  for (const c of configs) {
    it(`${c.kind} ${JSON.stringify(c.o)} over 5 steps`, async () => {
      const gpu = await getGpu();
      const run = async (b: Backend) => {
        const p = tensor(randomInput([37, 3], 1).data, [37, 3], { backend: b, requiresGrad: true });
        const opt =
          c.kind === 'sgd' ? new nn.SGD([p], c.o) : c.kind === 'adamw' ? new nn.AdamW([p], c.o) : new nn.Adam([p], c.o);
        for (let s = 0; s < 5; s++) {
          opt.zeroGrad();
          p.grad = tensor(randomInput([37, 3], 10 + s).data, [37, 3], { backend: b });
          opt.step();
        }
        return p;
      };
      await expectClose(await run(gpu), await run(cpu), 1e-6, 1e-5, c.kind);
    });
  }
  forEachBackend((which, backend) => {
    it(`AdamW follows torch.optim.AdamW's formula over 3 steps (${which})`, async () => {
      // Loshchilov & Hutter 2019, Alg. 2 as torch.optim.AdamW runs it, in float64 here:
      // p <- p (1 - lr wd); m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
      // p <- p - lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
      const b = await backend();
      const [lr, b1, b2, eps, wd] = [0.05, 0.9, 0.99, 1e-8, 0.3];
      const p0 = [1, -2, 0.5, 3],
        grads = [
          [0.5, -1, 2, 0],
          [0.1, 0.2, -0.3, 1],
          [-2, 0.5, 0.5, -1],
        ];
      const want = [...p0],
        m = [0, 0, 0, 0],
        v = [0, 0, 0, 0];
      grads.forEach((g, s) => {
        const t = s + 1;
        for (let i = 0; i < 4; i++) {
          want[i] *= 1 - lr * wd;
          m[i] = b1 * m[i] + (1 - b1) * g[i];
          v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
          want[i] -= ((lr / (1 - b1 ** t)) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps);
        }
      });
      const p = tensor(p0, [4], { backend: b, requiresGrad: true });
      const opt = new nn.AdamW([p], { lr, betas: [b1, b2], eps, weightDecay: wd });
      for (const g of grads) {
        opt.zeroGrad();
        p.grad = tensor(g, [4], { backend: b });
        opt.step();
      }
      const got = await p.toArray();
      want.forEach((w, i) =>
        expect(Math.abs(got[i] - w), `${i}: ${got[i]} for ${w}`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(w))),
      );
      // The default decay is PyTorch's 0.01; a negative one is an error naming AdamW.
      expect(() => new nn.AdamW([p], { weightDecay: -1 })).toThrow(/AdamW: invalid weight decay -1/);
    });
  });
  it('Adam takes a first step of lr * sign(g) (bias correction)', async () => {
    const gpu = await getGpu();
    const p = tensor([1, -2, 3], undefined, { backend: gpu, requiresGrad: true });
    const opt = new nn.Adam([p], { lr: 0.1 });
    p.grad = tensor([0.5, -3, 1e-3], undefined, { backend: gpu });
    opt.step();
    const got = await p.toArray();
    [0.9, -1.9, 2.9].forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
  });
});

describe('gradcheck of the functional layers and losses', () => {
  it('linear, batch_norm (train), instance_norm, upsample, avg_pool, dropout', () => {
    check('linear', (x, w, b) => F.linear(x, w, b), [
      randomInput([2, 3, 4], 1),
      randomInput([5, 4], 2),
      randomInput([5], 3),
    ]);
    check('batch_norm', (x, w, b) => F.batchNorm(x, null, null, w, b, true), [
      randomInput([3, 2, 3, 2], 4),
      randomInput([2], 5),
      randomInput([2], 6),
    ]);
    check('instance_norm', (x, w, b) => F.instanceNorm(x, w, b), [
      randomInput([2, 3, 3, 2], 7),
      randomInput([3], 8),
      randomInput([3], 9),
    ]);
    check('upsample_nearest', (x) => F.upsampleNearest(x, 2), [randomInput([1, 2, 2, 3], 10)]);
    check('avg_pool2d', (x) => F.avgPool2d(x, 2), [randomInput([1, 2, 4, 6], 11)]);
    check('avg_pool2d 3x3 stride 2 pad 1', (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }), [
      randomInput([2, 2, 5, 6], 28),
    ]);
    check('avg_pool2d exclude pad', (x) => F.avgPool2d(x, 2, { stride: 1, padding: 1, countIncludePad: false }), [
      randomInput([1, 1, 3, 4], 29),
    ]);
    check('dropout', (x) => F.dropout(x, 0.3, true, new Generator(5)), [randomInput([4, 5], 12)]);
  });
  it('activations: gelu (exact and tanh), silu, elu, softplus with beta and threshold', () => {
    // Points off the kinks (elu's at 0, softplus's select at beta x = threshold) by more than the step.
    const off = (x: { data: number[]; shape: number[] }, kink: number) => ({
      ...x,
      data: x.data.map((v) => (Math.abs(v - kink) < 0.02 ? v + 0.05 : v)),
    });
    check('gelu', (x) => F.gelu(x), [randomInput([3, 5], 40, -4, 4)]);
    check('gelu tanh', (x) => F.gelu(x, 'tanh'), [randomInput([3, 5], 41, -4, 4)]);
    check('silu', (x) => F.silu(x), [randomInput([3, 5], 42, -4, 4)]);
    check('elu', (x) => F.elu(x, 1.3), [off(randomInput([3, 5], 43, -3, 3), 0)]);
    check('softplus beta 2 threshold 3', (x) => F.softplus(x, { beta: 2, threshold: 3 }), [
      off(randomInput([3, 5], 44, -3, 3), 1.5),
    ]);
    check('softplus beta 0.5', (x) => F.softplus(x, { beta: 0.5 }), [randomInput([3, 5], 45, -4, 4)]);
  });
  it('activation layers match on both backends, and reject bad options', async () => {
    const gpu = await getGpu();
    const layers: [string, nn.Module][] = [
      ['GELU', new nn.GELU()],
      ['GELU tanh', new nn.GELU('tanh')],
      ['SiLU', new nn.SiLU()],
      ['ELU', new nn.ELU(0.7)],
      ['Softplus', new nn.Softplus({ beta: 3, threshold: 5 })],
      ['Softplus default', new nn.Softplus()],
    ];
    for (const shape of [[37, 53], [1], [0]]) {
      const [c, g] = pair(shape, 46, gpu, -6, 6);
      for (const [name, m] of layers)
        await expectClose(
          withBackend(gpu, () => m.call(g)),
          m.call(c),
          1e-6,
          1e-5,
          `${name} ${shape}`,
        );
    }
    const x = tensor([1, 2], [2], { backend: cpu });
    expect(() => F.gelu(x, 'erf' as never)).toThrow(/gelu: approximate must be 'none' or 'tanh', not "erf"/);
    expect(() => F.softplus(x, { beta: 0 })).toThrow(/softplus: beta must be a positive number, not 0/);
    expect(() => F.elu(x, NaN)).toThrow(/elu: alpha must be finite, not NaN/);
  });
  it('losses: bce with logits, bce, mse, l1, gaussian KL and log-likelihoods, cross-entropy', () => {
    const t01 = randomInput([3, 4], 13, 0, 1);
    check('bce_with_logits', (x, t) => F.bceWithLogits(x, t), [randomInput([3, 4], 14, -4, 4), t01]);
    check('bce', (p, t) => F.bce(p, t), [randomInput([3, 4], 15, 0.05, 0.95), t01]);
    check('mse', (x, t) => F.mse(x, t), [randomInput([3, 4], 16), randomInput([3, 4], 17)]);
    check('l1', (x, t) => F.l1(x, t, 'sum'), [randomInput([3, 4], 18), randomInput([3, 4], 19)]);
    check('gaussian_kl', (m, lv) => F.gaussianKL(m, lv), [randomInput([3, 4], 20), randomInput([3, 4], 21)]);
    check('bernoulli_log_lik', (l, x) => F.bernoulliLogLik(l, x), [
      randomInput([3, 2, 2], 22, -3, 3),
      randomInput([3, 2, 2], 23, 0, 1),
    ]);
    check('gaussian_log_lik', (x, m, lv) => F.gaussianLogLik(x, m, lv), [
      randomInput([3, 4], 24),
      randomInput([3, 4], 25),
      randomInput([3, 4], 26),
    ]);
    const target = { shape: [4], data: [2, 0, 1, 2] };
    const r = gradcheck(
      (l) => F.crossEntropy(l, tensor(target.data, [4], { backend: l.backend })),
      [randomInput([4, 3], 27, -2, 2)],
    );
    expect(r.ok, `cross_entropy ${r.maxRelError}`).toBe(true);
  });
  it('avg_pool2d with overlapping windows and padding equals the windowed means, on both backends', async () => {
    const gpu = await getGpu();
    const data = Float32Array.from({ length: 2 * 3 * 7 * 6 }, (_, i) => Math.sin(i * 1.3));
    const naive = (k: number, s: number, p: number, includePad: boolean) => {
      const [h, w] = [7, 6],
        oh = Math.floor((h + 2 * p - k) / s) + 1,
        ow = Math.floor((w + 2 * p - k) / s) + 1;
      const out: number[] = [];
      for (let nc = 0; nc < 6; nc++)
        for (let y = 0; y < oh; y++)
          for (let x = 0; x < ow; x++) {
            let sum = 0,
              cnt = 0;
            for (let i = 0; i < k; i++)
              for (let j = 0; j < k; j++) {
                const [yy, xx] = [y * s - p + i, x * s - p + j];
                if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                  sum += data[nc * h * w + yy * w + xx];
                  cnt++;
                }
              }
            out.push(sum / (includePad ? k * k : cnt));
          }
      return out;
    };
    for (const b of [cpu, gpu]) {
      const x = tensor(data, [2, 3, 7, 6], { backend: b });
      for (const [k, s, p, inc] of [
        [3, 2, 1, true],
        [2, 1, 0, true],
        [3, 1, 1, false],
        [4, 3, 2, true],
      ] as const) {
        const got = await F.avgPool2d(x, k, { stride: s, padding: p, countIncludePad: inc }).toArray();
        const want = naive(k, s, p, inc);
        expect(got.length).toBe(want.length);
        want.forEach((v, i) =>
          expect(Math.abs(got[i] - v), `k${k} s${s} p${p} ${inc} on ${b.name} [${i}]`).toBeLessThan(1e-5),
        );
      }
    }
    expect(() => F.avgPool2d(tensor(data, [2, 3, 7, 6]), 3, { padding: 2 })).toThrow(
      /padding 2x2 is more than half the kernel 3x3/,
    );
  });

  it('losses equal their closed forms on known values', async () => {
    await withBackend(cpu, async () => {
      // bce_with_logits(0, 1) = log 2; cross_entropy of uniform logits over 4 classes = log 4
      expect(await F.bceWithLogits(tensor([0]), tensor([1])).item()).toBeCloseTo(Math.log(2), 6);
      expect(await F.crossEntropy(tensor([[1, 1, 1, 1]]), tensor([3])).item()).toBeCloseTo(Math.log(4), 6);
      // KL(N(1, e^0) || N(0,1)) = 1/2 (mu^2) = 0.5 per dim
      expect(await F.gaussianKL(tensor([[1, 1]]), tensor([[0, 0]])).tolist()).toEqual([1]);
      // bce with logits stays finite at |x| = 100
      expect(await F.bceWithLogits(tensor([100, -100]), tensor([0, 1]), 'none').tolist()).toEqual([100, 100]);
    });
  });
});

describe('reparameterized sampling', () => {
  it('sends gradients to mu and logvar, none to eps', async () => {
    await withBackend(cpu, async () => {
      const mu = tensor([0.5, -1], undefined, { requiresGrad: true });
      const logvar = tensor([0.2, -0.4], undefined, { requiresGrad: true });
      const z = reparameterize(mu, logvar, new Generator(9));
      // eps enters the graph as a constant input: no leaf of it requires grad.
      const eps0 = z.gradFn!.inputs[1].gradFn!.inputs[1];
      expect(eps0.requiresGrad).toBe(false);
      z.sum().backward();
      const eps = await randn([2], { generator: new Generator(9) }).toArray();
      expect(await mu.grad!.tolist()).toEqual([1, 1]);
      const glv = await logvar.grad!.toArray();
      [0.2, -0.4].forEach((lv, i) => expect(glv[i]).toBeCloseTo(0.5 * Math.exp(0.5 * lv) * eps[i], 5));
      expect(eps0.grad).toBeNull();
    });
  });
});

describe('gradient clipping (torch.nn.utils)', () => {
  // Gradients [[1, 2], [3, 4]] and [0.5, -1]: total 2-norm sqrt(1 + 4 + 9 + 16 + 0.25 + 1) = sqrt(31.25),
  // factor 2 / (sqrt(31.25) + 1e-6); the inf-norm is 4, factor 3 / (4 + 1e-6); the 1-norm 11.5.
  const setup = (b: Backend) => {
    const w = tensor([0, 0, 0, 0], [2, 2], { backend: b, requiresGrad: true }),
      v = tensor([0, 0], [2], { backend: b, requiresGrad: true });
    w.grad = tensor([1, 2, 3, 4], [2, 2], { backend: b });
    v.grad = tensor([0.5, -1], [2], { backend: b });
    return [w, v];
  };
  forEachBackend((which, backend) => {
    it(`clipGradNorm_ and clipGradValue_ as PyTorch's formulas (${which})`, async () => {
      const b = await backend();
      const close = async (t: Tensor, want: number[]) =>
        (await t.toArray()).forEach((x, i) => expect(x).toBeCloseTo(want[i], 5));
      for (const [norm, total] of [
        [2, Math.sqrt(31.25)],
        ['inf', 4],
        [1, 11.5],
      ] as const) {
        const [w, v] = setup(b);
        const max = norm === 'inf' ? 3 : 2;
        const got = nn.clipGradNorm_([w, v], max, norm);
        expect(await got.item()).toBeCloseTo(total, 5);
        const f = max / (total + 1e-6);
        await close(
          w.grad!,
          [1, 2, 3, 4].map((g) => g * f),
        );
        await close(
          v.grad!,
          [0.5, -1].map((g) => g * f),
        );
      }
      // A norm already below maxNorm leaves the gradients as they are (the factor is clamped to 1).
      const [w, v] = setup(b);
      nn.clipGradNorm_([w, v], 100);
      await close(w.grad!, [1, 2, 3, 4]);
      nn.clipGradValue_([w, v], 1.5);
      await close(w.grad!, [1, 1.5, 1.5, 1.5]);
      await close(v.grad!, [0.5, -1]);
      expect(() => nn.clipGradNorm_([w], -1)).toThrow(/clipGradNorm_: maxNorm must be >= 0, not -1/);
      expect(() => nn.clipGradNorm_([w], 1, 0)).toThrow(/normType must be a positive number or 'inf', not 0/);
      expect(() => nn.clipGradNorm_([tensor([1], [1], { backend: b, requiresGrad: true })], 1)).toThrow(
        /no parameter has a gradient/,
      );
    });
    it(`a compiled step with clipGradNorm_ equals the eager one (${which})`, async () => {
      const b = await backend();
      const make = () => {
        const lin = new nn.Linear(6, 3, { generator: new Generator(8), backend: b });
        return { lin, opt: new nn.SGD(lin.parameters(), { lr: 0.5 }) };
      };
      const x = tensor(
        Array.from({ length: 5 * 6 }, (_, i) => Math.sin(i) * 3),
        [5, 6],
        { backend: b },
      );
      const fn =
        ({ lin, opt }: ReturnType<typeof make>) =>
        (a: Tensor) =>
          tidy(() => {
            const l = lin.call(a).square().mean();
            opt.zeroGrad();
            l.backward();
            const n = nn.clipGradNorm_(lin.parameters(), 0.5);
            opt.step();
            return [l, n];
          });
      const [e, c] = [make(), make()];
      const eager = fn(e),
        step = compile(fn(c));
      for (let i = 0; i < 4; i++) {
        const [le, ne] = eager(x),
          [lc, nc] = step(x);
        for (const [p, q] of [
          [le, lc],
          [ne, nc],
        ])
          expect(await q.item()).toBeCloseTo(await p.item(), 5);
        // The norm is above 0.5, so the clipping changes the step.
        expect(await ne.item()).toBeGreaterThan(0.5);
        for (const t of [le, ne, lc, nc]) t.dispose();
      }
      const [we, wc] = [await e.lin.weight.toArray(), await c.lin.weight.toArray()];
      we.forEach((v, k) => expect(wc[k]).toBeCloseTo(v, 5));
      expect(step.stats.replays).toBeGreaterThan(0);
      step.dispose();
    });
  });
});

describe('clone, split, chunk, dropout2d and the loss modules', () => {
  it('clone copies (the gradient flows back); split and chunk cut as torch.split and torch.chunk', async () => {
    const x = tensor([1, -0, NaN, 4, 5, 6, 7], [7], { backend: cpu, requiresGrad: true });
    const c = x.clone();
    expect(c.storage).not.toBe(x.storage);
    const cv = await c.toArray();
    expect([cv[0], Object.is(cv[1], -0), Number.isNaN(cv[2])]).toEqual([1, true, true]);
    const m = tensor(
      Array.from({ length: 14 }, (_, i) => i),
      [2, 7],
      { backend: cpu },
    );
    expect(m.split(3, 1).map((t) => t.shape)).toEqual([
      [2, 3],
      [2, 3],
      [2, 1],
    ]);
    expect(await m.split([2, 5], 1)[1].toArray()).toEqual(Float32Array.from([2, 3, 4, 5, 6, 9, 10, 11, 12, 13]));
    // torch.chunk(7 elements, 3) gives pieces of ceil(7 / 3) = 3: 3, 3, 1; chunk(6, 4) gives 2, 2, 2 (three pieces).
    expect(m.chunk(3, -1).map((t) => t.shape[1])).toEqual([3, 3, 1]);
    expect(
      tensor([1, 2, 3, 4, 5, 6], [6], { backend: cpu })
        .chunk(4)
        .map((t) => t.size),
    ).toEqual([2, 2, 2]);
    expect(() => m.split([2, 4], 1)).toThrow(/split: sizes \[2, 4\] do not add up to dim 1's length 7/);
    expect(() => m.chunk(0)).toThrow(/chunk: the number of chunks must be a positive integer, not 0/);
    const [a, b] = x.split([3, 4]);
    a.mul(2).sum().add(b.sum()).backward();
    expect(await x.grad!.toArray()).toEqual(Float32Array.from([2, 2, 2, 1, 1, 1, 1]));
  });
  it('dropout2d zeroes whole planes (one draw each) and scales the rest; the loss modules are the F losses', async () => {
    const gpu = await getGpu();
    for (const b of [cpu, gpu]) {
      const x = tensor(
        Array.from({ length: 4 * 6 * 3 * 5 }, () => 1),
        [4, 6, 3, 5],
        { backend: b },
      );
      const y = await F.dropout2d(x, 0.5, true, new Generator(3)).toArray();
      let kept = 0;
      for (let plane = 0; plane < 24; plane++) {
        const vals = new Set(y.slice(plane * 15, plane * 15 + 15));
        expect(vals.size, `plane ${plane}`).toBe(1);
        const v = [...vals][0];
        expect(v === 0 || v === 2, `plane ${plane}: ${v}`).toBe(true);
        if (v === 2) kept++;
      }
      expect(kept).toBeGreaterThan(3);
      expect(kept).toBeLessThan(21);
      const d = new nn.Dropout2d(0.5, new Generator(3)).eval();
      expect(d.call(x)).toBe(x);
    }
    expect(() => F.dropout2d(tensor([1, 2], [2], { backend: cpu }))).toThrow(
      /dropout2d: expected \[N, C, H, W\] or \[C, H, W\] input, got \[2\]/,
    );
    const p = tensor([0.2, 0.7, -1.5, 3], [2, 2], { backend: cpu }),
      t = tensor([0, 1, 1, 0], [2, 2], { backend: cpu });
    const same = async (u: Tensor, v: Tensor) => expect(await u.toArray()).toEqual(await v.toArray());
    await same(new nn.MSELoss().call(p, t), F.mse(p, t));
    await same(new nn.L1Loss('sum').call(p, t), F.l1(p, t, 'sum'));
    await same(new nn.BCEWithLogitsLoss('none').call(p, t), F.bceWithLogits(p, t, 'none'));
    await same(new nn.BCELoss().call(p.sigmoid(), t), F.bce(p.sigmoid(), t));
    const labels = tensor([1, 0], [2], { backend: cpu });
    await same(new nn.CrossEntropyLoss().call(p, labels), F.crossEntropy(p, labels));
  });
});

describe('containers and the model summary', () => {
  it("ModuleList and ModuleDict name their modules' parameters as PyTorch; summary() lists each call with its output shape and parameters", () => {
    const list = new nn.ModuleList([new nn.Linear(3, 4, { backend: cpu }), new nn.Linear(4, 2, { backend: cpu })]);
    const dict = new nn.ModuleDict({ enc: new nn.Linear(2, 5, { backend: cpu }), act: new nn.Tanh() });
    expect([...list.namedParameters()].map(([k]) => k)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect([...dict.namedParameters()].map(([k]) => k)).toEqual(['enc.weight', 'enc.bias']);
    expect(list.length).toBe(2);
    expect(list.at(-1)).toBe([...list][1]);
    expect(() => list.at(2)).toThrow(/ModuleList: index 2 is out of range for 2 modules/);
    expect(() => dict.get('dec')).toThrow(/ModuleDict: no module "dec" \(has enc, act\)/);
    expect(() => dict.set('a.b', new nn.Tanh())).toThrow(/must be letters, digits and _/);
    expect(() => list.call(tensor([1], [1], { backend: cpu }))).toThrow(/ModuleList: a container has no forward/);
    const model = new nn.Sequential(
      new nn.Linear(3, 4, { backend: cpu }),
      new nn.GELU(),
      new nn.LayerNorm(4, { backend: cpu }),
      new nn.Linear(4, 2, { backend: cpu }),
    );
    const x = tensor(
      Array.from({ length: 6 }, (_, i) => i / 3),
      [2, 3],
      { backend: cpu },
    );
    const s = nn.summary(model, x);
    // Linear 3->4: 12 + 4; LayerNorm(4): 4 + 4; Linear 4->2: 8 + 2.
    expect(s.rows.map((r) => `${r.name} ${r.type} ${r.outputShape} ${r.params}`)).toEqual([
      '0 Linear 2,4 16',
      '1 GELU 2,4 0',
      '2 LayerNorm 2,4 8',
      '3 Linear 2,2 10',
      ' Sequential 2,2 0',
    ]);
    expect(s.total).toBe(34);
    expect(s.text).toMatch(/^module +type +output +params\n0 +Linear +\[2, 4\] +16\n/);
    expect(s.text).toMatch(/total parameters: 34$/);
    // The modules are as before (their call is their class's again).
    expect(Object.prototype.hasOwnProperty.call(model, 'call')).toBe(false);
  });
});

describe('modules and state dicts', () => {
  const net = () =>
    withBackend(
      cpu,
      () =>
        new nn.Sequential(
          new nn.Conv2d(1, 2, 3, { generator: new Generator(1) }),
          new nn.BatchNorm2d(2),
          new nn.LeakyReLU(0.2),
          new nn.Flatten(),
          new nn.Linear(8, 3, { generator: new Generator(2) }),
        ),
    );
  it('names parameters and buffers like PyTorch', () => {
    expect([...net().stateDict().keys()]).toEqual([
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '4.weight',
      '4.bias',
      '1.running_mean',
      '1.running_var',
    ]);
  });
  it('uses PyTorch default init bounds: U(+-1/sqrt(fan_in))', async () => {
    const lin = withBackend(cpu, () => new nn.Linear(400, 20, { generator: new Generator(3) }));
    const w = await lin.weight.toArray();
    const bound = 1 / Math.sqrt(400);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.95 * bound);
  });
  it('loads a state dict and rejects missing, extra or misshapen entries', async () => {
    const a = net(),
      b = net();
    const sd = a.stateDict();
    await withBackend(cpu, async () => {
      await b.loadStateDict(sd);
      for (const [k, t] of b.stateDict()) expect(await t.toArray(), k).toEqual(await sd.get(k)!.toArray());
      const missing = new Map(sd);
      missing.delete('4.bias');
      await expect(b.loadStateDict(missing)).rejects.toThrow('missing keys: 4.bias');
      const extra = new Map(sd).set('5.weight', tensor([1]));
      await expect(b.loadStateDict(extra)).rejects.toThrow('unexpected keys: 5.weight');
      const bad = new Map(sd).set('4.weight', tensor(new Float32Array(6), [3, 2]));
      await expect(b.loadStateDict(bad)).rejects.toThrow(
        '4.weight has shape [3, 2] in the state dict but [3, 8] in the model',
      );
    });
  });
  it('batch norm updates running statistics in training and uses them in eval', async () => {
    await withBackend(cpu, async () => {
      const bn = new nn.BatchNorm2d(1, { momentum: 0.5 });
      const x = tensor([1, 2, 3, 6], [4, 1, 1, 1]);
      bn.call(x);
      // batch mean 3, unbiased variance ((4+1+0+9)/3) = 14/3
      expect((await bn.runningMean.toArray())[0]).toBeCloseTo(1.5, 6);
      expect((await bn.runningVar.toArray())[0]).toBeCloseTo(0.5 + 0.5 * (14 / 3), 5);
      bn.eval();
      const y = await bn.call(tensor([1.5], [1, 1, 1, 1])).item();
      expect(y).toBeCloseTo(0, 5);
    });
  });
});

/** Trains `make()` on a teacher task, same seed on each backend; returns the loss per step. */
async function trainCurve(
  b: Backend,
  make: () => nn.Module,
  xShape: number[],
  teacher: (x: Tensor) => Tensor,
  steps: number,
  optim: (p: Tensor[]) => nn.Optimizer,
) {
  return withBackend(b, async () => {
    const model = make();
    const opt = optim(model.parameters());
    const gen = new Generator(77);
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      const loss = tidy(() => {
        // Uniform inputs are bit-identical on both backends (normals differ by the GPU's cos/log precision).
        const x = rand(xShape, { generator: gen }).mul(2).sub(1);
        const y = teacher(x);
        opt.zeroGrad();
        const l = F.mse(model.call(x), y);
        l.backward();
        opt.step();
        return l;
      });
      losses.push(await loss.item());
      loss.dispose();
    }
    return losses;
  });
}

describe('small models train the same on both backends', () => {
  it('an MLP: loss curves agree step by step and fall more than 10x', async () => {
    const gpu = await getGpu();
    const teacherW = (b: Backend) => withBackend(b, () => rand([6, 2], { generator: new Generator(5) }).sub(0.5));
    const make = () =>
      new nn.Sequential(
        new nn.Linear(6, 32, { generator: new Generator(11) }),
        new nn.Tanh(),
        new nn.Linear(32, 2, { generator: new Generator(12) }),
      );
    const curves: number[][] = [];
    for (const b of [cpu, gpu]) {
      const w = teacherW(b);
      curves.push(
        await trainCurve(
          b,
          make,
          [64, 6],
          (x) => x.matmul(w).tanh().mul(2),
          300,
          (p) => new nn.Adam(p, { lr: 0.01 }),
        ),
      );
    }
    const [c, g] = curves;
    for (let s = 0; s < c.length; s++)
      expect(Math.abs(c[s] - g[s]), `step ${s}: cpu ${c[s]} webgpu ${g[s]}`).toBeLessThan(2e-3 * c[s] + 1e-6);
    expect(c[c.length - 1]).toBeLessThan(c[0] / 10);
  });

  it('a small CNN (conv, batch norm, strided conv, linear): curves agree and the loss falls more than 3x', async () => {
    const gpu = await getGpu();
    const make = () =>
      new nn.Sequential(
        new nn.Conv2d(1, 4, 3, { padding: 1, generator: new Generator(21) }),
        new nn.BatchNorm2d(4),
        new nn.ReLU(),
        new nn.Conv2d(4, 4, 4, { stride: 2, padding: 1, generator: new Generator(22) }),
        new nn.LeakyReLU(0.2),
        new nn.Flatten(),
        new nn.Linear(64, 1, { generator: new Generator(23) }),
      );
    // Teacher: a fixed linear read-out of the pooled image.
    const teacher = (x: Tensor) => F.avgPool2d(x, 4).flatten(1).sum(1, true).mul(0.5);
    // SGD with momentum: Adam divides by the root of tiny second moments early on, which turns float
    // rounding differences into visibly different steps; SGD keeps them proportional.
    const sgd = (p: Tensor[]) => new nn.SGD(p, { lr: 0.02, momentum: 0.9 });
    const c = await trainCurve(cpu, make, [16, 1, 8, 8], teacher, 200, sgd);
    const g = await trainCurve(gpu, make, [16, 1, 8, 8], teacher, 200, sgd);
    for (let s = 0; s < c.length; s++)
      expect(Math.abs(c[s] - g[s]), `step ${s}: cpu ${c[s]} webgpu ${g[s]}`).toBeLessThan(5e-3 * c[s] + 1e-6);
    expect(c[c.length - 1]).toBeLessThan(c[0] / 3);
  });
});

describe('training keeps memory flat', () => {
  it('over 1000 MLP steps on the GPU (graph freed, buffers pooled)', async () => {
    const gpu = await getGpu();
    await withBackend(gpu, async () => {
      const model = new nn.Sequential(
        new nn.Linear(16, 32, { generator: new Generator(1) }),
        new nn.ReLU(),
        new nn.Linear(32, 4, { generator: new Generator(2) }),
      );
      const opt = new nn.Adam(model.parameters(), { lr: 1e-3 });
      const gen = new Generator(3);
      const step = () =>
        tidy(() => {
          opt.zeroGrad();
          const x = rand([32, 16], { generator: gen });
          const loss = F.mse(model.call(x), x.slice(1, 0, 4));
          loss.backward();
          opt.step();
          return loss;
        });
      for (let i = 0; i < 5; i++) step().dispose();
      await gpu.sync();
      const before = { ...(await import('../src/index.ts')).memoryStats(gpu) };
      let last = 0;
      for (let i = 0; i < 1000; i++) {
        const l = step();
        if (i % 250 === 249) last = await l.item();
        l.dispose();
      }
      await gpu.sync();
      const after = (await import('../src/index.ts')).memoryStats(gpu);
      expect(after.liveTensors).toBe(before.liveTensors);
      expect(after.liveBytes).toBe(before.liveBytes);
      expect(after.pooledBytes).toBeLessThanOrEqual(before.pooledBytes);
      expect(Number.isFinite(last)).toBe(true);
    });
  });
});

describe('initializers follow torch.nn.init', () => {
  it('kaiming and xavier, uniform and normal: bounds and standard deviations', async () => {
    await withBackend(cpu, async () => {
      const stats = async (t: Tensor) => {
        const v = await t.toArray();
        const m = v.reduce((a, b) => a + b, 0) / v.length;
        return {
          max: Math.max(...v.map(Math.abs)),
          std: Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length),
        };
      };
      const shape = [128, 64, 3, 3]; // fan_in 576, fan_out 1152
      const ku = await stats(nn.init.kaimingUniform(shape, { nonlinearity: 'relu', generator: new Generator(1) }));
      expect(ku.max).toBeLessThanOrEqual(Math.SQRT2 * Math.sqrt(3 / 576));
      const kn = await stats(nn.init.kaimingNormal(shape, { nonlinearity: 'relu', generator: new Generator(2) }));
      expect(Math.abs(kn.std / (Math.SQRT2 / Math.sqrt(576)) - 1)).toBeLessThan(0.02);
      const xu = await stats(nn.init.xavierUniform(shape, 1, { generator: new Generator(3) }));
      expect(xu.max).toBeLessThanOrEqual(Math.sqrt(6 / (576 + 1152)));
      const xn = await stats(nn.init.xavierNormal(shape, 1, { generator: new Generator(4) }));
      expect(Math.abs(xn.std / Math.sqrt(2 / (576 + 1152)) - 1)).toBeLessThan(0.02);
    });
  });
});
