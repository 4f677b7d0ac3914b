// The tensor as the graph layer sees it: the fields and the few methods that backward rules and the
// autograd engine use. src/tensor.ts's Tensor implements it; src/graph and src/autograd name only this
// interface, never the class, so no module below tensor.ts imports it (the import cycles of the old
// tensor.ts <-> autograd/engine.ts design). F-bounded (T is the implementing class), so rule code
// written against it returns the caller's own tensor type.

import type { Backend, Storage } from '../backend/backend.ts';
import type { PadMode } from '../backend/kernels.ts';
import type { GradTensor } from '../backend/elementwise_table.ts';

/**
 * A tensor's element type. Storage is float32 for both: an int32 tensor holds integers, exact up to
 * +-2^24 (INT32_EXACT), the range a float32 represents every integer of; creation refuses values past it.
 * The dtype follows the op (primitives.ts's dtype rules): movement ops, gather and max/min keep it,
 * argmax/argmin make int32, and arithmetic computes in float32 and returns float32 (torch would keep
 * integers, and wrap past 2^31; here the float result is what is held, so nothing is lost unseen).
 */
export type DType = 'float32' | 'int32';
export const DTYPES: readonly DType[] = ['float32', 'int32'];
/** Largest magnitude an int32 tensor holds (every integer up to it is exact in float32 storage). */
export const INT32_EXACT = 2 ** 24;

/** What an op recorded on its output while grad mode was on: its inputs and the vector-Jacobian product. */
export interface GradNode<T> {
  op: string;
  inputs: T[];
  /** Gradient of the output -> gradient of each input (null where an input needs none). */
  backward: (grad: T) => (T | null)[];
}

/** What Tensor.hold() returns: a reference that keeps a storage alive (src/graph/compile.ts holds its state). */
export interface StorageHold {
  /** True when the hold is the storage's last reference (its tensors were all disposed). */
  readonly orphaned: boolean;
  release(): void;
}

export interface GraphTensor<T extends GraphTensor<T>> extends GradTensor<T> {
  readonly id: number;
  readonly shape: number[];
  readonly dtype: DType;
  readonly backend: Backend;
  readonly storage: Storage;
  readonly size: number;
  readonly ndim: number;
  readonly isDisposed: boolean;
  requiresGrad: boolean;
  grad: T | null;
  gradFn: GradNode<T> | null;
  graphFreed: boolean;
  name?: string;
  dispose(): void;
  hold(): StorageHold;
  toString(): string;

  // add, sub, mul, div, pow, neg, log and the comparisons: GradTensor's (what a derivative is written with)
  where(cond: T, other: T | number): T;
  sum(dim?: number | number[], keepdim?: boolean): T;
  reshape(shape: number[]): T;
  permute(dims: number[]): T;
  broadcastTo(shape: number[]): T;
  slice(dim: number, start?: number, end?: number, step?: number): T;
  pad(pads: number[], mode?: PadMode, value?: number): T;
  onesLike(): T;
  zerosLike(): T;
}
