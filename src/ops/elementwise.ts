// Elementwise ops as functions (torch.add(a, b), ...). Each is a Tensor method (src/tensor.ts) or, with a
// number first, the same affine or broadcast primitive; the rules live in src/graph/primitives.ts.

import { Tensor, scalarLike, ternary, type TensorLike } from '../tensor.ts';
import type { BinaryOp, UnaryOp } from '../backend/kernels.ts';

export type { TensorLike };
export { scalarLike };

/** Applies the elementwise op `op` to x with its parameters p0, p1 (see {@link Tensor.unary}). */
export function unary(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  return x.unary(op, p0, p1);
}

/**
 * Applies the binary op `op` to a and b, broadcast; either may be a number, not both.
 * @throws Error when both operands are numbers.
 */
export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  return typeof a === 'number' ? scalarLike(a, b as Tensor).binary(op, b) : a.binary(op, b);
}

// A number first: the same fused affine kernel as the method with the number second.
/**
 * a + b, broadcast; either operand may be a number (torch.add).
 * @example
 * ```ts
 * add(x, 1);           // x + 1 (one fused kernel)
 * add(x, bias);        // bias [C] broadcast over x [N, C]
 * ```
 */
export const add = (a: TensorLike, b: TensorLike): Tensor =>
  typeof a === 'number' && b instanceof Tensor
    ? b.unary('affine', 1, a)
    : a instanceof Tensor
      ? a.add(b)
      : binary('add', a, b);
/** a - b, broadcast; either operand may be a number (torch.sub). */
export const sub = (a: TensorLike, b: TensorLike): Tensor =>
  typeof a === 'number' && b instanceof Tensor
    ? b.unary('affine', -1, a)
    : a instanceof Tensor
      ? a.sub(b)
      : binary('sub', a, b);
/** a * b elementwise, broadcast; either operand may be a number (torch.mul). */
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  typeof a === 'number' && b instanceof Tensor
    ? b.unary('affine', a, 0)
    : a instanceof Tensor
      ? a.mul(b)
      : binary('mul', a, b);
/** a / b, broadcast; either operand may be a number (torch.div). */
export const div = (a: TensorLike, b: TensorLike): Tensor => (a instanceof Tensor ? a.div(b) : binary('div', a, b));
/** a ** b, broadcast; either operand may be a number (torch.pow). */
export const pow = (a: TensorLike, b: TensorLike): Tensor => (a instanceof Tensor ? a.pow(b) : binary('pow', a, b));

/** x where x > 0, else negativeSlope * x (F.leaky_relu, default slope 0.01). */
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => x.leakyRelu(negativeSlope);
/**
 * x limited to [min, max] (torch.clamp); NaN is kept.
 * @throws Error when min > max.
 */
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
