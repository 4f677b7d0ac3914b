// Elementwise ops as functions (torch.add(a, b), ...). Each is a Tensor method (src/tensor.ts) or, with a
// number first, the same affine or broadcast primitive; the rules live in src/graph/primitives.ts.

import { Tensor, scalarLike, ternary, type TensorLike } from '../tensor.ts';
import type { BinaryOp, UnaryOp } from '../backend/kernels.ts';

export type { TensorLike };
export { scalarLike };

export function unary(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  return x.unary(op, p0, p1);
}

export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  return typeof a === 'number' ? scalarLike(a, b as Tensor).binary(op, b) : a.binary(op, b);
}

// A number first: the same fused affine kernel as the method with the number second.
export const add = (a: TensorLike, b: TensorLike): Tensor =>
  typeof a === 'number' && b instanceof Tensor ? b.unary('affine', 1, a) : a instanceof Tensor ? a.add(b) : binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor =>
  typeof a === 'number' && b instanceof Tensor ? b.unary('affine', -1, a) : a instanceof Tensor ? a.sub(b) : binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  typeof a === 'number' && b instanceof Tensor ? b.unary('affine', a, 0) : a instanceof Tensor ? a.mul(b) : binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => (a instanceof Tensor ? a.div(b) : binary('div', a, b));
export const pow = (a: TensorLike, b: TensorLike): Tensor => (a instanceof Tensor ? a.pow(b) : binary('pow', a, b));

export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => x.leakyRelu(negativeSlope);
export const clamp = (x: Tensor, min = -Infinity, max = Infinity): Tensor => x.clamp(min, max);

/** where(cond, a, b): a where cond != 0, else b, with broadcasting (torch.where). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const A = typeof a === 'number' ? scalarLike(a, cond) : a;
  return A.where(cond, b);
}

/** Fused a * b + c in one kernel (torch.addcmul(c, a, b)). */
export function fma(a: Tensor, b: Tensor, c: Tensor): Tensor {
  return ternary('fma', a, b, c);
}
