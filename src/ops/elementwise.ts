// Elementwise ops and their gradients. Each table row is one op: its backward rule, with the formula
// in a comment (x the input, y the output, g the output's gradient). The tables are typed by the kernel
// vocabulary (src/backend/kernels.ts), so an op without a rule does not compile.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/engine.ts';
import type { BinaryOp, TernaryOp, UnaryOp } from '../backend/kernels.ts';
import { broadcastShapes, broadcastStrides } from '../shape.ts';
import { full } from './creation.ts';
import { sumTo } from './reduce.ts';

export type TensorLike = Tensor | number;

function sameBackend(op: string, ...ts: Tensor[]): void {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) throw new Error(`${op}: tensors live on different backends (${b.name} and ${t.backend.name})`);
  }
}

type UnaryRule = (x: Tensor, y: Tensor, g: Tensor, p0: number, p1: number) => Tensor | null;

const UNARY_GRADS: Record<UnaryOp, UnaryRule> = {
  // d(-x) = -g
  neg: (_x, _y, g) => g.neg(),
  // d exp(x) = g * y
  exp: (_x, y, g) => g.mul(y),
  // d log(x) = g / x
  log: (x, _y, g) => g.div(x),
  // d sqrt(x) = g * 0.5 / y
  sqrt: (_x, y, g) => g.mul(0.5).div(y),
  // d x^-1/2 = -0.5 g y^3
  rsqrt: (_x, y, g) => g.mul(y.pow(3)).mul(-0.5),
  // d |x| = g * sign(x)
  abs: (x, _y, g) => g.mul(unary('sign', x)),
  // d relu(x) = g * [x > 0]
  relu: (x, _y, g) => g.mul(unary('step', x)),
  // d leaky_relu(x) = g * ([x > 0] (1 - a) + a)
  leaky_relu: (x, _y, g, a) => g.mul(unary('affine', unary('step', x), 1 - a, a)),
  // d sigmoid(x) = g * y (1 - y)
  sigmoid: (_x, y, g) => g.mul(y).mul(unary('affine', y, -1, 1)),
  // d tanh(x) = g * (1 - y^2)
  tanh: (_x, y, g) => g.mul(unary('affine', unary('square', y), -1, 1)),
  // d softplus(x) = g * sigmoid(x)
  softplus: (x, _y, g) => g.mul(unary('sigmoid', x)),
  // d clamp(x, lo, hi) = g * [lo <= x <= hi]
  clamp: (x, _y, g, lo, hi) => g.mul(x.ge(lo)).mul(x.le(hi)),
  // d x^p = g * p x^(p-1)
  pow_scalar: (x, _y, g, p) => (p === 0 ? null : g.mul(x.pow(p - 1)).mul(p)),
  // d (s x + t) = g * s
  affine: (_x, _y, g, s) => g.mul(s),
  // d 1/x = -g y^2
  reciprocal: (_x, y, g) => g.mul(unary('square', y)).neg(),
  // d x^2 = 2 g x
  square: (x, _y, g) => g.mul(x).mul(2),
  // piecewise constant: no gradient
  sign: () => null,
  step: () => null,
};

export function unary(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  const y = new Tensor(x.backend, x.backend.unary(op, x.storage, p0, p1), x.shape);
  return record(op, [x], y, (g) => [UNARY_GRADS[op](x, y, g, p0, p1)]);
}

type BinaryRule = (a: Tensor, b: Tensor, y: Tensor, g: Tensor) => [Tensor | null, Tensor | null];

const BINARY_GRADS: Record<BinaryOp, BinaryRule> = {
  // d(a + b) = (g, g)
  add: (_a, _b, _y, g) => [g, g],
  // d(a - b) = (g, -g)
  sub: (_a, _b, _y, g) => [g, g.neg()],
  // d(a b) = (g b, g a)
  mul: (a, b, _y, g) => [g.mul(b), g.mul(a)],
  // d(a / b) = (g / b, -g y / b)
  div: (_a, b, y, g) => [g.div(b), g.mul(y).div(b).neg()],
  // d a^b = (g b a^(b-1), g y log a)
  pow: (a, b, y, g) => [g.mul(b).mul(a.pow(b.sub(1))), g.mul(y).mul(a.log())],
  // d max(a, b): to the larger, split evenly on ties (as torch.maximum)
  maximum: (a, b, _y, g) => {
    const m = a.gt(b).add(a.eq(b).mul(0.5));
    return [g.mul(m), g.mul(unary('affine', m, -1, 1))];
  },
  // d min(a, b): to the smaller, split evenly on ties
  minimum: (a, b, _y, g) => {
    const m = a.lt(b).add(a.eq(b).mul(0.5));
    return [g.mul(m), g.mul(unary('affine', m, -1, 1))];
  },
  // comparisons are piecewise constant: no gradient
  eq: () => [null, null],
  ne: () => [null, null],
  lt: () => [null, null],
  le: () => [null, null],
  gt: () => [null, null],
  ge: () => [null, null],
};

export function scalarLike(v: number, like: Tensor): Tensor {
  return full([], v, { backend: like.backend });
}

export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  const A = typeof a === 'number' ? scalarLike(a, b as Tensor) : a;
  const B = typeof b === 'number' ? scalarLike(b, A) : b;
  sameBackend(op, A, B);
  const shape = broadcastShapes(op, A.shape, B.shape);
  const y = new Tensor(A.backend, A.backend.binary(op, A.storage, B.storage, shape, broadcastStrides(A.shape, shape), broadcastStrides(B.shape, shape)), shape);
  return record(op, [A, B], y, (g) => {
    const [ga, gb] = BINARY_GRADS[op](A, B, y, g);
    return [ga && sumTo(ga, A.shape), gb && sumTo(gb, B.shape)];
  });
}

// Scalar operands of the arithmetic ops become one fused affine kernel instead of a broadcast.
export const add = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === 'number' && a instanceof Tensor ? unary('affine', a, 1, b) :
  typeof a === 'number' && b instanceof Tensor ? unary('affine', b, 1, a) : binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === 'number' && a instanceof Tensor ? unary('affine', a, 1, -b) :
  typeof a === 'number' && b instanceof Tensor ? unary('affine', b, -1, a) : binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === 'number' && a instanceof Tensor ? unary('affine', a, b, 0) :
  typeof a === 'number' && b instanceof Tensor ? unary('affine', b, a, 0) : binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === 'number' && a instanceof Tensor ? unary('affine', a, 1 / b, 0) : binary('div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === 'number' && a instanceof Tensor
    ? b === 2 ? unary('square', a) : b === 1 ? unary('affine', a, 1, 0) : unary('pow_scalar', a, b)
    : binary('pow', a, b);

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return unary('leaky_relu', x, negativeSlope);
}
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (min > max) throw new Error(`clamp: min ${min} is greater than max ${max}`);
  return unary('clamp', x, Math.max(min, -3.4e38), Math.min(max, 3.4e38));
}

function ternary(op: TernaryOp, c: Tensor, a: Tensor, b: Tensor): Tensor {
  sameBackend(op, c, a, b);
  const shape = broadcastShapes(op, c.shape, a.shape, b.shape);
  const st = (t: Tensor) => broadcastStrides(t.shape, shape);
  const y = new Tensor(c.backend, c.backend.ternary(op, c.storage, a.storage, b.storage, shape, st(c), st(a), st(b)), shape);
  return record(op, [c, a, b], y, (g) => {
    if (op === 'where') {
      // d where(c, a, b) = (-, g [c], g [!c])
      const z = g.mul(0);
      return [null, sumTo(where(c, g, z), a.shape), sumTo(where(c, z, g), b.shape)];
    }
    // d (c a + b) = (g a, g c, g)
    return [sumTo(g.mul(a), c.shape), sumTo(g.mul(c), a.shape), sumTo(g, b.shape)];
  });
}

/** where(cond, a, b): a where cond != 0, else b, with broadcasting (torch.where). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const A = typeof a === 'number' ? scalarLike(a, cond) : a;
  const B = typeof b === 'number' ? scalarLike(b, cond) : b;
  return ternary('where', cond, A, B);
}

/** Fused a * b + c in one kernel (torch.addcmul(c, a, b)). */
export function fma(a: Tensor, b: Tensor, c: Tensor): Tensor {
  return ternary('fma', a, b, c);
}
