// Creation ops: tensor(), zeros, ones, full, arange, linspace, eye and their *_like forms, on the upload
// and fill primitives (src/graph/primitives.ts). `dtype: 'int32'` (or an Int32Array) makes an int32
// tensor; its values are checked here, once, to be integers within +-2^24 (DType, src/graph/types.ts).

import { apply, type Tensor } from '../tensor.ts';
import { getBackend } from '../backend/registry.ts';
import type { Backend } from '../backend/backend.ts';
import { fmtShape, numel } from '../shape.ts';
import { DTYPES, INT32_EXACT, type DType } from '../graph/types.ts';

/**
 * A number or nested arrays of numbers, as tensor() takes data (`[[1, 2], [3, 4]]`); every row must have
 * the same length.
 */
export type NestedArray = number | NestedArray[];

/** Options of the creation functions (tensor, zeros, full, arange, ...). */
export interface CreateOptions {
  /** The backend to make the tensor on (default: the current one, see {@link init}). */
  backend?: Backend;
  /** Make the tensor a leaf that records gradients (default false; float32 only). */
  requiresGrad?: boolean;
  /** float32 by default (int32 for tensor() of an Int32Array). */
  dtype?: DType;
}

function dtypeOf(op: string, opts: CreateOptions, fallback: DType = 'float32'): DType {
  const d = opts.dtype ?? fallback;
  if (!DTYPES.includes(d)) throw new Error(`${op}: unknown dtype ${JSON.stringify(d)} (${DTYPES.join(', ')})`);
  return d;
}

/** Throws unless v can be an int32 tensor's value: an integer of magnitude at most 2^24. */
export function checkInt32(op: string, v: number, at?: number): void {
  if (Number.isInteger(v) && Math.abs(v) <= INT32_EXACT) return;
  const where = at === undefined ? '' : ` at index ${at}`;
  throw new Error(
    Number.isInteger(v)
      ? `${op}: int32 value ${v}${where} is beyond +-${INT32_EXACT} (2^24), the integers an int32 tensor holds exactly (its storage is float32)`
      : `${op}: value ${v}${where} is not an integer, so it cannot be int32 (round it, or make a float32 tensor and call .int())`,
  );
}

export function checkShape(op: string, shape: readonly number[]): number[] {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new Error(`${op}: invalid shape ${fmtShape(shape)} (dimensions must be integers >= 0)`);
  }
  return [...shape];
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let d: NestedArray = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[], depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (typeof data !== 'number') throw new Error('tensor(): ragged nested array');
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth])
    throw new Error(`tensor(): ragged nested array: expected shape ${fmtShape(shape)}`);
  for (const x of data) flatten(x, shape, depth + 1, out);
}

/**
 * A tensor from data: a number, a nested array, or a flat Float32Array/number[] with an explicit shape
 * (torch.tensor; a flat array with a shape is like torch.tensor(data).reshape(shape)). An Int32Array
 * (or `dtype: 'int32'`) gives an int32 tensor; the data is copied.
 *
 * @throws Error for a ragged nested array, data that does not fill `shape`, or int32 values that are
 * not integers within +-2^24.
 * @example
 * ```ts
 * tensor(3);                                   // 0-d scalar
 * tensor([[1, 2], [3, 4]]);                    // shape [2, 2]
 * tensor(new Float32Array(6), [2, 3]);         // flat data with a shape
 * tensor([0, 2, 1], undefined, { dtype: 'int32' }); // class labels
 * ```
 */
export function tensor(
  data: NestedArray | Float32Array | Float64Array | Int32Array,
  shape?: number[],
  opts: CreateOptions = {},
): Tensor {
  const backend = opts.backend ?? getBackend();
  const dtype = dtypeOf('tensor', opts, data instanceof Int32Array ? 'int32' : 'float32');
  // Float64 data is passed through: the float64 CPU backend (gradcheck) keeps it, others round it.
  let flat: Float32Array | Float64Array;
  let sh: number[];
  if (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array) {
    flat = data instanceof Int32Array ? Float64Array.from(data) : data;
    sh = shape ?? [data.length];
  } else {
    sh = inferShape(data);
    const out: number[] = [];
    flatten(data, sh, 0, out);
    flat = Float64Array.from(out);
    if (shape) sh = shape;
  }
  checkShape('tensor', sh);
  if (numel(sh) !== flat.length) throw new Error(`tensor(): ${flat.length} values do not fill shape ${fmtShape(sh)}`);
  if (dtype === 'int32') for (let i = 0; i < flat.length; i++) checkInt32('tensor()', flat[i], i);
  const t = apply('upload', [], { backend, shape: sh, data: flat, dtype });
  t.requiresGrad = !!opts.requiresGrad;
  return t;
}

/**
 * A tensor of `shape` with every element `value` (torch.full).
 * @throws Error for a shape with negative or fractional dims, or an int32 `value` that is not an
 * integer within +-2^24.
 * @example
 * ```ts
 * full([2, 3], 0.5);                  // float32 [2, 3] of 0.5
 * full([4], 7, { dtype: 'int32' });   // int32 [7, 7, 7, 7]
 * ```
 */
export function full(shape: number[], value: number, opts: CreateOptions = {}): Tensor {
  const backend = opts.backend ?? getBackend();
  const sh = checkShape('full', shape);
  const dtype = dtypeOf('full', opts);
  if (dtype === 'int32') checkInt32('full', value);
  const t = apply('fill', [], { backend, shape: sh, value, dtype });
  t.requiresGrad = !!opts.requiresGrad;
  return t;
}
/**
 * A tensor of `shape` filled with 0 (torch.zeros).
 * @example
 * ```ts
 * const w = zeros([3, 4], { requiresGrad: true });
 * ```
 */
export const zeros = (shape: number[], opts: CreateOptions = {}) => full(shape, 0, opts);
/** A tensor of `shape` filled with 1 (torch.ones). */
export const ones = (shape: number[], opts: CreateOptions = {}) => full(shape, 1, opts);
/** A tensor of t's shape and backend filled with `value` (int32 when t is int32 and value an int32 value). */
export const fullLike = (t: Tensor, value: number) => t.fullLike(value);
/** Zeros of t's shape, backend and (for int32) dtype (torch.zeros_like). */
export const zerosLike = (t: Tensor) => t.zerosLike();
/** Ones of t's shape, backend and (for int32) dtype (torch.ones_like). */
export const onesLike = (t: Tensor) => t.onesLike();

/**
 * Values start, start+step, ... below end (torch.arange); `arange(n)` is 0, 1, ..., n-1.
 * @throws Error when step is 0.
 * @example
 * ```ts
 * arange(4);          // [0, 1, 2, 3]
 * arange(1, 2, 0.25); // [1, 1.25, 1.5, 1.75]
 * ```
 */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error('arange: step must be nonzero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  return tensor(
    Float32Array.from({ length: n }, (_, i) => start + i * step),
    [n],
    opts,
  );
}

/**
 * `steps` values evenly spaced from start to end, both included (torch.linspace).
 * @example
 * ```ts
 * linspace(0, 1, 5); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  const vals = Float32Array.from({ length: steps }, (_, i) =>
    steps === 1 ? start : start + ((end - start) * i) / (steps - 1),
  );
  return tensor(vals, [steps], opts);
}

/** An n x m matrix (m = n by default) with ones on the diagonal (torch.eye). */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  const vals = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) vals[i * m + i] = 1;
  return tensor(vals, [n, m], opts);
}
