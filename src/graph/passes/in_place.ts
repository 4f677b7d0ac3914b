// In place: an assign of a fused kernel's value becomes the kernel writing into the assigned storage.

import type { Storage } from '../../backend/backend.ts';
import { readsAll } from '../../backend/kernels.ts';
import { numel } from '../../shape.ts';
import type { KernelOp, Op } from '../trace.ts';
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
  const producer = new Map<Storage, { i: number; f: KernelOp }>();
  ops.forEach((op, i) => {
    const f = op?.kind === 'kernel' ? op : op?.kind === 'prim' ? asFused(op) : null;
    // Elementwise kernels only: a reduction's or a GEMM's elements depend on others.
    if (f && f.core.kind === 'none' && !f.optim) producer.set(f.out, { i, f });
  });
  for (let j = 0; j < ops.length; j++) {
    const op = ops[j];
    if (op?.kind !== 'effect' || op.effect !== 'assign') continue;
    const [dst, src] = op.inputs;
    const p = producer.get(src);
    if (!p || uses.get(src) !== 1) continue;
    const { i } = p;
    const { expr, inputs, reads } = p.f.prologue!;
    const n = numel(p.f.shape);
    if (n !== dst.length || inputs.some((x, k) => x === dst && !readsAll(reads[k], n))) continue;
    const touches = (o: Op | null) => o && o.kind !== 'host' && (o.kind === 'effect' || readsOf(o).includes(dst));
    if (ops.slice(i + 1, j).some(touches)) continue;
    ops[i] = {
      kind: 'effect',
      effect: 'assign_fused',
      inputs: [dst, ...inputs],
      shapes: [p.f.shape, ...inputs.map((x) => [x.length])],
      params: { expr, reads, n },
    };
    ops[j] = null;
  }
  return { ...g, ops: ops.filter((op): op is Op => op !== null) };
}
