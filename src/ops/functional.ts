// Neural-network functions (PyTorch's torch.nn.functional), composed from the ops, so their gradients
// come from the ops' rules: linear, batch_norm, instance_norm, layer_norm, group_norm, dropout,
// dropout2d, upsample_nearest, avg_pool2d, max_pool2d, the activations beyond the unary ops (gelu, silu,
// elu, softplus with beta and threshold), the losses, and reparameterized sampling.

import { Tensor, effect, isTracing } from '../tensor.ts';
import { noGrad } from '../autograd/engine.ts';
import { bmm } from './matmul.ts';
import { stack } from './movement.ts';
import { arange, full, tensor } from './creation.ts';
import { bernoulliMask, randn } from './random.ts';
import type { Generator } from '../random/philox.ts';
import { broadcastShapes, fmtShape, sameShape } from '../shape.ts';

/** How gelu computes the normal CDF: exactly (erf), or by PyTorch's tanh approximation. */
export type GeluApproximation = 'none' | 'tanh';

/**
 * GELU (Hendrycks & Gimpel 2016): x Phi(x), as torch.nn.functional.gelu computes it: 'none' is
 * x/2 (1 + erf(x / sqrt 2)); 'tanh' is x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 */
export function gelu(x: Tensor, approximate: GeluApproximation = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh')
    throw new Error(`gelu: approximate must be 'none' or 'tanh', not ${JSON.stringify(approximate)}`);
  const cdf2 =
    approximate === 'none'
      ? x.mul(Math.SQRT1_2).erf().add(1)
      : x
          .add(x.pow(3).mul(0.044715))
          .mul(Math.sqrt(2 / Math.PI))
          .tanh()
          .add(1);
  return x.mul(0.5).mul(cdf2);
}

/** SiLU (swish): x sigmoid(x). */
export function silu(x: Tensor): Tensor {
  return x.mul(x.sigmoid());
}

/**
 * ELU: x where x > 0, else alpha (exp(x) - 1) (torch.nn.functional.elu). The exponential sees min(x, 0),
 * so the branch not taken stays finite and sends no NaN back through its zero gradient.
 */
export function elu(x: Tensor, alpha = 1): Tensor {
  if (!Number.isFinite(alpha)) throw new Error(`elu: alpha must be finite, not ${alpha}`);
  return x.where(x.gt(0), x.clamp(-Infinity, 0).exp().sub(1).mul(alpha));
}

/** Softplus options (torch.nn.Softplus): log(1 + exp(beta x)) / beta, and x itself where beta x > threshold. */
export interface SoftplusOptions {
  /** The curve's sharpness (default 1). */
  beta?: number;
  /** Above this beta x the result is x itself (default 20). */
  threshold?: number;
}

/** softplus(x) = log(1 + exp(beta x)) / beta, reverting to x where beta x > threshold (torch's, defaults 1 and 20). */
export function softplus(x: Tensor, o: SoftplusOptions = {}): Tensor {
  const { beta = 1, threshold = 20 } = o;
  if (!(beta > 0) || !Number.isFinite(beta)) throw new Error(`softplus: beta must be a positive number, not ${beta}`);
  if (Number.isNaN(threshold)) throw new Error('softplus: threshold is NaN');
  // The softplus op is exact in float32 past 20 (log1p(exp(-20)) is below half an ulp of 20), so
  // PyTorch's defaults need no select.
  if (beta === 1 && threshold >= 20) return x.softplus();
  const bx = beta === 1 ? x : x.mul(beta);
  const sp = beta === 1 ? bx.softplus() : bx.softplus().div(beta);
  return x.where(bx.gt(threshold), sp);
}

/** y = x W^T + b with W [out, in] (PyTorch's layout); W is read transposed by the matmul kernel, not copied. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inF = weight.shape[1];
  if (x.shape[x.ndim - 1] !== inF) {
    throw new Error(
      `linear: input ${fmtShape(x.shape)} has ${x.shape[x.ndim - 1]} features but weight ${fmtShape(weight.shape)} expects ${inF}`,
    );
  }
  const rows = x.size / inF;
  const y = bmm(x.reshape([1, rows, inF]), weight.reshape([1, weight.shape[0], inF]), false, true).reshape([
    ...x.shape.slice(0, -1),
    weight.shape[0],
  ]);
  return bias ? y.add(bias) : y;
}

const channelShape = (x: Tensor) => [1, x.shape[1], ...x.shape.slice(2).map(() => 1)];

/**
 * Batch normalization over all dims but the channel (dim 1). Training: normalizes with the batch's
 * mean and biased variance and updates the running averages in place (unbiased variance, as PyTorch);
 * eval: uses the running averages.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  training: boolean,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  const dims = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  if (x.ndim < 2) throw new Error(`batch_norm: input ${fmtShape(x.shape)} has no channel dim (dim 1)`);
  for (const [name, t] of Object.entries({ running_mean: runningMean, running_var: runningVar, weight, bias })) {
    if (t && !sameShape(t.shape, [x.shape[1]]))
      throw new Error(
        `batch_norm: input ${fmtShape(x.shape)} has ${x.shape[1]} channels (dim 1) but ${name} is ${fmtShape(t.shape)}`,
      );
  }
  const cs = channelShape(x);
  if (!training) {
    if (!runningMean || !runningVar) throw new Error('batch_norm: eval mode needs running statistics');
    return normalize(x.sub(runningMean.reshape(cs)), runningVar.reshape(cs), weight, bias, cs, eps);
  }
  const n = x.size / x.shape[1];
  if (n <= 1)
    throw new Error(`batch_norm: expected more than 1 value per channel in training, got input ${fmtShape(x.shape)}`);
  const mean = x.mean(dims, true);
  const xc = x.sub(mean);
  const variance = xc.square().mean(dims, true);
  if (runningMean && runningVar) {
    noGrad(() => {
      const newMean = runningMean.mul(1 - momentum).add(mean.reshape([x.shape[1]]).mul(momentum));
      const newVar = runningVar.mul(1 - momentum).add(variance.reshape([x.shape[1]]).mul((momentum * n) / (n - 1)));
      assignInPlace(runningMean, newMean);
      assignInPlace(runningVar, newVar);
    });
  }
  return normalize(xc, variance, weight, bias, cs, eps);
}

/**
 * xc * rsqrt(variance + eps) * weight + bias for centred xc. The per-channel factors are combined
 * first, on the small statistics tensors, so the full-size tensor goes through one subtraction, one
 * multiply and one add (broadcasts over channels, forward and backward). Channel broadcasts, mostly
 * batch norm's, took 13% of a DCGAN training step on SwiftShader; this form cut their time by a third.
 */
function normalize(
  xc: Tensor,
  variance: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  cs: number[],
  eps: number,
): Tensor {
  let scale = variance.add(eps).rsqrt();
  if (weight) scale = scale.mul(weight.reshape(cs));
  const y = xc.mul(scale);
  return bias ? y.add(bias.reshape(cs)) : y;
}

/**
 * Layer normalization (Ba et al. 2016; torch.nn.functional.layer_norm): each sample normalized over its
 * last dims, those of `normalizedShape`, with the biased variance; `weight` and `bias` have that shape.
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  const k = normalizedShape.length;
  if (k === 0 || k > x.ndim || !sameShape(x.shape.slice(x.ndim - k), normalizedShape)) {
    throw new Error(
      `layer_norm: input ${fmtShape(x.shape)} does not end with the normalized shape ${fmtShape(normalizedShape)}`,
    );
  }
  for (const [name, t] of Object.entries({ weight, bias })) {
    if (t && !sameShape(t.shape, normalizedShape))
      throw new Error(
        `layer_norm: ${name} ${fmtShape(t.shape)} is not the normalized shape ${fmtShape(normalizedShape)}`,
      );
  }
  const dims = normalizedShape.map((_, i) => x.ndim - k + i);
  const xc = x.sub(x.mean(dims, true));
  const y = xc.mul(xc.square().mean(dims, true).add(eps).rsqrt());
  const w = weight ? y.mul(weight) : y;
  return bias ? w.add(bias) : w;
}

/**
 * Group normalization (Wu & He 2018; torch.nn.functional.group_norm): the channels of x [N, C, ...] in
 * numGroups groups of C / numGroups, each (sample, group) normalized over its channels and spatial
 * dims; `weight` and `bias` are per channel [C].
 */
export function groupNorm(
  x: Tensor,
  numGroups: number,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  const [N, C] = x.shape;
  if (x.ndim < 2 || !Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) {
    throw new Error(
      `group_norm: ${x.ndim < 2 ? `input ${fmtShape(x.shape)} has no channel dim` : `${C} channels do not split into ${numGroups} groups`}`,
    );
  }
  for (const [name, t] of Object.entries({ weight, bias })) {
    if (t && !sameShape(t.shape, [C])) throw new Error(`group_norm: ${name} ${fmtShape(t.shape)} is not [${C}]`);
  }
  const g = x.reshape([N, numGroups, x.size / (N * numGroups)]);
  const xc = g.sub(g.mean(2, true));
  const y = xc.mul(xc.square().mean(2, true).add(eps).rsqrt()).reshape(x.shape);
  const cs = channelShape(x);
  const w = weight ? y.mul(weight.reshape(cs)) : y;
  return bias ? w.add(bias.reshape(cs)) : w;
}

/** Instance normalization: each (sample, channel) normalized over its spatial dims. */
export function instanceNorm(x: Tensor, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const dims = x.shape.slice(2).map((_, i) => i + 2);
  const xc = x.sub(x.mean(dims, true));
  return normalize(xc, xc.square().mean(dims, true), weight, bias, channelShape(x), eps);
}

/**
 * Copies src's values into dst's storage (for running statistics and optimizer-free updates): the
 * in-place 'assign' effect (src/graph/effects.ts), which a compiled step records in order like an op.
 */
export function assignInPlace(dst: Tensor, src: Tensor): void {
  if (!sameShape(dst.shape, src.shape))
    throw new Error(`assign: shapes ${fmtShape(dst.shape)} and ${fmtShape(src.shape)} differ`);
  effect('assign', [dst, src], {});
  src.dispose();
}

/** Inverted dropout: zeroes each value with probability p (a Philox mask) and scales the rest by 1/(1-p). */
export function dropout(x: Tensor, p = 0.5, training = true, generator?: Generator): Tensor {
  if (p < 0 || p > 1) throw new Error(`dropout: probability ${p} is not in [0, 1]`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  return x.mul(bernoulliMask(x.shape, 1 - p, 1 / (1 - p), { backend: x.backend, generator }));
}

/**
 * Channel dropout (torch.nn.functional.dropout2d): each (sample, channel) plane of x [N, C, ...] is
 * zeroed with probability p (one Philox draw per plane, broadcast over it), the rest scaled by 1/(1-p).
 */
export function dropout2d(x: Tensor, p = 0.5, training = true, generator?: Generator): Tensor {
  if (p < 0 || p > 1) throw new Error(`dropout2d: probability ${p} is not in [0, 1]`);
  if (x.ndim < 3) throw new Error(`dropout2d: expected [N, C, H, W] or [C, H, W] input, got ${fmtShape(x.shape)}`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const planes = [...x.shape.slice(0, x.ndim - 2), 1, 1];
  return x.mul(bernoulliMask(planes, 1 - p, 1 / (1 - p), { backend: x.backend, generator }));
}

/** Nearest-neighbour upsampling of NCHW by an integer factor (a broadcast, so its gradient sums). */
export function upsampleNearest(x: Tensor, scale: number): Tensor {
  if (!Number.isInteger(scale) || scale < 1)
    throw new Error(`upsample_nearest: scale must be a positive integer, got ${scale}`);
  const [n, c, h, w] = x.shape;
  return x
    .reshape([n, c, h, 1, w, 1])
    .broadcastTo([n, c, h, scale, w, scale])
    .reshape([n, c, h * scale, w * scale]);
}

/** How interpolate() maps output pixels to input pixels. */
export type InterpolateMode = 'nearest' | 'bilinear';
/** interpolate()'s options (F.interpolate), also those of nn.Upsample: a size or a scale factor, and the mode. */
export interface InterpolateOptions {
  /** The output's [H, W] (or one size for both); or give scaleFactor. */
  size?: number | [number, number];
  /** Output size floor(input * factor); the coordinates map by 1 / factor, as torch without recompute_scale_factor. */
  scaleFactor?: number | [number, number];
  /** 'nearest' (default) or 'bilinear'. */
  mode?: InterpolateMode;
  /** bilinear only: corner pixels' centres align (torch's align_corners; default false). */
  alignCorners?: boolean;
}

/**
 * The [out, in] matrix of a 1-D interpolation (torch's upsample kernels, aten/src/ATen/native/UpSample.h):
 * bilinear: source x = (i + 0.5) scale - 0.5 clamped at 0 (align corners: i (in - 1) / (out - 1)),
 * weights 1 - l and l at floor(x) and the next (the last pixel repeats); nearest: floor(i scale).
 */
function interpolationMatrix(
  n: number,
  out: number,
  mode: InterpolateMode,
  alignCorners: boolean,
  factor: number | undefined,
): Float32Array {
  const m = new Float32Array(out * n);
  const scale = factor ? 1 / factor : n / out;
  for (let i = 0; i < out; i++) {
    if (mode === 'nearest') {
      m[i * n + Math.min(Math.floor(i * scale), n - 1)] = 1;
      continue;
    }
    const src = alignCorners ? (out > 1 ? (i * (n - 1)) / (out - 1) : 0) : Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), n - 1),
      i1 = Math.min(i0 + 1, n - 1),
      l = src - i0;
    m[i * n + i0] += 1 - l;
    m[i * n + i1] += l;
  }
  return m;
}

/**
 * torch.nn.functional.interpolate for NCHW with mode 'nearest' or 'bilinear' (align corners or not):
 * separable, so written as two matmuls with the interpolation matrices of the rows and the columns
 * (constants built on the host: A_h x A_w^T per plane); the gradient is the matmuls' (A_h^T g A_w).
 */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  const op = 'interpolate';
  if (x.ndim !== 4) throw new Error(`${op}: expected NCHW input, got ${fmtShape(x.shape)}`);
  const mode = o.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'bilinear')
    throw new Error(`${op}: mode must be 'nearest' or 'bilinear', not ${JSON.stringify(mode)}`);
  if (o.alignCorners !== undefined && mode !== 'bilinear')
    throw new Error(`${op}: alignCorners is for mode 'bilinear' only`);
  if ((o.size === undefined) === (o.scaleFactor === undefined))
    throw new Error(`${op}: give one of size and scaleFactor`);
  const [n, c, h, w] = x.shape;
  const two = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);
  const factors = o.scaleFactor === undefined ? undefined : two(o.scaleFactor);
  if (factors && factors.some((f) => !(f > 0 && Number.isFinite(f))))
    throw new Error(`${op}: scaleFactor must be positive, got ${JSON.stringify(o.scaleFactor)}`);
  const [oh, ow] = o.size !== undefined ? two(o.size) : [Math.floor(h * factors![0]), Math.floor(w * factors![1])];
  if (![oh, ow].every((v) => Number.isInteger(v) && v > 0))
    throw new Error(`${op}: output size ${oh}x${ow} for input ${fmtShape(x.shape)} is not positive integers`);
  const align = o.alignCorners ?? false;
  const mat = (len: number, out: number, f: number | undefined) =>
    tensor(interpolationMatrix(len, out, mode, align, align ? undefined : f), [1, out, len], { backend: x.backend });
  const ah = mat(h, oh, factors?.[0]),
    aw = mat(w, ow, factors?.[1]);
  const rows = bmm(ah, x.reshape([n * c, h, w]));
  return bmm(rows, aw, false, true).reshape([n, c, oh, ow]);
}

/** avgPool2d's options (F.avg_pool2d), also those of nn.AvgPool2d. */
export interface AvgPool2dOptions {
  /** Window step (default: the kernel size). */
  stride?: number | [number, number];
  /** Zeros added on each side (at most half the kernel, as PyTorch). */
  padding?: number | [number, number];
  /** Output size by ceil instead of floor; a last window must still start inside the input or left padding. */
  ceilMode?: boolean;
  /** Divide by the window's span over the padded input (PyTorch's default, true) or by its real values. */
  countIncludePad?: boolean;
}

/** A pooling option as two integers >= min (a number for both). */
function pairOfPool(op: string, name: string, v: number | [number, number], min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || p.some((q) => !Number.isInteger(q) || q < min))
    throw new Error(`${op}: ${name} must be an integer >= ${min} or two, got ${JSON.stringify(v)}`);
  return p;
}
/** PyTorch's pooling_output_shape: with ceil mode, a last window starting in the right padding is dropped. */
function poolSize(len: number, k: number, s: number, p: number, d: number, ceil: boolean | undefined): number {
  const span = len + 2 * p - d * (k - 1) - 1;
  let out = Math.floor((ceil ? span + s - 1 : span) / s) + 1;
  if (ceil && (out - 1) * s >= len + p) out--;
  return out;
}
type Pair = [number, number];
interface PoolGeom {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  out: Pair;
}
/** A pooling's checked sizes (NCHW input; padding at most half the kernel; a window that fits), as PyTorch checks them. */
function poolGeom(op: string, x: Tensor, kernel: number | Pair, o: MaxPool2dOptions): PoolGeom {
  if (x.ndim !== 4) throw new Error(`${op}: expected NCHW input, got ${fmtShape(x.shape)}`);
  const k = pairOfPool(op, 'kernel', kernel, 1),
    stride = pairOfPool(op, 'stride', o.stride ?? k, 1),
    padding = pairOfPool(op, 'padding', o.padding ?? 0, 0),
    dilation = pairOfPool(op, 'dilation', o.dilation ?? 1, 1);
  if (padding[0] > k[0] / 2 || padding[1] > k[1] / 2)
    throw new Error(`${op}: padding ${padding.join('x')} is more than half the kernel ${k.join('x')}`);
  const out = [0, 1].map((d) => poolSize(x.shape[2 + d], k[d], stride[d], padding[d], dilation[d], o.ceilMode)) as Pair;
  if (out[0] < 1 || out[1] < 1)
    throw new Error(
      `${op}: a ${k.join('x')} window does not fit input ${fmtShape(x.shape)} with padding ${padding.join('x')}`,
    );
  return { kernel: k, stride, padding, dilation, out };
}
/** The kh kw strided slices whose sum or maximum pools x padded with `value` (around, and past the right edge where ceil-mode windows reach). */
function poolWindows(
  x: Tensor,
  { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], out: [oh, ow] }: PoolGeom,
  value: number,
): Tensor[] {
  const [, , h, w] = x.shape;
  const extraH = Math.max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph)),
    extraW = Math.max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw));
  const xp = ph || pw || extraH || extraW ? x.pad([pw, pw + extraW, ph, ph + extraH], 'constant', value) : x;
  const parts: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++)
      parts.push(xp.slice(2, i * dh, i * dh + sh * (oh - 1) + 1, sh).slice(3, j * dw, j * dw + sw * (ow - 1) + 1, sw));
  }
  return parts;
}

/**
 * Average pooling over kh x kw windows of NCHW (torch.nn.functional.avg_pool2d). Non-overlapping windows
 * (stride = kernel, no padding, sizes that divide) are one reshape and a mean; otherwise the sum of the
 * kh kw strided slices of the zero-padded input, so the gradient comes from slice's and pad's rules.
 * Each window is divided as PyTorch divides it: by its span over the padded input (a ceil-mode window
 * past the right padding is cut there), or with countIncludePad false by the real values it covers.
 */
export function avgPool2d(x: Tensor, kernel: number | [number, number], o: AvgPool2dOptions = {}): Tensor {
  const { kernel: k, stride: st, padding: pd, out } = poolGeom('avg_pool2d', x, kernel, { ...o, dilation: 1 });
  const [n, c, h, w] = x.shape;
  const [oh, ow] = out;
  if (st[0] === k[0] && st[1] === k[1] && !pd[0] && !pd[1] && h % k[0] === 0 && w % k[1] === 0) {
    return x.reshape([n, c, h / k[0], k[0], w / k[1], k[1]]).mean([3, 5]);
  }
  const total = poolWindows(x, { kernel: k, stride: st, padding: pd, dilation: [1, 1], out: [oh, ow] }, 0).reduce(
    (a, b) => a.add(b),
  );
  const exact = (oh - 1) * st[0] + k[0] <= h + 2 * pd[0] && (ow - 1) * st[1] + k[1] <= w + 2 * pd[1];
  if (exact && (o.countIncludePad !== false || (!pd[0] && !pd[1]))) return total.mul(1 / (k[0] * k[1]));
  // The divisor of each window: the same sums over ones where a value counts (the input, and with
  // countIncludePad its padding too) and zeros past it.
  const divisor = noGrad(() => {
    const inc = o.countIncludePad !== false;
    const ones = full([1, 1, inc ? h + 2 * pd[0] : h, inc ? w + 2 * pd[1] : w], 1, { backend: x.backend });
    return poolWindows(
      ones,
      { kernel: k, stride: st, padding: inc ? [0, 0] : pd, dilation: [1, 1], out: [oh, ow] },
      0,
    ).reduce((a, b) => a.add(b));
  });
  return total.div(divisor);
}

/** maxPool2d's options (F.max_pool2d), also those of nn.MaxPool2d. */
export interface MaxPool2dOptions {
  /** Window step (default: the kernel size). */
  stride?: number | [number, number];
  /** -Inf added on each side (at most half the kernel, as PyTorch). */
  padding?: number | [number, number];
  /** Spacing between the window's elements (default 1). */
  dilation?: number | [number, number];
  /** Output size by ceil instead of floor; a last window must still start inside the input or left padding. */
  ceilMode?: boolean;
}

/**
 * Max pooling of NCHW (torch.nn.functional.max_pool2d): each output is the largest of its window, NaN
 * if the window holds one. Composed from the ops: the kh kw strided slices of the input padded with
 * -Inf are stacked, their argmax along the stack (the first of equal values, in window order, NaN
 * first) picks one, and a where keeps only it, so the gradient goes to that element alone, as
 * PyTorch's max_pool2d backward sends it to its index.
 */
export function maxPool2d(x: Tensor, kernel: number | [number, number], o: MaxPool2dOptions = {}): Tensor {
  const g = poolGeom('max_pool2d', x, kernel, o);
  const [n, c] = x.shape;
  const [oh, ow] = g.out;
  // -Inf around the input, and on the right as far as the last (ceil mode) window reaches.
  const parts = poolWindows(x, g, -Infinity);
  if (parts.length === 1) return parts[0];
  const s = stack(parts, 0);
  const pick = noGrad(() =>
    arange(parts.length, undefined, 1, { backend: x.backend })
      .reshape([parts.length, 1, 1, 1, 1])
      .eq(s.argmax(0, true)),
  );
  return s.where(pick, 0).sum(0).reshape([n, c, oh, ow]);
}

/** How a loss reduces its per-element values: their mean (the default), their sum, or none (the per-element tensor). */
export type Reduction = 'mean' | 'sum' | 'none';
const reduce = (t: Tensor, r: Reduction) => (r === 'mean' ? t.mean() : r === 'sum' ? t.sum() : t);
/** A loss's options given as the reduction alone or as an object (torch's keyword arguments). */
const optionsOf = <O extends { reduction?: Reduction }>(o: Reduction | O | undefined): O =>
  typeof o === 'string' ? ({ reduction: o } as O) : (o ?? ({} as O));

function checkTarget(op: string, x: Tensor, t: Tensor): void {
  if (!sameShape(x.shape, t.shape))
    throw new Error(`${op}: input ${fmtShape(x.shape)} and target ${fmtShape(t.shape)} differ in shape`);
}
/** An element weight (rescaling each element's loss, broadcast to it), checked against the loss's shape. */
function weighted(op: string, loss: Tensor, weight: Tensor | null | undefined, what = 'weight'): Tensor {
  if (!weight) return loss;
  let fits = false;
  try {
    fits = sameShape(broadcastShapes(op, loss.shape, weight.shape), loss.shape);
  } catch {
    // reported below
  }
  if (!fits)
    throw new Error(
      `${op}: ${what} ${fmtShape(weight.shape)} does not broadcast to the loss's ${fmtShape(loss.shape)}`,
    );
  return loss.mul(weight);
}

/** bce's options (F.binary_cross_entropy), also those of nn.BCELoss. */
export interface BCEOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
  /** Rescales each element's loss (broadcast to the input). */
  weight?: Tensor | null;
}
/** bceWithLogits's options (F.binary_cross_entropy_with_logits), also those of nn.BCEWithLogitsLoss. */
export interface BCEWithLogitsOptions extends BCEOptions {
  /** Weight of the positive term per class (broadcast along the last dim): recall against precision. */
  posWeight?: Tensor | null;
}

/**
 * Binary cross-entropy on logits, in PyTorch's stable form (1 - t) x + (1 + (pw - 1) t) softplus(-x)
 * (pw the posWeight, 1 without), softplus itself max(-x, 0) + log1p(exp(-|x|)): at x = +Inf with t = 0 it
 * is +Inf, where max(x, 0) - x t would be Inf - NaN.
 */
export function bceWithLogits(
  logits: Tensor,
  target: Tensor,
  options: Reduction | BCEWithLogitsOptions = 'mean',
): Tensor {
  const op = 'binary_cross_entropy_with_logits';
  const { reduction = 'mean', weight, posWeight } = optionsOf(options);
  checkTarget(op, logits, target);
  const sp = logits.neg().softplus();
  const pos = posWeight ? weighted(op, target, posWeight, 'posWeight').sub(target).add(1).mul(sp) : sp;
  return reduce(weighted(op, target.neg().add(1).mul(logits).add(pos), weight), reduction);
}

/** Binary cross-entropy on probabilities; the logs are clamped at -100 as in PyTorch. */
export function bce(prob: Tensor, target: Tensor, options: Reduction | BCEOptions = 'mean'): Tensor {
  const op = 'binary_cross_entropy';
  const { reduction = 'mean', weight } = optionsOf(options);
  checkTarget(op, prob, target);
  const logP = prob.log().clamp(-100),
    log1mP = prob.neg().add(1).log().clamp(-100);
  return reduce(weighted(op, target.mul(logP).add(target.neg().add(1).mul(log1mP)).neg(), weight), reduction);
}

/** Mean squared error; input and target broadcast (torch warns; here it is allowed). */
export function mse(x: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  broadcastShapes('mse_loss', x.shape, target.shape); // the op's name in the error, not sub's
  return reduce(x.sub(target).square(), reduction);
}

/** Mean absolute error; input and target broadcast. */
export function l1(x: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  broadcastShapes('l1_loss', x.shape, target.shape);
  return reduce(x.sub(target).abs(), reduction);
}

/** KL(N(mu, exp(logvar)) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar)) per sample (last dim), [batch]. */
export function gaussianKL(mu: Tensor, logvar: Tensor): Tensor {
  checkTarget('gaussian_kl', mu, logvar);
  return logvar.add(1).sub(mu.square()).sub(logvar.exp()).sum(-1).mul(-0.5);
}

/** log p(x | logits) of independent Bernoullis, summed over all dims but the first: [batch]. */
export function bernoulliLogLik(logits: Tensor, x: Tensor): Tensor {
  const nll = bceWithLogits(logits, x, 'none');
  return nll.reshape([x.shape[0], -1]).sum(1).neg();
}

/** log N(x; mu, exp(logvar)) summed over all dims but the first: [batch]. */
export function gaussianLogLik(x: Tensor, mu: Tensor, logvar: Tensor): Tensor {
  checkTarget('gaussian_log_likelihood', x, mu);
  const per = x
    .sub(mu)
    .square()
    .mul(logvar.neg().exp())
    .add(logvar)
    .add(Math.log(2 * Math.PI))
    .mul(-0.5);
  return per.reshape([x.shape[0], -1]).sum(1);
}

/**
 * Labels that are not class indices (integers in [0, C)) throw, naming the first; `ignore` (ignoreIndex)
 * is allowed. Only where they can be read without a readback: a synchronous read of the CPU backend's
 * host memory. A WebGPU tensor would need a readback per call, which waits for the queue every step, so
 * there a bad label is caught by the loss.
 */
function checkClassLabels(op: string, target: Tensor, C: number, ignore: number): void {
  const readSync = (target.backend as { readSync?: (s: unknown) => ArrayLike<number> }).readSync;
  // While compile() traces, labels are the call's data, not values yet: the in-graph guard below stays.
  if (!readSync || isTracing()) return;
  const labels = readSync.call(target.backend, target.storage);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v !== ignore && !(Number.isInteger(v) && v >= 0 && v < C)) {
      throw new Error(
        `${op}: target label ${v} (at index ${i}) is not a class index: expected an integer in [0, ${C - 1}] for ${C} classes`,
      );
    }
  }
}

/** nllLoss's options (F.nll_loss), also those of nn.NLLLoss. */
export interface NLLOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
  /** A weight per class [C]; 'mean' then divides by the targets' total weight (as torch). */
  weight?: Tensor | null;
  /** Targets of this value add nothing, and count for nothing in 'mean' (torch's default -100). */
  ignoreIndex?: number;
}
/** crossEntropy's options (F.cross_entropy), also those of nn.CrossEntropyLoss. */
export interface CrossEntropyOptions extends NLLOptions {
  /** In [0, 1]: the target mixed with the uniform distribution, (1 - s) onehot + s / C. */
  labelSmoothing?: number;
}

/**
 * The class losses of torch's cross_entropy and nll_loss, from log-probabilities `logp` [N, C, d...] (or
 * [C]) and class indices [N, d...] (or []: int32, or floats holding integers), or (cross entropy only) float class probabilities
 * of logp's shape. Per element, with w the class weights (1 without), y the class, s the smoothing:
 * (1 - s) (-w_y logp_y) + s / C sum_c (-w_c logp_c), 0 where y is ignoreIndex; 'mean' divides the sum by
 * the sum of w_y over the elements not ignored (probabilities: by the element count). A bad label throws
 * on the CPU backend; elsewhere its one-hot row is all zeros, and the log of that row's sum (0) makes its
 * loss +Inf instead of a silently finite number, which the training loops' non-finite check stops on.
 */
function classLoss(op: string, logp: Tensor, target: Tensor, o: CrossEntropyOptions): Tensor {
  const { reduction = 'mean', weight = null, ignoreIndex = -100, labelSmoothing = 0 } = o;
  const unbatched = logp.ndim === 1;
  const x = unbatched ? logp.reshape([1, logp.size]) : logp;
  const C = x.shape[1];
  if (x.ndim < 2 || C === undefined)
    throw new Error(`${op}: expected input [N, C, d...] or [C], got ${fmtShape(logp.shape)}`);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
    throw new Error(`${op}: labelSmoothing must be in [0, 1], not ${labelSmoothing}`);
  if (weight && (weight.ndim !== 1 || weight.size !== C))
    throw new Error(`${op}: weight of shape ${fmtShape(weight.shape)} for ${C} classes (expected [${C}])`);
  // The class dim last: [M, C] rows, M the batch and the extra dims.
  const rest = x.shape.slice(2);
  const classLast = (t: Tensor) =>
    t.ndim === 2 ? t : t.permute([0, ...rest.map((_, i) => i + 2), 1]).reshape([-1, C]);
  const rows = classLast(x);
  const w = weight ? weight.reshape([1, C]) : null;
  // Probabilities are float (torch tells the two kinds by dtype too): an int32 target is always indices.
  const soft = target.dtype === 'float32' && sameShape(target.shape, logp.shape) && !(unbatched && target.ndim === 0);
  if (soft) {
    // Class probabilities: -sum_c w_c p_c logp_c, p smoothed; 'mean' over the elements.
    const t = classLast(unbatched ? target.reshape([1, C]) : target);
    const p = labelSmoothing ? t.mul(1 - labelSmoothing).add(labelSmoothing / C) : t;
    const per = (w ? rows.mul(p).mul(w) : rows.mul(p)).sum(1).neg();
    return reduce(unbatched ? per.reshape([]) : per.reshape([x.shape[0], ...rest]), reduction);
  }
  const want = unbatched ? [] : [x.shape[0], ...rest];
  if (!sameShape(target.shape, want))
    throw new Error(
      `${op}: target of shape ${fmtShape(target.shape)} for input ${fmtShape(logp.shape)} (expected class indices ${fmtShape(want)} or probabilities ${fmtShape(logp.shape)})`,
    );
  checkClassLabels(op, target, C, ignoreIndex);
  const y = target.reshape([-1, 1]);
  const oneHot = y.eq(arange(C, undefined, 1, { backend: logp.backend }).reshape([1, C]));
  const kept = y.ne(ignoreIndex).reshape([-1]);
  const wy = w ? oneHot.mul(w).sum(1) : oneHot.sum(1);
  // A bad label: log(0) = -Inf, so its loss is +Inf; an ignored one: log(1) = 0.
  const guard = oneHot.sum(1).maximum(kept.neg().add(1)).log();
  // Picked by where, not by a product with the one-hot rows: a -Inf log-probability of another class
  // times 0 would be NaN.
  let per = rows
    .where(oneHot, 0)
    .sum(1)
    .mul(w ? wy : 1)
    .neg();
  if (labelSmoothing) {
    const smooth = (w ? rows.mul(w) : rows).sum(1).neg();
    per = per.mul(1 - labelSmoothing).add(smooth.mul(labelSmoothing / C));
  }
  per = per.where(kept, 0).sub(guard);
  if (reduction === 'mean') return per.sum().div(wy.mul(kept).sum());
  return reduction === 'sum' ? per.sum() : per.reshape(want);
}

/**
 * Cross-entropy of class logits [N, C, d...] (or [C]) against class indices [N, d...] (int32 or integer floats)
 * or class probabilities of the logits' shape, as torch.nn.functional.cross_entropy with its weight,
 * ignoreIndex and labelSmoothing (classLoss above). The labels are validated as classLoss says.
 *
 * @example
 * ```ts
 * const logits = model.call(x);                          // [N, 10]
 * const loss = F.crossEntropy(logits, labels);           // labels: int32 [N]
 * F.crossEntropy(logits, labels, { labelSmoothing: 0.1, reduction: 'sum' });
 * ```
 */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  options: Reduction | CrossEntropyOptions = 'mean',
): Tensor {
  const dim = logits.ndim === 1 ? 0 : 1;
  if (logits.ndim === 0)
    throw new Error(`crossEntropy: expected logits [N, C, d...] or [C], got ${fmtShape(logits.shape)}`);
  return classLoss('crossEntropy', logits.logSoftmax(dim), target, optionsOf(options));
}

/** The negative log-likelihood of log-probabilities [N, C, d...] at class indices (torch's nll_loss). */
export function nllLoss(logp: Tensor, target: Tensor, options: Reduction | NLLOptions = 'mean'): Tensor {
  const o = optionsOf(options);
  if (sameShape(target.shape, logp.shape) && logp.ndim > 1)
    throw new Error(
      `nllLoss: target of shape ${fmtShape(target.shape)}: expected class indices (without the class dim), not probabilities`,
    );
  return classLoss('nllLoss', logp, target, { ...o, labelSmoothing: 0 });
}

/**
 * Reparameterized sample z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from Philox: eps is an extra
 * input, not a function of the parameters, so gradients reach mu and logvar and never eps.
 */
export function reparameterize(mu: Tensor, logvar: Tensor, generator?: Generator): Tensor {
  const eps = randn(mu.shape, { backend: mu.backend, generator });
  return mu.add(logvar.mul(0.5).exp().mul(eps));
}
