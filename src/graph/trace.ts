// The traced graph of a compiled function (src/graph/compile.ts): while a Tracer is active, the one
// dispatch point (src/graph/apply.ts) records each primitive here instead of running it, and hands back
// a tensor over a SymbolicStorage, a value with a length and no data. The graph is a straight-line
// program over storages, in the order the function issued its ops (the order eager mode runs them):
//   prim    a primitive of src/graph/primitives.ts: inputs, params, output shape, one new value
//           (views, reshape, produce no op: the output tensor shares its input's storage, as in eager)
//   effect  an in-place update of existing storages (src/graph/effects.ts: optimizer steps, assigns)
//   host    host work that must happen once per call (an optimizer's step count, a generator's counter)
// Values are SymbolicStorages (made by the trace: the call's inputs, the ops' outputs) or the real
// storages of tensors that existed before the trace (parameters, optimizer moments, running statistics):
// the step's state, bound by reference, read and written in place.
//
// Per-call data: an op whose params depend on host state that changes from call to call (a random
// draw's Philox counter, Adam's step count and learning rate) carries `perCall`, the function that
// computed its params at trace time; a replay calls it again, in trace order, so each call gets its own
// values (PyTorch's capturable Adam keeps such values on the device for the same reason; here they are
// written into the recorded dispatches' uniform blocks before each replay, see src/graph/replay.ts).
// Source of the design: TinyJit (tinygrad/engine/jit.py) records kernel calls over buffers and replays
// them; jax-js (src/frontend/jaxpr.ts) traces to a program over abstract values.

import type { Storage } from '../backend/backend.ts';
import type { FusedExpr, FusedRead, ReduceGeom } from '../backend/kernels.ts';
import type { EffectName, EffectParams } from './effects.ts';
import type { Params, Primitive } from './primitives.ts';
import type { GraphTensor, StorageHold } from './types.ts';

/** A value of the traced graph: its length, no data. */
export class SymbolicStorage implements Storage {
  constructor(
    readonly id: number,
    readonly length: number,
  ) {}
}

export const isSymbolic = (s: Storage): s is SymbolicStorage => s instanceof SymbolicStorage;

/** A primitive op of primitive P. */
export interface OnePrimOp<P extends Primitive> {
  kind: 'prim';
  prim: P;
  inputs: Storage[];
  xShapes: number[][];
  params: Params[P];
  shape: number[];
  out: SymbolicStorage;
  perCall?: () => Params[P];
}
/**
 * A primitive op of one of the primitives P (all of them by default), as a union over them, so that a
 * test of `op.prim` narrows `op.params` (no casts).
 */
export type PrimOp<P extends Primitive = Primitive> = { [K in P]: OnePrimOp<K> }[P];
export interface EffectOp<E extends EffectName = EffectName> {
  kind: 'effect';
  effect: E;
  inputs: Storage[];
  shapes: number[][];
  params: EffectParams[E];
  perCall?: () => EffectParams[E];
}
/**
 * The optimizer update of the parameter whose gradient a fused kernel computes, run in that kernel's
 * store (src/graph/passes/fuse_optimizer.ts): the optim effect's storages [param, grad, s1, s2,
 * flags] and params; `cell` holds a call's params, computed by a host op where the effect was (per-call
 * work keeps its order).
 */
export interface StoreOptim {
  inputs: Storage[];
  params: EffectParams['optim'];
  cell: { value: EffectParams['optim'] | undefined } | null;
}
/** The primitives that run on the GEMM cores, which can apply an epilogue in their store. */
export type GemmPrimitive = 'matmul' | 'conv2d' | 'conv2d_grad_input' | 'conv2d_grad_weight';
/** An elementwise expression over a kernel's inputs, each read as its FusedRead says (src/backend/kernels.ts). */
export interface KernelExpr {
  expr: FusedExpr;
  inputs: Storage[];
  reads: FusedRead[];
}
/**
 * What a fused kernel computes between its prologue and its epilogue: nothing (an elementwise kernel:
 * its prologue's value at each of n elements), a sum, max or min over a strided geometry, or a matmul
 * or convolution on the GEMM cores (the primitive's operands, params and output shape).
 */
export type KernelCore =
  | { kind: 'none'; n: number }
  | {
      kind: 'reduce';
      op: 'sum' | 'max' | 'min';
      geom: ReduceGeom;
      /** The reduced tensor's shape and dims (the CPU twin runs the reduce primitive with them). */
      xShape: number[];
      dims: number[];
    }
  | {
      /**
       * Sums in stages over each row of the geometry, then the prologue's expression at each element
       * (Backend's RowsReduce: the prologue's inputs 0..n-1, then the stages' values n + j; a stage's
       * epilogue reads its own inputs at the row, then the earlier stages' values, and `acc`; made by
       * src/graph/passes/fuse_rows.ts).
       */
      kind: 'rows';
      geom: ReduceGeom;
      xShape: number[];
      dims: number[];
      stages: { expr: FusedExpr; epilogue: KernelExpr | null }[];
      /** A value computed once, in stage `stage`, kept in the output and read back as input n + K. */
      spill?: { expr: FusedExpr; stage: number };
    }
  | {
      kind: 'gemm';
      prim: GemmPrimitive;
      operands: Storage[];
      xShapes: number[][];
      params: Params[GemmPrimitive];
      gemmShape: number[];
    };
/**
 * A fused kernel (made by the fusion pass, src/graph/passes/fuse_elementwise.ts; never traced), one
 * shape for all: a core; a prologue read at each element the core consumes (an elementwise kernel's
 * whole expression; a reduction's operand; null for a GEMM, which reads its operands); an epilogue
 * applied to each of the core's results, over `acc` (bias, activation, a mean's scaling), or null; and
 * an optional optimizer update in its store (src/graph/passes/fuse_optimizer.ts).
 */
export interface KernelOp {
  kind: 'kernel';
  core: KernelCore;
  prologue: KernelExpr | null;
  epilogue: KernelExpr | null;
  optim?: StoreOptim;
  /**
   * A reduction's store also assigns dst (Backend's StoreAssign: batch norm's running statistics from
   * the mean or variance it computes; src/graph/passes/fuse_assign.ts).
   */
  assign?: { dst: Storage; expr: FusedExpr };
  shape: number[];
  out: SymbolicStorage;
}
export interface HostOp {
  kind: 'host';
  run: () => void;
}
export type Op = PrimOp | EffectOp | KernelOp | HostOp;

/**
 * An error of what a traced function may not do (read values back, return a Promise or non-tensors):
 * compile() reports it as it is, where any other error thrown while tracing makes it run the call
 * eagerly instead (see src/graph/compile.ts).
 */
export class TraceError extends Error {}

/** Which tensor owns a state tensor (a Module its parameters and buffers): compile() guards on them. */
export const stateOwners = new WeakMap<object, object>();

/**
 * A condition a trace assumed about what lies outside its graph (a module's training flag, which
 * tensor a module's attribute holds, a gradient's presence): a replay checks every one first, and a
 * call where one fails traces again (torch.compile's guards; jax.jit has none and bakes these in).
 */
export interface Guard {
  holds: () => boolean;
  /** For WGPU_DEBUG=1 and tests: what was assumed. */
  what: string;
}

export class Tracer<T extends GraphTensor<T>> {
  readonly ops: Op[] = [];
  /** The trace's guards, one per (object, field). */
  readonly guards: Guard[] = [];
  private readonly guarded = new Map<object, Set<string>>();
  /** Host state the trace advanced (a generator's counter, an optimizer's step count), undone if it fails. */
  readonly undo: (() => void)[] = [];
  /** Tensors whose .grad the function set while tracing, with the gradient each had before. */
  readonly gradWritten = new Map<T, T | null>();
  /** Real storages the graph uses, each held from its first use (a view may be disposed before the end). */
  readonly externals = new Map<Storage, StorageHold>();
  /** Every tensor an op read (the compiler clears the gradients the trace left on them). */
  readonly seen = new Set<T>();
  /** Every tensor made while tracing (the compiler disposes those the function did not return). */
  readonly created: T[] = [];
  private nextId = 0;

  /** A new value (an input placeholder or an op's output). */
  value(length: number): SymbolicStorage {
    return new SymbolicStorage(this.nextId++, length);
  }

  private use(inputs: T[]): Storage[] {
    const storages = new Array<Storage>(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const t = inputs[i],
        s = t.storage;
      if (!isSymbolic(s) && !this.externals.has(s)) this.externals.set(s, t.hold());
      this.seen.add(t);
      storages[i] = s;
    }
    return storages;
  }

  /** Adds a guard on `field` of `owner` (once per pair: the first read is what the trace assumed). */
  guard(owner: object, field: string, holds: () => boolean, what: () => string): void {
    let fields = this.guarded.get(owner);
    if (!fields) this.guarded.set(owner, (fields = new Set()));
    if (fields.has(field)) return;
    fields.add(field);
    this.guards.push({ holds, what: what() });
  }

  /**
   * `field` of `owner` was set by the traced function: its later reads see the function's own value, the
   * same on every call, and need no guard.
   */
  wrote(owner: object, field: string): void {
    let fields = this.guarded.get(owner);
    if (!fields) this.guarded.set(owner, (fields = new Set()));
    fields.add(field);
  }

  /** A view (reshape): no op, but its input was read. */
  view(input: T): void {
    this.seen.add(input);
  }

  /** Releases the holds (a trace that failed, or a program dropped). */
  release(): void {
    for (const h of this.externals.values()) h.release();
    this.externals.clear();
  }

  prim<P extends Primitive>(
    prim: P,
    inputs: T[],
    params: Params[P],
    shape: number[],
    perCall?: () => Params[P],
  ): SymbolicStorage {
    let n = 1;
    for (const d of shape) n *= d;
    const out = this.value(n);
    const op: OnePrimOp<P> = {
      kind: 'prim',
      prim,
      inputs: this.use(inputs),
      xShapes: inputs.map((t) => t.shape),
      params,
      shape,
      out,
    };
    if (perCall) op.perCall = perCall;
    this.ops.push(op as unknown as PrimOp);
    return out;
  }

  effect<E extends EffectName>(effect: E, inputs: T[], params: EffectParams[E], perCall?: () => EffectParams[E]): void {
    const op: EffectOp<E> = {
      kind: 'effect',
      effect,
      inputs: this.use(inputs),
      shapes: inputs.map((t) => t.shape),
      params,
    };
    if (perCall) op.perCall = perCall;
    this.ops.push(op as unknown as EffectOp);
  }

  host(run: () => void): void {
    this.ops.push({ kind: 'host', run });
  }
}
