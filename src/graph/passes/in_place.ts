// In place: an assign of a fused kernel's value becomes the kernel writing into the assigned storage.

import type { Storage } from '../../backend/backend.ts';
import type { FusedOp, Op } from '../trace.ts';
import { asFused, countUses, readsOf, type Graph } from './graph.ts';

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
