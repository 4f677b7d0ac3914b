// A traced graph (src/graph/trace.ts) made runnable on one backend: the passes that run on it, then
// either a recording (WebGPU: the kernels are recorded once and replayed on every call, see
// src/device/recording.ts) or, on a backend without a recorder (the CPU reference), an interpreter that
// runs the graph op by op on every call with the primitives' own backend calls (the graph's CPU twin).
//
// Passes, in the order they run (one place for each rule):
//   dead code    an op whose value reaches no output, effect or later live op is dropped; a dropped
//                random draw keeps its per-call function, so the generator advances as in eager mode
//   constants    upload ops (tensor() inside the function), fills, and pure primitives over only such
//                values run once, when the program is built (foldConstants)
//   fusion       chains and trees of elementwise ops (unary, and binary ops whose operands have the
//                output's shape, one value, or a block of its dims: biases, channel scales) become one
//                generated kernel each (FusedExpr in src/backend/kernels.ts); sums, maxima and minima
//                over at most two runs of dims take their elementwise prologue and epilogue into one
//                strided reduction kernel (ReduceGeom), with no copies; matmuls and convolutions take
//                the elementwise ops after them into the GEMM core's store (epilogues); see
//                fuseElementwise for the rule of where a kernel ends
//   in place     an assign of a fused kernel's value becomes the kernel writing into the assigned
//                storage (writeInPlace)
//   optimizer    a parameter's optimizer step runs in the store of the kernel computing its gradient
//                (a matmul, a convolution, a fused reduction or elementwise kernel: fuseOptimizer)
//   liveness     each value is freed right after its last use, so the recording's buffers are reused
//                in last-use order (its buffers are the step's memory plan)
//
// A call: the per-call phase first (host ops and per-call params, in trace order: an optimizer's step
// count, a generator's counter), then the run: a replay with the patched uniforms, or the interpreter.

import type { Backend, Recording, Storage } from '../backend/backend.ts';
import {
  fusedOps,
  withAcc,
  type FusedEpilogue,
  type FusedExpr,
  type FusedOptim,
  type FusedRead,
  type ReduceGeom,
} from '../backend/kernels.ts';
import { phaseClock } from '../device/phases.ts';
import { contiguousStrides, numel } from '../shape.ts';
import { EFFECTS, type EffectParams } from './effects.ts';
import { RULES, matmulSpec, type Params, type Rule } from './primitives.ts';
import {
  isSymbolic,
  type FusedOp,
  type GemmFusedOp,
  type GemmPrimitive,
  type Op,
  type PrimOp,
  type ReduceFusedOp,
  type SymbolicStorage,
} from './trace.ts';

export interface Graph {
  ops: Op[];
  /** The call's tensor inputs, in argument order. */
  inputs: SymbolicStorage[];
  /** The storages whose values the call returns (symbolic or, for returned state, real). */
  outputs: Storage[];
  /** Values kept to the end of the call but not copied out (the gradients left on parameters). */
  pinned: Storage[];
}

/** Dead-code elimination: keeps ops that reach an output, an effect or host work (see the header). */
export function eliminateDeadCode(g: Graph): Graph {
  const live = new Set<Storage>([...g.outputs, ...g.pinned]);
  const kept: Op[] = [];
  for (let i = g.ops.length - 1; i >= 0; i--) {
    const op = g.ops[i];
    if (op.kind === 'prim' && !live.has(op.out)) {
      // Its per-call function still runs (a random draw advances its generator even when unused).
      const perCall = op.perCall;
      if (perCall) kept.push({ kind: 'host', run: () => void perCall() });
      continue;
    }
    if (op.kind !== 'host') for (const s of op.inputs) live.add(s);
    kept.push(op);
  }
  return { ...g, ops: kept.reverse() };
}

/** Largest value constant folding computes (a bigger one stays an op: it would live as long as the program). */
export const MAX_FOLDED = 1 << 16;

/**
 * Constant folding: uploads (tensor() inside the function), fills, and the primitives over only such
 * values (no random draw, nothing with per-call params) are computed once, by `run`, and leave the
 * graph (XLA and jax-js fold constants the same way). Not folded: values an effect reads or writes,
 * pinned values (they are handed to the caller), values past MAX_FOLDED elements (uploads excepted),
 * ops `run` cannot compute as a value of their own (null).
 */
export function foldConstants(
  g: Graph,
  run: (op: PrimOp, inputs: Storage[]) => Storage | null,
): { graph: Graph; constants: Map<Storage, Storage> } {
  const constants = new Map<Storage, Storage>();
  const touched = new Set<Storage>(g.pinned);
  for (const op of g.ops) if (op.kind === 'effect') for (const s of op.inputs) touched.add(s);
  const ops: Op[] = [];
  for (const op of g.ops) {
    const foldable =
      op.kind === 'prim' &&
      (op.prim === 'upload' ||
        (op.prim !== 'random' &&
          !op.perCall &&
          !touched.has(op.out) &&
          numel(op.shape) <= MAX_FOLDED &&
          op.inputs.every((x) => constants.has(x))));
    const value = foldable
      ? run(
          op,
          op.inputs.map((x) => constants.get(x)!),
        )
      : null;
    if (value) constants.set((op as PrimOp).out, value);
    else ops.push(op);
  }
  return { graph: { ...g, ops }, constants };
}

/** Most inputs of one fused kernel (WebGPU's default limit is 8 storage buffers per stage, with the output). */
export const MAX_FUSED_INPUTS = 6;
/** Most ops in one fused kernel (a bound on the generated WGSL). */
export const MAX_FUSED_OPS = 32;
/**
 * A kernel of at most this many ops whose value several elementwise ops read is computed again inside
 * each of them rather than stored once and read (XLA's fusion duplicates cheap producers the same way):
 * the same bytes are read, one kernel fewer runs. Broadcasts count as one op.
 */
export const MAX_DUPLICATED_OPS = 3;

interface Group {
  op: FusedOp | ReduceFusedOp | GemmFusedOp;
  pos: number;
  ops: number;
  original: PrimOp;
}

const GEMM_PRIMITIVES: GemmPrimitive[] = ['matmul', 'conv2d', 'conv2d_grad_input', 'conv2d_grad_weight'];

/** A kernel that can take elementwise ops after it as its epilogue: a fused reduction, a matmul or a conv. */
type WithEpilogue = ReduceFusedOp | GemmFusedOp;
/** The inputs such a kernel reads before its epilogue (the prologue's, or the GEMM's two operands). */
const headInputs = (op: WithEpilogue) => (op.kind === 'reduce_fused' ? op.reads.length : 2);

/**
 * Fusion. The rule of where a kernel ends, in one place:
 * - an elementwise op (unary, or binary with operands the kernel can read: see elementwiseOperands)
 *   joins the kernel that computes one of its operands when that operand is read element for element
 *   (the same number of elements: a reshape between them changes no index), no in-place update (effect) ran in between (it could have changed the kernel's
 *   inputs), and it is used by this op only (not by another op, an output or a kept gradient) or the
 *   kernel is small enough to compute again in each user (MAX_DUPLICATED_OPS; it goes once every user
 *   has taken it in); all while the kernel stays within MAX_FUSED_INPUTS inputs and MAX_FUSED_OPS ops;
 * - a sum, max or min (reduceGeometry) takes its operand's kernel in as its prologue, read at each
 *   element, under the same conditions; and an elementwise op that is a reduction's only user takes the
 *   reduction in, becoming its epilogue (applied to each result), one reduction per kernel;
 * - likewise an elementwise op that is a matmul's or convolution's only user takes it in as its
 *   epilogue, applied in the GEMM core's store (a matmul is never computed twice; a matmul no
 *   elementwise op took in stays the matmul primitive);
 * - everything else (matmul operands, copies, other broadcasts, random draws) is a boundary.
 * A kernel of one elementwise op stays that op's own kernel. (jax-js's splitGraphDataflow,
 * src/frontend/jit.ts, marks kernel boundaries the same way: outputs, reductions, values reaching two
 * consumers.)
 */
export function fuseElementwise(g: Graph): Graph {
  const uses = countUses(g);
  const remaining = new Map(uses);
  const out: (Op | null)[] = [];
  const groups = new Map<Storage, Group>();
  let lastEffect = -1;
  for (const op of g.ops) {
    if (op.kind === 'effect') lastEffect = out.length;
    if (op.kind === 'prim' && GEMM_PRIMITIVES.includes(op.prim as GemmPrimitive)) {
      // A matmul or convolution starts a kernel that the elementwise ops after it may join as its epilogue.
      const mm = gemmOf(op);
      groups.set(op.out, { op: mm, pos: out.length, ops: 1, original: op });
      out.push(mm);
      continue;
    }
    const geom = op.kind === 'prim' ? reduceGeometry(op) : null;
    const operands =
      op.kind === 'prim'
        ? geom
          ? [{ s: op.inputs[0], read: { div: 1, mod: numel(op.xShapes[0]) } }]
          : elementwiseOperands(op)
        : null;
    if (!operands) {
      out.push(op);
      continue;
    }
    const prim = op as PrimOp<'unary' | 'binary' | 'broadcast' | 'reduce'>;
    // The shape the kernel's expression is evaluated over: the output's, or a reduction's input's.
    const exprShape = geom ? prim.xShapes[0] : prim.shape;
    const n = numel(exprShape);
    const inputs: Storage[] = [],
      reads: FusedRead[] = [];
    let count = 1;
    /** A reduction or matmul this elementwise op takes as its epilogue's input (at most one). */
    let absorbed: WithEpilogue | null = null;
    const leaf = (s: Storage, r: FusedRead): FusedExpr => {
      let k = inputs.findIndex((x, j) => x === s && reads[j].div === r.div && reads[j].mod === r.mod);
      if (k < 0) {
        k = inputs.push(s) - 1;
        reads.push(r);
      }
      return { kind: 'input', k };
    };
    const operand = ({ s, read }: Operand): FusedExpr => {
      const p = groups.get(s);
      const u = uses.get(s) ?? 0;
      // Element for element: both sides index the same flat elements, so a reshape between them (a
      // linear layer's [1, rows, out] product read as [rows, out]) changes nothing.
      if (!p || read.div !== 1 || read.mod !== n || p.pos <= lastEffect || numel(p.op.shape) !== n)
        return leaf(s, read);
      const red = p.op.kind === 'reduce_fused' || p.op.kind === 'gemm_fused' ? p.op : null;
      const pin = red ? (red.epilogue?.inputs ?? []) : (p.op as FusedOp).inputs;
      const pre = red ? headInputs(red) : 0;
      const fits =
        count + p.ops <= MAX_FUSED_OPS &&
        inputs.length + pin.length + pre + (absorbed ? headInputs(absorbed) : 0) <= MAX_FUSED_INPUTS;
      // A reduction or matmul is taken in only once (never computed again), only into an elementwise op,
      // one per kernel.
      const ok = red ? u === 1 && !geom && !absorbed : u === 1 || (Number.isFinite(u) && p.ops <= MAX_DUPLICATED_OPS);
      if (!fits || !ok) return leaf(s, read);
      // Inlined here; a duplicated producer goes once its last consumer has inlined it.
      const left = remaining.get(s)! - 1;
      remaining.set(s, left);
      if (left === 0) {
        out[p.pos] = null;
        groups.delete(s);
      }
      count += p.ops;
      const preads = red ? (red.epilogue?.reads ?? []) : (p.op as FusedOp).reads;
      if (red) absorbed = red;
      const remap = (e: FusedExpr): FusedExpr =>
        e.kind === 'input'
          ? leaf(pin[e.k], preads[e.k])
          : e.kind === 'acc'
            ? e
            : e.kind === 'unary'
              ? { ...e, x: remap(e.x) }
              : { ...e, a: remap(e.a), b: remap(e.b) };
      return remap(red ? (red.epilogue?.expr ?? { kind: 'acc' }) : (p.op as FusedOp).expr);
    };
    let expr: FusedExpr;
    if (geom) {
      const e = operand(operands[0]);
      // The reduction of a bare input is still one kernel without the copies reduce() makes.
      const red: ReduceFusedOp = {
        kind: 'reduce_fused',
        op: (prim as PrimOp<'reduce'>).params.op as 'sum' | 'max' | 'min',
        expr: e,
        inputs,
        reads,
        geom,
        epilogue: null,
        xShape: prim.xShapes[0],
        dims: (prim as PrimOp<'reduce'>).params.dims,
        shape: prim.shape,
        out: prim.out,
      };
      groups.set(prim.out, { op: red, pos: out.length, ops: count, original: prim });
      out.push(red);
      continue;
    }
    if (prim.prim === 'broadcast') {
      // A broadcast is a read pattern, not an op: its consumers read its input through it.
      expr = leaf(operands[0].s, operands[0].read);
    } else if (prim.prim === 'unary') {
      const { op: u, p0, p1 } = (prim as PrimOp<'unary'>).params;
      expr = { kind: 'unary', op: u, p0, p1, x: operand(operands[0]) };
    } else {
      const a = operand(operands[0]),
        b = operand(operands[1]);
      expr = { kind: 'binary', op: (prim as PrimOp<'binary'>).params.op, a, b };
    }
    const r = absorbed as WithEpilogue | null;
    // An elementwise op that took in a reduction or a matmul is that kernel with this op as its epilogue.
    const fused: FusedOp | WithEpilogue = r
      ? { ...r, epilogue: { expr, inputs, reads }, shape: prim.shape, out: prim.out }
      : { kind: 'fused', expr, inputs, reads, n, shape: prim.shape, out: prim.out };
    groups.set(prim.out, { op: fused, pos: out.length, ops: count, original: prim });
    out.push(fused);
  }
  // A kernel of one op stays the op's own (the eager kernel, strided reads included).
  // So does a matmul that took no epilogue.
  for (const grp of groups.values()) {
    const alone = (grp.ops === 1 && grp.op.kind === 'fused') || (grp.op.kind === 'gemm_fused' && !grp.op.epilogue);
    if (alone && out[grp.pos] === grp.op) out[grp.pos] = grp.original;
  }
  return { ...g, ops: out.filter((op): op is Op => op !== null) };
}

interface Operand {
  s: Storage;
  read: FusedRead;
}

/** The storages every op reads (a fused kernel's epilogue inputs too). */
const readsOf = (op: Exclude<Op, { kind: 'host' }>): Storage[] =>
  op.kind === 'reduce_fused' || op.kind === 'gemm_fused' ? [...op.inputs, ...(op.epilogue?.inputs ?? [])] : op.inputs;

/** A lone unary or binary op as a fused kernel of one op, where the fused kernel can read its operands. */
function asFused(op: PrimOp): FusedOp | null {
  if (op.prim !== 'unary' && op.prim !== 'binary') return null;
  const operands = elementwiseOperands(op);
  if (!operands) return null;
  const x = operands.map((o, k): FusedExpr => ({ kind: 'input', k }));
  const expr: FusedExpr =
    op.prim === 'unary'
      ? {
          kind: 'unary',
          op: (op as PrimOp<'unary'>).params.op,
          p0: (op as PrimOp<'unary'>).params.p0,
          p1: (op as PrimOp<'unary'>).params.p1,
          x: x[0],
        }
      : { kind: 'binary', op: (op as PrimOp<'binary'>).params.op, a: x[0], b: x[1] };
  return {
    kind: 'fused',
    expr,
    inputs: operands.map((o) => o.s),
    reads: operands.map((o) => o.read),
    n: numel(op.shape),
    shape: op.shape,
    out: op.out,
  };
}

/** How many ops read each value; outputs and pinned values count as read by infinitely many. */
function countUses(g: Graph): Map<Storage, number> {
  const uses = new Map<Storage, number>();
  for (const op of g.ops) if (op.kind !== 'host') for (const s of readsOf(op)) uses.set(s, (uses.get(s) ?? 0) + 1);
  for (const s of [...g.outputs, ...g.pinned]) uses.set(s, Infinity);
  return uses;
}

/**
 * In place: an assign whose value a fused elementwise kernel computes for it alone becomes that kernel
 * writing into the assigned storage (one kernel fewer: batch norm's running statistics, whose update
 * reads them), where that is legal: the kernel reads the storage, if at all, element for element (each
 * element is read before it is written), and no op between the kernel and the assign reads the storage
 * or is an effect (the write moves up to the kernel).
 */
export function writeInPlace(g: Graph): Graph {
  const uses = countUses(g);
  const ops: (Op | null)[] = [...g.ops];
  const producer = new Map<Storage, { i: number; f: FusedOp }>();
  ops.forEach((op, i) => {
    const f = op?.kind === 'fused' ? op : op?.kind === 'prim' ? asFused(op) : null;
    if (f) producer.set(f.out, { i, f });
  });
  for (let j = 0; j < ops.length; j++) {
    const op = ops[j];
    if (op?.kind !== 'effect' || op.effect !== 'assign') continue;
    const [dst, src] = op.inputs;
    const p = producer.get(src);
    if (!p || uses.get(src) !== 1) continue;
    const { i, f } = p;
    if (f.n !== dst.length || f.inputs.some((x, k) => x === dst && !(f.reads[k].div === 1 && f.reads[k].mod === f.n)))
      continue;
    let clear = true;
    for (let k = i + 1; k < j && clear; k++) {
      const o = ops[k];
      if (o && o.kind !== 'host' && (o.kind === 'effect' || readsOf(o).includes(dst))) clear = false;
    }
    if (!clear) continue;
    ops[i] = {
      kind: 'effect',
      effect: 'assign_fused',
      inputs: [dst, ...f.inputs],
      shapes: [f.shape, ...f.inputs.map((x) => [x.length])],
      params: { expr: f.expr, reads: f.reads, n: f.n },
    };
    ops[j] = null;
  }
  return { ...g, ops: ops.filter((op): op is Op => op !== null) };
}

/** Storage buffers one kernel may bind (WebGPU's default maxStorageBuffersPerShaderStage). */
const MAX_STORAGE_BINDINGS = 8;

/** A fused kernel that can run an optimizer update in its store (fuseOptimizer). */
type WithStore = FusedOp | ReduceFusedOp | GemmFusedOp;

/** Storage buffers a fused kernel binds (its inputs, its output), before an optimizer update's 4. */
function storeBindings(op: WithStore): number {
  const epi = op.kind === 'fused' ? 0 : (op.epilogue?.inputs.length ?? 0);
  return (op.kind === 'gemm_fused' ? 2 : op.inputs.length) + epi + 1;
}

/** The op computing `grad` as a fused kernel that can take an optimizer update in its store, or null. */
function asStore(op: Op): WithStore | null {
  if (op.kind === 'fused' || op.kind === 'reduce_fused' || op.kind === 'gemm_fused') return op;
  if (op.kind !== 'prim') return null;
  return GEMM_PRIMITIVES.includes(op.prim as GemmPrimitive) ? gemmOf(op) : asFused(op);
}

/** A matmul or convolution primitive as a GEMM kernel with no epilogue yet. */
function gemmOf(op: PrimOp): GemmFusedOp {
  return {
    kind: 'gemm_fused',
    prim: op.prim as GemmPrimitive,
    inputs: op.inputs,
    xShapes: op.xShapes,
    params: op.params as Params[GemmPrimitive],
    gemmShape: op.shape,
    epilogue: null,
    shape: op.shape,
    out: op.out,
  };
}

/**
 * The optimizer in the gradient's kernel: an optimizer step (effect optim) whose gradient a fused kernel
 * computes (a matmul or a convolution's weight gradient: weights; a fused reduction: biases and
 * norms' scales, sums over the batch; a fused elementwise kernel: a gradient summed from two uses)
 * becomes part of that kernel's store, so the update needs no kernel of its own, where that is legal:
 * - the kernel reads none of the step's storages (an invocation would read a parameter element that
 *   another one has already updated), and stays within the storage-buffer limit (the update binds 4 more);
 * - nothing between the kernel and the step rewrites the gradient in place (clipping);
 * - the update must come after every op that reads the old parameter or state (a layer's input
 *   gradient, g W, often runs after its weight gradient once fusion has placed it with the activation's
 *   backward), so the kernel moves down to just after the last such op when nothing in between writes
 *   what it reads or reads what it computes; another parameter's step shares only the flags buffer, in
 *   its own slot.
 * The step's per-call params are still computed where the step was, by a host op, so per-call work
 * keeps its order.
 */
export function fuseOptimizer(g: Graph): Graph {
  let ops: Op[] = [...g.ops];
  /** What an op writes: a step its parameter, state and flags; an assign its destination. */
  const writes = (o: Op): Storage[] =>
    o.kind === 'effect'
      ? o.effect === 'optim'
        ? [o.inputs[0], o.inputs[2], o.inputs[3], o.inputs[4]]
        : [o.inputs[0]]
      : o.kind !== 'host' && o.kind !== 'prim' && o.optim
        ? [o.optim.inputs[0], o.optim.inputs[2], o.optim.inputs[3], o.optim.inputs[4]]
        : [];
  /** Whether an op reads or writes a step's state (a step reads its own state; it shares only the flags). */
  const touchesState = (o: Op, state: Storage[]): boolean => {
    if (o.kind === 'host') return false;
    const r =
      o.kind === 'effect' && o.effect === 'optim'
        ? [o.inputs[0], o.inputs[2], o.inputs[3]]
        : o.kind !== 'effect' && o.kind !== 'prim' && o.optim
          ? [...readsOf(o), o.optim.inputs[0], o.optim.inputs[2], o.optim.inputs[3]]
          : readsOf(o);
    return r.some((x) => state.includes(x)) || writes(o).some((x) => state.includes(x));
  };
  for (let j = 0; j < ops.length; j++) {
    const op = ops[j];
    if (op.kind !== 'effect' || op.effect !== 'optim') continue;
    const [param, grad, s1, s2, flags] = op.inputs;
    const i = ops.findIndex((o) => o.kind !== 'host' && o.kind !== 'effect' && o.out === grad);
    const k0 = i >= 0 ? asStore(ops[i]) : null;
    if (!k0 || k0.optim || param.length !== grad.length || storeBindings(k0) + 4 > MAX_STORAGE_BINDINGS) continue;
    const reads = readsOf(k0);
    if ([param, s1, s2, flags].some((x) => reads.includes(x))) continue;
    // The gradient must reach the step as the kernel stores it: an op between them that rewrites it in
    // place (gradient clipping's assign) keeps the step a kernel of its own.
    if (ops.slice(i + 1, j).some((o) => writes(o).includes(grad))) continue;
    // The last op between the two that reads or writes the parameter or its state: the kernel goes after it.
    const state = [param, s1, s2];
    let last = i;
    for (let k = i + 1; k < j; k++) if (touchesState(ops[k], state)) last = k;
    // Moving down is legal when nothing it passes writes what it reads or reads what it computes.
    const passed = ops.slice(i + 1, last + 1);
    if (
      passed.some((o) => writes(o).some((x) => reads.includes(x)) || (o.kind !== 'host' && readsOf(o).includes(grad)))
    )
      continue;
    const cell = op.perCall ? { value: undefined as EffectParams['optim'] | undefined } : null;
    const optim = { inputs: op.inputs, params: op.params as EffectParams['optim'], cell };
    const fused: WithStore =
      k0.kind === 'gemm_fused'
        ? { ...k0, epilogue: k0.epilogue ?? { expr: { kind: 'acc' }, inputs: [], reads: [] }, optim }
        : { ...k0, optim };
    const perCall = op.perCall as (() => EffectParams['optim']) | undefined;
    const next: Op[] = [];
    ops.forEach((o, k) => {
      if (k === i) return;
      if (k === j) {
        if (perCall && cell) next.push({ kind: 'host', run: () => void (cell.value = perCall()) });
        return;
      }
      next.push(o);
      if (k === last && last > i) next.push(fused);
    });
    if (last === i) next.splice(i, 0, fused);
    ops = next;
    // The step's place holds its host op, or the op after it now.
    if (!(perCall && cell)) j--;
  }
  return { ...g, ops };
}

/** Largest reduction fused (past a chunk the backend reduces in two passes; beyond this, in more). */
export const MAX_FUSED_REDUCE = 1 << 24;

/**
 * The geometry of a sum, max or min the fused reduction kernel can run (ReduceGeom), or null: at most
 * two runs of reduced dims once adjacent dims are merged, 1 to MAX_FUSED_REDUCE reduced elements.
 */
function reduceGeometry(op: PrimOp): ReduceGeom | null {
  if (op.prim !== 'reduce') return null;
  const { op: r, dims } = op.params as Params['reduce'];
  if (r !== 'sum' && r !== 'max' && r !== 'min') return null;
  const shape = op.xShapes[0];
  const R = numel(dims.map((d) => shape[d]));
  if (R < 1 || R > MAX_FUSED_REDUCE) return null;
  // Runs of adjacent dims of one kind (size-1 dims dropped), with their sizes and innermost strides.
  const strides = contiguousStrides(shape);
  const runs: { red: boolean; size: number; stride: number }[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const red = dims.includes(d);
    const last = runs[runs.length - 1];
    if (last && last.red === red) {
      last.size *= shape[d];
      last.stride = strides[d];
    } else {
      runs.push({ red, size: shape[d], stride: strides[d] });
    }
  }
  const red = runs.filter((x) => x.red).map((x): [number, number] => [x.size, x.stride]);
  if (red.length > 2) return null;
  if (red.length === 0) red.push([1, 0]);
  const kept = runs.filter((x) => !x.red).map((x): [number, number] => [x.size, x.stride]);
  return { rows: numel(op.shape), kept, red };
}

/**
 * The operands of an op the fusion pass can take, each with how the kernel reads it (FusedRead), or
 * null: unary ops, binary ops whose operands each have the output's shape, one value, or their non-1
 * dims in one block of the output's dims (a bias [C] over [N, C], [1, C, 1, 1] over [N, C, H, W]), and
 * broadcasts of that kind (read through, no op of their own).
 */
function elementwiseOperands(op: PrimOp): Operand[] | null {
  const n = numel(op.shape);
  if (op.prim === 'unary') return [{ s: op.inputs[0], read: { div: 1, mod: n } }];
  if (op.prim !== 'binary' && op.prim !== 'broadcast') return null;
  const out: Operand[] = [];
  for (let k = 0; k < op.inputs.length; k++) {
    const S = op.shape;
    const sh = [...Array(S.length - op.xShapes[k].length).fill(1), ...op.xShapes[k]];
    const big = sh.map((v, d) => (v !== 1 ? d : -1)).filter((d) => d >= 0);
    if (!big.length) {
      out.push({ s: op.inputs[k], read: { div: 1, mod: 1 } });
      continue;
    }
    const lo = big[0],
      hi = big[big.length - 1];
    for (let d = lo; d <= hi; d++) if (sh[d] !== S[d]) return null;
    out.push({ s: op.inputs[k], read: { div: numel(S.slice(hi + 1)), mod: numel(sh) } });
  }
  return out;
}

/** One op's per-call refresh of a recording (Program.patchPlan). */
type Patch =
  | { kind: 'random' | 'optim'; op: number; n: number }
  | {
      kind: 'fusedOptim';
      op: number;
      n: number;
      cell: { value: EffectParams['optim'] | undefined };
      params: EffectParams['optim'];
    }
  | { kind: 'run'; op: number; run: () => void };

export class Program {
  /** Kernel dispatches per call (WebGPU), or ops run per call (CPU). */
  readonly dispatches: number;
  private readonly graph: Graph;
  /** Values bound for the whole program: the constants, and on WebGPU every value's recorded storage. */
  private readonly bound = new Map<Storage, Storage>();
  private readonly constants: Storage[] = [];
  private readonly constantBytes: number;
  /** freeAfter[i]: the values whose last use is op i. */
  private readonly freeAfter: SymbolicStorage[][];
  private recording: Recording | null = null;
  /** Per-call params of this call, by op index. */
  private readonly callParams: unknown[];
  /** The ops with per-call host work (host ops, perCall params), in program order: a call runs only these. */
  private readonly perCallOps: number[] = [];
  /**
   * How a replay refreshes each op's per-call data in the recording, worked out once: a draw's counter
   * and an optimizer update's params written straight into the kernel's uniform words, other per-call
   * ops run again over the recording (patch).
   */
  private patches: Patch[] = [];
  /** A recording's output k comes from the call's input k (a number) or from this recorded storage. */
  private outputSources: (number | Storage)[] | null = null;
  /** A recording's pinned values: its own storages, the same every call. */
  private pinnedStorages: Storage[] | null = null;

  /** `inputs`: the storages of the call the program is built in (a recording binds them; see run()). */
  constructor(
    graph: Graph,
    private readonly backend: Backend,
    inputs: Storage[],
  ) {
    const made: Storage[] = [];
    const live0 = backend.memory().liveBytes;
    let folded: ReturnType<typeof foldConstants>;
    try {
      folded = foldConstants(eliminateDeadCode(graph), (op, xs) => {
        const out = (
          RULES[op.prim].run as (b: Backend, x: Storage[], p: unknown, s: number[], xs: number[][]) => Storage | 'view'
        )(backend, xs, op.params, op.shape, op.xShapes);
        if (out === 'view') return null;
        made.push(out);
        return out;
      });
    } catch (e) {
      for (const c of made) backend.free(c);
      throw e;
    }
    this.graph = fuseOptimizer(writeInPlace(fuseElementwise(folded.graph)));
    const ops = this.graph.ops;
    // The constants the program reads stay bound for its life; the folding's intermediate values go.
    const used = new Set<Storage>([...this.graph.outputs, ...this.graph.pinned]);
    for (const op of ops) {
      if (op.kind === 'host') continue;
      for (const x of op.inputs) used.add(x);
      if (op.kind === 'reduce_fused' || op.kind === 'gemm_fused')
        for (const x of op.epilogue?.inputs ?? []) used.add(x);
    }
    for (const [v, c] of folded.constants) {
      if (used.has(v)) {
        this.bound.set(v, c);
        this.constants.push(c);
      } else {
        backend.free(c);
      }
    }
    this.constantBytes = backend.memory().liveBytes - live0;
    this.callParams = new Array(ops.length);
    ops.forEach((op, i) => {
      if (op.kind === 'host' || ((op.kind === 'prim' || op.kind === 'effect') && op.perCall)) this.perCallOps.push(i);
    });
    // Liveness: the last op that reads each value; outputs and constants live for the whole program.
    const last = new Map<SymbolicStorage, number>();
    ops.forEach((op, i) => {
      if (op.kind === 'host') return;
      for (const s of op.inputs) if (isSymbolic(s) && !this.bound.has(s)) last.set(s, i);
      if (op.kind === 'reduce_fused' || op.kind === 'gemm_fused')
        for (const s of op.epilogue?.inputs ?? []) if (isSymbolic(s) && !this.bound.has(s)) last.set(s, i);
      if (op.kind !== 'effect' && !last.has(op.out)) last.set(op.out, i);
    });
    for (const s of [...this.graph.outputs, ...this.graph.pinned]) if (isSymbolic(s)) last.delete(s);
    this.freeAfter = ops.map(() => []);
    for (const [s, i] of last) this.freeAfter[i].push(s);
    const recorder = backend.recorder;
    if (recorder) {
      recorder.begin();
      try {
        const env = new Map(this.bound);
        this.graph.inputs.forEach((s, k) => {
          env.set(s, inputs[k]);
          this.bound.set(s, inputs[k]);
        });
        // Every value's recorded storage stays bound (a patch re-runs an op over the same storages).
        this.interpret(env, (i) => recorder.op(i), this.bound);
        this.recording = recorder.end(inputs);
        this.patches = this.patchPlan();
      } catch (e) {
        recorder.abort();
        this.disposeConstants();
        throw e;
      }
      this.dispatches = this.recording.dispatches;
    } else {
      this.dispatches = ops.filter((op) => op.kind !== 'host').length;
    }
  }

  /** One line per op of the program as it runs (WGPU_DEBUG=1 prints it when a step is compiled). */
  describe(): string[] {
    const shape = (sh: number[]) => `[${sh.join(', ')}]`;
    return this.graph.ops.map((op, i) => {
      const at = String(i).padStart(4);
      if (op.kind === 'host') return `${at} host`;
      if (op.kind === 'effect' && op.effect === 'assign_fused') {
        return `${at} assign_fused:${fusedOps((op.params as EffectParams['assign_fused']).expr).join('+')} ${shape(op.shapes[0])} (${op.inputs.length - 1} inputs)`;
      }
      if (op.kind === 'effect') return `${at} ${op.effect} ${op.shapes.map(shape).join(' ')}`;
      const step = op.kind !== 'prim' && op.optim ? [op.optim.params.spec.kind] : [];
      if (op.kind === 'fused')
        return `${at} fused:${[...fusedOps(op.expr), ...step].join('+')} ${shape(op.shape)} (${op.inputs.length} inputs)`;
      if (op.kind === 'reduce_fused') {
        const ops = [...fusedOps(op.expr), op.op, ...(op.epilogue ? fusedOps(op.epilogue.expr) : []), ...step];
        return `${at} fused:${ops.join('+')} ${shape(op.xShape)} over [${op.dims.join(', ')}] -> ${shape(op.shape)}`;
      }
      if (op.kind === 'gemm_fused') {
        const ops = [...fusedOps(op.epilogue!.expr), ...step];
        return `${at} fused:${[op.prim, ...ops].join('+')} ${op.xShapes.map(shape).join(' ')} -> ${shape(op.shape)}`;
      }
      const p = op.params as { op?: string };
      return `${at} ${op.prim}${p.op ? `:${p.op}` : ''} ${op.xShapes.map(shape).join(' ')} -> ${shape(op.shape)}`;
    });
  }

  /** Bytes the program owns between calls: its constants, and on WebGPU its recording's buffers. */
  get bytes(): number {
    return (this.recording?.bytes ?? 0) + this.constantBytes;
  }

  /** Whether a kernel choice made while recording has been measured otherwise since (then rebuild). */
  stale(): boolean {
    return this.recording?.stale() ?? false;
  }

  /** Whether the pinned values live in the program's own storages (a recording), the same every call. */
  get recorded(): boolean {
    return this.recording !== null;
  }

  /**
   * One call on `inputs` (the call's input storages, in graph order). `traced`: this call is the one the
   * graph was traced in, whose per-call work already ran. Returns new storages holding the outputs, and
   * the storages of the pinned values (the recording's own, or this call's, handed over).
   */
  run(inputs: Storage[], traced: boolean): { outputs: Storage[]; pinned: Storage[] } {
    const { ops, outputs } = this.graph;
    if (!traced) {
      const per = this.perCallOps;
      for (let j = 0; j < per.length; j++) {
        const i = per[j],
          op = ops[i];
        if (op.kind === 'host') op.run();
        else if (op.kind === 'prim' || op.kind === 'effect') this.callParams[i] = op.perCall!();
      }
    }
    const b = this.backend;
    const rec = this.recording;
    if (rec) {
      phaseClock?.mark('host');
      if (!traced) {
        const patches = this.patches;
        for (let j = 0; j < patches.length; j++) {
          const p = patches[j];
          if (p.kind === 'random') rec.patchRandom(p.op, p.n, (this.callParams[p.op] as Params['random']).spec);
          else if (p.kind === 'optim') {
            const { spec, check } = this.callParams[p.op] as EffectParams['optim'];
            rec.patchOptim(p.op, p.n, spec, check);
          } else if (p.kind === 'fusedOptim') {
            const { spec, check } = p.cell.value ?? p.params;
            rec.patchOptim(p.op, p.n, spec, check);
          } else if (p.kind === 'run') rec.patch(p.op, p.run);
        }
      }
      phaseClock?.mark('patch');
      const out: Storage[] = new Array(outputs.length);
      const copies: [Storage, Storage][] = new Array(outputs.length);
      this.outputSources ??= outputs.map((s) => {
        const k = this.graph.inputs.indexOf(s as SymbolicStorage);
        return k >= 0 ? k : (this.bound.get(s) ?? s);
      });
      for (let k = 0; k < outputs.length; k++) {
        out[k] = b.empty(outputs[k].length);
        // An output that is an input is copied from this call's input, not the one recorded.
        const from = this.outputSources[k];
        copies[k] = [typeof from === 'number' ? inputs[from] : from, out[k]];
      }
      phaseClock?.mark('outputs');
      rec.replay(inputs, copies);
      this.pinnedStorages ??= this.graph.pinned.map((s) => this.bound.get(s)!);
      return { outputs: out, pinned: this.pinnedStorages };
    }
    const env = new Map(this.bound);
    this.graph.inputs.forEach((s, k) => env.set(s, inputs[k]));
    this.interpret(env);
    // Each output in a storage of its own: a value computed by this call is handed over; an input, a
    // constant, state or a value returned twice is copied.
    const given = new Set<Storage>([...inputs, ...this.constants]);
    const pinned = this.graph.pinned.map((s) => env.get(s)!);
    for (const p of pinned) given.add(p);
    const out = outputs.map((s) => {
      const v = env.get(s) ?? s;
      if (isSymbolic(s) && !given.has(v)) {
        given.add(v);
        return v;
      }
      const copy = b.empty(v.length);
      EFFECTS.assign.run(b, [copy, v], {}, [[v.length]]);
      return copy;
    });
    return { outputs: out, pinned };
  }

  /**
   * Runs every op once over `env` (value -> storage), freeing each value after its last use; `record`
   * (while recording) also keeps every value's storage. The call's inputs belong to the caller and are
   * never freed.
   */
  private interpret(env: Map<Storage, Storage>, onOp?: (i: number) => void, record?: Map<Storage, Storage>): void {
    const ops = this.graph.ops;
    const b = this.backend;
    const callers = new Set<Storage>(this.graph.inputs);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op.kind === 'host') continue;
      onOp?.(i);
      const out = this.runOp(op, i, env);
      if (op.kind !== 'effect') {
        env.set(op.out, out!);
        record?.set(op.out, out!);
      }
      for (const s of this.freeAfter[i]) {
        const st = env.get(s);
        if (st && !callers.has(s)) b.free(st);
        env.delete(s);
      }
    }
  }

  /** Op i's backend call, with this call's params where it has per-call ones. */
  private runOp(op: Exclude<Op, { kind: 'host' }>, i: number, env: Map<Storage, Storage>): Storage | null {
    const xs = op.inputs.map((s) => (isSymbolic(s) ? env.get(s)! : s));
    if (op.kind === 'fused') {
      const optim = this.optimOf(op);
      if (!optim) return this.backend.elementwise(op.expr, xs, op.reads, op.n);
      if (this.backend.elementwiseOptim) return this.backend.elementwiseOptim(op.expr, xs, op.reads, op.n, optim);
      return this.optimAfter(op, this.backend.elementwise(op.expr, xs, op.reads, op.n));
    }
    if (op.kind === 'reduce_fused' || op.kind === 'gemm_fused') {
      const es = (op.epilogue?.inputs ?? []).map((s) => (isSymbolic(s) ? env.get(s)! : s));
      return op.kind === 'reduce_fused' ? this.reduceFused(op, xs, es) : this.gemmFused(op, xs, es);
    }
    const params = op.perCall && this.callParams[i] !== undefined ? this.callParams[i] : op.params;
    if (op.kind === 'effect') {
      (EFFECTS[op.effect].run as (b: Backend, x: Storage[], p: unknown, sh: number[][]) => void)(
        this.backend,
        xs,
        params,
        op.shapes,
      );
      return null;
    }
    const rule = RULES[op.prim] as Rule<typeof op.prim>;
    const out = (rule.run as (b: Backend, x: Storage[], p: unknown, s: number[], xs: number[][]) => Storage | 'view')(
      this.backend,
      xs,
      params,
      op.shape,
      op.xShapes,
    );
    if (out === 'view') throw new Error(`internal: ${op.prim} made a view in a compiled graph`);
    return out;
  }

  /**
   * A fused reduction: one kernel where the backend has it; otherwise (the CPU twin) the expression by
   * elementwise() then the reduce primitive's own backend call, which is the eager op's arithmetic.
   */
  private reduceFused(op: ReduceFusedOp, xs: Storage[], es: Storage[]): Storage {
    const b = this.backend;
    const epi = op.epilogue;
    if (b.reduceFused)
      return b.reduceFused(
        op.op,
        op.expr,
        xs,
        op.reads,
        op.geom,
        epi ? { expr: epi.expr, inputs: es, reads: epi.reads } : undefined,
        this.optimOf(op),
      );
    const n = numel(op.xShape);
    const bare = op.expr.kind === 'input' && op.reads[0].mod === n;
    const x = bare ? xs[0] : b.elementwise(op.expr, xs, op.reads, n);
    const y = (
      RULES.reduce.run as (b: Backend, x: Storage[], p: Params['reduce'], s: number[], xs: number[][]) => Storage
    )(b, [x], { op: op.op, dims: op.dims, keepdim: true }, op.shape, [op.xShape]);
    if (!bare) b.free(x);
    return this.optimAfter(op, epi ? this.epilogueAfter(y, { ...epi, inputs: es }) : y);
  }

  /**
   * A matmul or convolution with its epilogue: one kernel where the backend has it; otherwise (the CPU
   * twin) the primitive's own backend call, then the epilogue by elementwise().
   */
  private gemmFused(op: GemmFusedOp, [a, b]: Storage[], es: Storage[]): Storage {
    const be = this.backend;
    const epi: FusedEpilogue = { ...op.epilogue!, inputs: es };
    const optim = this.optimOf(op);
    if (numel(op.gemmShape) > 0) {
      if (op.prim === 'matmul' && be.matmulFused)
        return be.matmulFused(a, b, matmulSpec(op.params as Params['matmul'], op.gemmShape, op.xShapes), epi, optim);
      if (op.prim !== 'matmul' && be.convFused)
        return be.convFused(op.prim, a, b, (op.params as Params['conv2d']).geom, epi, optim);
    }
    const rule = RULES[op.prim] as Rule<GemmPrimitive>;
    const y = (rule.run as (b: Backend, x: Storage[], p: unknown, s: number[], xs: number[][]) => Storage)(
      be,
      [a, b],
      op.params,
      op.gemmShape,
      op.xShapes,
    );
    return this.optimAfter(op, this.epilogueAfter(y, epi));
  }

  /** The replay's patches (see `patches`), in program order. */
  private patchPlan(): Patch[] {
    const plan: Patch[] = [];
    this.graph.ops.forEach((op, i) => {
      // A draw's counter and an unfused optimizer step's params are their kernel's whole uniform block;
      // other per-call ops run their backend calls again over the recording.
      if (op.kind === 'prim' && op.prim === 'random' && op.perCall) {
        if (op.out.length) plan.push({ kind: 'random', op: i, n: op.out.length });
      } else if (op.kind === 'effect' && op.effect === 'optim' && op.perCall) {
        plan.push({ kind: 'optim', op: i, n: op.inputs[0].length });
      } else if ((op.kind === 'prim' || op.kind === 'effect') && op.perCall) {
        plan.push({ kind: 'run', op: i, run: () => void this.runOp(op, i, this.bound) });
      } else if ((op.kind === 'fused' || op.kind === 'reduce_fused' || op.kind === 'gemm_fused') && op.optim?.cell) {
        // An update in a kernel's store: only its params change, written into the kernel's uniforms.
        const { inputs, cell, params } = op.optim;
        plan.push({ kind: 'fusedOptim', op: i, n: inputs[0].length, cell, params });
      }
    });
    return plan;
  }

  /** The optimizer update a fused kernel runs in its store, with this call's params (or the trace's, on the traced call). */
  private optimOf(op: FusedOp | ReduceFusedOp | GemmFusedOp): FusedOptim | undefined {
    const o = op.optim;
    if (!o) return undefined;
    const p = o.cell?.value ?? o.params;
    const [param, , s1, s2, flags] = o.inputs;
    return { param, s1, s2, spec: p.spec, ...(p.check ? { check: { flags, ...p.check } } : {}) };
  }

  /**
   * Where the backend has no kernel with the update in its store (the CPU twin): the step's own backend
   * call, on the gradient `g` just computed (eager mode's numbers). Returns g.
   */
  private optimAfter(op: FusedOp | ReduceFusedOp | GemmFusedOp, g: Storage): Storage {
    const o = op.optim;
    if (o) {
      const [param, , s1, s2, flags] = o.inputs;
      EFFECTS.optim.run(
        this.backend,
        [param, g, s1, s2, flags],
        o.cell?.value ?? o.params,
        o.inputs.map((x) => [x.length]),
      );
    }
    return g;
  }

  /** The epilogue with the values y (freed) as one more input, read element for element. */
  private epilogueAfter(y: Storage, epi: FusedEpilogue): Storage {
    const r = this.backend.elementwise(
      withAcc(epi.expr, epi.inputs.length),
      [...epi.inputs, y],
      [...epi.reads, { div: 1, mod: y.length }],
      y.length,
    );
    this.backend.free(y);
    return r;
  }

  private disposeConstants(): void {
    for (const s of this.constants) this.backend.free(s);
    this.constants.length = 0;
  }

  dispose(): void {
    this.recording?.dispose();
    this.recording = null;
    this.disposeConstants();
  }
}
