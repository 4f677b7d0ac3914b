// Attaches the ops to Tensor as methods (x.add(y), x.sum(1, true), ...), PyTorch's names. Each op is
// declared once, in its family's module; this file only wires the method names.

import { Tensor } from '../tensor.ts';
import { backward } from '../autograd/engine.ts';
import type { PadMode } from '../backend/kernels.ts';
import * as E from './elementwise.ts';
import * as R from './reduce.ts';
import * as Mv from './movement.ts';
import { matmul } from './matmul.ts';
import { fullLike, onesLike, zerosLike } from './creation.ts';

type TL = E.TensorLike;

declare module '../tensor.ts' {
  interface Tensor {
    add(b: TL): Tensor; sub(b: TL): Tensor; mul(b: TL): Tensor; div(b: TL): Tensor; pow(b: TL): Tensor;
    maximum(b: TL): Tensor; minimum(b: TL): Tensor;
    eq(b: TL): Tensor; ne(b: TL): Tensor; lt(b: TL): Tensor; le(b: TL): Tensor; gt(b: TL): Tensor; ge(b: TL): Tensor;
    neg(): Tensor; exp(): Tensor; log(): Tensor; sqrt(): Tensor; rsqrt(): Tensor; abs(): Tensor;
    relu(): Tensor; sigmoid(): Tensor; tanh(): Tensor; softplus(): Tensor; square(): Tensor; reciprocal(): Tensor; sign(): Tensor;
    leakyRelu(negativeSlope?: number): Tensor;
    clamp(min?: number, max?: number): Tensor;
    where(cond: Tensor, other: TL): Tensor;
    sum(dim?: R.Dims, keepdim?: boolean): Tensor; mean(dim?: R.Dims, keepdim?: boolean): Tensor;
    max(dim?: R.Dims, keepdim?: boolean): Tensor; min(dim?: R.Dims, keepdim?: boolean): Tensor;
    argmax(dim?: number, keepdim?: boolean): Tensor; argmin(dim?: number, keepdim?: boolean): Tensor;
    logsumexp(dim?: R.Dims, keepdim?: boolean): Tensor;
    softmax(dim?: number): Tensor; logSoftmax(dim?: number): Tensor;
    reshape(shape: number[]): Tensor; view(shape: number[]): Tensor; permute(dims: number[]): Tensor;
    transpose(dim0: number, dim1: number): Tensor; t(): Tensor;
    slice(dim: number, start?: number, end?: number, step?: number): Tensor;
    pad(pads: number[], mode?: PadMode, value?: number): Tensor;
    broadcastTo(shape: number[]): Tensor; expand(shape: number[]): Tensor;
    unsqueeze(dim: number): Tensor; squeeze(dim?: number): Tensor; flatten(startDim?: number, endDim?: number): Tensor;
    matmul(b: Tensor): Tensor;
    detach(): Tensor;
    zerosLike(): Tensor; onesLike(): Tensor; fullLike(v: number): Tensor;
    /** Sets requiresGrad in place and returns this (torch's requires_grad_). */
    requiresGrad_(flag?: boolean): Tensor;
    backward(grad?: Tensor, opts?: { retainGraph?: boolean }): void;
  }
}

const P = Tensor.prototype;
P.add = function (b) { return E.add(this, b); };
P.sub = function (b) { return E.sub(this, b); };
P.mul = function (b) { return E.mul(this, b); };
P.div = function (b) { return E.div(this, b); };
P.pow = function (b) { return E.pow(this, b); };
P.maximum = function (b) { return E.binary('maximum', this, b); };
P.minimum = function (b) { return E.binary('minimum', this, b); };
for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
  P[op] = function (this: Tensor, b: TL) { return E.binary(op, this, b); };
}
for (const op of ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'relu', 'sigmoid', 'tanh', 'softplus', 'square', 'reciprocal', 'sign'] as const) {
  P[op] = function (this: Tensor) { return E.unary(op, this); };
}
P.leakyRelu = function (s) { return E.leakyRelu(this, s); };
P.clamp = function (lo, hi) { return E.clamp(this, lo, hi); };
P.where = function (cond, other) { return E.where(cond, this, other); };
P.sum = function (d, k) { return R.sum(this, d, k); };
P.mean = function (d, k) { return R.mean(this, d, k); };
P.max = function (d, k) { return R.max(this, d, k); };
P.min = function (d, k) { return R.min(this, d, k); };
P.argmax = function (d, k) { return R.argmax(this, d, k); };
P.argmin = function (d, k) { return R.argmin(this, d, k); };
P.logsumexp = function (d, k) { return R.logsumexp(this, d, k); };
P.softmax = function (d) { return R.softmax(this, d); };
P.logSoftmax = function (d) { return R.logSoftmax(this, d); };
P.reshape = function (s) { return Mv.reshape(this, s); };
P.view = P.reshape;
P.permute = function (d) { return Mv.permute(this, d); };
P.transpose = function (a, b) { return Mv.transpose(this, a, b); };
P.t = function () {
  if (this.ndim > 2) throw new Error(`t(): expects a tensor of at most 2 dims, got shape [${this.shape.join(', ')}]`);
  return this.ndim < 2 ? this : Mv.transpose(this, 0, 1);
};
P.slice = function (d, s, e, st) { return Mv.slice(this, d, s, e, st); };
P.pad = function (p, m, v) { return Mv.pad(this, p, m, v); };
P.broadcastTo = function (s) { return Mv.broadcastTo(this, s); };
P.expand = P.broadcastTo;
P.unsqueeze = function (d) { return Mv.unsqueeze(this, d); };
P.squeeze = function (d) { return Mv.squeeze(this, d); };
P.flatten = function (s, e) { return Mv.flatten(this, s, e); };
P.matmul = function (b) { return matmul(this, b); };
P.detach = function () { return Mv.detach(this); };
P.zerosLike = function () { return zerosLike(this); };
P.onesLike = function () { return onesLike(this); };
P.fullLike = function (v) { return fullLike(this, v); };
P.requiresGrad_ = function (flag = true) {
  if (this.gradFn || this.graphFreed) throw new Error('requiresGrad_(): only leaf tensors (not results of ops) can change requiresGrad');
  this.requiresGrad = flag;
  return this;
};
P.backward = function (grad, opts) { backward(this, grad, opts); };

export { E, R, Mv };
