// Reductions as functions (torch.sum(x, dim), ...): the Tensor methods of src/tensor.ts, where the
// compositions (mean, logsumexp, softmax) are written; the reduce primitive's rules are in
// src/graph/primitives.ts.

import { normDims, type Dims, type Tensor } from '../tensor.ts';
import { sumTo as sumToRule } from '../graph/primitives.ts';

export type { Dims };
export { normDims };

export const sum = (x: Tensor, dim?: Dims, keepdim = false) => x.sum(dim, keepdim);
export const mean = (x: Tensor, dim?: Dims, keepdim = false) => x.mean(dim, keepdim);
export const amax = (x: Tensor, dim?: Dims, keepdim = false) => x.amax(dim, keepdim);
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
export const gather = (x: Tensor, dim: number, index: Tensor) => x.gather(dim, index);
export const indexSelect = (x: Tensor, dim: number, index: Tensor) => x.indexSelect(dim, index);
export const cumsum = (x: Tensor, dim: number) => x.cumsum(dim);
export const argmax = (x: Tensor, dim?: number, keepdim = false) => x.argmax(dim, keepdim);
export const argmin = (x: Tensor, dim?: number, keepdim = false) => x.argmin(dim, keepdim);
export const logsumexp = (x: Tensor, dim?: Dims, keepdim = false) => x.logsumexp(dim, keepdim);
export const softmax = (x: Tensor, dim = -1) => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim = -1) => x.logSoftmax(dim);

/** Sums a broadcast gradient back to `shape` (leading dims, and dims where shape has 1). */
export const sumTo = (g: Tensor, shape: number[]): Tensor => sumToRule(g, shape);
