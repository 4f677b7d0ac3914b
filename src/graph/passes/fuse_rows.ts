// Row kernels: a chain of reductions over the same rows and the elementwise ops between and after them
// (a norm's backward) becomes one kernel that sums each row in stages, then writes its elements.

import type { Storage } from '../../backend/backend.ts';
import {
  fusedOps,
  mapLeaves,
  readAt,
  readsAll,
  reducedSize,
  rowRead,
  type FusedExpr,
  type FusedRead,
} from '../../backend/kernels.ts';
import { numel, sameShape } from '../../shape.ts';
import type { KernelExpr, KernelOp, Op } from '../trace.ts';
import { MAX_STORAGE_BINDINGS, countUses, readsOf, sameRead, type Graph } from './graph.ts';

/** The most elements a row kernel sums per row (the fused reduction's one-pass limit, WORKGROUP_CHUNK). */
const MAX_ROW = 4096;

/** Whether `r` reads, at every element of an n-element tensor, the element's row as `row` does. */
function readsRow(r: FusedRead, row: FusedRead, n: number): boolean {
  if (sameRead(r, row)) return true;
  for (let e = 0; e < n; e++) if (readAt(r, e) !== readAt(row, e)) return false;
  return true;
}

/**
 * The most ops one expression of a row kernel may have: an elementwise member's value is inlined where
 * it is read (plan()), so a long chain of values each inlined into the next would grow without bound
 * (a norm's backward: about 20).
 */
const MAX_EXPR_OPS = 48;

/** A sum the chain can start with or take as its next stage: over at most MAX_ROW elements a row, no store update. */
const isStage = (op: Op): op is KernelOp & { core: { kind: 'reduce' } } =>
  op.kind === 'kernel' &&
  op.core.kind === 'reduce' &&
  op.core.op === 'sum' &&
  !op.optim &&
  !op.assign &&
  reducedSize(op.core.geom) <= MAX_ROW;

/**
 * A chain's state: the kernel's inputs, its stages, the values its elementwise members compute. While a
 * chain grows, an expression reads stage j's value as input -1 - j and elementwise value i as input
 * -1001 - i (STAT and VALUE below); plan() then inlines each value where it is read, or spills it.
 */
interface Chain {
  inputs: Storage[];
  reads: FusedRead[];
  /** The stages' results. */
  stats: Storage[];
  stages: { expr: FusedExpr; epilogue: KernelExpr | null }[];
  /** The elementwise members' results, and their expressions. */
  values: Storage[];
  exprs: FusedExpr[];
}

const STAT = (j: number): FusedExpr => ({ kind: 'input', k: -1 - j });
const VALUE = (i: number): FusedExpr => ({ kind: 'input', k: -1001 - i });
/** The spilled value's leaf until the end (then input n + K). */
const SPILL = -1000;

/** The chain's copy (a candidate end keeps the state as it was there). */
const copy = (c: Chain): Chain => ({
  inputs: [...c.inputs],
  reads: [...c.reads],
  stats: [...c.stats],
  stages: [...c.stages],
  values: [...c.values],
  exprs: [...c.exprs],
});

/** The values an expression reads directly. */
function valuesIn(e: FusedExpr, out = new Set<number>()): Set<number> {
  mapLeaves(e, (x) => {
    if (x.kind === 'input' && x.k <= -1001) out.add(-1001 - x.k);
    return x;
  });
  return out;
}

/**
 * Where each value of a chain ending in value `last` is computed: a value that two of the kernel's
 * functions (its stages' element expressions, its final expression) would compute, directly or inside
 * another inlined value, is computed once, in the first, stored in the output at its element (a
 * spill; the output holds one value an element until the final writes it) and read back by the
 * others, as the unfused kernels store it once and read the stored value: two copies of it computed
 * apart could round apart (a shader compiler contracts each copy's multiplies and adds its own way).
 * The rest are inlined. Null where more than one value would need the spill, or an expression would
 * exceed MAX_EXPR_OPS.
 */
function plan(
  c: Chain,
  last: number,
): { stages: FusedExpr[]; final: FusedExpr; spill?: { expr: FusedExpr; stage: number } } | null {
  const K = c.stages.length;
  const fns = [...c.stages.map((st) => st.expr), c.exprs[last]];
  const evalIn: Set<number>[] = [];
  const spilled = new Map<number, number>();
  for (let i = last - 1; i >= 0; i--) {
    const at = new Set<number>();
    fns.forEach((e, f) => valuesIn(e).has(i) && at.add(f));
    for (let w = i + 1; w < last; w++) {
      if (!valuesIn(c.exprs[w]).has(i)) continue;
      const sf = spilled.get(w);
      for (const f of sf !== undefined ? [sf] : (evalIn[w] ?? [])) at.add(f);
    }
    evalIn[i] = at;
    if (at.size >= 2) spilled.set(i, Math.min(...at));
  }
  if (spilled.size > 1) return null;
  const resolve = (e: FusedExpr): FusedExpr =>
    mapLeaves(e, (x) => {
      if (x.kind !== 'input' || x.k > -1001) return x;
      const i = -1001 - x.k;
      return spilled.has(i) ? { kind: 'input', k: SPILL } : resolve(c.exprs[i]);
    })!;
  const stages = c.stages.map((st) => resolve(st.expr));
  const final = resolve(c.exprs[last]);
  const [sp] = [...spilled];
  const spill = sp && { expr: resolve(c.exprs[sp[0]]), stage: sp[1] };
  if ([...stages, final, ...(spill ? [spill.expr] : [])].some((e) => fusedOps(e).length > MAX_EXPR_OPS)) return null;
  // A spill stage's function computes the value before it reads it; stages before it never read it.
  if (spill && spill.stage >= K) return null;
  return { stages, final, ...(spill ? { spill } : {}) };
}

/**
 * Row kernels: a fused sum (over at most 4,096 elements a row, with no update in its store) and the ops
 * right after it, while each is a fused sum over the same tensor and dims or an elementwise kernel of
 * that tensor's shape, become one kernel (core `rows`, Backend's RowsReduce) where that is legal:
 * - a member reads an earlier member's value only as that value is laid out: an elementwise value
 *   element for element (inlined where it is read, or computed once and kept: plan()), a sum's result
 *   at each element's row (or at the row, in a later sum's epilogue);
 * - every value but the last member's (an elementwise one) is read only inside the chain;
 * - the kernel binds at most 8 storage buffers.
 * The members are consecutive ops, so nothing runs between them. A norm's backward (its two sums and
 * the elementwise ops between and after them: 4 kernels) becomes 1.
 */
export function fuseRows(g: Graph): Graph {
  const uses = countUses(g);
  const out: Op[] = [];
  for (let i = 0; i < g.ops.length;) {
    const made = chainAt(g.ops, i, uses);
    if (made) {
      out.push(made.op);
      i = made.end;
    } else out.push(g.ops[i++]);
  }
  return { ...g, ops: out };
}

/** The row kernel of the longest legal chain starting at ops[i], and the index after it, or null. */
function chainAt(ops: Op[], i: number, uses: Map<Storage, number>): { op: KernelOp; end: number } | null {
  const first = ops[i];
  if (!isStage(first)) return null;
  const { xShape, dims, geom } = first.core;
  const n = numel(xShape);
  const row = rowRead(geom);
  const c: Chain = { inputs: [], reads: [], stats: [], stages: [], values: [], exprs: [] };
  const ends: { chain: Chain; end: number; out: KernelOp['out'] }[] = [];
  /** An element-level expression of a member over the chain (null: it reads a value another way). */
  const atElement = ({ expr, inputs, reads }: KernelExpr): FusedExpr | null =>
    mapLeaves(expr, (e) => {
      if (e.kind === 'acc') return null;
      const s = inputs[e.k],
        r = reads[e.k];
      const v = c.values.indexOf(s);
      if (v >= 0) return readsAll(r, n) ? VALUE(v) : null;
      const j = c.stats.indexOf(s);
      if (j >= 0) return readsRow(r, row, n) ? STAT(j) : null;
      let k = c.inputs.findIndex((x, q) => x === s && sameRead(c.reads[q], r));
      if (k < 0) {
        k = c.inputs.length;
        c.inputs.push(s);
        c.reads.push(r);
      }
      return { kind: 'input', k };
    });
  /** A sum's epilogue over its own inputs and the earlier stages (read at the row). */
  const atRow = (epi: KernelExpr): KernelExpr | null => {
    const own: KernelExpr = { expr: { kind: 'acc' }, inputs: [], reads: [] };
    const expr = mapLeaves(epi.expr, (e) => {
      if (e.kind === 'acc') return e;
      const s = epi.inputs[e.k],
        r = epi.reads[e.k];
      if (c.values.includes(s)) return null;
      const j = c.stats.indexOf(s);
      if (j >= 0) return readsAll(r, geom.rows) ? STAT(j) : null;
      own.inputs.push(s);
      own.reads.push(r);
      return { kind: 'input', k: own.inputs.length - 1 };
    });
    return expr && { ...own, expr };
  };
  for (let k = i; k < ops.length; k++) {
    const op = ops[k];
    if (op.kind !== 'kernel' || op.optim || op.assign) break;
    if (isStage(op) && sameShape(op.core.xShape, xShape) && sameShape(op.core.dims, dims)) {
      const expr = atElement(op.prologue!);
      const epilogue = op.epilogue ? atRow(op.epilogue) : null;
      if (!expr || (op.epilogue && !epilogue)) break;
      c.stages.push({ expr, epilogue });
      c.stats.push(op.out);
    } else if (op.core.kind === 'none' && sameShape(op.shape, xShape) && k > i) {
      const expr = atElement(op.prologue!);
      if (!expr) break;
      c.values.push(op.out);
      c.exprs.push(expr);
      ends.push({ chain: copy(c), end: k + 1, out: op.out });
    } else break;
    const bindings = c.inputs.length + c.stages.reduce((a, st) => a + (st.epilogue?.inputs.length ?? 0), 0) + 1;
    if (bindings > MAX_STORAGE_BINDINGS) {
      if (ends.at(-1)?.end === k + 1) ends.pop();
      break;
    }
  }
  // The longest chain whose inner values no op outside it reads, with a plan.
  for (const { chain, end, out } of ends.reverse()) {
    const members = ops.slice(i, end);
    const inner = new Map<Storage, number>();
    for (const m of members) if (m.kind !== 'host') for (const s of readsOf(m)) inner.set(s, (inner.get(s) ?? 0) + 1);
    const made = members.flatMap((m) => (m.kind === 'kernel' && m.out !== out ? [m.out] : []));
    if (!made.every((s) => uses.get(s) === inner.get(s))) continue;
    const p = plan(chain, chain.values.length - 1);
    if (!p) continue;
    const n0 = chain.inputs.length,
      K = chain.stages.length;
    // Stage j's value: input n0 + j (a stage's epilogue: its own inputs' count + j); the spill: n0 + K.
    const fix = (e: FusedExpr, at: number): FusedExpr =>
      mapLeaves(e, (x) =>
        x.kind !== 'input' || x.k >= 0 ? x : { kind: 'input', k: x.k === SPILL ? n0 + K : at - 1 - x.k },
      )!;
    const last = ops[end - 1] as KernelOp;
    return {
      op: {
        kind: 'kernel',
        core: {
          kind: 'rows',
          geom,
          xShape,
          dims,
          stages: chain.stages.map((st, k) => ({
            expr: fix(p.stages[k], n0),
            epilogue: st.epilogue && { ...st.epilogue, expr: fix(st.epilogue.expr, st.epilogue.inputs.length) },
          })),
          ...(p.spill ? { spill: { expr: fix(p.spill.expr, n0), stage: p.spill.stage } } : {}),
        },
        prologue: { expr: fix(p.final, n0), inputs: chain.inputs, reads: chain.reads },
        epilogue: null,
        shape: last.shape,
        out,
      },
      end,
    };
  }
  return null;
}
