// The graph's interpreter: one op's backend calls on this call's storages. A program runs every op
// through it once while recording (WebGPU), and on every call on a backend without a recorder (the CPU
// reference: the compiled step's twin); a replay runs it again for a per-call op whose data it cannot
// patch in place. A fused kernel is one backend call with its prologue, epilogue and update (fused.ts on
// WebGPU; on the CPU the same values, each intermediate stored as the eager ops store it).

import type { Backend, Storage, StoreAssign } from '../backend/backend.ts';
import type { FusedOptim } from '../backend/kernels.ts';
import { EFFECTS, type EffectName, type EffectParams } from './effects.ts';
import { RULES, matmulSpec, type Params, type Primitive } from './primitives.ts';
import { headInputs } from './passes/graph.ts';
import { isSymbolic, type KernelExpr, type KernelOp, type Op } from './trace.ts';

/** Primitive `prim`'s backend call (its rule's run), typed by the primitive. */
export function runPrimitive<P extends Primitive>(
  b: Backend,
  prim: P,
  xs: Storage[],
  params: Params[P],
  shape: number[],
  xShapes: number[][],
): Storage | 'view' {
  return RULES[prim].run(b, xs, params, shape, xShapes);
}

/** An effect's backend call, typed by the effect. */
function runEffect<E extends EffectName>(
  b: Backend,
  effect: E,
  xs: Storage[],
  params: EffectParams[E],
  shapes: number[][],
) {
  EFFECTS[effect].run(b, xs, params, shapes);
}

/**
 * Op `op`'s backend calls over `env` (value -> storage; other storages are read as they are), with
 * `params` where this call has per-call ones (else the traced params). Returns the op's value (null: an
 * effect).
 */
export function runOp(
  b: Backend,
  op: Exclude<Op, { kind: 'host' }>,
  env: Map<Storage, Storage>,
  params?: unknown,
): Storage | null {
  const value = (s: Storage) => (isSymbolic(s) ? env.get(s)! : s);
  if (op.kind === 'kernel') {
    const bind = (e: KernelExpr | null): KernelExpr | null => e && { ...e, inputs: e.inputs.map(value) };
    const assign = op.assign && { dst: value(op.assign.dst), expr: op.assign.expr };
    return runKernel(b, op, bind, headInputs(op).map(value), assign);
  }
  const xs = op.inputs.map(value);
  const perCall = op.perCall && params !== undefined;
  if (op.kind === 'effect') {
    runEffect(b, op.effect, xs, perCall ? (params as typeof op.params) : op.params, op.shapes);
    return null;
  }
  const out = runPrimitive(b, op.prim, xs, perCall ? (params as typeof op.params) : op.params, op.shape, op.xShapes);
  // A view (a reshape's) cannot occur in a compiled graph: the passes saw none.
  if (out === 'view') throw new Error(`internal: ${op.prim} made a view in a compiled graph`);
  return out;
}

/**
 * A fused kernel on this call's storages (`bind` binds an expression's inputs, `head` the core's
 * operands or the prologue's inputs): a reduction, GEMM or convolution core takes its prologue,
 * epilogue and update itself (reduce(), matmul() and conv() with `fuse`), a row kernel its stages'
 * epilogues (reduce()'s row form), and an elementwise kernel its update (elementwise() with `optim`).
 */
function runKernel(
  b: Backend,
  op: KernelOp,
  bind: (e: KernelExpr | null) => KernelExpr | null,
  head: Storage[],
  assign: StoreAssign | undefined,
): Storage {
  const { core } = op;
  const optim = optimOf(op);
  const pro = bind(op.prologue);
  if (core.kind === 'none') {
    const { expr, inputs, reads } = pro!;
    return b.elementwise({ expr, inputs, reads, n: core.n, optim });
  }
  if (core.kind === 'rows') {
    const { expr: final, inputs, reads } = pro!;
    const stages = core.stages.map((st) => ({ expr: st.expr, epilogue: bind(st.epilogue) }));
    return b.reduce({ stages, final, inputs, reads, geom: core.geom, spill: core.spill });
  }
  const fuse = { epilogue: bind(op.epilogue) ?? undefined, optim };
  if (core.kind === 'reduce') return b.reduce({ op: core.op, ...pro!, geom: core.geom, ...fuse, assign });
  if (assign) throw new Error('internal: an assign in the store of a GEMM kernel');
  const [x, w] = head;
  if (core.prim === 'matmul')
    return b.matmul(x, w, matmulSpec(core.params as Params['matmul'], core.gemmShape, core.xShapes), fuse);
  return b.conv(core.prim, x, w, (core.params as Params['conv2d']).geom, fuse);
}

/** The optimizer update a fused kernel runs in its store, with this call's params (or the trace's, on the traced call). */
function optimOf(op: KernelOp): FusedOptim | undefined {
  const o = op.optim;
  if (!o) return undefined;
  const p = o.cell?.value ?? o.params;
  const [param, , s1, s2, flags] = o.inputs;
  return { param, s1, s2, spec: p.spec, ...(p.check ? { check: { flags, ...p.check } } : {}) };
}
