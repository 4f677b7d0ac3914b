// Constants: upload ops (tensor() inside the function), fills, and pure primitives over only such values
// run once, when the program is built.

import type { Storage } from '../../backend/backend.ts';
import { numel } from '../../shape.ts';
import type { Op, PrimOp } from '../trace.ts';
import type { Graph } from './graph.ts';

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
    if (value && op.kind === 'prim') constants.set(op.out, value);
    else ops.push(op);
  }
  return { graph: { ...g, ops }, constants };
}
