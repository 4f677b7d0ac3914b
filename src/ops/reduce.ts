// Reductions as functions (torch.sum(x, dim), ...): the Tensor methods of src/tensor.ts, where the
// compositions (mean, logsumexp, softmax) are written; the reduce primitive's rules are in
// src/graph/primitives.ts.

import type { Dims, Tensor } from '../tensor.ts';

export type { Dims };

/**
 * The sum of x over `dim` (all dims by default), those dims removed unless keepdim (torch.sum).
 * @example
 * ```ts
 * sum(x);            // everything, shape []
 * sum(x, [2, 3]);    // NCHW over H and W: [N, C]
 * ```
 */
export const sum = (x: Tensor, dim?: Dims, keepdim = false) => x.sum(dim, keepdim);
/** The mean of x over `dim` (all dims by default), those dims removed unless keepdim (torch.mean). */
export const mean = (x: Tensor, dim?: Dims, keepdim = false) => x.mean(dim, keepdim);
/** The largest values of x over `dim` (one or several dims, all by default); ties share the gradient (torch.amax). */
export const amax = (x: Tensor, dim?: Dims, keepdim = false) => x.amax(dim, keepdim);
/** The smallest values of x over `dim` (one or several dims, all by default); ties share the gradient (torch.amin). */
export const amin = (x: Tensor, dim?: Dims, keepdim = false) => x.amin(dim, keepdim);
/** torch.max(x) (a tensor) and torch.max(x, dim) ({ values, indices }). */
export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
export function max(x: Tensor, dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
  return dim === undefined ? x.max() : x.max(dim, keepdim);
}
/** torch.min(x) and torch.min(x, dim), as max. */
export function min(x: Tensor): Tensor;
export function min(x: Tensor, dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
export function min(x: Tensor, dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
  return dim === undefined ? x.min() : x.min(dim, keepdim);
}
/** Values of x picked along `dim` at the positions `index` holds (torch.gather; see {@link Tensor.gather}). */
export const gather = (x: Tensor, dim: number, index: Tensor) => x.gather(dim, index);
/** The entries of x at the positions of the 1-D `index` along `dim`, in that order (torch.index_select). */
export const indexSelect = (x: Tensor, dim: number, index: Tensor) => x.indexSelect(dim, index);
/** Running sums of x along `dim` (torch.cumsum). */
export const cumsum = (x: Tensor, dim: number) => x.cumsum(dim);
/**
 * The index of the largest value along `dim` (of the flattened tensor when dim is left out), as int32 (torch.argmax).
 * @example
 * ```ts
 * const pred = argmax(logits, 1); // [N] class indices from [N, C] logits
 * ```
 */
export const argmax = (x: Tensor, dim?: number, keepdim = false) => x.argmax(dim, keepdim);
/** The index of the smallest value along `dim` (of the flattened tensor when dim is left out), as int32 (torch.argmin). */
export const argmin = (x: Tensor, dim?: number, keepdim = false) => x.argmin(dim, keepdim);
/** log(sum(exp(x))) over `dim`, without overflow (torch.logsumexp). */
export const logsumexp = (x: Tensor, dim?: Dims, keepdim = false) => x.logsumexp(dim, keepdim);
/** exp(x) / sum(exp(x)) along `dim` (the last by default), shifted by the max for stability (torch.softmax). */
export const softmax = (x: Tensor, dim = -1) => x.softmax(dim);
/** log(softmax(x)) along `dim` (the last by default), computed stably (torch.log_softmax). */
export const logSoftmax = (x: Tensor, dim = -1) => x.logSoftmax(dim);
