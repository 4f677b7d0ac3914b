// Movement ops as functions (torch.reshape(x, s), ...): the Tensor methods of src/tensor.ts, plus concat
// and stack, which take a list. Their primitives' rules are in src/graph/primitives.ts.

import { apply, type Tensor } from '../tensor.ts';
import type { PadMode } from '../backend/kernels.ts';
import { normDim } from '../shape.ts';

/** x in another shape (row-major; one entry may be -1); see {@link Tensor.reshape}. */
export const reshape = (x: Tensor, shape: number[]) => x.reshape(shape);
/** x with its dims reordered: output dim i is input dim dims[i] (torch.permute). */
export const permute = (x: Tensor, dims: number[]) => x.permute(dims);
/** x with dim0 and dim1 swapped (torch.transpose). */
export const transpose = (x: Tensor, dim0: number, dim1: number) => x.transpose(dim0, dim1);
/** x repeated to `shape` by broadcasting (torch.broadcast_to). */
export const broadcastTo = (x: Tensor, shape: number[]) => x.broadcastTo(shape);
/**
 * x[start:end:step] along `dim` (negative start and end count from the end, as in Python).
 * @example
 * ```ts
 * slice(x, 1, 0, 2);        // the first two columns of a matrix
 * slice(x, 0, -1);          // the last row, keeping the dim
 * slice(x, 0, 0, undefined, 2); // every other row
 * ```
 */
export const slice = (x: Tensor, dim: number, start = 0, end?: number, step = 1) => x.slice(dim, start, end, step);
/**
 * x padded on its last dims as F.pad: pads = [last_before, last_after, prev_before, prev_after, ...],
 * with mode 'constant' (filled with value), 'reflect' or 'replicate'; see {@link Tensor.pad}.
 */
export const pad = (x: Tensor, pads: number[], mode: PadMode = 'constant', value = 0) => x.pad(pads, mode, value);
/** x with a new dim of size 1 at `dim` (torch.unsqueeze). */
export const unsqueeze = (x: Tensor, dim: number) => x.unsqueeze(dim);
/** x without its dims of size 1 (or only `dim`, if its size is 1) (torch.squeeze). */
export const squeeze = (x: Tensor, dim?: number) => x.squeeze(dim);
/** x with dims startDim..endDim merged into one (torch.flatten). */
export const flatten = (x: Tensor, startDim = 0, endDim = -1) => x.flatten(startDim, endDim);
/** x cut from the graph: the same storage, no gradient flows back (torch.detach). */
export const detach = (x: Tensor) => x.detach();

/**
 * The tensors joined along `dim` (torch.cat, also exported as `cat`): every other dim must match.
 * @throws Error for an empty list or shapes that differ outside `dim`.
 * @example
 * ```ts
 * concat([a, b], 1); // [N, Ca] and [N, Cb] give [N, Ca + Cb]
 * ```
 */
export function concat(xs: Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error('cat: expected a non-empty list of tensors');
  const d = normDim('cat', dim, xs[0].ndim);
  return apply('concat', xs, { dim: d });
}

/**
 * The tensors, all of one shape, stacked along a new dim at `dim` (torch.stack).
 * @example
 * ```ts
 * stack([a, b]); // two [3] tensors give [2, 3]
 * ```
 */
export function stack(xs: Tensor[], dim = 0): Tensor {
  const d = dim < 0 ? dim + xs[0].ndim + 1 : dim;
  return concat(
    xs.map((t) => t.unsqueeze(d)),
    d,
  );
}
