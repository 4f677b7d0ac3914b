// The graph the passes rewrite, and the vocabulary they share: what an op reads, how many ops read a
// value, and the primitives as the fused kernels they can become (a GEMM with no epilogue yet, a lone
// elementwise op as a fused kernel of one op). Each pass is a function from graph to graph in a file of
// its own (this folder's index.ts lists them in the order they run).

import type { Storage } from '../../backend/backend.ts';
import { broadcastRead, type FusedExpr, type FusedRead } from '../../backend/kernels.ts';
import { numel } from '../../shape.ts';
import type { Params } from '../primitives.ts';
import type { GemmPrimitive, KernelExpr, KernelOp, Op, PrimOp, SymbolicStorage } from '../trace.ts';

export interface Graph {
  ops: Op[];
  /** The call's tensor inputs, in argument order. */
  inputs: SymbolicStorage[];
  /** The storages whose values the call returns (symbolic or, for returned state, real). */
  outputs: Storage[];
  /** Values kept to the end of the call but not copied out (the gradients left on parameters). */
  pinned: Storage[];
}

/** The primitives a GEMM kernel runs (they take epilogues and optimizer updates in its store). */
export const GEMM_PRIMITIVES: GemmPrimitive[] = ['matmul', 'conv2d', 'conv2d_grad_input', 'conv2d_grad_weight'];

export interface Operand {
  s: Storage;
  read: FusedRead;
}

/**
 * The storages every op reads (a kernel's: its GEMM operands, prologue and epilogue inputs, and the
 * storage its store assigns, whose old values it reads).
 */
export const readsOf = (op: Exclude<Op, { kind: 'host' }>): Storage[] =>
  op.kind === 'kernel'
    ? [
        ...headInputs(op),
        ...(op.epilogue?.inputs ?? []),
        ...(op.core.kind === 'rows' ? op.core.stages.flatMap((st) => st.epilogue?.inputs ?? []) : []),
        ...(op.assign ? [op.assign.dst] : []),
      ]
    : op.inputs;

/**
 * The storages an op writes in place: an effect its destination (an optimizer step its parameter, two
 * state buffers and the flags), a kernel what its store updates (an optimizer step's, an assign's).
 */
export function writesOf(o: Op): Storage[] {
  if (o.kind === 'effect')
    return o.effect === 'optim' ? [o.inputs[0], o.inputs[2], o.inputs[3], o.inputs[4]] : [o.inputs[0]];
  if (o.kind !== 'kernel') return [];
  return [
    ...(o.optim ? [o.optim.inputs[0], o.optim.inputs[2], o.optim.inputs[3], o.optim.inputs[4]] : []),
    ...(o.assign ? [o.assign.dst] : []),
  ];
}

/** Storage buffers one kernel may bind (WebGPU's default maxStorageBuffersPerShaderStage). */
export const MAX_STORAGE_BINDINGS = 8;

/** What a kernel reads before its epilogue: a GEMM's operands, or its prologue's inputs. */
export const headInputs = (op: KernelOp): Storage[] =>
  op.core.kind === 'gemm' ? op.core.operands : (op.prologue?.inputs ?? []);

/**
 * The expression giving a kernel's stored value, which a consumer that takes the kernel in continues:
 * an elementwise kernel's prologue, or the epilogue over the core's result (`acc` alone when it has none).
 */
export const tailOf = (op: KernelOp): KernelExpr =>
  op.core.kind === 'none' ? op.prologue! : (op.epilogue ?? { expr: { kind: 'acc' }, inputs: [], reads: [] });

/** A kernel that is elementwise ops alone (an elementwise core). */
export const elementwiseKernel = (prologue: KernelExpr, shape: number[], out: SymbolicStorage): KernelOp => ({
  kind: 'kernel',
  core: { kind: 'none', n: numel(shape) },
  prologue,
  epilogue: null,
  shape,
  out,
});

/** How many ops read each value; outputs and pinned values count as read by infinitely many. */
export function countUses(g: Graph): Map<Storage, number> {
  const uses = new Map<Storage, number>();
  for (const op of g.ops) if (op.kind !== 'host') for (const s of readsOf(op)) uses.set(s, (uses.get(s) ?? 0) + 1);
  for (const s of [...g.outputs, ...g.pinned]) uses.set(s, Infinity);
  return uses;
}

/** A matmul or convolution primitive as a GEMM kernel with no epilogue yet. */
export function gemmOf(op: PrimOp): KernelOp {
  return {
    kind: 'kernel',
    core: {
      kind: 'gemm',
      prim: op.prim as GemmPrimitive,
      operands: op.inputs,
      xShapes: op.xShapes,
      params: op.params as Params[GemmPrimitive],
      gemmShape: op.shape,
    },
    prologue: null,
    epilogue: null,
    shape: op.shape,
    out: op.out,
  };
}

/** A lone unary, binary or ternary op as a fused kernel of one op. */
export function asFused(op: PrimOp): KernelOp | null {
  const operands = elementwiseOperands(op);
  if (!operands) return null;
  const x = operands.map((o, k): FusedExpr => ({ kind: 'input', k }));
  let expr: FusedExpr;
  if (op.prim === 'unary') expr = { kind: 'unary', op: op.params.op, p0: op.params.p0, p1: op.params.p1, x: x[0] };
  else if (op.prim === 'binary') expr = { kind: 'binary', op: op.params.op, a: x[0], b: x[1] };
  else if (op.prim === 'ternary') expr = { kind: 'ternary', op: op.params.op, c: x[0], a: x[1], b: x[2] };
  else return null; // a lone broadcast stays as it is
  return elementwiseKernel(
    { expr, inputs: operands.map((o) => o.s), reads: operands.map((o) => o.read) },
    op.shape,
    op.out,
  );
}

/**
 * The operands of an op the fusion pass can take, each with how the kernel reads it (FusedRead,
 * broadcastRead's: NumPy's broadcasting), or null: unary, binary and ternary ops, and broadcasts (read
 * through, no op of their own).
 */
export function elementwiseOperands(op: PrimOp): Operand[] | null {
  if (op.prim !== 'unary' && op.prim !== 'binary' && op.prim !== 'ternary' && op.prim !== 'broadcast') return null;
  return op.inputs.map((s, k) => ({ s, read: broadcastRead(op.xShapes[k], op.shape) }));
}

/** Whether two reads are the same (a fused kernel binds an input read one way once). */
export const sameRead = (a: FusedRead, b: FusedRead): boolean =>
  a.div === b.div &&
  a.mod === b.mod &&
  (a.outer?.length ?? 0) === (b.outer?.length ?? 0) &&
  (a.outer ?? []).every(
    (t, i) => t.div === b.outer![i].div && t.mod === b.outer![i].mod && t.stride === b.outer![i].stride,
  );
