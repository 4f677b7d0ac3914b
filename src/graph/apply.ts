// The one dispatch point: every primitive of src/graph/primitives.ts runs through Dispatcher.apply, which
// checks that the inputs share a backend, runs the shape rule, calls the backend, makes the output tensor
// and, when grad mode is on and an input requires grad, records the GradNode whose backward is the
// table's rule. src/tensor.ts owns the one Dispatcher (it alone constructs tensors); everything above it
// calls its `apply` or a Tensor method.
//
// Where tracing goes (a later step): jax-js's core.ts binds each primitive to the innermost trace of an
// interpreter stack (eval, jvp, jaxpr). Here the hook is the start of apply(): while a tracer is active
// (a `tracer` field pushed by compile(fn)), apply() would hand (prim, inputs, params, outShape) to it and
// return a symbolic tensor instead of calling rule.run; the eager path below is the bottom interpreter.

import type { Backend, Storage } from '../backend/backend.ts';
import { isGradEnabled } from '../autograd/engine.ts';
import { RULES, sourceBackend, type Apply, type BackwardRule, type Params, type Primitive, type Rule } from './primitives.ts';
import type { GradNode, GraphTensor } from './types.ts';

/** How the owner makes tensors: a new storage, or a view sharing `viewOf`'s storage. */
export type MakeTensor<T> = (backend: Backend, storage: Storage | null, shape: number[], viewOf: T | null) => T;

export class Dispatcher<T extends GraphTensor<T>> {
  /** apply() calls so far, and how many recorded a GradNode (tests count dispatches over a step). */
  calls = 0;
  recorded = 0;
  /** Nesting depth of apply(): > 0 while a backend call runs (tests check no kernel runs outside it). */
  depth = 0;

  constructor(private readonly make: MakeTensor<T>) {}

  /** Runs primitive `prim` on `inputs` (eagerly; see the header for where tracing would hook in). */
  readonly apply = <P extends Primitive>(prim: P, inputs: T[], params: Params[P]): T => {
    const rule = RULES[prim] as Rule<P>;
    this.calls++;
    const n = inputs.length;
    const backend = n ? inputs[0].backend : sourceBackend(params);
    if (!backend) throw new Error(`internal: ${prim} has neither inputs nor a backend`);
    // One pass over the inputs (this runs for every op of every step: no maps, no closures).
    const xShapes = new Array<number[]>(n), storages = new Array<Storage>(n);
    let anyRequiresGrad = false;
    for (let i = 0; i < n; i++) {
      const t = inputs[i];
      if (t.backend !== backend) throw new Error(`${opName(prim, params)}: tensors live on different backends (${backend.name} and ${t.backend.name})`);
      xShapes[i] = t.shape;
      storages[i] = t.storage;
      if (t.requiresGrad) anyRequiresGrad = true;
    }
    const shape = rule.shape(xShapes, params);
    this.depth++;
    let out: Storage | 'view';
    try {
      out = rule.run(backend, storages, params, shape, xShapes);
    } finally {
      this.depth--;
    }
    const y = out === 'view' ? this.make(backend, null, shape, inputs[0]) : this.make(backend, out, shape, null);
    if (anyRequiresGrad && rule.backward && isGradEnabled() && (!rule.recorded || rule.recorded(params))) {
      this.recorded++;
      y.requiresGrad = true;
      y.gradFn = new Recorded(opName(prim, params), inputs, y, params, rule.backward, this.apply);
    }
    return y;
  };
}

/**
 * A GradNode: the rule's backward, bound to this call's inputs, output and params. A class with a
 * prototype method rather than a closure per op: tsx/esbuild's keepNames wraps every named closure in a
 * __name() call (an Object.defineProperty), which made the closure form measurably slower per dispatch.
 */
class Recorded<T extends GraphTensor<T>, P extends Primitive> implements GradNode<T> {
  constructor(
    readonly op: string,
    readonly inputs: T[],
    private readonly y: T,
    private readonly params: Params[P],
    private readonly rule: BackwardRule<P>,
    private readonly apply: Apply<T>,
  ) {}
  backward(g: T): (T | null)[] {
    return this.rule(g, this.inputs, this.y, this.params, this.apply);
  }
}

/** The op's name in errors and GradNodes: the kernel op for the op families, else the primitive. */
function opName(prim: Primitive, params: object): string {
  const op = (params as { op?: string }).op;
  if (prim === 'pad') return `pad_${(params as Params['pad']).mode}`;
  if (prim === 'concat') return 'cat';
  return op ?? prim;
}
