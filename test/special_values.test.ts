// NaN, +-Inf, +-0, subnormals and magnitudes near overflow through every op of the kernel vocabulary
// (unary, binary, ternary, reductions), the activations composed from them (gelu, silu, elu, softplus
// with beta and threshold), the losses, matmul and conv on each GEMM core, and the optimizer
// updates, on both backends, against PyTorch's results: test/fixtures/special_values.json, written by
// scripts/special_values.py with PyTorch 1.13 (float32, CPU). Expected values come from PyTorch, never
// from either backend.
//
// A value matches when both are NaN, both the same infinity, or both finite within 3e-5 relative (WGSL
// gives exp and log a few ULP per unit of |x|) or 1e-6 absolute. Where an input is subnormal the fixture
// also holds PyTorch's result for that input flushed to zero, and either is accepted (WGSL lets an
// implementation flush subnormals).
import { describe, expect, it } from 'vitest';
import {
  tensor,
  unary,
  binary,
  where,
  fma,
  sum,
  amax,
  amin,
  argmax,
  argmin,
  mean,
  logsumexp,
  softmax,
  logSoftmax,
  matmul,
  conv2d,
  F,
  nn,
  type Backend,
  type Tensor,
} from '../src/index.ts';
import { MATMUL_VARIANTS, CONV_VARIANTS } from '../src/backend/webgpu/tuner.ts';
import type { BinaryOp, ReduceOp, UnaryOp } from '../src/backend/kernels.ts';
import type { WebGPUBackend } from '../src/backend/webgpu/index.ts';
import fixture from './fixtures/special_values.json' with { type: 'json' };
import { forEachBackend, getGpu } from './helpers.ts';

type Enc = number | string;
interface Case {
  op: string;
  args: Record<string, Enc[]>;
  expect: Enc[];
  flushed?: Enc[];
  shape?: Record<string, number[]>;
  params?: number[];
}
const cases = fixture.cases as Case[];

const dec = (v: Enc): number =>
  v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === '-0' ? -0 : (v as number);
const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));

function matches(got: number, want: number): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  return Number.isFinite(got) && Math.abs(got - want) <= 1e-6 + 3e-5 * Math.abs(want);
}

/** Runs one fixture case on a backend: the op's output as a flat array. */
async function run(c: Case, backend: Backend): Promise<Float32Array> {
  const t = (k: string) =>
    tensor(Float32Array.from(c.args[k].map(dec)), c.shape?.[k] ?? [c.args[k].length], { backend });
  const [kind, name] = c.op.split(':');
  const p = c.params ?? [0, 0];
  let out: Tensor;
  switch (kind) {
    case 'unary':
      out = unary(name as UnaryOp, t('a'), p[0], p[1]);
      break;
    case 'binary':
      out = binary(name as BinaryOp, t('a'), t('b'));
      break;
    case 'where':
      out = where(t('c'), t('a'), t('b'));
      break;
    case 'fma':
      out = fma(t('c'), t('a'), t('b'));
      break;
    case 'reduce': {
      const fns: Record<ReduceOp, (x: Tensor) => Tensor> = {
        sum: (x) => sum(x, 1),
        max: (x) => amax(x, 1),
        min: (x) => amin(x, 1),
        argmax: (x) => argmax(x, 1),
        argmin: (x) => argmin(x, 1),
      };
      out = fns[name as ReduceOp](t('a'));
      break;
    }
    case 'mean':
      out = mean(t('a'), 1);
      break;
    case 'logsumexp':
      out = logsumexp(t('a'), 1);
      break;
    case 'softmax':
      out = softmax(t('a'), 1);
      break;
    case 'log_softmax':
      out = logSoftmax(t('a'), 1);
      break;
    case 'bce_with_logits':
      out = F.bceWithLogits(t('a'), t('b'), 'none');
      break;
    case 'bce_with_logits_mean':
      out = F.bceWithLogits(t('a'), t('b')).reshape([1]);
      break;
    case 'gelu':
      out = F.gelu(t('a'));
      break;
    case 'gelu_tanh':
      out = F.gelu(t('a'), 'tanh');
      break;
    case 'silu':
      out = F.silu(t('a'));
      break;
    case 'elu':
      out = F.elu(t('a'), p[0]);
      break;
    case 'softplus':
      out = F.softplus(t('a'), { beta: p[0], threshold: p[1] });
      break;
    case 'mse':
      out = F.mse(t('a'), t('b'), 'none');
      break;
    case 'l1':
      out = F.l1(t('a'), t('b'), 'none');
      break;
    case 'cross_entropy':
      out = F.crossEntropy(t('a'), t('b'), 'none');
      break;
    case 'matmul':
      out = matmul(t('a'), t('b'));
      break;
    case 'conv2d':
      out = conv2d(t('a'), t('b'), null, { stride: p[0], padding: p[1] });
      break;
    case 'adam':
    case 'adamw':
    case 'sgd': {
      const param = t('a');
      param.requiresGrad = true;
      param.grad = t('b');
      const opt =
        kind === 'adam'
          ? new nn.Adam([param], { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8 })
          : kind === 'adamw'
            ? new nn.AdamW([param], { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.05 })
            : new nn.SGD([param], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
      opt.step();
      out = param;
      break;
    }
    default:
      throw new Error(`fixture op ${c.op} has no runner`);
  }
  return out.toArray();
}

/** The mismatches of `got` against the case's expectation (or its flushed alternative), as lines. */
function mismatches(c: Case, got: Float32Array, allow?: (i: number) => boolean): string[] {
  const want = c.expect.map(dec),
    alt = c.flushed?.map(dec);
  expect(got.length, `${c.op}: output length`).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (matches(got[i], want[i]) || (alt && matches(got[i], alt[i])) || allow?.(i)) continue;
    const ins = Object.entries(c.args)
      .map(([k, v]) => `${k}=${v.length === want.length ? show(dec(v[i])) : '...'}`)
      .join(' ');
    bad.push(
      `${c.op}${c.params ? `(${c.params.join(', ')})` : ''} [${i}] ${ins}: got ${show(got[i])}, PyTorch ${show(want[i])}`,
    );
  }
  return bad;
}

/**
 * Winograd F(2x2, 2x2) transforms mix a tile's inputs before the products (Lavin & Gray 2016, section 4):
 * 0 * Inf = NaN there, so a non-finite input reaches every output of its 2x2 output tile, as in any
 * Winograd implementation (cuDNN's included). Such outputs may be NaN; the outputs PyTorch gives
 * non-finite are still checked to be non-finite.
 */
function winogradTile(c: Case, i: number, got: Float32Array): boolean {
  if (!Number.isNaN(got[i])) return false;
  const [, , H, W] = c.shape!.a,
    KH = c.shape!.b[2];
  const [stride, pad] = c.params!;
  const OH = Math.floor((H + 2 * pad - KH) / stride) + 1,
    OW = Math.floor((W + 2 * pad - KH) / stride) + 1;
  const plane = Math.floor(i / (OH * OW)),
    r = Math.floor((i % (OH * OW)) / OW),
    q = i % OW;
  const want = c.expect.map(dec);
  for (let rr = r & ~1; rr < Math.min((r & ~1) + 2, OH); rr++) {
    for (let qq = q & ~1; qq < Math.min((q & ~1) + 2, OW); qq++)
      if (!Number.isFinite(want[plane * OH * OW + rr * OW + qq])) return true;
  }
  return false;
}

/** The failure message: per op, how many values differ and the first of them; then the first 40 lines. */
function report(bad: string[]): string {
  const per = new Map<string, string[]>();
  for (const l of bad) {
    const op = l.split(' [')[0];
    per.set(op, [...(per.get(op) ?? []), l]);
  }
  return (
    [...per].map(([op, ls]) => `${op}: ${ls.length} differ, e.g. ${ls[0]}`).join('\n') +
    '\n---\n' +
    bad.slice(0, 40).join('\n')
  );
}

describe('special values: every op as PyTorch has them', () => {
  const byKind = new Map<string, Case[]>();
  for (const c of cases) {
    const k =
      c.op.startsWith('unary') || c.op.startsWith('binary') || c.op.startsWith('reduce')
        ? c.op.split(':')[0]
        : 'composite';
    byKind.set(k, [...(byKind.get(k) ?? []), c]);
  }
  forEachBackend((bname, get) => {
    for (const [kind, list] of byKind) {
      if (kind === 'composite') continue;
      it(`${kind} ops on ${bname}`, async () => {
        const b = await get();
        const bad: string[] = [];
        for (const c of list) bad.push(...mismatches(c, await run(c, b)));
        expect(bad, report(bad)).toEqual([]);
      });
    }
    it(`activations, losses, optimizers, matmul and conv on ${bname}`, async () => {
      const b = await get();
      const bad: string[] = [];
      for (const c of byKind.get('composite')!) {
        if (bname === 'webgpu' && (c.op === 'matmul' || c.op === 'conv2d')) continue;
        bad.push(...mismatches(c, await run(c, b)));
      }
      expect(bad, report(bad)).toEqual([]);
    });
  });

  it('matmul on every GEMM core and conv2d on every conv variant (webgpu)', async () => {
    const gpu = (await getGpu()) as WebGPUBackend;
    const bad: string[] = [];
    try {
      for (const v of MATMUL_VARIANTS) {
        gpu.tuner.forced = v;
        for (const c of cases.filter((c) => c.op === 'matmul'))
          bad.push(...mismatches(c, await run(c, gpu)).map((l) => `${v}: ${l}`));
      }
      for (const v of CONV_VARIANTS) {
        gpu.tuner.forced = v;
        for (const c of cases.filter((c) => c.op === 'conv2d')) {
          const got = await run(c, gpu);
          bad.push(
            ...mismatches(c, got, v === 'winograd' ? (i) => winogradTile(c, i, got) : undefined).map(
              (l) => `${v}: ${l}`,
            ),
          );
        }
      }
    } finally {
      gpu.tuner.forced = null;
    }
    expect(bad, report(bad)).toEqual([]);
  });

  it('the fixture covers every op of the kernel vocabulary', async () => {
    const { UNARY_OPS, BINARY_OPS, REDUCE_OPS, TERNARY_OPS } = await import('../src/backend/kernels.ts');
    const ops = new Set(cases.map((c) => c.op));
    for (const op of UNARY_OPS) expect(ops.has(`unary:${op}`), op).toBe(true);
    for (const op of BINARY_OPS) expect(ops.has(`binary:${op}`), op).toBe(true);
    for (const op of REDUCE_OPS) expect(ops.has(`reduce:${op}`), op).toBe(true);
    for (const op of TERNARY_OPS) expect(ops.has(op), op).toBe(true);
  });
});
