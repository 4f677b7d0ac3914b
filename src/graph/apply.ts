// The one dispatch point: every primitive of src/graph/primitives.ts runs through Dispatcher.apply, which
// checks that the inputs share a backend, runs the shape rule, calls the backend, makes the output tensor
// and, when grad mode is on and an input requires grad, records the GradNode whose backward is the
// table's rule. src/tensor.ts owns the one Dispatcher (it alone constructs tensors); everything above it
// calls its `apply` or a Tensor method. The in-place updates (src/graph/effects.ts) go through its
// effect(), and host work that a compiled step must repeat on every call through its perCall().
//
// Tracing (src/graph/compile.ts): jax-js's core.ts binds each primitive to the innermost trace of an
// interpreter stack (eval, jvp, jaxpr). Here there are two interpreters: while a Tracer is set, apply()
// records (prim, inputs, params, shape) into it and returns a tensor over a symbolic storage instead of
// calling the backend (shape rules, errors and GradNodes are the same in both modes, so autodiff
// traces like any other code); otherwise it runs eagerly.

import type { Backend, Storage } from '../backend/backend.ts';
import { mixedBackendsError } from '../backend/registry.ts';
import { allocationSite } from '../device/site.ts';
import { isGradEnabled } from '../autograd/engine.ts';
import {
  RULES,
  sourceBackend,
  type Apply,
  type BackwardRule,
  type Params,
  type Primitive,
  type Rule,
} from './primitives.ts';
import { EFFECTS, type EffectName, type EffectParams } from './effects.ts';
import { Tracer } from './trace.ts';
import type { DType, GradNode, GraphTensor } from './types.ts';

/** How the owner makes tensors: a new storage, or a view sharing `viewOf`'s storage. */
export type MakeTensor<T> = (
  backend: Backend,
  storage: Storage | null,
  shape: number[],
  viewOf: T | null,
  dtype: DType,
) => T;

export class Dispatcher<T extends GraphTensor<T>> {
  /** apply() calls so far, and how many recorded a GradNode (tests count dispatches over a step). */
  calls = 0;
  recorded = 0;
  /** Nesting depth of apply(): > 0 while a backend call runs (tests check no kernel runs outside it). */
  depth = 0;

  /** Set while compile() traces a function: ops are recorded, not run. */
  tracer: Tracer<T> | null = null;
  /** The per-call params function of the apply() that applyPerCall() is making (handed to the tracer). */
  private perCallParams: (() => never) | null = null;

  constructor(private readonly make: MakeTensor<T>) {}

  /** Runs primitive `prim` on `inputs` (or records it, while tracing). */
  readonly apply = <P extends Primitive>(prim: P, inputs: T[], params: Params[P]): T => {
    const rule: Rule<P> = RULES[prim];
    this.calls++;
    const n = inputs.length;
    const backend = n ? inputs[0].backend : sourceBackend(params);
    if (!backend) throw new Error(`internal: ${prim} has neither inputs nor a backend`);
    // One pass over the inputs (this runs for every op of every step: no maps, no closures).
    const xShapes = new Array<number[]>(n),
      storages = new Array<Storage>(n);
    let anyRequiresGrad = false;
    for (let i = 0; i < n; i++) {
      const t = inputs[i];
      if (t.backend !== backend)
        throw mixedBackendsError(opName(prim, params), backend, t.backend, ['input 0', `input ${i}`]);
      xShapes[i] = t.shape;
      storages[i] = t.storage;
      if (t.requiresGrad) anyRequiresGrad = true;
    }
    const shape = rule.shape(xShapes, params);
    // float32 unless the row's dtype rule says otherwise (creation, argmax, movement ops keeping int32).
    const dtype: DType = rule.dtype ? rule.dtype(inputs, params) : 'float32';
    let out: Storage | 'view';
    if (this.tracer) {
      const perCall = this.perCallParams as (() => Params[P]) | null;
      this.perCallParams = null;
      if (prim === 'reshape') {
        this.tracer.view(inputs[0]);
        out = 'view';
      } else {
        out = this.tracer.prim(prim, inputs, params, shape, perCall ?? undefined);
      }
    } else {
      // Noted for an allocation failure that the device reports later (src/device/site.ts).
      const site = allocationSite;
      site.serial++;
      site.prim = prim;
      site.params = params;
      site.shape = shape;
      if (site.checks.size) for (const c of site.checks) c(storages);
      this.depth++;
      try {
        out = rule.run(backend, storages, params, shape, xShapes);
      } finally {
        this.depth--;
        site.prim = null;
      }
      if (site.watchers.size) for (const w of site.watchers) w(out);
    }
    const y =
      out === 'view' ? this.make(backend, null, shape, inputs[0], dtype) : this.make(backend, out, shape, null, dtype);
    if (anyRequiresGrad && rule.backward && isGradEnabled() && (!rule.recorded || rule.recorded(params))) {
      this.recorded++;
      y.requiresGrad = true;
      y.gradFn = new Recorded(opName(prim, params), inputs, y, params, rule.backward, this.apply);
    }
    return y;
  };

  /**
   * apply() with params that depend on host state changing from call to call (a random draw's counter):
   * `params` computes them; a compiled step calls it again on every call (src/graph/trace.ts).
   */
  readonly applyPerCall = <P extends Primitive>(prim: P, inputs: T[], params: () => Params[P]): T => {
    const p = params();
    if (!this.tracer) return this.apply(prim, inputs, p);
    this.perCallParams = params as () => never;
    try {
      return this.apply(prim, inputs, p);
    } finally {
      this.perCallParams = null;
    }
  };

  /**
   * Runs (or, while tracing, records) the in-place update `effect` of src/graph/effects.ts on `inputs`.
   * `params` as a function: computed again on every call of a compiled step (an optimizer's step count).
   */
  readonly effect = <E extends EffectName>(
    effect: E,
    inputs: T[],
    params: EffectParams[E] | (() => EffectParams[E]),
  ): void => {
    const perCall = typeof params === 'function' ? params : undefined;
    const p = perCall ? perCall() : (params as EffectParams[E]);
    const backend = inputs[0].backend;
    for (let i = 1; i < inputs.length; i++) {
      if (inputs[i].backend !== backend)
        throw mixedBackendsError(effect, backend, inputs[i].backend, ['tensor 0', `tensor ${i}`]);
    }
    if (this.tracer) return this.tracer.effect(effect, inputs, p, perCall);
    // An effect is an op of its own for the allocation notes (src/device/site.ts); it has no output.
    const site = allocationSite;
    site.serial++;
    site.prim = effect;
    site.params = p;
    site.shape = null;
    const storages = inputs.map((t) => t.storage);
    if (site.checks.size) for (const c of site.checks) c(storages);
    this.depth++;
    try {
      EFFECTS[effect].run(
        backend,
        storages,
        p,
        inputs.map((t) => t.shape),
      );
    } finally {
      this.depth--;
      site.prim = null;
    }
  };

  /** Host work of a training step that must happen on every call (runs now; a compiled step repeats it). */
  readonly perCall = (run: () => void): void => {
    run();
    this.tracer?.host(run);
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
allocationSite.nameOf = (prim, params) =>
  prim === 'random'
    ? `random (${(params as Params['random']).spec.kind})`
    : opName(prim as Primitive, params as object);

function opName(prim: Primitive, params: object): string {
  const op = (params as { op?: string }).op;
  if (prim === 'pad') return `pad_${(params as Params['pad']).mode}`;
  if (prim === 'concat') return 'cat';
  return op ?? prim;
}
