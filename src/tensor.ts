// Tensor: an n-d array of float32 (or int32: see DType in src/graph/types.ts) on one backend, with PyTorch's names. Storage is contiguous and shared
// by reference count (reshape and detach make views of the same storage). Lifetimes are explicit:
// dispose(), or tidy(fn) (src/graph/scope.ts), which disposes every tensor made inside fn except those
// it returns.
//
// Every method is declared here. Methods that are primitives call `apply` (src/graph/apply.ts, the one
// dispatch point, whose table src/graph/primitives.ts holds each primitive's shape, backward and backend
// rules); the others (mean, softmax, logsumexp, matmul's broadcasting, transpose, ...) are compositions
// of those, written here as in tinygrad's tensor.py, so their gradients come free. This module is the
// only one that constructs a Tensor; src/graph and src/autograd see it through the GraphTensor
// interface, so nothing below imports this file.

import type { Backend, Storage } from './backend/backend.ts';
import {
  PAD_MODES,
  type PadMode,
  type UnaryOp,
  type BinaryOp,
  type TernaryOp,
  type ReduceOp,
} from './backend/kernels.ts';
import { backward as runBackward, noGrad } from './autograd/engine.ts';
import { Dispatcher } from './graph/apply.ts';
import { Scoped, tidy, track, untrack } from './graph/scope.ts';
import { TraceError, isSymbolic, stateOwners, type Tracer } from './graph/trace.ts';
import { INT32_EXACT, type DType, type GradNode, type GraphTensor, type StorageHold } from './graph/types.ts';
import { broadcastShapes, fmtShape, normDim, numel, sameShape } from './shape.ts';

export { tidy, keep, liveTensorCount } from './graph/scope.ts';

/** An operand of an elementwise op: a tensor, or a number (used as a scalar, broadcast to any shape). */
export type TensorLike = Tensor | number;
/**
 * The dims a reduction runs over: one dim, a list of dims (negative ones count from the end), or
 * `undefined` for all of them.
 */
export type Dims = number | number[] | undefined;

class StorageRef implements StorageHold {
  refs = 1;
  /** owned: freed with its last tensor; borrowed storages belong to someone else (a compiled step). */
  constructor(
    readonly backend: Backend,
    readonly storage: Storage,
    readonly owned = true,
  ) {}
  release(): void {
    // A traced value (src/graph/trace.ts) has no backend storage to free.
    if (--this.refs === 0 && this.owned && !isSymbolic(this.storage)) this.backend.free(this.storage);
  }
  get orphaned(): boolean {
    return this.refs === 1;
  }
}

let nextId = 0;

/**
 * An n-dimensional array of float32 (or int32, see {@link DType}) values on one backend, with PyTorch's
 * method names and broadcasting. Tensors are made by the creation functions ({@link tensor},
 * {@link zeros}, {@link randn}, ...) and by ops, never with `new`. Every op returns a new tensor (reshape,
 * view and detach may share storage); values are read back asynchronously (toArray(), item(), tolist()).
 *
 * Memory is explicit: dispose() frees a tensor, {@link tidy} frees every tensor made inside a function
 * except those it returns. A tensor that requires grad records the ops applied to it, and backward()
 * accumulates gradients into the leaves' `.grad`.
 *
 * @example
 * ```ts
 * import { init, tensor, tidy } from 'wgpu-gen';
 * await init();
 * const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
 * const loss = x.mul(x).sum();            // 0-d: 1 + 4 + 9 + 16
 * loss.backward();
 * console.log(await loss.item());         // 30
 * console.log(await x.grad!.toArray());   // Float32Array [2, 4, 6, 8]
 *
 * // in a loop: tidy() frees the intermediates, keeping what fn returns
 * const y = tidy(() => x.exp().add(1).log()); // only y survives
 * ```
 */
export class Tensor extends Scoped implements GraphTensor<Tensor> {
  /** A number unique to this tensor, in creation order (error messages name tensors by it). */
  readonly id = nextId++;
  /** The size of each dim, outermost first (`[]` for a 0-d scalar). Never mutate it. */
  readonly shape: number[];
  /** The backend whose storage holds the values; every operand of an op must be on the same one. */
  readonly backend: Backend;
  /** The element type (storage is float32 for both; see DType). */
  readonly dtype: DType;
  private ref: StorageRef | null;
  private gradFlag = false;
  private gradValue: Tensor | null = null;
  /** The op that made this tensor, while its graph is alive. @internal */
  gradFn: GradNode<Tensor> | null = null;
  /** Set when backward() freed this op result's gradFn: it is not a leaf, so a later backward must fail. @internal */
  graphFreed = false;
  /** Name given by a Module to its parameters (for errors and checkpoints). */
  name?: string;

  /**
   * Tensors are made by the creation functions and by ops (this is the one place that wraps a storage).
   * @internal
   */
  constructor(backend: Backend, storage: Storage | StorageRef, shape: number[], dtype: DType = 'float32') {
    super();
    this.backend = backend;
    this.shape = shape;
    this.dtype = dtype;
    if (storage instanceof StorageRef) {
      storage.refs++;
      this.ref = storage;
    } else {
      if (storage.length !== numel(shape)) {
        throw new Error(`internal: storage of ${storage.length} elements for shape ${fmtShape(shape)}`);
      }
      this.ref = new StorageRef(backend, storage);
    }
    track(this);
    dispatcher.tracer?.created.push(this);
  }

  /** The gradient backward() accumulated here (a leaf's), or null. Setting it replaces it (dispose the old one yourself). */
  get grad(): Tensor | null {
    return this.gradValue;
  }
  set grad(g: Tensor | null) {
    // While compile() traces: which gradients the function itself set (zeroGrad, backward), and what
    // they were before (restored if the trace fails).
    const tr = dispatcher.tracer;
    if (tr && !tr.gradWritten.has(this)) tr.gradWritten.set(this, this.gradValue);
    this.gradValue = g;
  }
  /**
   * Whether gradients are accumulated into .grad by backward() (float32 tensors only, as in torch).
   * @throws Error when set to true on an int32 tensor (call .float() first).
   */
  get requiresGrad(): boolean {
    return this.gradFlag;
  }
  set requiresGrad(flag: boolean) {
    if (flag && this.dtype !== 'float32') {
      throw new Error(
        `requiresGrad: a ${this.dtype} tensor of shape ${fmtShape(this.shape)} cannot require gradients (only float32 tensors can; call .float() first)`,
      );
    }
    this.gradFlag = flag;
  }

  /**
   * The backend storage holding the values (for backend calls such as `backend.read(t.storage, { as: 'u32' })`).
   * @throws Error when the tensor was disposed.
   */
  get storage(): Storage {
    return this.live().storage;
  }
  /** The storage's reference, or the error that names this tensor when it was disposed. */
  private live(): StorageRef {
    if (!this.ref)
      throw new Error(
        `tensor #${this.id}${this.name ? ` (${this.name})` : ''} of shape ${fmtShape(this.shape)} was disposed`,
      );
    return this.ref;
  }
  /**
   * Keeps this tensor's storage alive until the hold is released, and tells when the hold is all that
   * keeps it (a compiled step holds the state it updates, and retraces when that state was replaced).
   * @internal
   */
  hold(): StorageHold {
    const ref = this.live();
    ref.refs++;
    return ref;
  }
  /** A new tensor of another shape (and dtype) over the same storage (no copy, no graph). @internal */
  viewAs(shape: number[], dtype: DType = this.dtype): Tensor {
    return new Tensor(this.backend, this.live(), shape, dtype);
  }
  /** The number of dims (the rank): 0 for a scalar. */
  get ndim(): number {
    return this.shape.length;
  }
  /** The number of elements: the product of the shape (1 for a 0-d scalar). */
  get size(): number {
    return numel(this.shape);
  }
  /** The number of elements, as torch's numel() (the same as `size`). */
  numel(): number {
    return this.size;
  }
  /** True once dispose() has run; any use of the tensor then throws. */
  get isDisposed(): boolean {
    return this.ref === null;
  }

  /**
   * Releases this tensor's storage (freed when no view of it is left) and its graph. Calling it twice is
   * harmless; any other use afterwards throws.
   */
  dispose(): void {
    if (!this.ref) return;
    this.ref.release();
    this.ref = null;
    this.gradFn = null;
    untrack(this);
  }

  /** Flat row-major copy of the values (an int32 tensor's as the exact floats they are stored as). */
  toArray(): Promise<Float32Array> {
    this.checkReadable('toArray()');
    return this.read();
  }
  /** Flat row-major copy of an int32 tensor's values as an Int32Array. */
  toInt32Array(): Promise<Int32Array> {
    this.checkReadable('toInt32Array()');
    if (this.dtype !== 'int32') {
      return Promise.reject(
        new Error(
          `toInt32Array(): tensor of shape ${fmtShape(this.shape)} is ${this.dtype}; call .int() first (it truncates toward zero)`,
        ),
      );
    }
    return this.read().then((a) => Int32Array.from(a));
  }
  private async read(): Promise<Float32Array> {
    return this.backend.read(this.storage);
  }
  /**
   * A readback inside a function that compile() traces throws at once (not as a rejected promise), so it
   * cannot pass unnoticed: the trace computes no values, and a compiled step cannot branch on data.
   */
  private checkReadable(op: string): void {
    if (dispatcher.tracer || (this.ref && isSymbolic(this.ref.storage))) {
      throw new TraceError(
        `${op} of a ${fmtShape(this.shape)} tensor inside a compiled function: values are not computed while ` +
          'compile() traces it (a compiled step cannot read back or branch on data); return the tensor from the function and read it after the call',
      );
    }
  }
  /** Nested arrays, like torch's tolist(). */
  tolist(): Promise<unknown> {
    this.checkReadable('tolist()');
    return this.read().then((flat) => {
      const build = (d: number, off: number): unknown => {
        if (d === this.ndim) return flat[off];
        const stride = numel(this.shape.slice(d + 1));
        return Array.from({ length: this.shape[d] }, (_, i) => build(d + 1, off + i * stride));
      };
      return build(0, 0);
    });
  }
  /**
   * The value of a one-element tensor, read back from the device (torch's item()).
   * @throws The promise rejects when the tensor has more than one element; it throws at once inside a
   * function compile() traces.
   */
  item(): Promise<number> {
    this.checkReadable('item()');
    if (this.size !== 1)
      return Promise.reject(
        new Error(`item(): tensor of shape ${fmtShape(this.shape)} has ${this.size} elements, not 1`),
      );
    return this.read().then((a) => a[0]);
  }
  /**
   * A one-line description: shape, backend, dtype and requires_grad, without the values (read those
   * with toArray()).
   */
  toString(): string {
    return `Tensor(shape=${fmtShape(this.shape)}, backend=${this.backend.name}${this.dtype === 'float32' ? '' : `, dtype=${this.dtype}`}${this.requiresGrad ? ', requires_grad' : ''})`;
  }

  // ---- dtype casts ----

  /**
   * This tensor as `dtype` (torch's .to(dtype)): int32 -> float32 is a view of the same storage (the
   * values are exact floats already); float32 -> int32 truncates toward zero and saturates to the range
   * an int32 tensor holds exactly, +-INT32_EXACT (2^24; its storage is float32): 1e10 and +Inf give
   * 2^24, -1e10 and -Inf give -2^24, and NaN gives -2^24. torch leaves that cast undefined (on x86 it
   * gives INT32_MIN for all of them); a value outside the dtype's range is never kept, and NaN's -2^24,
   * like x86's INT32_MIN, is out of range for every index op, which then gives NaN for it. No gradient
   * flows through either cast.
   */
  to(dtype: DType): Tensor {
    if (dtype === this.dtype) return this;
    if (dtype === 'float32') return this.viewAs(this.shape, 'float32');
    if (dtype !== 'int32') throw new Error(`to(): unknown dtype ${JSON.stringify(dtype)} (float32, int32)`);
    const t = noGrad(() => {
      const tr = this.unary('trunc'),
        c = tr.clamp(-INT32_EXACT, INT32_EXACT),
        notNan = c.eq(c);
      // clamp keeps NaN (torch.clamp): it becomes -2^24 here.
      const out = c.where(notNan, -INT32_EXACT);
      for (const x of [tr, c, notNan]) x.dispose();
      return out;
    });
    const out = t.viewAs(this.shape, 'int32');
    t.dispose();
    return out;
  }
  /** This tensor as float32 (`to('float32')`): a view of an int32 tensor, this tensor itself otherwise. */
  float(): Tensor {
    return this.to('float32');
  }
  /** This tensor as int32 (`to('int32')`): float values truncated toward zero and saturated to +-2^24. */
  int(): Tensor {
    return this.to('int32');
  }
  /** torch's .long(): there is no int64 here; the index dtype is int32. */
  long(): Tensor {
    return this.to('int32');
  }

  // ---- autograd ----

  /** Sets requiresGrad in place and returns this (torch's requires_grad_). */
  requiresGrad_(flag = true): Tensor {
    if (this.gradFn || this.graphFreed)
      throw new Error('requiresGrad_(): only leaf tensors (not results of ops) can change requiresGrad');
    this.requiresGrad = flag;
    return this;
  }
  /**
   * Computes the gradient of this tensor with respect to every leaf that requires grad, adding it into
   * the leaf's `.grad` (torch.Tensor.backward). `grad` seeds it: required unless this tensor holds one
   * element (a loss), where it defaults to 1. The graph is freed afterwards unless `retainGraph` is set.
   * @throws Error when this tensor does not require grad, when a non-scalar output is given no `grad`,
   * or when the graph was already freed by an earlier backward() or its tensors disposed.
   */
  backward(grad?: Tensor, opts?: { retainGraph?: boolean }): void {
    runBackward<Tensor>(this, grad, opts);
  }
  /**
   * A copy in storage of its own, in the graph (the gradient flows back), as torch.clone: x + (-0),
   * which is x for every value, -0 and NaN included (x * 1 runs as x * 1 + 0, which turns -0 into +0).
   */
  clone(): Tensor {
    const c = this.add(-0);
    if (this.dtype === 'float32') return c;
    const out = c.viewAs(c.shape, this.dtype);
    c.dispose();
    return out;
  }
  /**
   * Pieces along `dim` (torch.split): of `size` elements each (the last may be shorter), or of the
   * given sizes, which must add up to the dim's length. Each piece is a slice (its gradient flows back).
   */
  split(size: number | number[], dim = 0): Tensor[] {
    const d = normDim('split', dim, this.ndim);
    const len = this.shape[d];
    const sizes =
      typeof size === 'number'
        ? (() => {
            if (!Number.isInteger(size) || size < 1)
              throw new Error(`split: size must be a positive integer, not ${size}`);
            return Array.from({ length: Math.max(1, Math.ceil(len / size)) }, (_, i) => Math.min(size, len - i * size));
          })()
        : size;
    if (sizes.some((v) => !Number.isInteger(v) || v < 0) || sizes.reduce((a, v) => a + v, 0) !== len) {
      throw new Error(`split: sizes [${sizes.join(', ')}] do not add up to dim ${d}'s length ${len}`);
    }
    let at = 0;
    return sizes.map((v) => this.slice(d, at, (at += v)));
  }
  /** n pieces along `dim` of ceil(len / n) elements (fewer when they run out), as torch.chunk. */
  chunk(n: number, dim = 0): Tensor[] {
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`chunk: the number of chunks must be a positive integer, not ${n}`);
    const d = normDim('chunk', dim, this.ndim);
    return this.split(Math.max(1, Math.ceil(this.shape[d] / n)), d);
  }
  /** A tensor sharing this one's storage, cut from the graph (torch.Tensor.detach): no gradient flows back through it. */
  detach(): Tensor {
    return this.viewAs(this.shape);
  }

  // ---- elementwise (scalar operands of the arithmetic ops become one fused affine kernel, not a broadcast) ----

  /**
   * Applies the elementwise op `op` with its parameters `p0`, `p1` (e.g. `affine`: x * p0 + p1, `clamp`:
   * between p0 and p1, `leaky_relu`: slope p0). The named methods (exp(), relu(), ...) call this.
   */
  unary(op: UnaryOp, p0 = 0, p1 = 0): Tensor {
    return apply('unary', [this], { op, p0, p1 });
  }
  /**
   * Applies the binary op `op` to this tensor and `b` (a number or a tensor), broadcasting their shapes
   * as PyTorch does. The named methods (add(), maximum(), eq(), ...) call this.
   */
  binary(op: BinaryOp, b: TensorLike): Tensor {
    return apply('binary', [this, typeof b === 'number' ? scalarLike(b, this) : b], { op });
  }
  /** this + b, broadcast (a number `b` runs as one fused affine kernel). */
  add(b: TensorLike): Tensor {
    return typeof b === 'number' ? this.unary('affine', 1, b) : this.binary('add', b);
  }
  /** this - b, broadcast. */
  sub(b: TensorLike): Tensor {
    return typeof b === 'number' ? this.unary('affine', 1, -b) : this.binary('sub', b);
  }
  /** this * b, elementwise and broadcast (matmul() is the matrix product). */
  mul(b: TensorLike): Tensor {
    return typeof b === 'number' ? this.unary('affine', b, 0) : this.binary('mul', b);
  }
  /** this / b, broadcast (division by zero gives +-Inf or NaN, as in IEEE float). */
  div(b: TensorLike): Tensor {
    return typeof b === 'number' ? this.unary('affine', 1 / b, 0) : this.binary('div', b);
  }
  /** this ** b, broadcast; `pow(2)` runs as square(). */
  pow(b: TensorLike): Tensor {
    if (typeof b !== 'number') return this.binary('pow', b);
    return b === 2 ? this.unary('square') : b === 1 ? this.unary('affine', 1, 0) : this.unary('pow_scalar', b);
  }
  /** The elementwise larger of this and b (NaN if either is NaN, as torch.maximum). */
  maximum(b: TensorLike): Tensor {
    return this.binary('maximum', b);
  }
  /** The elementwise smaller of this and b (NaN if either is NaN, as torch.minimum). */
  minimum(b: TensorLike): Tensor {
    return this.binary('minimum', b);
  }
  /** 1 where this == b, else 0 (float32), broadcast; no gradient flows through comparisons. */
  eq(b: TensorLike): Tensor {
    return this.binary('eq', b);
  }
  /** 1 where this != b, else 0. */
  ne(b: TensorLike): Tensor {
    return this.binary('ne', b);
  }
  /** 1 where this < b, else 0. */
  lt(b: TensorLike): Tensor {
    return this.binary('lt', b);
  }
  /** 1 where this <= b, else 0. */
  le(b: TensorLike): Tensor {
    return this.binary('le', b);
  }
  /** 1 where this > b, else 0. */
  gt(b: TensorLike): Tensor {
    return this.binary('gt', b);
  }
  /** 1 where this >= b, else 0. */
  ge(b: TensorLike): Tensor {
    return this.binary('ge', b);
  }
  /** -x. */
  neg(): Tensor {
    return this.unary('neg');
  }
  /** e^x. */
  exp(): Tensor {
    return this.unary('exp');
  }
  /** e^x - 1, accurate for x near 0, where exp() - 1 loses the digits (torch.expm1). */
  expm1(): Tensor {
    return this.unary('expm1');
  }
  /** The natural logarithm (-Inf at 0, NaN below). */
  log(): Tensor {
    return this.unary('log');
  }
  /** log(1 + x), accurate for x near 0, where (1 + x).log() loses the digits (torch.log1p). */
  log1p(): Tensor {
    return this.unary('log1p');
  }
  /** The square root (NaN below 0). */
  sqrt(): Tensor {
    return this.unary('sqrt');
  }
  /** 1 / sqrt(x). */
  rsqrt(): Tensor {
    return this.unary('rsqrt');
  }
  /** |x|. */
  abs(): Tensor {
    return this.unary('abs');
  }
  /** max(x, 0) (NaN kept). */
  relu(): Tensor {
    return this.unary('relu');
  }
  /** 1 / (1 + e^-x). */
  sigmoid(): Tensor {
    return this.unary('sigmoid');
  }
  /** The hyperbolic tangent. */
  tanh(): Tensor {
    return this.unary('tanh');
  }
  /** log(1 + e^x), computed without overflow (F.softplus takes beta and threshold). */
  softplus(): Tensor {
    return this.unary('softplus');
  }
  /** x * x. */
  square(): Tensor {
    return this.unary('square');
  }
  /** 1 / x. */
  reciprocal(): Tensor {
    return this.unary('reciprocal');
  }
  /** -1, 0 or 1 by the sign of x (0 for NaN); no gradient flows through. */
  sign(): Tensor {
    return this.unary('sign');
  }
  /** The error function (used by the exact GELU). */
  erf(): Tensor {
    return this.unary('erf');
  }
  // Rounding (torch.trunc, floor, ceil, round), composed from trunc so that compile() fuses them and
  // every backend has them with no kernel of their own; no gradient flows through (torch's is zero).
  // An int32 tensor is already whole: it is returned as a view, keeping its dtype, as torch keeps it.
  /** Toward zero. */
  trunc(): Tensor {
    return this.dtype === 'int32' ? this.viewAs(this.shape, 'int32') : this.unary('trunc');
  }
  /** Toward -Inf: trunc, less one where that rounded a negative value up. NaN and +-Inf are kept. */
  floor(): Tensor {
    if (this.dtype === 'int32') return this.trunc();
    return noGrad(() =>
      tidy(() => {
        const t = this.unary('trunc');
        return t.sub(this.lt(t));
      }),
    );
  }
  /** Toward +Inf: -floor(-x). */
  ceil(): Tensor {
    if (this.dtype === 'int32') return this.trunc();
    return noGrad(() => tidy(() => this.neg().floor().neg()));
  }
  /**
   * To the nearest integer, halves to even (torch.round): floor(x + 0.5), less one where x was exactly
   * halfway and that gave an odd number. From 2^23 on every float32 is whole (and x + 0.5 would round),
   * so x is kept there.
   */
  round(): Tensor {
    if (this.dtype === 'int32') return this.trunc();
    return noGrad(() =>
      tidy(() => {
        const h = this.add(0.5),
          r = h.floor();
        const tie = r.eq(h),
          odd = r.sub(r.mul(0.5).floor().mul(2)).eq(1);
        const even = r.sub(tie.mul(odd));
        return even.where(this.abs().lt(2 ** 23), this);
      }),
    );
  }
  /** x where x > 0, else negativeSlope * x (default 0.01). */
  leakyRelu(negativeSlope = 0.01): Tensor {
    return this.unary('leaky_relu', negativeSlope);
  }
  /**
   * Each value limited to [min, max] (either bound may be left out with +-Infinity); NaN is kept.
   * @throws Error when min > max.
   */
  clamp(min = -Infinity, max = Infinity): Tensor {
    if (min > max) throw new Error(`clamp: min ${min} is greater than max ${max}`);
    return this.unary('clamp', Math.max(min, -3.4e38), Math.min(max, 3.4e38));
  }
  /** this where cond != 0, else other (torch.where(cond, this, other)). */
  where(cond: Tensor, other: TensorLike): Tensor {
    return ternary('where', cond, this, typeof other === 'number' ? scalarLike(other, cond) : other);
  }

  // ---- reductions ----

  /**
   * The sum over `dim` (all dims by default), those dims removed unless `keepdim`.
   * @example
   * ```ts
   * const x = tensor([[1, 2, 3], [4, 5, 6]]);
   * x.sum();         // 21, shape []
   * x.sum(0);        // [5, 7, 9]
   * x.sum(-1, true); // [[6], [15]], shape [2, 1]
   * ```
   */
  sum(dim?: Dims, keepdim = false): Tensor {
    return this.reduce('sum', normDims('sum', dim, this.ndim), keepdim);
  }
  /**
   * The variance over `dim` (all dims by default): sum (x - mean)^2 / (n - 1), or / n when `unbiased`
   * is false (torch.var). n - 1 = 0 gives NaN, as in PyTorch.
   */
  var(dim?: Dims, unbiased = true, keepdim = false): Tensor {
    const dims = normDims('var', dim, this.ndim);
    const n = numel(dims.map((d) => this.shape[d]));
    const ss = this.sub(this.mean(dim, true)).square().sum(dim, keepdim);
    return unbiased ? ss.mul(n > 1 ? 1 / (n - 1) : NaN) : ss.mul(1 / n);
  }
  /** The standard deviation: sqrt(var(dim, unbiased, keepdim)) (torch.std). */
  std(dim?: Dims, unbiased = true, keepdim = false): Tensor {
    return this.var(dim, unbiased, keepdim).sqrt();
  }
  /** The mean over `dim` (all dims by default), those dims removed unless `keepdim`. */
  mean(dim?: Dims, keepdim = false): Tensor {
    const dims = normDims('mean', dim, this.ndim);
    const n = numel(dims.map((d) => this.shape[d]));
    return this.sum(dim, keepdim).mul(1 / n);
  }
  /** The largest values over `dim` (all dims by default); the gradient is shared evenly among ties (torch.amax). */
  amax(dim?: Dims, keepdim = false): Tensor {
    return this.reduce('max', normDims('amax', dim, this.ndim), keepdim);
  }
  /** The smallest values over `dim`, ties sharing the gradient (torch.amin). */
  amin(dim?: Dims, keepdim = false): Tensor {
    return this.reduce('min', normDims('amin', dim, this.ndim), keepdim);
  }
  /**
   * torch.max: over the whole tensor, the largest value (as amax()); along one dim, the values and
   * their indices (the first maximum, or the first NaN, as argmax), the gradient going to that index only.
   */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return this.amax();
    return this.extremum('argmax', dim, keepdim);
  }
  /** torch.min: as max(), for the smallest. */
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return this.amin();
    return this.extremum('argmin', dim, keepdim);
  }
  private extremum(op: 'argmax' | 'argmin', dim: number, keepdim: boolean): { values: Tensor; indices: Tensor } {
    if (typeof dim !== 'number')
      throw new Error(
        `${op === 'argmax' ? 'max' : 'min'}: dim must be one number (amax/amin reduce several), got ${JSON.stringify(dim)}`,
      );
    const d = normDim(op === 'argmax' ? 'max' : 'min', dim, this.ndim);
    const idx = noGrad(() => this.reduce(op, [d], true));
    const values = this.gather(d, idx);
    if (keepdim) return { values, indices: idx };
    const shape = this.shape.filter((_, i) => i !== d);
    return { values: values.reshape(shape), indices: idx.reshape(shape) };
  }
  /** Index of the largest value along dim (over the flattened tensor without dim), as int32. */
  argmax(dim?: number, keepdim = false): Tensor {
    return this.argReduce('argmax', dim, keepdim);
  }
  /** Index of the smallest value along dim (over the flattened tensor without dim), as int32. */
  argmin(dim?: number, keepdim = false): Tensor {
    return this.argReduce('argmin', dim, keepdim);
  }
  private reduce(op: ReduceOp, dims: number[], keepdim: boolean): Tensor {
    return apply('reduce', [this], { op, dims, keepdim });
  }
  private argReduce(op: 'argmax' | 'argmin', dim: number | undefined, keepdim: boolean): Tensor {
    if (dim === undefined) return this.reshape([this.size]).reduce(op, [0], false);
    return this.reduce(op, [normDim(op, dim, this.ndim)], keepdim);
  }
  /**
   * torch.gather: out[..., k, ...] = this[..., index[..., k, ...], ...] along dim, index holding positions
   * (int32, or floats holding integers), of this tensor's rank and at most its size in the other dims.
   * A position that is not an integer in [0, size) gives NaN. The gradient is scattered back (summed
   * where positions repeat).
   */
  gather(dim: number, index: Tensor): Tensor {
    const d = normDim('gather', dim, this.ndim);
    if (index.ndim !== this.ndim || index.shape.some((s, i) => i !== d && s > this.shape[i])) {
      throw new Error(
        `gather: index of shape ${fmtShape(index.shape)} does not fit input ${fmtShape(this.shape)} along dim ${dim} (same rank, at most its size in the other dims)`,
      );
    }
    // Other dims larger than the index's: the leading part of them, as torch reads.
    let x: Tensor = this;
    index.shape.forEach((s, i) => {
      if (i !== d && s < x.shape[i]) x = x.slice(i, 0, s);
    });
    return apply('gather', [x, index], { dim: d });
  }
  /** torch.index_select: the entries at positions `index` (1-D, int32 or integer floats) along dim, in that order. */
  indexSelect(dim: number, index: Tensor): Tensor {
    const d = normDim('indexSelect', dim, this.ndim);
    if (index.ndim !== 1) throw new Error(`indexSelect: index must be 1-D, got shape ${fmtShape(index.shape)}`);
    const shape = this.shape.map((s, i) => (i === d ? index.size : s));
    const along = this.shape.map((_, i) => (i === d ? index.size : 1));
    return this.gather(d, index.reshape(along).broadcastTo(shape));
  }
  /** torch.cumsum: running sums along dim, in order (the gradient: the reverse running sum). */
  cumsum(dim: number): Tensor {
    return apply('cumsum', [this], { dim: normDim('cumsum', dim, this.ndim), reverse: false });
  }
  /**
   * log(sum(exp(x))) over `dim` (all dims by default), computed as m + log(sum(exp(x - m))) with m the
   * max, so it never overflows; -Inf over an empty dim (the log of an empty sum, as torch.logsumexp).
   */
  logsumexp(dim?: Dims, keepdim = false): Tensor {
    const dims = normDims('logsumexp', dim, this.ndim);
    const squeeze = (t: Tensor) => (keepdim ? t : t.reshape(this.shape.filter((_, d) => !dims.includes(d))));
    // No max to shift by (and none needed): the sum of no terms is 0.
    if (dims.some((d) => this.shape[d] === 0)) return squeeze(this.exp().sum(dims, true).log());
    // The max is held constant (not recorded): the result does not depend on the shift.
    const m = noGrad(() => this.reduce('max', dims, true));
    // Rows whose max is infinite would give inf - inf = NaN; shifting by 0 there keeps +-inf exact.
    const mSafe = m.where(m.abs().lt(Infinity), 0);
    const out = this.sub(mSafe).exp().sum(dims, true).log().add(mSafe);
    m.dispose();
    return squeeze(out);
  }
  /**
   * exp(x) / sum(exp(x)) along `dim` (the last by default). softmax and logSoftmax compute as PyTorch
   * does: x - max(x) first (the max held constant), so a row holding +Inf or NaN gives NaN, as in
   * PyTorch, where logsumexp's infinite-max shortcut would give 0 and 1.
   */
  softmax(dim = -1): Tensor {
    const e = this.shifted('softmax', dim).exp();
    return e.div(e.sum(dim, true));
  }
  /** log(softmax(x)) along `dim` (the last by default), computed as x - max - log(sum(exp(x - max))). */
  logSoftmax(dim = -1): Tensor {
    const s = this.shifted('log_softmax', dim);
    return s.sub(s.exp().sum(dim, true).log());
  }
  /** x - max(x) along dim; over an empty dim there is nothing to shift (torch's softmax gives the empty tensor). */
  private shifted(op: string, dim: number): Tensor {
    const d = normDim(op, dim, this.ndim);
    if (this.shape[d] === 0) return this;
    const m = noGrad(() => this.reduce('max', [d], true));
    const out = this.sub(m);
    m.dispose();
    return out;
  }

  // ---- movement (all but reshape copy through the strided-copy kernel, so every tensor stays contiguous) ----

  /**
   * The same values in another shape (row-major order); one entry may be -1, inferred from the others.
   * Returns this tensor when the shape is unchanged. The gradient flows back reshaped.
   * @throws Error when the element counts differ or more than one -1 is given.
   */
  reshape(shape: number[]): Tensor {
    const known = shape.filter((s) => s !== -1);
    if (shape.length - known.length > 1) throw new Error(`reshape: more than one -1 in ${fmtShape(shape)}`);
    const rest = numel(known);
    const full = shape.map((s) => (s === -1 ? (rest === 0 ? 0 : this.size / rest) : s));
    if (numel(full) !== this.size || full.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new Error(
        `reshape: shape ${fmtShape(shape)} is invalid for a tensor of shape ${fmtShape(this.shape)} (${this.size} elements)`,
      );
    }
    if (sameShape(full, this.shape)) return this;
    return apply('reshape', [this], { shape: full });
  }
  /** torch's view(): the same as reshape() (storage here is always contiguous). */
  view(shape: number[]): Tensor {
    return this.reshape(shape);
  }
  /**
   * The dims reordered: output dim i is input dim `dims[i]` (a copy; negative dims count from the end).
   * @throws Error when `dims` is not a permutation of the tensor's dims.
   */
  permute(dims: number[]): Tensor {
    if (dims.length !== this.ndim)
      throw new Error(`permute: ${dims.length} dims given for a tensor of rank ${this.ndim}`);
    const d = dims.map((v) => normDim('permute', v, this.ndim));
    if (new Set(d).size !== d.length) throw new Error(`permute: dims [${dims.join(', ')}] are not a permutation`);
    if (d.every((v, i) => v === i)) return this;
    return apply('permute', [this], { dims: d });
  }
  /** dim0 and dim1 swapped (a copy). */
  transpose(dim0: number, dim1: number): Tensor {
    const perm = [...Array(this.ndim).keys()];
    const a = normDim('transpose', dim0, this.ndim),
      b = normDim('transpose', dim1, this.ndim);
    [perm[a], perm[b]] = [perm[b], perm[a]];
    return this.permute(perm);
  }
  /**
   * A matrix transposed (tensors of fewer than 2 dims are returned as they are).
   * @throws Error for more than 2 dims (use transpose()).
   */
  t(): Tensor {
    if (this.ndim > 2) throw new Error(`t(): expects a tensor of at most 2 dims, got shape [${this.shape.join(', ')}]`);
    return this.ndim < 2 ? this : this.transpose(0, 1);
  }
  /**
   * This tensor repeated to `shape` by PyTorch's broadcasting rules (dims of size 1 stretched, new dims
   * in front); the gradient sums back over the repeats.
   */
  broadcastTo(shape: number[]): Tensor {
    if (sameShape(this.shape, shape)) return this;
    return apply('broadcast', [this], { shape });
  }
  /** torch's expand(): the same as broadcastTo(). */
  expand(shape: number[]): Tensor {
    return this.broadcastTo(shape);
  }
  /** this[start:end:step] along dim (negative start/end count from the end, as in Python). */
  slice(dim: number, start = 0, end?: number, step = 1): Tensor {
    const d = normDim('slice', dim, this.ndim);
    const size = this.shape[d];
    if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${step}`);
    const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
    const s = clampIdx(start),
      e = clampIdx(end ?? size);
    return apply('slice', [this], { dim: d, start: s, len: Math.max(0, Math.ceil((e - s) / step)), step });
  }
  /**
   * Pads the last dims like torch.nn.functional.pad: `pads` = [last_before, last_after, prev_before, ...].
   * Modes: constant (value), reflect (edge not repeated; pad < size), replicate.
   */
  pad(pads: number[], mode: PadMode = 'constant', value = 0): Tensor {
    const x = this;
    if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim) {
      throw new Error(
        `pad: ${pads.length} pad values do not fit a tensor of rank ${x.ndim} (need pairs, at most 2 per dim)`,
      );
    }
    if (!PAD_MODES.includes(mode)) throw new Error(`pad: unknown mode '${mode}' (constant, reflect, replicate)`);
    const before = x.shape.map(() => 0),
      after = x.shape.map(() => 0);
    for (let i = 0; i < pads.length / 2; i++) {
      const d = x.ndim - 1 - i;
      before[d] = pads[2 * i];
      after[d] = pads[2 * i + 1];
      if (before[d] < 0 || after[d] < 0 || !Number.isInteger(before[d]) || !Number.isInteger(after[d])) {
        throw new Error(`pad: negative or fractional padding [${pads.join(', ')}] is not supported`);
      }
      if (mode === 'reflect' && (before[d] >= x.shape[d] || after[d] >= x.shape[d])) {
        throw new Error(
          `pad: reflect padding ${Math.max(before[d], after[d])} must be less than the size ${x.shape[d]} of dim ${d}`,
        );
      }
      if (mode === 'replicate' && x.shape[d] === 0 && before[d] + after[d] > 0)
        throw new Error(`pad: cannot replicate-pad an empty dim ${d}`);
    }
    return apply('pad', [x], { before, after, mode, value });
  }
  /** A new dim of size 1 inserted at `dim` (negative counts from the end of the result). */
  unsqueeze(dim: number): Tensor {
    const d = normDim('unsqueeze', dim, this.ndim + 1);
    return this.reshape([...this.shape.slice(0, d), 1, ...this.shape.slice(d)]);
  }
  /** Dims of size 1 removed: all of them, or only `dim` (kept when its size is not 1). */
  squeeze(dim?: number): Tensor {
    if (dim === undefined) return this.reshape(this.shape.filter((s) => s !== 1));
    const d = normDim('squeeze', dim, this.ndim);
    return this.shape[d] === 1 ? this.reshape(this.shape.filter((_, i) => i !== d)) : this;
  }
  /**
   * Dims startDim..endDim (inclusive, the whole tensor by default) merged into one: `flatten(1)` turns
   * [N, C, H, W] into [N, C*H*W].
   */
  flatten(startDim = 0, endDim = -1): Tensor {
    if (this.ndim === 0) return this.reshape([1]);
    const s = normDim('flatten', startDim, this.ndim),
      e = normDim('flatten', endDim, this.ndim);
    return this.reshape([...this.shape.slice(0, s), numel(this.shape.slice(s, e + 1)), ...this.shape.slice(e + 1)]);
  }

  // ---- matmul (PyTorch's semantics: 1-D operands, broadcast batch dims) on the one batched primitive ----

  /**
   * Batched product of 3-D operands: op(this)[b] @ op(b)[b], op = transpose when tA/tB. Either batch is 1
   * or the batch (1 means the matrix is shared by the whole batch).
   */
  bmm(b: Tensor, tA = false, tB = false): Tensor {
    return apply('matmul', [this, b], { transA: tA, transB: tB });
  }
  /**
   * The matrix product with PyTorch's semantics (torch.matmul): 1-D operands are vectors, and the batch
   * dims of operands with more than 2 dims broadcast. [..., M, K] @ [..., K, N] gives [..., M, N].
   * @throws Error when the inner sizes differ or an operand is 0-d.
   * @example
   * ```ts
   * const a = randn([8, 3, 4]), b = randn([4, 5]);
   * a.matmul(b).shape; // [8, 3, 5]: b is shared by the batch
   * ```
   */
  matmul(b: Tensor): Tensor {
    const a = this;
    if (a.ndim === 0 || b.ndim === 0)
      throw new Error(
        `matmul: both operands need at least 1 dimension, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      );
    const A = a.ndim === 1 ? a.reshape([1, a.shape[0]]) : a;
    const B = b.ndim === 1 ? b.reshape([b.shape[0], 1]) : b;
    const [M, K] = A.shape.slice(-2),
      [K2, N] = B.shape.slice(-2);
    if (K !== K2)
      throw new Error(
        `matmul: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied (${K} vs ${K2})`,
      );
    const batchA = A.shape.slice(0, -2),
      batchB = B.shape.slice(0, -2);
    const batchShape = broadcastShapes('matmul', batchA, batchB);
    const nb = numel(batchShape);
    let out: Tensor;
    if (numel(batchB) === 1 && batchA.length > 0) {
      // A batched against one matrix: fold the batch into the rows, one plain matmul.
      out = A.reshape([1, numel(batchA) * M, K])
        .bmm(B.reshape([1, K, N]))
        .reshape([...batchShape, M, N]);
    } else {
      const as3 = (t: Tensor, batch: number[], r: number, c: number) =>
        numel(batch) === 1 ? t.reshape([1, r, c]) : t.broadcastTo([...batchShape, r, c]).reshape([nb, r, c]);
      out = as3(A, batchA, M, K)
        .bmm(as3(B, batchB, K, N))
        .reshape([...batchShape, M, N]);
    }
    if (a.ndim === 1 && b.ndim === 1) return out.reshape([]);
    if (a.ndim === 1) return out.reshape([...batchShape, N]);
    if (b.ndim === 1) return out.reshape([...batchShape, M]);
    return out;
  }

  // ---- creation from this tensor's backend ----

  /** A tensor of this one's shape filled with value: of its dtype where value is an int32 value (torch.full_like). */
  fullLike(value: number): Tensor {
    const dtype =
      this.dtype === 'int32' && Number.isInteger(value) && Math.abs(value) <= INT32_EXACT ? 'int32' : 'float32';
    return apply('fill', [], { backend: this.backend, shape: [...this.shape], value, dtype });
  }
  /** Zeros of this tensor's shape, backend and (for int32) dtype. */
  zerosLike(): Tensor {
    return this.fullLike(0);
  }
  /** Ones of this tensor's shape, backend and (for int32) dtype. */
  onesLike(): Tensor {
    return this.fullLike(1);
  }
}

const dispatcher = new Dispatcher<Tensor>((backend, storage, shape, viewOf, dtype) =>
  viewOf ? viewOf.viewAs(shape, dtype) : new Tensor(backend, storage!, shape, dtype),
);

/** The one dispatch point for primitives (see src/graph/apply.ts). */
export const apply = dispatcher.apply;
/** The in-place updates of src/graph/effects.ts, and per-call host work (see Dispatcher). */
export const applyPerCall = dispatcher.applyPerCall;
export const effect = dispatcher.effect;
export const perCall = dispatcher.perCall;
/** Sets (or clears) the tracer that records ops instead of running them (src/graph/compile.ts). */
export function setTracer(t: Tracer<Tensor> | null): void {
  dispatcher.tracer = t;
}
export const isTracing = (): boolean => dispatcher.tracer !== null;
/**
 * While compile() traces: the trace assumes holds() (e.g. a module's training flag as it is now), and a
 * replay checks it first; a call where it fails is traced again. No effect outside a trace.
 */
export function guardState(owner: object, field: string, holds: () => boolean, what: () => string): void {
  dispatcher.tracer?.guard(owner, field, holds, what);
}
/** While compile() traces: the function set `field` of `owner` (its later reads need no guard). */
export function wroteState(owner: object, field: string): void {
  dispatcher.tracer?.wrote(owner, field);
}
/** While compile() traces: how to undo host state the trace advanced, if the trace fails. */
export function onTraceAbort(undo: () => void): void {
  dispatcher.tracer?.undo.push(undo);
}
/** Marks `t` as state of `owner` (a Module's parameter or buffer): compile() guards on its identity. */
export function setStateOwner(t: Tensor, owner: object): void {
  stateOwners.set(t, owner);
}
/** Dispatch counters, for tests. */
export const dispatchStats = (): { calls: number; recorded: number; depth: number } => ({
  calls: dispatcher.calls,
  recorded: dispatcher.recorded,
  depth: dispatcher.depth,
});

/**
 * A tensor over a storage it does not own: disposing it frees nothing (a compiled step's gradients, which
 * live in its recording's buffers and are overwritten by its next call).
 */
export function borrowedTensor(backend: Backend, storage: Storage, shape: number[], dtype: DType = 'float32'): Tensor {
  const ref = new StorageRef(backend, storage, false);
  ref.refs = 0;
  return new Tensor(backend, ref, shape, dtype);
}

export function scalarLike(v: number, like: Tensor): Tensor {
  return apply('fill', [], { backend: like.backend, shape: [], value: v });
}

export function ternary(op: TernaryOp, c: Tensor, a: Tensor, b: Tensor): Tensor {
  return apply('ternary', [c, a, b], { op });
}

export function normDims(op: string, dims: Dims, rank: number): number[] {
  if (dims === undefined) return [...Array(rank).keys()];
  const list = (Array.isArray(dims) ? dims : [dims]).map((d) => normDim(op, d, rank));
  if (new Set(list).size !== list.length) throw new Error(`${op}: repeated dim in [${list.join(', ')}]`);
  return list.sort((a, b) => a - b);
}
