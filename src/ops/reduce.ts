// Reductions over any set of dims with keepdim, and their gradients. The kernels reduce contiguous
// rows, so the reduced dims are first moved last (a strided copy, skipped when they already are).

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/engine.ts';
import type { ReduceOp } from '../backend/kernels.ts';
import { fmtShape, normDim, numel, sameShape } from '../shape.ts';
import { permute, broadcastTo } from './movement.ts';

export type Dims = number | number[] | undefined;

export function normDims(op: string, dims: Dims, rank: number): number[] {
  if (dims === undefined) return [...Array(rank).keys()];
  const list = (Array.isArray(dims) ? dims : [dims]).map((d) => normDim(op, d, rank));
  if (new Set(list).size !== list.length) throw new Error(`${op}: repeated dim in [${list.join(', ')}]`);
  return list.sort((a, b) => a - b);
}

/** Runs a reduce kernel over `dims` of x; no gradient recorded. */
function reduceRaw(op: ReduceOp, x: Tensor, dims: number[], keepdim: boolean): Tensor {
  const rank = x.ndim;
  // Reduced dims that end the shape are already contiguous rows: reduce them first, then the others on
  // the smaller result, so only that is permuted (batch norm's [n, c, h, w] over [0, 2, 3] copies [n, c],
  // not the whole input). sum, max and min compose this way; the arg-reductions take one dim.
  let tail = 0;
  while (tail < dims.length && dims[dims.length - 1 - tail] === rank - 1 - tail) tail++;
  if (tail > 0 && tail < dims.length && (op === 'sum' || op === 'max' || op === 'min') && x.size > 0) {
    const inner = reduceRaw(op, x, dims.slice(dims.length - tail), true);
    const rest = reduceRaw(op, inner, dims.slice(0, dims.length - tail), true);
    inner.dispose();
    if (keepdim) return rest;
    const out = rest.reshape(rest.shape.filter((_, d) => !dims.includes(d)));
    rest.dispose();
    return out;
  }
  const keptDims = [...Array(rank).keys()].filter((d) => !dims.includes(d));
  const R = numel(dims.map((d) => x.shape[d]));
  const rows = numel(keptDims.map((d) => x.shape[d]));
  const outShape = keepdim ? x.shape.map((s, d) => (dims.includes(d) ? 1 : s)) : keptDims.map((d) => x.shape[d]);
  if (R === 0 && op !== 'sum') throw new Error(`${op}: cannot reduce an empty dimension of a tensor of shape ${fmtShape(x.shape)}`);
  const order = [...keptDims, ...dims];
  const inOrder = order.every((d, i) => d === i);
  const src = inOrder ? x : permute(x, order);
  const storage = R === 0 ? x.backend.fill(rows, 0) : x.backend.reduce(op, src.storage, rows, R);
  if (!inOrder) src.dispose();
  return new Tensor(x.backend, storage, outShape);
}

/** The gradient's shape with the reduced dims put back as size 1, ready to broadcast. */
function unsqueezeReduced(g: Tensor, xShape: number[], dims: number[]): Tensor {
  return g.reshape(xShape.map((s, d) => (dims.includes(d) ? 1 : s)));
}

export function sum(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = normDims('sum', dim, x.ndim);
  const y = reduceRaw('sum', x, dims, keepdim);
  // d sum(x) = g broadcast back over the reduced dims
  return record('sum', [x], y, (g) => [broadcastTo(unsqueezeReduced(g, x.shape, dims), x.shape)]);
}

export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = normDims('mean', dim, x.ndim);
  const n = numel(dims.map((d) => x.shape[d]));
  return sum(x, dim, keepdim).mul(1 / n);
}

function extremum(op: 'max' | 'min', x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = normDims(op, dim, x.ndim);
  const y = reduceRaw(op, x, dims, keepdim);
  // d max(x) = g * [x == max] / (number of ties): the gradient is shared evenly among the maxima.
  return record(op, [x], y, (g) => {
    const yk = unsqueezeReduced(y, x.shape, dims);
    const mask = x.eq(yk);
    const count = sum(mask, dims, true);
    return [mask.mul(unsqueezeReduced(g, x.shape, dims)).div(count)];
  });
}
export const max = (x: Tensor, dim?: Dims, keepdim = false) => extremum('max', x, dim, keepdim);
export const min = (x: Tensor, dim?: Dims, keepdim = false) => extremum('min', x, dim, keepdim);

/** Index of the largest value along dim (over the flattened tensor without dim), as float32. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  if (dim === undefined) return reduceRaw('argmax', x.reshape([x.size]), [0], false);
  return reduceRaw('argmax', x, [normDim('argmax', dim, x.ndim)], keepdim);
}
export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  if (dim === undefined) return reduceRaw('argmin', x.reshape([x.size]), [0], false);
  return reduceRaw('argmin', x, [normDim('argmin', dim, x.ndim)], keepdim);
}

/** log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m the max, so it never overflows. */
export function logsumexp(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = normDims('logsumexp', dim, x.ndim);
  const m = reduceRaw('max', x, dims, true);
  // Rows whose max is infinite would give inf - inf = NaN; shifting by 0 there keeps +-inf exact.
  const mSafe = m.where(m.abs().lt(Infinity), 0);
  const out = x.sub(mSafe).exp().sum(dims, true).log().add(mSafe);
  m.dispose();
  return keepdim ? out : out.reshape(x.shape.filter((_, d) => !dims.includes(d)));
}

/**
 * softmax and log_softmax as PyTorch computes them: x - max(x) first (the max held constant: the result
 * does not depend on the shift), so a row holding +Inf or NaN gives NaN, as in PyTorch, where logsumexp's
 * infinite-max shortcut would give 0 and 1.
 */
function shifted(op: string, x: Tensor, dim: number): Tensor {
  const dims = [normDim(op, dim, x.ndim)];
  const m = reduceRaw('max', x, dims, true);
  const out = x.sub(m);
  m.dispose();
  return out;
}
export function softmax(x: Tensor, dim = -1): Tensor {
  const e = shifted('softmax', x, dim).exp();
  return e.div(e.sum(dim, true));
}
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  const s = shifted('log_softmax', x, dim);
  return s.sub(s.exp().sum(dim, true).log());
}

/** Sums a broadcast gradient back to `shape` (leading dims, and dims where shape has 1). */
export function sumTo(g: Tensor, shape: number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let d = 0; d < g.ndim; d++) if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) dims.push(d);
  const s = dims.length ? sum(g, dims, true) : g;
  return s.reshape(shape);
}
