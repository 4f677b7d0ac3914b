// Optimizers with PyTorch's semantics (torch.optim.SGD, Adam, AdamW). Each step is one fused kernel per
// parameter (shaders/optim.wgsl on WebGPU, the loop twin on the CPU reference); the state (momentum
// buffers, moments, step count) is exposed for checkpoints. The same kernels check on the way that every
// gradient and updated parameter is finite (one flag per parameter, no extra pass over the data), which
// nonFinite() reads back: the training loop's check of the whole model, every step.
//
// A step is host bookkeeping (validate the hyper-parameters, count the step) then one 'optim' effect per
// parameter (src/graph/effects.ts) whose params (learning rate, step count, bias corrections, the flag's
// tag) are computed by a function: a compiled step (src/graph/compile.ts) repeats the bookkeeping and
// recomputes those params on every call, so a learning rate changed between calls takes effect and the
// step count advances as in eager mode.

import { Tensor, effect, keep, perCall } from '../tensor.ts';
import { zeros } from '../ops/creation.ts';
import type { OptimSpec } from '../backend/kernels.ts';

/** Hyper-parameters are checked at every step (a demo or a scheduler may change them between steps). */
function checkRange(opt: string, name: string, v: number, lo: number, hi = Infinity, hiOpen = false): void {
  if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) {
    throw new Error(`${opt}: invalid ${name} ${v} (must be ${hi === Infinity ? `>= ${lo}` : `in [${lo}, ${hi}${hiOpen ? ')' : ']'}`})`);
  }
}

export abstract class Optimizer {
  readonly params: Tensor[];
  stepCount = 0;
  protected state = new Map<Tensor, Tensor[]>();
  constructor(params: Iterable<Tensor>) {
    this.params = [...params];
    for (const p of this.params) if (!p.requiresGrad) throw new Error(`optimizer: parameter ${p.name ?? `#${p.id}`} does not require grad`);
  }
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
  private dummies: Tensor[] = [];
  /** Placeholder state for unused kernel slots (a binding may not alias a written one). */
  protected dummy(p: Tensor, i: number): Tensor {
    return (this.dummies[i] ??= keep(zeros([1], { backend: p.backend })));
  }
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
  /** Throws where loadState(slots) would not fit: a parameter count, slot count or length that differs. */
  checkState(slots: (Float32Array[] | null)[]): void {
    if (slots.length !== this.params.length) throw new Error(`optimizer state for ${slots.length} parameters, but the optimizer has ${this.params.length}`);
    slots.forEach((values, i) => {
      const p = this.params[i];
      if (values && values.length !== this.slotNames.length) throw new Error(`optimizer state of ${p.name ?? `parameter ${i}`}: ${values.length} slots for ${this.slotNames.length}`);
      values?.forEach((v) => {
        if (v.length !== p.size) throw new Error(`optimizer state of ${p.name ?? `parameter ${i}`}: ${v.length} values for ${p.size}`);
      });
    });
  }

  /**
   * Restores state saved from stateTensors(): per parameter its slot values (or null), and the step count.
   * All or nothing (checkState first). The finite flags are dropped: they are tagged with step counts,
   * and the restored count may repeat one they hold.
   */
  loadState(slots: (Float32Array[] | null)[], step: number): void {
    this.checkState(slots);
    this.flags?.dispose();
    this.flags = null;
    this.stepCount = step;
    this.params.forEach((p, i) => {
      const values = slots[i];
      if (!values) {
        // No saved state: the parameter starts fresh (as before its first step).
        for (const t of this.state.get(p) ?? []) t.dispose();
        this.state.delete(p);
        return;
      }
      this.slots(p, values.length).forEach((st, j) => p.backend.write(st.storage, values[j]));
    });
  }

  /** Names of the per-parameter state slots, in stateTensors() order (checkpoint keys). */
  abstract readonly slotNames: readonly string[];

  /** Checks the hyper-parameters (they may change between steps). */
  protected abstract validate(): void;
  /** The kernel's spec for this step (read at every call of a compiled step). */
  protected abstract spec(): OptimSpec;
  /** The options, whose learning rate a scheduler (src/nn/schedulers.ts) or the user may change. */
  abstract readonly o: { lr?: number };
  /** The learning rate the next step uses. */
  get lr(): number {
    return this.spec().lr;
  }
  set lr(v: number) {
    if (!(v >= 0)) throw new Error(`optimizer: invalid learning rate ${v} (must be >= 0)`);
    this.o.lr = v;
  }
  /** The two state tensors of parameter p's kernel (unused ones are dummies). */
  protected abstract kernelSlots(p: Tensor): [Tensor, Tensor];

  /** One step: every parameter with a gradient is updated in place from it (one kernel each). */
  step(): void {
    perCall(() => {
      this.validate();
      this.stepCount++;
    });
    this.flags ??= keep(zeros([this.params.length], { backend: this.params[0].backend }));
    for (const [i, p] of this.params.entries()) {
      if (!p.grad) continue;
      const [s1, s2] = this.kernelSlots(p);
      effect('optim', [p, p.grad, s1, s2, this.flags], () => ({ spec: this.spec(), check: { slot: i, tag: this.stepCount } }));
    }
  }

  /** One flag per parameter: the step count of the last step that saw a non-finite value there. */
  private flags: Tensor | null = null;

  /**
   * The parameters whose gradient or updated value held a NaN or an Inf in the last step(), described
   * (name, and which of the two is non-finite); empty when all were finite. One readback of the flags;
   * the offending tensors are read only when a flag is set. `names` (e.g. from a model's
   * namedParameters()) gives the parameters their full names; otherwise each tensor's own name is used.
   */
  async nonFinite(names?: Map<Tensor, string>): Promise<string[]> {
    if (!this.flags || this.stepCount === 0) return [];
    const flags = await this.flags.toArray();
    const out: string[] = [];
    for (let i = 0; i < this.params.length; i++) {
      if (flags[i] !== Math.fround(this.stepCount)) continue;
      const p = this.params[i];
      const count = async (t: Tensor | null) => {
        const v = t ? await t.toArray() : new Float32Array(0);
        let nan = 0, inf = 0;
        for (const x of v) if (Number.isNaN(x)) nan++; else if (!Number.isFinite(x)) inf++;
        return nan + inf ? `${nan} NaN and ${inf} Inf of ${v.length}` : '';
      };
      const [g, w] = [await count(p.grad), await count(p)];
      const name = names?.get(p) ?? p.name ?? `parameter ${i}`;
      out.push([g && `the gradient of ${name} holds ${g}`, w && `${name} holds ${w} after the update`].filter(Boolean).join('; ') || `${name}: non-finite`);
    }
    return out;
  }

}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  readonly slotNames = ['momentum_buffer'] as const;
  constructor(params: Iterable<Tensor>, readonly o: SGDOptions) {
    super(params);
    this.validate();
  }
  protected validate(): void {
    if (this.o.nesterov && (!this.o.momentum || this.o.dampening)) throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
    checkRange('SGD', 'learning rate', this.o.lr, 0);
    checkRange('SGD', 'momentum', this.o.momentum ?? 0, 0);
    checkRange('SGD', 'dampening', this.o.dampening ?? 0, 0, 1);
    checkRange('SGD', 'weight decay', this.o.weightDecay ?? 0, 0);
  }
  protected spec(): OptimSpec {
    return {
      kind: 'sgd', lr: this.o.lr, weightDecay: this.o.weightDecay ?? 0, momentum: this.o.momentum ?? 0,
      dampening: this.o.dampening ?? 0, nesterov: !!this.o.nesterov, first: this.stepCount === 1,
    };
  }
  protected kernelSlots(p: Tensor): [Tensor, Tensor] {
    return [this.o.momentum ? this.slots(p, 1)[0] : this.dummy(p, 0), this.dummy(p, 1)];
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class Adam extends Optimizer {
  readonly slotNames = ['m', 'v'] as const;
  /** The optimizer's name in errors, whether its weight decay is decoupled (AdamW), and its default decay. */
  protected get kind(): { name: string; decoupled: boolean; weightDecay: number } {
    return { name: 'Adam', decoupled: false, weightDecay: 0 };
  }
  constructor(params: Iterable<Tensor>, readonly o: AdamOptions = {}) {
    super(params);
    this.validate();
  }
  protected validate(): void {
    const [beta1, beta2] = this.o.betas ?? [0.9, 0.999];
    const { name, weightDecay } = this.kind;
    checkRange(name, 'learning rate', this.o.lr ?? 1e-3, 0);
    checkRange(name, 'beta1', beta1, 0, 1, true);
    checkRange(name, 'beta2', beta2, 0, 1, true);
    checkRange(name, 'eps', this.o.eps ?? 1e-8, 0);
    checkRange(name, 'weight decay', this.o.weightDecay ?? weightDecay, 0);
  }
  protected spec(): OptimSpec {
    const [beta1, beta2] = this.o.betas ?? [0.9, 0.999];
    const { decoupled, weightDecay } = this.kind;
    return { kind: 'adam', lr: this.o.lr ?? 1e-3, weightDecay: this.o.weightDecay ?? weightDecay, beta1, beta2, eps: this.o.eps ?? 1e-8, step: this.stepCount, decoupled };
  }
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
  protected override get kind(): { name: string; decoupled: boolean; weightDecay: number } {
    return { name: 'AdamW', decoupled: true, weightDecay: 0.01 };
  }
}
