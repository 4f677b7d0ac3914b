// Optimizers with PyTorch's semantics (torch.optim.SGD, Adam, AdamW). Each step is one fused kernel per
// parameter (shaders/optim.wgsl on WebGPU, the loop twin on the CPU reference); the state (momentum
// buffers, moments, step count) is exposed for checkpoints. The same kernels check on the way that every
// gradient and updated parameter is finite (one flag per parameter, no extra pass over the data), which
// nonFinite() reads back: the training loop's check of the whole model, every step. The check is taken
// when nonFinite() is called (the flags' readback enqueued, the step's tag kept), so a loop can await it
// one step behind, after issuing the next step.
//
// Parameters come as one list or as param groups with their own options ({ params, lr, ... }, the
// constructor's options the defaults), as torch.optim takes them. State is per parameter, as PyTorch keeps
// it: a parameter's step count (Adam's bias corrections) and SGD's first momentum step count the steps
// in which that parameter had a gradient, not the optimizer's steps, so a parameter first stepped at the
// optimizer's step 2 moves as a fresh one would. stateDict() / loadStateDict() are torch.optim's: the
// state by parameter index, and the groups' options with their parameters' indices.
//
// A step is host bookkeeping (validate the hyper-parameters, count the step per parameter) then one
// 'optim' effect per parameter with a gradient (src/graph/effects.ts) whose params (learning rate, step
// count, bias corrections, the flag's tag) are computed by a function: a compiled step
// (src/graph/compile.ts) repeats the bookkeeping and recomputes those params on every call, so a learning
// rate changed between calls takes effect and the step counts advance as in eager mode.

import { Tensor, effect, keep, onTraceAbort, perCall } from '../tensor.ts';
import { zeros } from '../ops/creation.ts';
import type { OptimSpec } from '../backend/kernels.ts';

/** Hyper-parameters are checked at every step (a demo or a scheduler may change them between steps). */
function checkRange(opt: string, name: string, v: number, lo: number, hi = Infinity, hiOpen = false): void {
  if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) {
    throw new Error(
      `${opt}: invalid ${name} ${v} (must be ${hi === Infinity ? `>= ${lo}` : `in [${lo}, ${hi}${hiOpen ? ')' : ']'}`})`,
    );
  }
}

/** A group of parameters with options of its own (PyTorch's param group); unset options are the defaults. */
export type ParamGroup<O> = { params: Iterable<Tensor> } & Partial<O>;

/** What an optimizer takes: parameters, or param groups. */
export type OptimizerParams<O> = Iterable<Tensor> | ParamGroup<O>[];

/** A state value for loadStateDict: a tensor, or its shape and values. */
export type OptimizerStateValue = Tensor | { shape: number[]; data: Float32Array };

/**
 * An optimizer's state as torch.optim's state_dict() holds it: `state` by parameter index (over the groups'
 * parameters in order; only parameters that have state), each with its step count and its slots (by
 * slotNames: Adam's m and v are torch's exp_avg and exp_avg_sq, SGD's momentum_buffer is torch's), and
 * each group's options with the indices of its parameters.
 */
export interface OptimizerStateDict<O = Record<string, unknown>> {
  /** Per parameter index (only parameters with state): its step count and its slot tensors by name. */
  state: Record<number, { step: number; values: Record<string, OptimizerStateValue> }>;
  /** Each group's options with the indices of its parameters. */
  paramGroups: (O & { params: number[] })[];
}

/** The groups of an optimizer's params argument, each with its options (defaults overridden). */
function groupsOf<O extends object>(
  opt: string,
  params: OptimizerParams<O>,
  defaults: O,
): { params: Tensor[]; options: O }[] {
  const list = [...(params as Iterable<Tensor | ParamGroup<O>>)];
  const isGroup = (x: unknown): x is ParamGroup<O> =>
    typeof x === 'object' && x !== null && !(x instanceof Tensor) && 'params' in x;
  const groups =
    list.length && list.every(isGroup)
      ? list.map((g) => {
          const { params: ps, ...options } = g;
          return { params: [...ps], options: { ...defaults, ...options } as O };
        })
      : [{ params: list as Tensor[], options: { ...defaults } }];
  if (list.some(isGroup) && !list.every(isGroup))
    throw new Error(`${opt}: params mixes tensors and param groups; pass one or the other`);
  const seen = new Set<Tensor>();
  groups.forEach(({ params: ps }, k) => {
    for (const p of ps) {
      if (!(p instanceof Tensor)) throw new Error(`${opt}: param group ${k} holds a ${typeof p}, not a tensor`);
      if (seen.has(p))
        throw new Error(`${opt}: parameter ${p.name ?? `#${p.id}`} appears more than once (in one group or in two)`);
      if (!p.requiresGrad) throw new Error(`optimizer: parameter ${p.name ?? `#${p.id}`} does not require grad`);
      seen.add(p);
    }
  });
  if (seen.size === 0) throw new Error(`${opt}: got an empty parameter list`);
  return groups;
}

/**
 * The base of SGD, Adam and AdamW (torch.optim.Optimizer): parameters, or param groups with options of
 * their own, updated in place by step() from their `.grad`, one fused kernel per parameter. Each step
 * also checks that every gradient and updated value is finite; nonFinite() names the ones that were not.
 * The state (momentum buffers, moments, per-parameter step counts) is saved and restored by
 * stateDict() and loadStateDict(), as torch.optim's.
 *
 * @example
 * ```ts
 * const opt = new nn.Adam(model.parameters(), { lr: 1e-3 });
 * for (const { x, y } of loader) {
 *   const loss = tidy(() => {
 *     opt.zeroGrad();
 *     const l = F.crossEntropy(model.call(x), y);
 *     l.backward();
 *     opt.step();          // one fused kernel per parameter
 *     return l;
 *   });
 *   console.log(await loss.item());
 *   loss.dispose();
 * }
 * ```
 */
export abstract class Optimizer<O extends { lr?: number } = { lr?: number }> {
  /** Every parameter, over the groups in order (the state dict's and the checkpoints' indices). */
  readonly params: Tensor[];
  /** The groups with their options (a scheduler or the user may change these between steps). */
  readonly paramGroups: { params: Tensor[]; options: O }[];
  /** step() calls made (the finite flags' tag). */
  stepCount = 0;
  /** Per parameter: the steps in which it had a gradient (torch's state[p]['step']). */
  readonly paramSteps: number[];
  /** The state tensors by parameter (see slotNames). @internal */
  protected state = new Map<Tensor, Tensor[]>();
  private readonly groupIndex: number[];
  /**
   * @param params - The parameters (each must require grad, none twice), or param groups with options of their own.
   * @param defaults - The options of every group that does not set its own.
   */
  constructor(
    params: OptimizerParams<O>,
    readonly defaults: O,
  ) {
    this.paramGroups = groupsOf(this.name, params, defaults);
    this.params = this.paramGroups.flatMap((g) => g.params);
    this.groupIndex = this.paramGroups.flatMap((g, k) => g.params.map(() => k));
    this.paramSteps = this.params.map(() => 0);
  }
  /** The optimizer's name in errors (a subclass's getter, read in this constructor too). @internal */
  protected get name(): string {
    return 'optimizer';
  }
  /** The first group's options (all of them when the optimizer has one group). */
  get o(): O {
    return this.paramGroups[0].options;
  }
  /** Disposes and clears the .grad of every parameter (torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
  private dummies: Tensor[] = [];
  /** Placeholder state for unused kernel slots (a binding may not alias a written one). @internal */
  protected dummy(p: Tensor, i: number): Tensor {
    return (this.dummies[i] ??= keep(zeros([1], { backend: p.backend })));
  }
  /** Parameter p's n state tensors, made (zeros) at first use. @internal */
  protected slots(p: Tensor, n: number): Tensor[] {
    let s = this.state.get(p);
    if (!s) {
      s = Array.from({ length: n }, () => keep(zeros(p.shape, { backend: p.backend })));
      this.state.set(p, s);
    }
    return s;
  }
  /** State tensors by parameter index (for checkpoints): [slot tensors] per parameter. */
  stateTensors(): Tensor[][] {
    return this.params.map((p) => this.state.get(p) ?? []);
  }
  /** Throws where loadState(slots, ...) would not fit: a parameter count, slot count or length that differs. */
  checkState(slots: (Float32Array[] | null)[], paramSteps?: number[]): void {
    if (slots.length !== this.params.length)
      throw new Error(`optimizer state for ${slots.length} parameters, but the optimizer has ${this.params.length}`);
    if (
      paramSteps &&
      (paramSteps.length !== this.params.length || !paramSteps.every((s) => Number.isSafeInteger(s) && s >= 0))
    ) {
      throw new Error(
        `optimizer step counts [${paramSteps.slice(0, 8).join(', ')}${paramSteps.length > 8 ? ', ...' : ''}] are not ${this.params.length} non-negative integers`,
      );
    }
    slots.forEach((values, i) => {
      const p = this.params[i];
      if (values && values.length !== this.slotNames.length)
        throw new Error(
          `optimizer state of ${p.name ?? `parameter ${i}`}: ${values.length} slots for ${this.slotNames.length}`,
        );
      values?.forEach((v) => {
        if (v.length !== p.size)
          throw new Error(`optimizer state of ${p.name ?? `parameter ${i}`}: ${v.length} values for ${p.size}`);
      });
    });
  }

  /**
   * Restores state saved from stateTensors(): per parameter its slot values (or null), the optimizer's
   * step count, and per parameter its step count (without them, as checkpoints of before per-parameter
   * counts: `step` for a parameter with slots, 0 for one without). All or nothing (checkState first).
   * The finite flags are dropped: they are tagged with step counts, and the restored count may repeat
   * one they hold.
   */
  loadState(slots: (Float32Array[] | null)[], step: number, paramSteps?: number[]): void {
    this.checkState(slots, paramSteps);
    this.flags?.dispose();
    this.flags = null;
    this.stepCount = step;
    this.params.forEach((p, i) => {
      const values = slots[i];
      this.paramSteps[i] = paramSteps ? paramSteps[i] : values ? step : 0;
      if (!values) {
        // No saved state: the parameter starts fresh (as before its first step).
        for (const t of this.state.get(p) ?? []) t.dispose();
        this.state.delete(p);
        return;
      }
      this.slots(p, values.length).forEach((st, j) => p.backend.write(st.storage, values[j]));
    });
  }

  /**
   * The state as torch.optim's state_dict(): the state tensors themselves (not copies; read them before
   * the next step changes them) and a copy of every group's options.
   */
  stateDict(): OptimizerStateDict<O> {
    const state: OptimizerStateDict<O>['state'] = {};
    this.params.forEach((p, i) => {
      const s = this.state.get(p);
      if (!s) return;
      state[i] = { step: this.paramSteps[i], values: Object.fromEntries(this.slotNames.map((n, j) => [n, s[j]])) };
    });
    let i = 0;
    const paramGroups = this.paramGroups.map((g) => ({ ...g.options, params: g.params.map(() => i++) }));
    return { state, paramGroups };
  }

  /**
   * Loads a stateDict() (of this optimizer or another one over parameters of the same shapes, in the
   * same groups): every group's options and every parameter's state; a parameter without state in the
   * dict starts fresh. All or nothing: the groups, indices, shapes, values and options are checked, and
   * every tensor read, before anything is written.
   */
  async loadStateDict(sd: OptimizerStateDict<Partial<O>>): Promise<void> {
    const where = `${this.name}.loadStateDict`;
    if (
      !sd ||
      typeof sd !== 'object' ||
      !Array.isArray(sd.paramGroups) ||
      typeof sd.state !== 'object' ||
      sd.state === null
    ) {
      throw new Error(`${where}: expected { state, paramGroups }`);
    }
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(`${where}: ${sd.paramGroups.length} param groups for the optimizer's ${this.paramGroups.length}`);
    let next = 0;
    const options = sd.paramGroups.map((g, k) => {
      const own = this.paramGroups[k];
      const want = own.params.map(() => next++);
      if (!Array.isArray(g.params) || g.params.length !== want.length || g.params.some((x, j) => x !== want[j])) {
        throw new Error(
          `${where}: param group ${k} holds parameters [${String(g.params)}], the optimizer's holds [${want.join(', ')}]`,
        );
      }
      const { params: _ps, ...o } = g;
      const merged = { ...own.options, ...o } as O;
      this.validate(merged, this.paramGroups.length > 1 ? k : undefined);
      return merged;
    });
    const slots: (Float32Array[] | null)[] = this.params.map(() => null);
    const steps = this.params.map(() => 0);
    for (const [key, entry] of Object.entries(sd.state)) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= this.params.length)
        throw new Error(`${where}: state for parameter ${key}, but the optimizer has ${this.params.length}`);
      const p = this.params[i],
        name = p.name ?? `parameter ${i}`;
      if (!Number.isSafeInteger(entry?.step) || entry.step < 0)
        throw new Error(`${where}: the step count of ${name} is ${String(entry?.step)}, not a non-negative integer`);
      steps[i] = entry.step;
      const values: Float32Array[] = [];
      for (const n of this.slotNames) {
        const v = entry.values?.[n];
        if (!v) throw new Error(`${where}: the state of ${name} has no ${n}`);
        if (v.shape.length !== p.shape.length || v.shape.some((d, j) => d !== p.shape[j]))
          throw new Error(
            `${where}: ${n} of ${name} has shape [${v.shape.join(', ')}] for the parameter's [${p.shape.join(', ')}]`,
          );
        if (v instanceof Tensor && v.isDisposed) throw new Error(`${where}: ${n} of ${name} is a disposed tensor`);
        const data = v instanceof Tensor ? await v.toArray() : v.data;
        if (!(data instanceof Float32Array) || data.length !== p.size)
          throw new Error(
            `${where}: ${n} of ${name} has ${data instanceof Float32Array ? data.length : 'no Float32Array of'} values for ${p.size}`,
          );
        values.push(data);
      }
      slots[i] = values;
    }
    this.checkState(slots, steps);
    this.paramGroups.forEach((g, k) => Object.assign(g.options, options[k]));
    this.loadState(slots, Math.max(0, ...steps), steps);
  }

  /** Names of the per-parameter state slots, in stateTensors() order (checkpoint keys). */
  abstract readonly slotNames: readonly string[];

  /** Checks a group's hyper-parameters (they may change between steps); `group` names it in errors. @internal */
  protected abstract validate(o: O, group?: number): void;
  /** The kernel's spec for a parameter of a group with options `o` at its step `step` (read at every call of a compiled step). @internal */
  protected abstract spec(o: O, step: number): OptimSpec;
  /** The learning rate the next step uses (the first group's). */
  get lr(): number {
    return this.groupLr(0);
  }
  /** The learning rate group k's next step uses (its option, or the optimizer's default). */
  groupLr(k: number): number {
    return this.spec(this.paramGroups[k].options, 1).lr;
  }
  /** Sets every group's learning rate. */
  set lr(v: number) {
    if (!(v >= 0)) throw new Error(`${this.name}: invalid learning rate ${v} (must be >= 0)`);
    for (const g of this.paramGroups) g.options.lr = v;
  }
  /** The two state tensors of parameter p's kernel, in a group with options `o` (unused ones are dummies). @internal */
  protected abstract kernelSlots(p: Tensor, o: O): [Tensor, Tensor];

  /** One step: every parameter with a gradient is updated in place from it (one kernel each). */
  step(): void {
    // Which parameters step is fixed when the step is traced (a compiled step updates the same ones).
    const stepped = this.params.flatMap((p, i) => (p.grad ? [i] : []));
    const many = this.paramGroups.length > 1;
    // Each group's spec at a step, made once per call and shared by the group's parameters at that step
    // (usually all of them): a compiled step reads these at every call.
    const specs: { step: number; spec: OptimSpec | null }[] = this.paramGroups.map(() => ({ step: 0, spec: null }));
    perCall(() => {
      this.paramGroups.forEach((g, k) => this.validate(g.options, many ? k : undefined));
      this.stepCount++;
      for (const i of stepped) this.paramSteps[i]++;
      for (const s of specs) s.spec = null;
    });
    // A trace that fails after this point applied no update: the counts go back.
    onTraceAbort(() => {
      this.stepCount--;
      for (const i of stepped) this.paramSteps[i]--;
    });
    this.flags ??= keep(zeros([this.params.length], { backend: this.params[0].backend }));
    for (const i of stepped) {
      const p = this.params[i],
        o = this.paramGroups[this.groupIndex[i]].options,
        memo = specs[this.groupIndex[i]];
      const [s1, s2] = this.kernelSlots(p, o);
      effect('optim', [p, p.grad!, s1, s2, this.flags], () => {
        const step = this.paramSteps[i];
        if (memo.spec === null || memo.step !== step) {
          memo.spec = this.spec(o, step);
          memo.step = step;
        }
        return { spec: memo.spec, check: { slot: i, tag: this.stepCount } };
      });
    }
  }

  /** One flag per parameter: the step count of the last step that saw a non-finite value there. */
  private flags: Tensor | null = null;

  /**
   * The parameters whose gradient or updated value held a NaN or an Inf in the last step(), described
   * (name, and which of the two is non-finite); empty when all were finite. One readback of the flags;
   * the offending tensors are read only when a flag is set. `names` (e.g. from a model's
   * namedParameters()) gives the parameters their full names; otherwise each tensor's own name is used.
   *
   * The check is of the step before the call: the flags' readback is enqueued and that step's count
   * taken when nonFinite() is called, not when its promise resolves. So a loop may issue the next step
   * before it awaits the check of the last one (a readback one step behind, the queue never drained)
   * and still learn exactly which step went wrong: call it right after step(), before the next. Only
   * the NaN and Inf counts of a flagged parameter are read when the flags arrive; where steps were
   * taken meanwhile they are of the latest, and the description says so ("counted 1 step later").
   */
  nonFinite(names?: Map<Tensor, string>): Promise<string[]> {
    if (!this.flags || this.stepCount === 0) return Promise.resolve([]);
    // Taken now: the readback is enqueued before any later step can overwrite the flags, and compared
    // with this step's tag whatever the count is when it arrives.
    const tag = this.stepCount;
    const read = this.flags.toArray();
    return this.describeFlags(read, tag, names);
  }

  private async describeFlags(read: Promise<Float32Array>, tag: number, names?: Map<Tensor, string>) {
    const flags = await read;
    const hit = this.params.flatMap((p, i) => (flags[i] === Math.fround(tag) ? [i] : []));
    if (!hit.length) return [];
    const count = async (t: Tensor | null) => {
      const v = t ? await t.toArray() : new Float32Array(0);
      let nan = 0,
        inf = 0;
      for (const x of v)
        if (Number.isNaN(x)) nan++;
        else if (!Number.isFinite(x)) inf++;
      return nan + inf ? `${nan} NaN and ${inf} Inf of ${v.length}` : '';
    };
    // Every count's readback enqueued at once, so that they all see the same step.
    const later = this.stepCount - tag;
    const counts = await Promise.all(hit.map((i) => Promise.all([count(this.params[i].grad), count(this.params[i])])));
    return hit.map((i, k) => {
      const p = this.params[i],
        [g, w] = counts[k];
      const name = names?.get(p) ?? p.name ?? `parameter ${i}`;
      const what =
        [g && `the gradient of ${name} holds ${g}`, w && `${name} holds ${w} after the update`]
          .filter(Boolean)
          .join('; ') || `${name}: non-finite`;
      return later > 0 ? `${what} (counted ${later} step${later > 1 ? 's' : ''} later)` : what;
    });
  }
}

/** SGD's options (torch.optim.SGD's keyword arguments); a param group may override any of them. */
export interface SGDOptions {
  /** The learning rate (required, >= 0). */
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum?: number;
  /** Dampening of the momentum's gradient term, in [0, 1] (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with optional momentum, dampening, weight decay and Nesterov momentum,
 * as torch.optim.SGD: v = momentum v + (1 - dampening) g (v = g at a parameter's first step), p -= lr v.
 *
 * @throws Error for an invalid hyper-parameter (checked here and at every step), an empty parameter
 * list, or a parameter that does not require grad.
 * @example
 * ```ts
 * const opt = new nn.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 * ```
 */
export class SGD extends Optimizer<SGDOptions> {
  readonly slotNames = ['momentum_buffer'] as const;
  /** @internal */
  protected override get name(): string {
    return 'SGD';
  }
  constructor(params: OptimizerParams<SGDOptions>, defaults: SGDOptions) {
    super(params, defaults);
    this.paramGroups.forEach((g, k) => this.validate(g.options, this.paramGroups.length > 1 ? k : undefined));
  }
  /** @internal */
  protected validate(o: SGDOptions, group?: number): void {
    const at = group === undefined ? 'SGD' : `SGD (param group ${group})`;
    if (o.nesterov && (!o.momentum || o.dampening))
      throw new Error(`${at}: nesterov needs momentum > 0 and dampening 0`);
    checkRange(at, 'learning rate', o.lr, 0);
    checkRange(at, 'momentum', o.momentum ?? 0, 0);
    checkRange(at, 'dampening', o.dampening ?? 0, 0, 1);
    checkRange(at, 'weight decay', o.weightDecay ?? 0, 0);
  }
  /** @internal */
  protected spec(o: SGDOptions, step: number): OptimSpec {
    // The momentum buffer starts as the first gradient (torch: buf = clone(d_p) when it is None), at the
    // parameter's own first step.
    return {
      kind: 'sgd',
      lr: o.lr,
      weightDecay: o.weightDecay ?? 0,
      momentum: o.momentum ?? 0,
      dampening: o.dampening ?? 0,
      nesterov: !!o.nesterov,
      first: step === 1,
    };
  }
  /** @internal */
  protected kernelSlots(p: Tensor, o: SGDOptions): [Tensor, Tensor] {
    return [o.momentum ? this.slots(p, 1)[0] : this.dummy(p, 0), this.dummy(p, 1)];
  }
}

/** Adam's and AdamW's options (torch.optim.Adam's keyword arguments); a param group may override any of them. */
export interface AdamOptions {
  /** The learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates, each in [0, 1) (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** L2 penalty (Adam, default 0) or decoupled weight decay (AdamW, default 0.01). */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1; torch.optim.Adam)
 * with bias-corrected moments; weightDecay adds wd p to the gradient (L2), where AdamW decouples it.
 *
 * @throws Error for an invalid hyper-parameter (checked here and at every step), an empty parameter
 * list, or a parameter that does not require grad.
 * @example
 * ```ts
 * const opt = new nn.Adam(model.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
 * // param groups: the decoder at a lower rate
 * const opt2 = new nn.Adam([
 *   { params: model.encoder.parameters() },
 *   { params: model.decoder.parameters(), lr: 1e-4 },
 * ], { lr: 1e-3 });
 * ```
 */
export class Adam extends Optimizer<AdamOptions> {
  readonly slotNames = ['m', 'v'] as const;
  /** The optimizer's name in errors, whether its weight decay is decoupled (AdamW), and its default decay. @internal */
  protected get kind(): { name: string; decoupled: boolean; weightDecay: number } {
    return { name: 'Adam', decoupled: false, weightDecay: 0 };
  }
  /** @internal */
  protected override get name(): string {
    return this.kind.name;
  }
  constructor(params: OptimizerParams<AdamOptions>, defaults: AdamOptions = {}) {
    super(params, defaults);
    this.paramGroups.forEach((g, k) => this.validate(g.options, this.paramGroups.length > 1 ? k : undefined));
  }
  /** @internal */
  protected validate(o: AdamOptions, group?: number): void {
    const [beta1, beta2] = o.betas ?? [0.9, 0.999];
    const { name, weightDecay } = this.kind;
    const at = group === undefined ? name : `${name} (param group ${group})`;
    checkRange(at, 'learning rate', o.lr ?? 1e-3, 0);
    checkRange(at, 'beta1', beta1, 0, 1, true);
    checkRange(at, 'beta2', beta2, 0, 1, true);
    checkRange(at, 'eps', o.eps ?? 1e-8, 0);
    checkRange(at, 'weight decay', o.weightDecay ?? weightDecay, 0);
  }
  /** @internal */
  protected spec(o: AdamOptions, step: number): OptimSpec {
    const [beta1, beta2] = o.betas ?? [0.9, 0.999];
    const { decoupled, weightDecay } = this.kind;
    return {
      kind: 'adam',
      lr: o.lr ?? 1e-3,
      weightDecay: o.weightDecay ?? weightDecay,
      beta1,
      beta2,
      eps: o.eps ?? 1e-8,
      step,
      decoupled,
    };
  }
  /** @internal */
  protected kernelSlots(p: Tensor): [Tensor, Tensor] {
    const [m, v] = this.slots(p, 2);
    return [m, v];
  }
}

/**
 * AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2; torch.optim.AdamW):
 * Adam whose weight decay shrinks the parameter directly, p <- p (1 - lr wd), instead of adding wd p to
 * the gradient; the decay defaults to 0.01 as in PyTorch. The same kernel as Adam (shaders/optim.wgsl).
 */
export class AdamW extends Adam {
  /** @internal */
  protected override get kind(): { name: string; decoupled: boolean; weightDecay: number } {
    return { name: 'AdamW', decoupled: true, weightDecay: 0.01 };
  }
}
