// Neural-network functions (PyTorch's torch.nn.functional), composed from the ops, so their gradients
// come from the ops' rules: linear, batch_norm, instance_norm, layer_norm, group_norm, dropout,
// dropout2d, upsample_nearest, avg_pool2d, max_pool2d, the activations beyond the unary ops (gelu, silu,
// elu, softplus with beta and threshold), the losses, and reparameterized sampling.

import { Tensor, effect, isTracing } from '../tensor.ts';
import { noGrad } from '../autograd/engine.ts';
import { bmm } from './matmul.ts';
import { stack } from './movement.ts';
import { arange, full } from './creation.ts';
import { bernoulliMask, randn } from './random.ts';
import type { Generator } from '../random/philox.ts';
import { fmtShape, sameShape } from '../shape.ts';

/** How gelu computes the normal CDF: exactly (erf), or by PyTorch's tanh approximation. */
export type GeluApproximation = 'none' | 'tanh';

/**
 * GELU (Hendrycks & Gimpel 2016): x Phi(x), as torch.nn.functional.gelu computes it: 'none' is
 * x/2 (1 + erf(x / sqrt 2)); 'tanh' is x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 */
export function gelu(x: Tensor, approximate: GeluApproximation = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', not ${JSON.stringify(approximate)}`);
  const cdf2 = approximate === 'none'
    ? x.mul(Math.SQRT1_2).erf().add(1)
    : x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI)).tanh().add(1);
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
  beta?: number;
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
    throw new Error(`linear: input ${fmtShape(x.shape)} has ${x.shape[x.ndim - 1]} features but weight ${fmtShape(weight.shape)} expects ${inF}`);
  }
  const rows = x.size / inF;
  const y = bmm(x.reshape([1, rows, inF]), weight.reshape([1, weight.shape[0], inF]), false, true).reshape([...x.shape.slice(0, -1), weight.shape[0]]);
  return bias ? y.add(bias) : y;
}

const channelShape = (x: Tensor) => [1, x.shape[1], ...x.shape.slice(2).map(() => 1)];

/**
 * Batch normalization over all dims but the channel (dim 1). Training: normalizes with the batch's
 * mean and biased variance and updates the running averages in place (unbiased variance, as PyTorch);
 * eval: uses the running averages.
 */
export function batchNorm(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null, bias: Tensor | null,
  training: boolean, momentum = 0.1, eps = 1e-5,
): Tensor {
  const dims = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  const cs = channelShape(x);
  if (!training) {
    if (!runningMean || !runningVar) throw new Error('batch_norm: eval mode needs running statistics');
    return normalize(x.sub(runningMean.reshape(cs)), runningVar.reshape(cs), weight, bias, cs, eps);
  }
  const n = x.size / x.shape[1];
  if (n <= 1) throw new Error(`batch_norm: expected more than 1 value per channel in training, got input ${fmtShape(x.shape)}`);
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
function normalize(xc: Tensor, variance: Tensor, weight: Tensor | null, bias: Tensor | null, cs: number[], eps: number): Tensor {
  let scale = variance.add(eps).rsqrt();
  if (weight) scale = scale.mul(weight.reshape(cs));
  const y = xc.mul(scale);
  return bias ? y.add(bias.reshape(cs)) : y;
}

/**
 * Layer normalization (Ba et al. 2016; torch.nn.functional.layer_norm): each sample normalized over its
 * last dims, those of `normalizedShape`, with the biased variance; `weight` and `bias` have that shape.
 */
export function layerNorm(x: Tensor, normalizedShape: number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const k = normalizedShape.length;
  if (k === 0 || k > x.ndim || !sameShape(x.shape.slice(x.ndim - k), normalizedShape)) {
    throw new Error(`layer_norm: input ${fmtShape(x.shape)} does not end with the normalized shape ${fmtShape(normalizedShape)}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && !sameShape(t.shape, normalizedShape)) throw new Error(`layer_norm: ${name} ${fmtShape(t.shape)} is not the normalized shape ${fmtShape(normalizedShape)}`);
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
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const [N, C] = x.shape;
  if (x.ndim < 2 || !Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) {
    throw new Error(`group_norm: ${x.ndim < 2 ? `input ${fmtShape(x.shape)} has no channel dim` : `${C} channels do not split into ${numGroups} groups`}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
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
  if (!sameShape(dst.shape, src.shape)) throw new Error(`assign: shapes ${fmtShape(dst.shape)} and ${fmtShape(src.shape)} differ`);
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
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`upsample_nearest: scale must be a positive integer, got ${scale}`);
  const [n, c, h, w] = x.shape;
  return x.reshape([n, c, h, 1, w, 1]).broadcastTo([n, c, h, scale, w, scale]).reshape([n, c, h * scale, w * scale]);
}

export interface AvgPool2dOptions {
  /** Window step (default: the kernel size). */
  stride?: number;
  /** Zeros added on each side (at most half the kernel, as PyTorch). */
  padding?: number;
  /** Divide by the whole window even where it covers padding (PyTorch's default, true). */
  countIncludePad?: boolean;
}

/**
 * Average pooling over kernel x kernel windows of NCHW (torch.nn.functional.avg_pool2d, floor mode).
 * Non-overlapping windows (stride = kernel, no padding) are one reshape and a mean; otherwise the sum of
 * the kernel^2 strided slices of the padded input, so the gradient comes from slice's and pad's rules.
 */
export function avgPool2d(x: Tensor, kernel: number, o: AvgPool2dOptions = {}): Tensor {
  const stride = o.stride ?? kernel, padding = o.padding ?? 0;
  if (x.ndim !== 4) throw new Error(`avg_pool2d: expected NCHW input, got ${fmtShape(x.shape)}`);
  for (const [name, v, min] of [['kernel', kernel, 1], ['stride', stride, 1], ['padding', padding, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`avg_pool2d: ${name} must be an integer >= ${min}, got ${v}`);
  }
  if (padding > kernel / 2) throw new Error(`avg_pool2d: padding ${padding} is more than half the kernel ${kernel}`);
  const [n, c, h, w] = x.shape;
  const oh = Math.floor((h + 2 * padding - kernel) / stride) + 1, ow = Math.floor((w + 2 * padding - kernel) / stride) + 1;
  if (oh < 1 || ow < 1) throw new Error(`avg_pool2d: a ${kernel}x${kernel} window does not fit input ${fmtShape(x.shape)} with padding ${padding}`);
  if (stride === kernel && padding === 0 && h % kernel === 0 && w % kernel === 0) {
    return x.reshape([n, c, h / kernel, kernel, w / kernel, kernel]).mean([3, 5]);
  }
  const xp = padding ? x.pad([padding, padding, padding, padding]) : x;
  let total: Tensor | null = null;
  for (let i = 0; i < kernel; i++) {
    for (let j = 0; j < kernel; j++) {
      const part = xp.slice(2, i, i + stride * (oh - 1) + 1, stride).slice(3, j, j + stride * (ow - 1) + 1, stride);
      total = total ? total.add(part) : part;
    }
  }
  if (o.countIncludePad === false && padding > 0) {
    // Divide each window by the number of real (unpadded) values it covers.
    const ones = noGrad(() => full([1, 1, h, w], 1, { backend: x.backend }));
    return total!.div(avgPool2d(ones, kernel, { stride, padding }).mul(kernel * kernel));
  }
  return total!.mul(1 / (kernel * kernel));
}

export interface MaxPool2dOptions {
  /** Default: the kernel. */
  stride?: number | [number, number];
  /** -Inf added on each side (at most half the kernel, as PyTorch). */
  padding?: number | [number, number];
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
  const pair = (name: string, v: number | [number, number], min: number): [number, number] => {
    const p: [number, number] = typeof v === 'number' ? [v, v] : v;
    if (p.length !== 2 || p.some((q) => !Number.isInteger(q) || q < min)) throw new Error(`max_pool2d: ${name} must be an integer >= ${min} or two, got ${JSON.stringify(v)}`);
    return p;
  };
  if (x.ndim !== 4) throw new Error(`max_pool2d: expected NCHW input, got ${fmtShape(x.shape)}`);
  const [kh, kw] = pair('kernel', kernel, 1);
  const [sh, sw] = pair('stride', o.stride ?? [kh, kw], 1);
  const [ph, pw] = pair('padding', o.padding ?? 0, 0);
  const [dh, dw] = pair('dilation', o.dilation ?? 1, 1);
  if (ph > kh / 2 || pw > kw / 2) throw new Error(`max_pool2d: padding ${ph}x${pw} is more than half the kernel ${kh}x${kw}`);
  const [n, c, h, w] = x.shape;
  // PyTorch's pooling_output_shape: with ceil mode, a last window starting in the right padding is dropped.
  const size = (len: number, k: number, s: number, p: number, d: number) => {
    const span = len + 2 * p - d * (k - 1) - 1;
    let out = Math.floor((o.ceilMode ? span + s - 1 : span) / s) + 1;
    if (o.ceilMode && (out - 1) * s >= len + p) out--;
    return out;
  };
  const oh = size(h, kh, sh, ph, dh), ow = size(w, kw, sw, pw, dw);
  if (oh < 1 || ow < 1) throw new Error(`max_pool2d: a ${kh}x${kw} window does not fit input ${fmtShape(x.shape)} with padding ${ph}x${pw}`);
  // -Inf around the input, and on the right as far as the last (ceil mode) window reaches.
  const extraH = Math.max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph)), extraW = Math.max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw));
  const xp = ph || pw || extraH || extraW ? x.pad([pw, pw + extraW, ph, ph + extraH], 'constant', -Infinity) : x;
  const parts: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      parts.push(xp.slice(2, i * dh, i * dh + sh * (oh - 1) + 1, sh).slice(3, j * dw, j * dw + sw * (ow - 1) + 1, sw));
    }
  }
  if (parts.length === 1) return parts[0];
  const s = stack(parts, 0);
  const pick = noGrad(() => arange(parts.length, undefined, 1, { backend: x.backend }).reshape([parts.length, 1, 1, 1, 1]).eq(s.argmax(0, true)));
  return s.where(pick, 0).sum(0).reshape([n, c, oh, ow]);
}

export type Reduction = 'mean' | 'sum' | 'none';
const reduce = (t: Tensor, r: Reduction) => (r === 'mean' ? t.mean() : r === 'sum' ? t.sum() : t);

function checkTarget(op: string, x: Tensor, t: Tensor): void {
  if (!sameShape(x.shape, t.shape)) throw new Error(`${op}: input ${fmtShape(x.shape)} and target ${fmtShape(t.shape)} differ in shape`);
}

/**
 * Binary cross-entropy on logits, in PyTorch's stable form (1 - t) x + softplus(-x), softplus itself
 * max(-x, 0) + log1p(exp(-|x|)): at x = +Inf with t = 0 it is +Inf, where max(x, 0) - x t would be
 * Inf - NaN.
 */
export function bceWithLogits(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkTarget('binary_cross_entropy_with_logits', logits, target);
  return reduce(target.neg().add(1).mul(logits).add(logits.neg().softplus()), reduction);
}

/** Binary cross-entropy on probabilities; the logs are clamped at -100 as in PyTorch. */
export function bce(prob: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkTarget('binary_cross_entropy', prob, target);
  const logP = prob.log().clamp(-100), log1mP = prob.neg().add(1).log().clamp(-100);
  return reduce(target.mul(logP).add(target.neg().add(1).mul(log1mP)).neg(), reduction);
}

export function mse(x: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkTarget('mse_loss', x, target);
  return reduce(x.sub(target).square(), reduction);
}

export function l1(x: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkTarget('l1_loss', x, target);
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
  const per = x.sub(mu).square().mul(logvar.neg().exp()).add(logvar).add(Math.log(2 * Math.PI)).mul(-0.5);
  return per.reshape([x.shape[0], -1]).sum(1);
}

/**
 * Labels that are not class indices (integers in [0, C)) throw, naming the first. Only where they can be
 * read without a readback: a synchronous read of the CPU backend's host memory. A WebGPU tensor would need
 * a readback per call, which waits for the queue every step, so there a bad label is caught by the loss.
 */
function checkClassLabels(target: Tensor, C: number): void {
  const readSync = (target.backend as { readSync?: (s: unknown) => ArrayLike<number> }).readSync;
  // While compile() traces, labels are the call's data, not values yet: the in-graph guard below stays.
  if (!readSync || isTracing()) return;
  const labels = readSync.call(target.backend, target.storage);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!(Number.isInteger(v) && v >= 0 && v < C)) {
      throw new Error(`crossEntropy: target label ${v} (at index ${i}) is not a class index: expected an integer in [0, ${C - 1}] for ${C} classes`);
    }
  }
}

/**
 * Cross-entropy of class logits [batch, C] against class indices [batch] (stored as floats). A bad label
 * throws on the CPU backend (checkClassLabels); on any backend its one-hot row is all zeros, and the
 * log of that row's sum (0 for a class index) makes its loss +Inf instead of a silently finite number, so
 * the training loop's non-finite-loss check stops on it. (The data pipeline validates the labels on the
 * host when it reads a data set, src/data/datasets.ts.)
 */
export function crossEntropy(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (logits.ndim !== 2 || target.ndim !== 1 || target.shape[0] !== logits.shape[0]) {
    throw new Error(`cross_entropy: expected logits [batch, C] and targets [batch], got ${fmtShape(logits.shape)} and ${fmtShape(target.shape)}`);
  }
  const C = logits.shape[1];
  checkClassLabels(target, C);
  const oneHot = target.reshape([-1, 1]).eq(arange(C, undefined, 1, { backend: logits.backend }).reshape([1, C]));
  return reduce(logits.logsumexp(1).sub(logits.mul(oneHot).sum(1)).sub(oneHot.sum(1).log()), reduction);
}

/**
 * Reparameterized sample z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from Philox: eps is an extra
 * input, not a function of the parameters, so gradients reach mu and logvar and never eps.
 */
export function reparameterize(mu: Tensor, logvar: Tensor, generator?: Generator): Tensor {
  const eps = randn(mu.shape, { backend: mu.backend, generator });
  return mu.add(logvar.mul(0.5).exp().mul(eps));
}
