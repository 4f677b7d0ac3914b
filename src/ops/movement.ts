// Movement ops as functions (torch.reshape(x, s), ...): the Tensor methods of src/tensor.ts, plus concat
// and stack, which take a list. Their primitives' rules are in src/graph/primitives.ts.

import { apply, type Tensor } from '../tensor.ts';
import type { PadMode } from '../backend/kernels.ts';
import { normDim } from '../shape.ts';

export const reshape = (x: Tensor, shape: number[]) => x.reshape(shape);
export const permute = (x: Tensor, dims: number[]) => x.permute(dims);
export const transpose = (x: Tensor, dim0: number, dim1: number) => x.transpose(dim0, dim1);
export const broadcastTo = (x: Tensor, shape: number[]) => x.broadcastTo(shape);
export const slice = (x: Tensor, dim: number, start = 0, end?: number, step = 1) => x.slice(dim, start, end, step);
export const pad = (x: Tensor, pads: number[], mode: PadMode = 'constant', value = 0) => x.pad(pads, mode, value);
export const unsqueeze = (x: Tensor, dim: number) => x.unsqueeze(dim);
export const squeeze = (x: Tensor, dim?: number) => x.squeeze(dim);
export const flatten = (x: Tensor, startDim = 0, endDim = -1) => x.flatten(startDim, endDim);
export const detach = (x: Tensor) => x.detach();

export function concat(xs: Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error('cat: expected a non-empty list of tensors');
  const d = normDim('cat', dim, xs[0].ndim);
  return apply('concat', xs, { dim: d });
}

export function stack(xs: Tensor[], dim = 0): Tensor {
  const d = dim < 0 ? dim + xs[0].ndim + 1 : dim;
  return concat(xs.map((t) => t.unsqueeze(d)), d);
}
