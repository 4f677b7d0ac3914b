// Layer and group normalization and var / std (src/ops/functional.ts, src/tensor.ts) against PyTorch's
// results (test/fixtures/norms.json, written by scripts/norms.py on odd shapes), on both backends;
// gradcheck of each in float64 on the CPU reference; their modules and errors.
import { describe, expect, it } from 'vitest';
import { F, nn, gradcheck, tensor, withBackend, type Backend, type Tensor } from '../src/index.ts';
import fixture from './fixtures/norms.json' with { type: 'json' };
import { cpu, getGpu, rng } from './helpers.ts';

interface Case { op: string; args: Record<string, { shape: number[]; data: number[] }>; params: Record<string, unknown>; expect: number[]; shape: number[] }

function run(c: Case, b: Backend): Tensor {
  const t = (k: string) => (c.args[k] ? tensor(c.args[k].data, c.args[k].shape, { backend: b }) : null);
  const p = c.params as { shape?: number[]; eps?: number; groups?: number; dims?: number[] | null; unbiased?: boolean };
  switch (c.op) {
    case 'layer_norm': return F.layerNorm(t('x')!, p.shape!, t('w'), t('b'), p.eps);
    case 'group_norm': return F.groupNorm(t('x')!, p.groups!, t('w'), t('b'), p.eps);
    case 'var': return t('x')!.var(p.dims ?? undefined, p.unbiased);
    case 'std': return t('x')!.std(p.dims ?? undefined, p.unbiased);
    default: throw new Error(`no runner for ${c.op}`);
  }
}

describe('layer_norm, group_norm, var and std as PyTorch', () => {
  for (const which of ['cpu', 'webgpu'] as const) {
    it(`the fixture's ${fixture.cases.length} cases (${which})`, async () => {
      const b = which === 'cpu' ? cpu : await getGpu();
      for (const [i, c] of (fixture.cases as Case[]).entries()) {
        const y = run(c, b);
        expect(y.shape, `${c.op} ${i}`).toEqual(c.shape);
        const got = await y.toArray();
        c.expect.forEach((w, k) => expect(Math.abs(got[k] - w), `${c.op} ${i} [${k}]: ${got[k]} for ${w}`).toBeLessThanOrEqual(2e-6 + 2e-5 * Math.abs(w)));
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
    expect(() => new nn.GroupNorm(4, 6)).toThrow(/GroupNorm: 6 channels do not split into 4 groups/);
    // var of one value, unbiased: 0 / 0, NaN as in PyTorch.
    expect(Number.isNaN(await tensor([2], [1], { backend: cpu }).var().item())).toBe(true);
  });
});
