// Layer and group normalization, var / std and max pooling (src/ops/functional.ts, src/tensor.ts)
// against PyTorch's results (test/fixtures/torch_layers.json, written by scripts/torch_layers.py on odd
// shapes; max pooling's input gradients too, ties and NaN included), on both backends; gradcheck in
// float64 on the CPU reference; their modules and errors.
import { describe, expect, it } from 'vitest';
import { F, nn, gradcheck, tensor, withBackend, type Backend, type Tensor } from '../src/index.ts';
import fixture from './fixtures/torch_layers.json' with { type: 'json' };
import { cpu, getGpu, rng } from './helpers.ts';

interface Raw { op: string; args: Record<string, { shape: number[]; data: (number | string)[] }>; params: Record<string, unknown>; expect: (number | string)[]; shape: number[]; grad?: number[] }
interface Case extends Omit<Raw, 'args' | 'expect'> { args: Record<string, { shape: number[]; data: number[] }>; expect: number[] }

/** The fixture writes NaN and +-Inf as strings (JSON has neither). */
const dec = (v: number | string) => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : (v as number));
const cases: Case[] = (fixture.cases as unknown as Raw[]).map((c) => ({
  ...c, expect: c.expect.map(dec), args: Object.fromEntries(Object.entries(c.args).map(([k, a]) => [k, { shape: a.shape, data: a.data.map(dec) }])),
}));

/** The fixture's max_pool2d options (PyTorch's names) as F.maxPool2d's. */
const poolOptions = (p: Record<string, unknown>) => ({
  stride: p.stride as number | [number, number] | undefined, padding: p.padding as number | undefined,
  dilation: p.dilation as [number, number] | undefined, ceilMode: p.ceil_mode as boolean | undefined,
});

function run(c: Case, b: Backend): Tensor {
  const t = (k: string) => (c.args[k] ? tensor(c.args[k].data, c.args[k].shape, { backend: b }) : null);
  const p = c.params as { shape?: number[]; eps?: number; groups?: number; dims?: number[] | null; unbiased?: boolean };
  switch (c.op) {
    case 'layer_norm': return F.layerNorm(t('x')!, p.shape!, t('w'), t('b'), p.eps);
    case 'group_norm': return F.groupNorm(t('x')!, p.groups!, t('w'), t('b'), p.eps);
    case 'var': return t('x')!.var(p.dims ?? undefined, p.unbiased);
    case 'std': return t('x')!.std(p.dims ?? undefined, p.unbiased);
    case 'max_pool2d': return F.maxPool2d(t('x')!, c.params.kernel as number | [number, number], poolOptions(c.params));
    default: throw new Error(`no runner for ${c.op}`);
  }
}

describe('layer_norm, group_norm, var, std and max_pool2d as PyTorch', () => {
  for (const which of ['cpu', 'webgpu'] as const) {
    it(`the fixture's ${cases.length} cases (${which})`, async () => {
      const b = which === 'cpu' ? cpu : await getGpu();
      for (const [i, c] of cases.entries()) {
        const y = run(c, b);
        expect(y.shape, `${c.op} ${i}`).toEqual(c.shape);
        const got = await y.toArray();
        c.expect.forEach((w, k) => expect(Number.isNaN(w) ? Number.isNaN(got[k]) : got[k] === w || Math.abs(got[k] - w) <= 2e-6 + 2e-5 * Math.abs(w), `${c.op} ${i} [${k}]: ${got[k]} for ${w}`).toBe(true));
        if (!c.grad) continue;
        // The input gradient of sum(y * r), r zero where y is not finite (the fixture's nan_to_num).
        const x = tensor(c.args.x.data, c.args.x.shape, { backend: b, requiresGrad: true });
        const r = c.args.r.data.map((v, k) => (Number.isFinite(c.expect[k]) ? v : 0));
        F.maxPool2d(x, c.params.kernel as number, poolOptions(c.params)).mul(tensor(r, c.shape, { backend: b })).sum().backward();
        const g = await x.grad!.toArray();
        c.grad.forEach((w, k) => expect(Math.abs(g[k] - w), `${c.op} ${i} grad [${k}]: ${g[k]} for ${w}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(w)));
      }
    });
  }

  it('gradcheck in float64 (layer_norm with and without affine, group_norm, var, std)', () => {
    const input = (shape: number[], seed: number) => {
      const r = rng(seed);
      return { shape, data: Array.from({ length: shape.reduce((a, v) => a * v, 1) }, () => 4 * r() - 2) };
    };
    const check = (name: string, fn: (...xs: Tensor[]) => Tensor, ins: { data: number[]; shape: number[] }[]) => {
      const r = gradcheck(fn, ins);
      expect(r.ok, `${name}: max rel error ${r.maxRelError}`).toBe(true);
    };
    check('layer_norm', (x, w, b) => F.layerNorm(x, [3, 2], w, b), [input([4, 3, 2], 1), input([3, 2], 2), input([3, 2], 3)]);
    check('layer_norm plain', (x) => F.layerNorm(x, [5]), [input([3, 5], 4)]);
    check('group_norm', (x, w, b) => F.groupNorm(x, 2, w, b), [input([2, 4, 3, 2], 5), input([4], 6), input([4], 7)]);
    check('var', (x) => x.var(1), [input([3, 5], 8)]);
    check('std biased', (x) => x.std([0, 2], false), [input([3, 2, 4], 9)]);
    // Distinct values (no ties), so the maximum is unique and finite differences see it.
    check('max_pool2d', (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }), [input([1, 2, 5, 4], 10)]);
  });

  it('modules: LayerNorm and GroupNorm with PyTorch\'s parameters, the same on both backends; bad shapes are errors', async () => {
    const gpu = await getGpu();
    const ln = new nn.LayerNorm([4, 3], { backend: cpu }), gn = new nn.GroupNorm(2, 6, { backend: cpu }), plain = new nn.LayerNorm(3, { elementwiseAffine: false });
    expect([...ln.namedParameters()].map(([k, p]) => `${k} ${p.shape}`)).toEqual(['weight 4,3', 'bias 4,3']);
    expect([...gn.namedParameters()].map(([k, p]) => `${k} ${p.shape}`)).toEqual(['weight 6', 'bias 6']);
    expect([...plain.namedParameters()]).toEqual([]);
    const r = rng(11);
    const x = Array.from({ length: 5 * 6 * 4 * 3 }, () => 6 * r() - 3);
    const xc = tensor(x, [5, 6, 4, 3], { backend: cpu });
    const lg = new nn.LayerNorm([4, 3], { backend: gpu }), gg = new nn.GroupNorm(2, 6, { backend: gpu });
    const xg = tensor(x, [5, 6, 4, 3], { backend: gpu });
    for (const [m, mg] of [[ln, lg], [gn, gg]] as const) {
      const [a, e] = [await withBackend(gpu, () => mg.call(xg)).toArray(), await m.call(xc).toArray()];
      e.forEach((v, k) => expect(Math.abs(a[k] - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
    }
    expect(() => F.layerNorm(xc, [3, 4])).toThrow(/layer_norm: input \[5, 6, 4, 3\] does not end with the normalized shape \[3, 4\]/);
    expect(() => F.groupNorm(xc, 4)).toThrow(/group_norm: 6 channels do not split into 4 groups/);
    expect(() => F.maxPool2d(xc, 3, { padding: 2 })).toThrow(/max_pool2d: padding 2x2 is more than half the kernel 3x3/);
    expect(() => F.maxPool2d(xc, 0)).toThrow(/max_pool2d: kernel must be an integer >= 1/);
    expect(new nn.MaxPool2d(2).call(xc).shape).toEqual([5, 6, 2, 1]);
    expect(() => new nn.GroupNorm(4, 6)).toThrow(/GroupNorm: 6 channels do not split into 4 groups/);
    // var of one value, unbiased: 0 / 0, NaN as in PyTorch.
    expect(Number.isNaN(await tensor([2], [1], { backend: cpu }).var().item())).toBe(true);
  });
});
