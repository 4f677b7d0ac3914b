// Reverse-mode autodiff: grad mode and the backward walk. GradNodes are attached by the one dispatch
// point, src/graph/apply.ts, with the backward rules of src/graph/primitives.ts (there is no per-op
// record() any more). backward() walks the graph in reverse topological order, accumulates .grad on
// leaves, and frees the graph as it goes; a later backward through a freed or disposed part of it
// throws rather than silently stopping there. Written against the GraphTensor interface, so this module
// imports neither src/tensor.ts nor any op.

import { keep, tidy } from '../graph/scope.ts';
import type { GraphTensor } from '../graph/types.ts';
import { fmtShape, sameShape } from '../shape.ts';

export type { GradNode } from '../graph/types.ts';

let gradEnabled = true;

/**
 * Set by compile() while it traces: given a leaf and its .grad as backward() is about to accumulate into
 * it, returns what to accumulate into (a gradient from before the call becomes an input of the traced
 * step, read anew on every call) or null for none.
 */
type LeafGradHook = (leaf: unknown, grad: unknown) => unknown;
let leafGradHook: LeafGradHook | null = null;
export function setLeafGradHook(h: LeafGradHook | null): void {
  leafGradHook = h;
}

/** Whether ops record the graph for backward() now: false inside noGrad() (torch.is_grad_enabled). */
export const isGradEnabled = () => gradEnabled;

/**
 * Runs fn without recording any graph (like torch.no_grad()): for evaluation and sampling, where no
 * gradient is needed and the graph would hold memory. An async fn keeps the mode until it settles.
 * @example
 * ```ts
 * const logits = noGrad(() => model.call(testX));
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn recording the graph even inside noGrad (like torch.enable_grad()): a gradient a view needs. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

function withGradMode<T>(mode: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = mode;
  try {
    const r = fn();
    if (r instanceof Promise) return r.finally(() => (gradEnabled = prev)) as T;
    gradEnabled = prev;
    return r;
  } catch (e) {
    gradEnabled = prev;
    throw e;
  }
}

function topoOrder<T extends GraphTensor<T>>(root: T): T[] {
  const order: T[] = [];
  const seen = new Set<T>();
  // Iterative DFS: graphs of deep models overflow a recursive one.
  const stack: [T, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const i of t.gradFn?.inputs ?? []) if (i.requiresGrad && !seen.has(i)) stack.push([i, false]);
  }
  return order.reverse();
}

/**
 * Back-propagates from `root`. Without `grad`, root must hold one element (a loss) and its gradient is 1.
 * Leaves (tensors that require grad and were not made by an op) get .grad, summed over calls until
 * zeroed. The graph is freed unless retainGraph.
 */
export function backward<T extends GraphTensor<T>>(root: T, grad?: T, opts: { retainGraph?: boolean } = {}): void {
  if (!root.requiresGrad)
    throw new Error(`backward(): the tensor ${root} does not require grad (no parameter reached it)`);
  if (!grad && root.size !== 1) {
    throw new Error(`backward(): a gradient must be given for a non-scalar output of shape ${fmtShape(root.shape)}`);
  }
  if (grad && !sameShape(grad.shape, root.shape)) {
    throw new Error(
      `backward(): gradient shape ${fmtShape(grad.shape)} does not match output shape ${fmtShape(root.shape)}`,
    );
  }
  const order = topoOrder(root);
  // Checked before any .grad is touched. Without it, a freed node (an earlier backward without
  // retainGraph) or a tensor disposed by tidy/dispose (which nulls gradFn) looks like a leaf, and the
  // backward silently stops there (PyTorch: "Trying to backward through the graph a second time").
  const dead = order.find((t) => t.isDisposed || (t.graphFreed && !t.gradFn));
  if (dead) {
    throw new Error(
      `backward(): trying to backward through the graph a second time (or after its tensors were disposed): ` +
        `${dead === root ? 'the output' : 'a tensor on its graph'}, ${dead}${dead.name ? ` (${dead.name})` : ''}, ` +
        (dead.isDisposed
          ? 'was disposed (by tidy or dispose()); call backward() inside the tidy that made the graph'
          : 'had its graph freed by an earlier backward(); pass { retainGraph: true } to the first backward()'),
    );
  }
  const grads = new Map<T, T>();
  tidy(() => {
    grads.set(root, grad ?? root.onesLike());
    const prev = gradEnabled;
    gradEnabled = false;
    try {
      for (const t of order) {
        const g = grads.get(t);
        if (!g) continue;
        const node = t.gradFn;
        if (!node) {
          // A leaf: accumulate into .grad, which outlives this scope.
          // While compile() traces, the hook says what a gradient from before the call is read as.
          const into = leafGradHook ? (leafGradHook(t, t.grad) as T | null) : t.grad;
          if (into) {
            const sum = into.add(g);
            // (A gradient from before a traced call is disposed only once the trace succeeds.)
            if (into === t.grad) into.dispose();
            t.grad = keep(sum);
          } else {
            t.grad = keep(g === grad ? g.mul(1) : g);
          }
          continue;
        }
        const gin = node.backward(g);
        node.inputs.forEach((inp, i) => {
          const gi = gin[i];
          if (!gi || !inp.requiresGrad) return;
          if (!sameShape(gi.shape, inp.shape)) {
            throw new Error(
              `internal: ${node.op} backward gave a gradient of shape ${fmtShape(gi.shape)} for an input of shape ${fmtShape(inp.shape)}`,
            );
          }
          const acc = grads.get(inp);
          grads.set(inp, acc ? acc.add(gi) : gi);
        });
        if (!opts.retainGraph) {
          t.gradFn = null;
          t.graphFreed = true;
        }
      }
    } finally {
      gradEnabled = prev;
    }
  });
}
