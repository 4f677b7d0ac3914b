// Dead code: an op whose value reaches no output, effect or later live op is dropped; a dropped random
// draw keeps its per-call function, so the generator advances as in eager mode.

import type { Storage } from '../../backend/backend.ts';
import type { Op } from '../trace.ts';
import { readsOf, type Graph } from './graph.ts';

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
    if (op.kind !== 'host') for (const s of readsOf(op)) live.add(s);
    kept.push(op);
  }
  return { ...g, ops: kept.reverse() };
}
