// Layer and group normalization, var / std, max pooling, the losses with their options (class weights,
// ignoreIndex, label smoothing, extra dims, probabilities; nll; binary cross-entropy's weight and
// posWeight; mse and l1 broadcasting) and gather / indexSelect / cumsum / max and min along a dim
// (src/ops/functional.ts, src/tensor.ts) against PyTorch's results (test/fixtures/torch_layers.json,
// written by scripts/torch_layers.py on odd shapes; with input gradients, ties and NaN included), on
// both backends; gradcheck in float64 on the CPU reference; their modules and errors.
import { describe, expect, it } from 'vitest';
import {
  F,
  nn,
  conv2d,
  convTranspose2d,
  gradcheck,
  tensor,
  withBackend,
  type Backend,
  type ConvPadding,
  type Tensor,
} from '../src/index.ts';
import type { Pair } from '../src/ops/conv.ts';
import fixture from './fixtures/torch_layers.json' with { type: 'json' };
import { cpu, forEachBackend, getGpu, randomInput, rng } from './helpers.ts';

interface Raw {
  op: string;
  args: Record<string, { shape: number[]; data: (number | string)[] }>;
  params: Record<string, unknown>;
  expect: (number | string)[];
  shape: number[];
  grad?: number[];
  grad_of?: string;
  indices?: number[];
}
interface Case extends Omit<Raw, 'args' | 'expect'> {
  args: Record<string, { shape: number[]; data: number[] }>;
  expect: number[];
}

/** The fixture writes NaN and +-Inf as strings (JSON has neither). */
const dec = (v: number | string) =>
  v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : (v as number);
const cases: Case[] = (fixture.cases as unknown as Raw[]).map((c) => ({
  ...c,
  expect: c.expect.map(dec),
  args: Object.fromEntries(Object.entries(c.args).map(([k, a]) => [k, { shape: a.shape, data: a.data.map(dec) }])),
}));

/** The fixture's max_pool2d options (PyTorch's names) as F.maxPool2d's. */
const poolOptions = (p: Record<string, unknown>) => ({
  stride: p.stride as number | [number, number] | undefined,
  padding: p.padding as number | undefined,
  dilation: p.dilation as [number, number] | undefined,
  ceilMode: p.ceil_mode as boolean | undefined,
});

function run(c: Case, b: Backend, given: Record<string, Tensor> = {}): Tensor {
  const t = (k: string) => given[k] ?? (c.args[k] ? tensor(c.args[k].data, c.args[k].shape, { backend: b }) : null);
  const p = c.params as {
    shape?: number[];
    eps?: number;
    groups?: number;
    dims?: number[] | null;
    unbiased?: boolean;
    dim?: number;
    keepdim?: boolean;
  };
  const q = c.params as { reduction?: F.Reduction; ignore_index?: number; label_smoothing?: number };
  const cls = {
    reduction: q.reduction,
    weight: t('w'),
    ignoreIndex: q.ignore_index,
    labelSmoothing: q.label_smoothing,
  };
  switch (c.op) {
    case 'cross_entropy':
      return F.crossEntropy(t('x')!, t('t')!, cls);
    case 'nll_loss':
      return F.nllLoss(t('x')!.logSoftmax(1), t('t')!, cls);
    case 'bce_with_logits':
      return F.bceWithLogits(t('x')!, t('t')!, { reduction: q.reduction, weight: t('w'), posWeight: t('pw') });
    case 'bce':
      return F.bce(t('x')!, t('t')!, { reduction: q.reduction, weight: t('w') });
    case 'mse':
      return F.mse(t('x')!, t('t')!, q.reduction);
    case 'l1':
      return F.l1(t('x')!, t('t')!, q.reduction);
    case 'gather':
      return t('x')!.gather(p.dim!, t('i')!);
    case 'index_select':
      return t('x')!.indexSelect(p.dim!, t('i')!);
    case 'cumsum':
      return t('x')!.cumsum(p.dim!);
    case 'max':
      return t('x')!.max(p.dim!, p.keepdim).values;
    case 'interpolate': {
      const k = c.params as {
        size?: [number, number];
        scale_factor?: number | [number, number];
        mode?: F.InterpolateMode;
        align_corners?: boolean;
      };
      return F.interpolate(t('x')!, {
        size: k.size,
        scaleFactor: k.scale_factor,
        mode: k.mode,
        alignCorners: k.align_corners,
      });
    }
    case 'avg_pool2d': {
      const k = c.params as {
        kernel: number | [number, number];
        stride?: number | [number, number];
        padding?: number | [number, number];
        ceil_mode?: boolean;
        count_include_pad?: boolean;
      };
      return F.avgPool2d(t('x')!, k.kernel, {
        stride: k.stride,
        padding: k.padding,
        ceilMode: k.ceil_mode,
        countIncludePad: k.count_include_pad,
      });
    }
    case 'conv2d': {
      const k = c.params as { stride?: Pair; padding?: ConvPadding; dilation?: Pair; groups?: number };
      return conv2d(t('x')!, t('w')!, t('b'), k);
    }
    case 'conv_transpose2d': {
      const k = c.params as { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number; output_padding?: Pair };
      return convTranspose2d(t('x')!, t('w')!, t('b'), { ...k, outputPadding: k.output_padding });
    }
    case 'min':
      return t('x')!.min(p.dim!, p.keepdim).values;
    case 'layer_norm':
      return F.layerNorm(t('x')!, p.shape!, t('w'), t('b'), p.eps);
    case 'group_norm':
      return F.groupNorm(t('x')!, p.groups!, t('w'), t('b'), p.eps);
    case 'var':
      return t('x')!.var(p.dims ?? undefined, p.unbiased);
    case 'std':
      return t('x')!.std(p.dims ?? undefined, p.unbiased);
    case 'max_pool2d':
      return F.maxPool2d(t('x')!, c.params.kernel as number | [number, number], poolOptions(c.params));
    default:
      throw new Error(`no runner for ${c.op}`);
  }
}

const t0 = (c: Case, b: Backend) => tensor(c.args.x.data, c.args.x.shape, { backend: b });
const p0 = (c: Case) => c.params as { dim: number; keepdim: boolean };

describe('layer_norm, group_norm, var, std, max_pool2d, the losses and indexing as PyTorch', () => {
  forEachBackend((which, backend) => {
    it(`the fixture's ${cases.length} cases (${which})`, async () => {
      const b = await backend();
      for (const [i, c] of cases.entries()) {
        const y = run(c, b);
        expect(y.shape, `${c.op} ${i}`).toEqual(c.shape);
        const got = await y.toArray();
        c.expect.forEach((w, k) =>
          expect(
            Number.isNaN(w) ? Number.isNaN(got[k]) : got[k] === w || Math.abs(got[k] - w) <= 2e-6 + 2e-5 * Math.abs(w),
            `${c.op} ${i} [${k}]: ${got[k]} for ${w}`,
          ).toBe(true),
        );
        if (c.indices) {
          const idx = await (
            c.op === 'max' ? t0(c, b).max(p0(c).dim, p0(c).keepdim) : t0(c, b).min(p0(c).dim, p0(c).keepdim)
          ).indices.toArray();
          expect([...idx], `${c.op} ${i} indices`).toEqual(c.indices);
        }
        if (c.grad_of) {
          // The input gradient of sum(y * r) (of y itself for a scalar y), from PyTorch's backward.
          const a = c.args[c.grad_of];
          const x = tensor(a.data, a.shape, { backend: b, requiresGrad: true });
          const y = run(c, b, { [c.grad_of]: x });
          (c.args.r ? y.mul(tensor(c.args.r.data, c.args.r.shape, { backend: b })).sum() : y).backward();
          const g = await x.grad!.toArray();
          // A gradient summed over many terms (a conv weight's over n OH OW) carries float32 rounding of
          // the terms' size, not of the sum's: the tolerance grows with the case's largest gradient.
          const scale = Math.max(...c.grad!.map(Math.abs));
          c.grad!.forEach((w, k) =>
            expect(Math.abs(g[k] - w), `${c.op} ${i} grad [${k}]: ${g[k]} for ${w}`).toBeLessThanOrEqual(
              2e-6 + 2e-5 * Math.abs(w) + 4e-6 * scale,
            ),
          );
          continue;
        }
        if (!c.grad) continue;
        // The input gradient of sum(y * r), r zero where y is not finite (the fixture's nan_to_num).
        const x = tensor(c.args.x.data, c.args.x.shape, { backend: b, requiresGrad: true });
        const r = c.args.r.data.map((v, k) => (Number.isFinite(c.expect[k]) ? v : 0));
        F.maxPool2d(x, c.params.kernel as number, poolOptions(c.params))
          .mul(tensor(r, c.shape, { backend: b }))
          .sum()
          .backward();
        const g = await x.grad!.toArray();
        c.grad.forEach((w, k) =>
          expect(Math.abs(g[k] - w), `${c.op} ${i} grad [${k}]: ${g[k]} for ${w}`).toBeLessThanOrEqual(
            1e-6 + 1e-5 * Math.abs(w),
          ),
        );
      }
    });
  });

  it('gradcheck in float64 (layer_norm with and without affine, group_norm, var, std)', () => {
    const check = (name: string, fn: (...xs: Tensor[]) => Tensor, ins: { data: number[]; shape: number[] }[]) => {
      const r = gradcheck(fn, ins);
      expect(r.ok, `${name}: max rel error ${r.maxRelError}`).toBe(true);
    };
    check('layer_norm', (x, w, b) => F.layerNorm(x, [3, 2], w, b), [
      randomInput([4, 3, 2], 1, -2, 2),
      randomInput([3, 2], 2, -2, 2),
      randomInput([3, 2], 3, -2, 2),
    ]);
    check('layer_norm plain', (x) => F.layerNorm(x, [5]), [randomInput([3, 5], 4, -2, 2)]);
    check('group_norm', (x, w, b) => F.groupNorm(x, 2, w, b), [
      randomInput([2, 4, 3, 2], 5, -2, 2),
      randomInput([4], 6, -2, 2),
      randomInput([4], 7, -2, 2),
    ]);
    check('var', (x) => x.var(1), [randomInput([3, 5], 8, -2, 2)]);
    check('std biased', (x) => x.std([0, 2], false), [randomInput([3, 2, 4], 9, -2, 2)]);
    check('interpolate bilinear', (x) => F.interpolate(x, { size: [5, 3], mode: 'bilinear' }), [
      randomInput([1, 2, 3, 4], 11, -2, 2),
    ]);
    check(
      'interpolate bilinear align corners',
      (x) => F.interpolate(x, { scaleFactor: 1.7, mode: 'bilinear', alignCorners: true }),
      [randomInput([1, 1, 3, 4], 12, -2, 2)],
    );
    check(
      'avg_pool2d ceil',
      (x) => F.avgPool2d(x, [3, 2], { stride: 2, padding: [1, 0], ceilMode: true, countIncludePad: false }),
      [randomInput([1, 2, 5, 6], 13, -2, 2)],
    );
    check('conv2d groups same', (x, w) => conv2d(x, w, null, { groups: 2, padding: 'same' }), [
      randomInput([1, 4, 4, 3], 14, -2, 2),
      randomInput([6, 2, 2, 3], 15, -2, 2),
    ]);
    check('conv_transpose2d groups', (x, w) => convTranspose2d(x, w, null, { groups: 2, stride: 2 }), [
      randomInput([1, 4, 2, 3], 16, -2, 2),
      randomInput([4, 1, 2, 2], 17, -2, 2),
    ]);
    // Distinct values (no ties), so the maximum is unique and finite differences see it.
    check('max_pool2d', (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }), [randomInput([1, 2, 5, 4], 10, -2, 2)]);
  });

  it("modules: LayerNorm and GroupNorm with PyTorch's parameters, the same on both backends; bad shapes are errors", async () => {
    const gpu = await getGpu();
    const ln = new nn.LayerNorm([4, 3], { backend: cpu }),
      gn = new nn.GroupNorm(2, 6, { backend: cpu }),
      plain = new nn.LayerNorm(3, { elementwiseAffine: false });
    expect([...ln.namedParameters()].map(([k, p]) => `${k} ${p.shape}`)).toEqual(['weight 4,3', 'bias 4,3']);
    expect([...gn.namedParameters()].map(([k, p]) => `${k} ${p.shape}`)).toEqual(['weight 6', 'bias 6']);
    expect([...plain.namedParameters()]).toEqual([]);
    const r = rng(11);
    const x = Array.from({ length: 5 * 6 * 4 * 3 }, () => 6 * r() - 3);
    const xc = tensor(x, [5, 6, 4, 3], { backend: cpu });
    const lg = new nn.LayerNorm([4, 3], { backend: gpu }),
      gg = new nn.GroupNorm(2, 6, { backend: gpu });
    const xg = tensor(x, [5, 6, 4, 3], { backend: gpu });
    for (const [m, mg] of [
      [ln, lg],
      [gn, gg],
    ] as const) {
      const [a, e] = [await withBackend(gpu, () => mg.call(xg)).toArray(), await m.call(xc).toArray()];
      e.forEach((v, k) => expect(Math.abs(a[k] - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
    }
    expect(() => F.layerNorm(xc, [3, 4])).toThrow(
      /layer_norm: input \[5, 6, 4, 3\] does not end with the normalized shape \[3, 4\]/,
    );
    expect(() => F.groupNorm(xc, 4)).toThrow(/group_norm: 6 channels do not split into 4 groups/);
    expect(() => F.maxPool2d(xc, 3, { padding: 2 })).toThrow(
      /max_pool2d: padding 2x2 is more than half the kernel 3x3/,
    );
    expect(() => F.maxPool2d(xc, 0)).toThrow(/max_pool2d: kernel must be an integer >= 1/);
    expect(new nn.MaxPool2d(2).call(xc).shape).toEqual([5, 6, 2, 1]);
    expect(() => new nn.GroupNorm(4, 6)).toThrow(/GroupNorm: 6 channels do not split into 4 groups/);
    // var of one value, unbiased: 0 / 0, NaN as in PyTorch.
    expect(Number.isNaN(await tensor([2], [1], { backend: cpu }).var().item())).toBe(true);
  });
});
