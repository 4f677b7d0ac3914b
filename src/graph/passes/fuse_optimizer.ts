// The optimizer in the gradient's kernel: a parameter's optimizer step runs in the store of the kernel
// computing its gradient (a matmul, a convolution, a fused reduction or elementwise kernel).

import type { Storage } from '../../backend/backend.ts';
import type { EffectParams } from '../effects.ts';
import type { GemmPrimitive, KernelOp, Op } from '../trace.ts';
import { GEMM_PRIMITIVES, MAX_STORAGE_BINDINGS, asFused, gemmOf, readsOf, writesOf, type Graph } from './graph.ts';

/** Storage buffers a fused kernel binds (its inputs, its output), before an optimizer update's 4. */
function storeBindings(op: KernelOp): number {
  return readsOf(op).length + 1;
}

/** The op computing `grad` as a fused kernel that can take an optimizer update in its store, or null. */
function asStore(op: Op): KernelOp | null {
  if (op.kind === 'kernel') return op.core.kind === 'rows' ? null : op;
  if (op.kind !== 'prim') return null;
  return GEMM_PRIMITIVES.includes(op.prim as GemmPrimitive) ? gemmOf(op) : asFused(op);
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
  /** Whether an op reads or writes a step's state (a step reads its own state; it shares only the flags). */
  const touchesState = (o: Op, state: Storage[]): boolean => {
    if (o.kind === 'host') return false;
    const r =
      o.kind === 'effect' && o.effect === 'optim'
        ? [o.inputs[0], o.inputs[2], o.inputs[3]]
        : o.kind === 'kernel' && o.optim
          ? [...readsOf(o), o.optim.inputs[0], o.optim.inputs[2], o.optim.inputs[3]]
          : readsOf(o);
    return r.some((x) => state.includes(x)) || writesOf(o).some((x) => state.includes(x));
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
    if (ops.slice(i + 1, j).some((o) => writesOf(o).includes(grad))) continue;
    // The last op between the two that reads or writes the parameter or its state: the kernel goes after it.
    const state = [param, s1, s2];
    let last = i;
    for (let k = i + 1; k < j; k++) if (touchesState(ops[k], state)) last = k;
    // Moving down is legal when nothing it passes writes what it reads or reads what it computes.
    const passed = ops.slice(i + 1, last + 1);
    if (
      passed.some((o) => writesOf(o).some((x) => reads.includes(x)) || (o.kind !== 'host' && readsOf(o).includes(grad)))
    )
      continue;
    const cell = op.perCall ? { value: undefined as EffectParams['optim'] | undefined } : null;
    const optim = { inputs: op.inputs, params: op.params as EffectParams['optim'], cell };
    // A GEMM stores through its epilogue, the update too: `acc` alone where it had none.
    const fused: KernelOp =
      k0.core.kind === 'gemm'
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
