// Running statistics in the statistic's kernel: an assign whose value is an expression of the assigned
// storage and of a fused reduction's result runs in that reduction's store.

import type { Storage } from '../../backend/backend.ts';
import { mapLeaves, readsAll, type FusedExpr } from '../../backend/kernels.ts';
import type { EffectParams } from '../effects.ts';
import type { KernelOp, Op } from '../trace.ts';
import { MAX_STORAGE_BINDINGS, readsOf, writesOf, type Graph } from './graph.ts';

/**
 * The assign's expression over the store's names (`acc` the result, input 0 dst's old value), or null
 * where it reads anything else, or reads dst or the result other than element for element.
 */
const storeExpr = (
  e: FusedExpr,
  inputs: Storage[],
  dst: Storage,
  result: Storage,
  read: (k: number) => boolean,
): FusedExpr | null =>
  mapLeaves(e, (l) => {
    if (l.kind === 'acc' || !read(l.k)) return null;
    const s = inputs[l.k];
    return s === dst ? { kind: 'input', k: 0 } : s === result ? { kind: 'acc' } : null;
  });

/**
 * Running statistics in the statistic's kernel: an assign_fused effect (src/graph/passes/in_place.ts)
 * whose expression reads only the assigned storage and one fused reduction's result, each element for
 * element (batch norm's running mean, (1 - m) r + m mean, and variance), becomes part of that
 * reduction's store (KernelOp.assign: one kernel fewer per statistic), where that is legal:
 * - the reduction reads not the assigned storage, has no optimizer update, and stays within the
 *   storage-buffer limit (the assign binds 1 more);
 * - no op between the reduction and the assign reads or writes the assigned storage (the write moves
 *   up to the reduction), and the assign has no per-call params.
 * The values are the same: the store computes the expression from the result as stored.
 */
export function fuseAssign(g: Graph): Graph {
  const ops: (Op | null)[] = [...g.ops];
  for (let j = 0; j < ops.length; j++) {
    const op = ops[j];
    if (op?.kind !== 'effect' || op.effect !== 'assign_fused' || op.perCall) continue;
    const [dst, ...inputs] = op.inputs;
    const { expr, reads, n } = op.params as EffectParams['assign_fused'];
    if (n !== dst.length) continue;
    // The reduction computing one of the inputs (the latest before the assign).
    let i = -1;
    for (let k = j - 1; k >= 0 && i < 0; k--) {
      const o = ops[k];
      if (o?.kind === 'kernel' && o.core.kind === 'reduce' && inputs.includes(o.out)) i = k;
    }
    if (i < 0) continue;
    const k0 = ops[i] as KernelOp;
    if (k0.optim || k0.assign || k0.out.length !== n || readsOf(k0).includes(dst)) continue;
    if (readsOf(k0).length + 2 > MAX_STORAGE_BINDINGS) continue;
    const e = storeExpr(expr, inputs, dst, k0.out, (k) => readsAll(reads[k], n));
    if (!e) continue;
    const touches = (o: Op | null) => o && o.kind !== 'host' && (readsOf(o).includes(dst) || writesOf(o).includes(dst));
    if (ops.slice(i + 1, j).some(touches)) continue;
    ops[i] = { ...k0, assign: { dst, expr: e } };
    ops[j] = null;
  }
  return { ...g, ops: ops.filter((op): op is Op => op !== null) };
}
