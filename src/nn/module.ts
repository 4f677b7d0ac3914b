// Module: named parameters and buffers (nested, in registration order, dotted names as PyTorch's
// state_dict), train/eval mode, and state dicts with shape checks. Registration is explicit
// (this.module(name, m), this.param(name, t), this.buffer(name, t)) or PyTorch's habit: a Module, or a
// tensor that requires grad, assigned to an attribute (this.fc = new Linear(...)) is registered under the
// attribute's name when the module's contents are next listed (torch.nn.Module.__setattr__ does it at
// the assignment; JavaScript has no hook there short of a Proxy on every module, which would slow every
// attribute read of every forward). Attribute order is assignment order, so the names and their order
// are PyTorch's. A tensor that does not require grad is not registered: make it a buffer() if it is state.

import { Tensor, guardState, isTracing, keep, setStateOwner, wroteState } from '../tensor.ts';
import { fmtShape, sameShape } from '../shape.ts';
import { assignInPlace } from '../ops/functional.ts';
import { tensor } from '../ops/creation.ts';

/** A state dict's value: a tensor, or its shape and values. */
export type StateValue = Tensor | { shape: number[]; data: Float32Array };
/** What loadStateDict() takes: a Map by dotted name (stateDict()'s form), or a plain object of the same. */
export type StateDict = Map<string, StateValue> | Record<string, StateValue>;

function asStateMap(state: StateDict): Map<string, StateValue> {
  if (state instanceof Map) return state;
  const proto = state && typeof state === 'object' ? Object.getPrototypeOf(state) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    const what =
      state === null ? 'null' : typeof state !== 'object' ? typeof state : (proto?.constructor?.name ?? 'an object');
    throw new Error(
      `loadStateDict: the state dict is ${what}; pass a Map (as stateDict() returns) or a plain object of tensors by name`,
    );
  }
  return new Map(Object.entries(state));
}

/**
 * The base class of layers and models (torch.nn.Module): named parameters and buffers, child modules,
 * train/eval mode and state dicts. `In` is its forward's arguments, `Out` what it returns (by default
 * tensors in, one tensor out, as a layer; a model may return several, e.g. `class VAE extends
 * Module<[Tensor], { recon: Tensor; mu: Tensor; logvar: Tensor }>`).
 *
 * A module or a tensor that requires grad assigned to an attribute is registered under the
 * attribute's name, in assignment order, as PyTorch does; param(), buffer() and module() register
 * explicitly.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from 'wgpu-gen';
 *
 * class Mlp extends nn.Module {
 *   fc1 = new nn.Linear(784, 256);
 *   fc2 = new nn.Linear(256, 10);
 *   forward(x: Tensor): Tensor {
 *     return this.fc2.call(this.fc1.call(x).relu());
 *   }
 * }
 * const model = new Mlp();
 * const logits = model.call(x);          // [N, 10]
 * [...model.namedParameters()].map(([name]) => name); // fc1.weight, fc1.bias, fc2.weight, fc2.bias
 * ```
 */
export abstract class Module<In extends unknown[] = Tensor[], Out = Tensor> {
  private trainingFlag = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, AnyModule>();
  /** The buffers declared by lazyBuffer(), made or not: what a loaded shape must be (null if it fits). */
  private readonly lazy = new Map<string, (shape: readonly number[]) => string | null>();

  /** The module's computation: what call() runs. Every layer and model defines it; call it through call(). */
  abstract forward(...xs: In): Out;

  /** Calls forward (modules are called like PyTorch's: m.call(x)). */
  call(...xs: In): Out {
    return this.forward(...xs);
  }

  /**
   * Training mode (train()/eval()). A function compile() traces takes the flag as it is then, and guards
   * on it: a call after train()/eval() changed it is traced again, never replayed with the old mode.
   */
  get training(): boolean {
    const v = this.trainingFlag;
    if (isTracing())
      guardState(
        this,
        'training',
        () => this.trainingFlag === v,
        () => `${this.constructor.name}.training is ${v}`,
      );
    return v;
  }
  set training(mode: boolean) {
    if (isTracing()) wroteState(this, 'training');
    this.trainingFlag = mode;
  }

  /**
   * Registers `t` as a trainable parameter named `name` (it gets requiresGrad, outlives tidy scopes and
   * appears in parameters() and stateDict()); returns it.
   */
  protected param(name: string, t: Tensor): Tensor {
    setStateOwner(t, this);
    keep(t).requiresGrad = true;
    t.name = name;
    this.params.set(name, t);
    return t;
  }
  /**
   * Registers `t` as non-trainable state named `name` (running statistics, say): saved in stateDict()
   * and loaded by loadStateDict(), never given to an optimizer; returns it.
   */
  protected buffer(name: string, t: Tensor): Tensor {
    setStateOwner(t, this);
    keep(t).name = name;
    this.buffers.set(name, t);
    return t;
  }
  /**
   * Declares a buffer whose shape is known only when the module first needs it (persistent CD's chains:
   * the first batch's size), as PyTorch's UninitializedBuffer (torch/nn/parameter.py) does: absent from
   * stateDict() until buffer() registers it under `name`; a state dict that holds it makes it with the
   * loaded shape (`fits` says what the shape must be, or null where it fits), so a checkpoint carries it;
   * one that lacks it (a file from before it was saved) leaves it as it is.
   */
  protected lazyBuffer(name: string, fits: (shape: readonly number[]) => string | null): void {
    this.lazy.set(name, fits);
  }
  /** A buffer by name, or null where it is not registered (a lazy buffer not made yet). */
  protected bufferOf(name: string): Tensor | null {
    return this.buffers.get(name) ?? null;
  }
  /** Registers `m` as a child module named `name` (its parameters become `name.<param>`); returns it. */
  protected module<M extends AnyModule>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /**
   * Registers the modules and trainable tensors assigned to attributes that are not registered yet (see
   * the header): a module under its attribute's name, a tensor that requires grad as a parameter (an
   * attribute of a registered parameter's name replaces that parameter, as assignment does in PyTorch).
   */
  private adopt(): void {
    let known: Set<unknown> | null = null;
    for (const key of Object.keys(this)) {
      const v = (this as Record<string, unknown>)[key];
      const isModule = v instanceof Module && v !== this;
      const isParam = v instanceof Tensor && !v.isDisposed && v.requiresGrad && !v.gradFn;
      // A tensor assigned over a registered buffer of the attribute's name replaces it (torch's
      // __setattr__ does so for a name in _buffers); another plain tensor is no state.
      const isBuffer = v instanceof Tensor && !isParam && !v.isDisposed && this.buffers.has(key);
      if (!isModule && !isParam && !isBuffer) continue;
      known ??= new Set<unknown>([...this.params.values(), ...this.buffers.values(), ...this.children.values()]);
      if (known.has(v)) continue;
      if (isModule) {
        if (this.children.has(key))
          throw new Error(
            `${this.constructor.name}: attribute ${key} holds a module, but another module is registered as ${key}`,
          );
        this.children.set(key, v as AnyModule);
      } else if (isParam) {
        this.param(key, v as Tensor);
      } else {
        this.buffer(key, v as Tensor);
      }
      known.add(v);
    }
  }

  /**
   * The trainable parameters of this module and its children, with dotted names (`encoder.fc1.weight`),
   * in registration order (torch's named_parameters()).
   */
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    this.adopt();
    for (const [k, v] of this.params) yield [prefix + k, v];
    for (const [k, m] of this.children) yield* m.namedParameters(`${prefix}${k}.`);
  }
  /**
   * The trainable parameters of this module and its children, in registration order (what an optimizer
   * takes).
   */
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, t]) => t);
  }
  /** The buffers (non-trainable state) of this module and its children, with dotted names. */
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    this.adopt();
    for (const [k, v] of this.buffers) yield [prefix + k, v];
    for (const [k, m] of this.children) yield* m.namedBuffers(`${prefix}${k}.`);
  }
  /** This module (named '') and every descendant, with dotted names, parents before children. */
  *namedModules(prefix = ''): Generator<[string, AnyModule]> {
    this.adopt();
    yield [prefix.replace(/\.$/, ''), this];
    for (const [k, m] of this.children) yield* m.namedModules(`${prefix}${k}.`);
  }

  /**
   * Puts this module and its children in training mode (or evaluation mode with `train(false)`), which
   * dropout and batch norm read; returns this.
   */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  /**
   * Puts this module and its children in evaluation mode (`train(false)`): dropout off, batch norm on its
   * running statistics; returns this.
   */
  eval(): this {
    return this.train(false);
  }

  /**
   * Runs fn with this module's parameters held out of the graph (requiresGrad off, restored after): a
   * gradient with respect to an input only (a view's arrows), which leaves the parameters' .grad as it was.
   */
  frozen<T>(fn: () => T): T {
    const params = this.parameters();
    const flags = params.map((p) => p.requiresGrad);
    for (const p of params) p.requiresGrad = false;
    try {
      return fn();
    } finally {
      params.forEach((p, i) => (p.requiresGrad = flags[i]));
    }
  }

  /**
   * Disposes and clears the .grad of every parameter (an optimizer's zeroGrad() does the same for its
   * parameters).
   */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Parameters and buffers by dotted name, in registration order (PyTorch's state_dict keys). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Loads values by name, from a Map (what stateDict() returns) or a plain object keyed by the same
   * dotted names (torch's load_state_dict takes a dict); every key must exist on both sides (when
   * strict) with the same shape. All or nothing: every key, shape and length is checked, and every
   * value read, before any is written.
   */
  async loadStateDict(state: StateDict, strict = true): Promise<void> {
    const { values, made } = await this.checked(asStateMap(state), strict);
    for (const [t, data] of values) assignInPlace(t, tensor(data, t.shape, { backend: t.backend }));
    // The lazy buffers it makes, registered once everything has been checked and read.
    for (const { module, name, shape, data } of made)
      module.buffer(name, tensor(data, shape, { backend: module.parameters()[0]?.backend }));
  }

  /** loadStateDict's checks without the writes (throws as it would); returns the values it would write. */
  async checkStateDict(input: StateDict, strict = true): Promise<[Tensor, Float32Array][]> {
    return (await this.checked(asStateMap(input), strict)).values;
  }

  /**
   * Every check of a load, and every value read: the values of the registered tensors, and the lazy
   * buffers (lazyBuffer()) not made yet that the state dict holds, each checked against its shape rule.
   * A lazy buffer not made yet is expected where the state dict holds it, and a made one it lacks is left
   * as it is.
   */
  private async checked(state: Map<string, StateValue>, strict: boolean) {
    const own = this.stateDict();
    const lazy = [...this.namedModules()].flatMap(([prefix, m]) =>
      [...(m as Module<unknown[], unknown>).lazy].map(([name, fits]) => ({
        module: m as Module<unknown[], unknown>,
        name,
        fits,
        key: prefix ? `${prefix}.${name}` : name,
      })),
    );
    const toMake = lazy.filter((l) => state.has(l.key) && !l.module.buffers.has(l.name));
    const lazyKeys = new Set(lazy.map((l) => l.key));
    const missing = [...own.keys()].filter((k) => !state.has(k) && !lazyKeys.has(k));
    const extra = [...state.keys()].filter((k) => !own.has(k) && !toMake.some((l) => l.key === k));
    if (strict && (missing.length || extra.length)) {
      throw new Error(
        `loadStateDict: ${missing.length ? `missing keys: ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected keys: ${extra.join(', ')}` : ''}`,
      );
    }
    const values: [Tensor, Float32Array][] = [];
    for (const [k, t] of own) {
      const src = state.get(k);
      if (!src) continue;
      if (!sameShape(src.shape, t.shape)) {
        throw new Error(
          `loadStateDict: ${k} has shape ${fmtShape(src.shape)} in the state dict but ${fmtShape(t.shape)} in the model`,
        );
      }
      values.push([t, await readValue(k, src, t.shape)]);
    }
    const made: { module: AnyModule; name: string; shape: number[]; data: Float32Array }[] = [];
    for (const { module, name, fits, key } of toMake) {
      const src = state.get(key)!;
      const wrong = fits(src.shape);
      if (wrong) throw new Error(`loadStateDict: ${key} has shape ${fmtShape(src.shape)} in the state dict: ${wrong}`);
      made.push({ module, name, shape: [...src.shape], data: await readValue(key, src, src.shape) });
    }
    return { values, made };
  }
}

/**
 * A state dict's value for `k` as the values of a tensor of `shape`, read now (a tensor's readback may
 * fail), so that nothing is written unless everything can be.
 */
async function readValue(k: string, src: StateValue, shape: readonly number[]): Promise<Float32Array> {
  if (src instanceof Tensor && src.isDisposed)
    throw new Error(`loadStateDict: ${k} in the state dict is a disposed tensor`);
  const data: unknown = src instanceof Tensor ? await src.toArray() : src.data;
  const size = shape.reduce((a, b) => a * b, 1);
  if (!(data instanceof Float32Array) || data.length !== size) {
    const got =
      data instanceof Float32Array
        ? `${data.length} values`
        : `data ${Object.prototype.toString.call(data)}, not a Float32Array,`;
    throw new Error(`loadStateDict: ${k} has ${got} in the state dict for shape ${fmtShape(shape)} (${size} values)`);
  }
  return data;
}

/** Any module, whatever its forward takes and returns (what checkpoints, summaries and exports accept). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModule = Module<any[], unknown>;
