// Fusion: chains and trees of elementwise ops become one generated kernel each (FusedExpr in
// src/backend/kernels.ts); sums, maxima and minima take their elementwise prologue and epilogue into one
// strided reduction kernel (ReduceGeom); matmuls and convolutions take the elementwise ops after them into
// the GEMM core's store (epilogues). fuseElementwise states the rule of where a kernel ends.

import type { Storage } from '../../backend/backend.ts';
import { mapLeaves, readsAll, type FusedExpr, type FusedRead, type ReduceGeom } from '../../backend/kernels.ts';
import { contiguousStrides, numel } from '../../shape.ts';
import type { GemmPrimitive, KernelOp, Op, PrimOp } from '../trace.ts';
import {
  GEMM_PRIMITIVES,
  countUses,
  elementwiseKernel,
  sameRead,
  elementwiseOperands,
  gemmOf,
  headInputs,
  tailOf,
  type Graph,
  type Operand,
} from './graph.ts';

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
  op: KernelOp;
  pos: number;
  ops: number;
  original: PrimOp;
}

/**
 * Fusion. The rule of where a kernel ends, in one place:
 * - an elementwise op (unary, binary or ternary, its operands read as NumPy broadcasts them: see
 *   elementwiseOperands) joins the kernel that computes one of its operands when that operand is read
 *   element for element (the same number of elements: a reshape between them changes no index), no
 *   in-place update (effect) in between read or wrote one of that kernel's inputs (the kernel would
 *   read them updated: a parameter after its step, running statistics after their assign), and it is
 *   used by this op only (not by another op, an output or a kept gradient) or the
 *   kernel is small enough to compute again in each user (MAX_DUPLICATED_OPS; it goes once every user
 *   has taken it in); all while the kernel stays within MAX_FUSED_INPUTS inputs and MAX_FUSED_OPS ops;
 * - a sum, max or min (reduceGeometry) takes its operand's kernel in as its prologue, read at each
 *   element, under the same conditions; and an elementwise op that is a reduction's only user takes the
 *   reduction in, becoming its epilogue (applied to each result), one reduction per kernel;
 * - likewise an elementwise op that is a matmul's or convolution's only user takes it in as its
 *   epilogue, applied in the GEMM core's store (a matmul is never computed twice; a matmul no
 *   elementwise op took in stays the matmul primitive);
 * - everything else (matmul operands, copies, a broadcast operand's producer, random draws) is a
 *   boundary.
 * A kernel of one elementwise op stays that op's own kernel. (jax-js's splitGraphDataflow,
 * src/frontend/jit.ts, marks kernel boundaries the same way: outputs, reductions, values reaching two
 * consumers.)
 */
export function fuseElementwise(g: Graph): Graph {
  const uses = countUses(g);
  const remaining = new Map(uses);
  const out: (Op | null)[] = [];
  const groups = new Map<Storage, Group>();
  // Per storage, the position in `out` of the last effect that reads or writes it: a producer is not
  // inlined past an effect that touches one of its inputs (it would read them updated: a parameter
  // after its optimizer step, running statistics after their assign).
  const touched = new Map<Storage, number>();
  const crossesEffect = (p: Group) =>
    [...(p.op.core.kind !== 'none' ? headInputs(p.op) : []), ...tailOf(p.op).inputs].some(
      (s) => (touched.get(s) ?? -1) > p.pos,
    );
  for (const op of g.ops) {
    if (op.kind === 'effect') for (const s of op.inputs) touched.set(s, out.length);
    if (op.kind === 'prim' && GEMM_PRIMITIVES.includes(op.prim as GemmPrimitive)) {
      // A matmul or convolution starts a kernel that the elementwise ops after it may join as its epilogue.
      const mm = gemmOf(op);
      groups.set(op.out, { op: mm, pos: out.length, ops: 1, original: op });
      out.push(mm);
      continue;
    }
    const reduction = op.kind === 'prim' ? reduceGeometry(op) : null;
    const geom = reduction?.geom;
    const operands =
      op.kind === 'prim'
        ? geom
          ? [{ s: op.inputs[0], read: { div: 1, mod: numel(op.xShapes[0]) } }]
          : elementwiseOperands(op)
        : null;
    if (!operands || op.kind !== 'prim') {
      out.push(op);
      continue;
    }
    const prim = op;
    // The shape the kernel's expression is evaluated over: the output's, or a reduction's input's.
    const exprShape = geom ? prim.xShapes[0] : prim.shape;
    const n = numel(exprShape);
    const inputs: Storage[] = [],
      reads: FusedRead[] = [];
    let count = 1;
    /** A reduction or matmul this elementwise op takes in, becoming its epilogue (at most one). */
    let absorbed: KernelOp | null = null;
    const leaf = (s: Storage, r: FusedRead): FusedExpr => {
      let k = inputs.findIndex((x, j) => x === s && sameRead(reads[j], r));
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
      if (!p || !readsAll(read, n) || numel(p.op.shape) !== n || crossesEffect(p)) return leaf(s, read);
      // A kernel with a core (a reduction, a GEMM) is continued after its core: in its epilogue.
      const red = p.op.core.kind !== 'none' ? p.op : null;
      const tail = tailOf(p.op);
      const pre = red ? headInputs(red).length : 0;
      const fits =
        count + p.ops <= MAX_FUSED_OPS &&
        inputs.length + tail.inputs.length + pre + (absorbed ? headInputs(absorbed).length : 0) <= MAX_FUSED_INPUTS;
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
      if (red) absorbed = red;
      return mapLeaves(tail.expr, (l) => (l.kind === 'input' ? leaf(tail.inputs[l.k], tail.reads[l.k]) : l));
    };
    let expr: FusedExpr;
    if (geom && prim.prim === 'reduce') {
      const e = operand(operands[0]);
      // The reduction of a bare input is still one kernel without the copies reduce() makes.
      const red: KernelOp = {
        kind: 'kernel',
        core: {
          kind: 'reduce',
          op: reduction!.op,
          geom,
          xShape: prim.xShapes[0],
          dims: prim.params.dims,
        },
        prologue: { expr: e, inputs, reads },
        epilogue: null,
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
      const { op: u, p0, p1 } = prim.params;
      expr = { kind: 'unary', op: u, p0, p1, x: operand(operands[0]) };
    } else if (prim.prim === 'binary') {
      const a = operand(operands[0]),
        b = operand(operands[1]);
      expr = { kind: 'binary', op: prim.params.op, a, b };
    } else if (prim.prim === 'ternary') {
      const [c, a, b] = operands.map(operand);
      expr = { kind: 'ternary', op: prim.params.op, c, a, b };
    } else {
      throw new Error(`internal: ${prim.prim} has elementwise operands`);
    }
    const r = absorbed as KernelOp | null;
    // An elementwise op that took in a reduction or a matmul is that kernel with this op as its epilogue.
    const fused: KernelOp = r
      ? { ...r, epilogue: { expr, inputs, reads }, shape: prim.shape, out: prim.out }
      : elementwiseKernel({ expr, inputs, reads }, prim.shape, prim.out);
    groups.set(prim.out, { op: fused, pos: out.length, ops: count, original: prim });
    out.push(fused);
  }
  // A kernel of one op stays the op's own (the eager kernel, strided reads included).
  // So does a matmul that took no epilogue.
  for (const grp of groups.values()) {
    const core = grp.op.core.kind;
    const alone = (grp.ops === 1 && core === 'none') || (core === 'gemm' && !grp.op.epilogue);
    if (alone && out[grp.pos] === grp.op) out[grp.pos] = grp.original;
  }
  return { ...g, ops: out.filter((op): op is Op => op !== null) };
}

/** Largest reduction fused (past a chunk the backend reduces in two passes; beyond this, in more). */
export const MAX_FUSED_REDUCE = 1 << 24;

/**
 * A sum, max or min the fused reduction kernel can run, with its geometry (ReduceGeom), or null: at most
 * two runs of reduced dims once adjacent dims are merged, 1 to MAX_FUSED_REDUCE reduced elements.
 */
function reduceGeometry(op: PrimOp): { op: 'sum' | 'max' | 'min'; geom: ReduceGeom } | null {
  if (op.prim !== 'reduce') return null;
  const { op: r, dims } = op.params;
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
  return { op: r, geom: { rows: numel(op.shape), kept, red } };
}
