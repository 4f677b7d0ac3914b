// Learning-rate schedulers with PyTorch's formulas (torch.optim.lr_scheduler), in closed form: each
// sets every param group's learning rate for step t from the rate that group started with (torch's
// base_lrs). The rate is host state
// that an optimizer reads at every step, also in a compiled step (a step's learning rate is per-call
// data, src/graph/trace.ts), so a scheduler drives compiled and eager training alike; so is
// OneCycleLR's momentum (SGD's momentum, Adam's beta1), which every step's kernel parameters carry.
import { Adam, SGD, type Optimizer } from './optim.ts';

/**
 * The base of the learning-rate schedulers (torch.optim.lr_scheduler.LRScheduler): made over an
 * optimizer, it sets every param group's learning rate for step t in closed form from the rate the
 * group started with; call step() after each optimizer step. Works the same for eager and compiled
 * training steps (the rate is read at every call).
 *
 * @example
 * ```ts
 * const opt = new nn.Adam(model.parameters(), { lr: 1e-3 });
 * const sched = new nn.CosineAnnealingLR(opt, { tMax: epochs * stepsPerEpoch });
 * for (const batch of batches) {
 *   tidy(() => { opt.zeroGrad(); lossOf(batch).backward(); opt.step(); });
 *   sched.step();
 * }
 * ```
 */
export abstract class LRScheduler<O extends object = object> {
  /** Each param group's learning rate when the scheduler was made (PyTorch's base_lrs). */
  readonly baseLrs: number[];
  /** Steps taken (PyTorch's last_epoch). */
  t = 0;
  /**
   * Sets the optimizer's rates for step 0 at once. The options are set before the first rate is
   * computed (here, not by a subclass's field).
   * @param optimizer - The optimizer whose param groups' learning rates this sets.
   * @param o - The schedule's options.
   */
  constructor(
    readonly optimizer: Optimizer,
    readonly o: O,
  ) {
    this.baseLrs = optimizer.paramGroups.map((_, k) => optimizer.groupLr(k));
    this.apply(0);
  }
  /** The first group's base rate. */
  get baseLr(): number {
    return this.baseLrs[0];
  }
  /** The learning rate at step t of a group that started at `base`; throws past the schedule's end. */
  protected abstract rate(t: number, base: number): number;
  /** Sets what else step t of the schedule sets (OneCycleLR's momentum); after the rates, which check t. */
  protected applyMore(_t: number): void {}
  private apply(t: number): void {
    // Every rate first: a step past the end throws before anything changes.
    const lrs = this.optimizer.paramGroups.map((_, k) => this.rate(t, this.baseLrs[k]));
    this.optimizer.paramGroups.forEach((g, k) => (g.options.lr = lrs[k]));
    this.applyMore(t);
  }
  /** Advances one step (after the optimizer's), setting the learning rates the next step uses. */
  step(): void {
    this.apply(this.t + 1);
    this.t++;
  }
  /** The learning rate the first group now has (PyTorch's get_last_lr()[0]). */
  get lastLr(): number {
    return this.optimizer.lr;
  }
  /** Every group's learning rate now (PyTorch's get_last_lr()). */
  get lastLrs(): number[] {
    return this.optimizer.paramGroups.map((_, k) => this.optimizer.groupLr(k));
  }
}

function positive(name: string, what: string, v: number, integer = false): void {
  if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw new Error(`${name}: ${what} must be a positive ${integer ? 'integer' : 'number'}, not ${v}`);
}

/** lr = base gamma^floor(t / stepSize) (StepLR). */
export class StepLR extends LRScheduler<{ stepSize: number; gamma?: number }> {
  constructor(opt: Optimizer, o: { stepSize: number; gamma?: number }) {
    positive('StepLR', 'stepSize', o.stepSize, true);
    super(opt, o);
  }
  protected rate(t: number, base: number): number {
    return base * (this.o.gamma ?? 0.1) ** Math.floor(t / this.o.stepSize);
  }
}

/** lr = base gamma^t (ExponentialLR). */
export class ExponentialLR extends LRScheduler<{ gamma: number }> {
  constructor(opt: Optimizer, o: { gamma: number }) {
    positive('ExponentialLR', 'gamma', o.gamma);
    super(opt, o);
  }
  protected rate(t: number, base: number): number {
    return base * this.o.gamma ** t;
  }
}

/** lr = etaMin + (base - etaMin) (1 + cos(pi t / tMax)) / 2 (CosineAnnealingLR; SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler<{ tMax: number; etaMin?: number }> {
  constructor(opt: Optimizer, o: { tMax: number; etaMin?: number }) {
    positive('CosineAnnealingLR', 'tMax', o.tMax, true);
    super(opt, o);
  }
  protected rate(t: number, base: number): number {
    const etaMin = this.o.etaMin ?? 0;
    return etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * t) / this.o.tMax))) / 2;
  }
}

/** lr = base (start + (end - start) min(t, totalIters) / totalIters): a linear warm-up (LinearLR). */
export class LinearLR extends LRScheduler<{ startFactor?: number; endFactor?: number; totalIters?: number }> {
  constructor(opt: Optimizer, o: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    const s = o.startFactor ?? 1 / 3;
    if (!(s > 0 && s <= 1)) throw new Error(`LinearLR: startFactor must be in (0, 1], not ${s}`);
    positive('LinearLR', 'totalIters', o.totalIters ?? 5, true);
    super(opt, o);
  }
  protected rate(t: number, base: number): number {
    const { startFactor = 1 / 3, endFactor = 1, totalIters = 5 } = this.o;
    return base * (startFactor + ((endFactor - startFactor) * Math.min(t, totalIters)) / totalIters);
  }
}

/** How OneCycleLR moves between its rates. */
export type AnnealStrategy = 'cos' | 'linear';

/** OneCycleLR's options (torch's keyword arguments of OneCycleLR). */
export interface OneCycleOptions {
  /** The peak learning rate. */
  maxLr: number;
  /** The optimizer steps of the schedule: totalSteps rounds of opt.step(); sched.step(), then no more. */
  totalSteps: number;
  /** The fraction of totalSteps spent raising the rate (default 0.3). */
  pctStart?: number;
  /** 'cos' (default) or 'linear' annealing. */
  annealStrategy?: AnnealStrategy;
  /** The starting rate is maxLr / divFactor (default 25). */
  divFactor?: number;
  /** The final rate is the starting rate / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /**
   * Cycle the momentum inversely to the rate, from maxMomentum down to baseMomentum while the rate
   * rises, then back (default true, as PyTorch): SGD's momentum, or Adam's and AdamW's beta1.
   */
  cycleMomentum?: boolean;
  /** The momentum at the peak rate (default 0.85). */
  baseMomentum?: number;
  /** The momentum at the start and at the end (default 0.95). */
  maxMomentum?: number;
}

/**
 * The 1cycle policy (Smith & Topor 2017; torch's OneCycleLR, two phases): from maxLr / divFactor up to
 * maxLr over the first pctStart of totalSteps, then down to that start / finalDivFactor at step
 * totalSteps - 1, by cosine or linear annealing; with cycleMomentum the momentum (SGD's, or Adam's
 * beta1) goes the other way, maxMomentum -> baseMomentum -> maxMomentum. Every group's own rate is
 * replaced, as in PyTorch. The sched.step() after the last of totalSteps rounds is allowed and sets
 * PyTorch's value there (the second phase's formula one step past its end, which no step of the
 * schedule uses; with linear annealing a rate below 0, which an optimizer step would refuse); a
 * sched.step() past that throws, as PyTorch's does.
 */
export class OneCycleLR extends LRScheduler<OneCycleOptions> {
  constructor(opt: Optimizer, o: OneCycleOptions) {
    positive('OneCycleLR', 'maxLr', o.maxLr);
    positive('OneCycleLR', 'totalSteps', o.totalSteps, true);
    const pct = o.pctStart ?? 0.3;
    if (!(pct > 0 && pct < 1)) throw new Error(`OneCycleLR: pctStart must be in (0, 1), not ${pct}`);
    if (o.annealStrategy !== undefined && o.annealStrategy !== 'cos' && o.annealStrategy !== 'linear') {
      throw new Error(`OneCycleLR: annealStrategy must be 'cos' or 'linear', not ${JSON.stringify(o.annealStrategy)}`);
    }
    if (o.cycleMomentum ?? true) {
      if (!(opt instanceof SGD || opt instanceof Adam)) {
        throw new Error(
          `OneCycleLR: cycleMomentum needs an optimizer with a momentum (SGD) or a beta1 (Adam, AdamW); pass cycleMomentum: false`,
        );
      }
      for (const [name, v] of [
        ['baseMomentum', o.baseMomentum ?? 0.85],
        ['maxMomentum', o.maxMomentum ?? 0.95],
      ] as const) {
        if (!(v >= 0 && v < 1)) throw new Error(`OneCycleLR: ${name} must be in [0, 1), not ${v}`);
      }
    }
    super(opt, o);
  }
  /** Step t's position: the phase's start and end values are picked by `up`, and pct in it. */
  private phase(t: number): { rising: boolean; pct: number } {
    const { totalSteps, pctStart = 0.3 } = this.o;
    // PyTorch raises when last_epoch > total_steps: the step after the last round is still computed.
    if (t > totalSteps) {
      throw new Error(
        `OneCycleLR: step() called ${t} times, more than totalSteps = ${totalSteps} (the schedule covers totalSteps rounds of opt.step(); sched.step())`,
      );
    }
    const up = pctStart * totalSteps - 1,
      last = totalSteps - 1;
    return t <= up ? { rising: true, pct: t / up } : { rising: false, pct: (t - up) / (last - up) };
  }
  private anneal(a: number, b: number, pct: number): number {
    return (this.o.annealStrategy ?? 'cos') === 'cos'
      ? b + ((a - b) / 2) * (1 + Math.cos(Math.PI * pct))
      : (b - a) * pct + a;
  }
  protected rate(t: number): number {
    const { maxLr, divFactor = 25, finalDivFactor = 1e4 } = this.o;
    const initial = maxLr / divFactor,
      min = initial / finalDivFactor;
    const { rising, pct } = this.phase(t);
    return rising ? this.anneal(initial, maxLr, pct) : this.anneal(maxLr, min, pct);
  }
  /** The momentum (SGD) or beta1 (Adam) at step t; null without cycleMomentum. */
  momentumAt(t: number): number | null {
    const { cycleMomentum = true, baseMomentum = 0.85, maxMomentum = 0.95 } = this.o;
    if (!cycleMomentum) return null;
    const { rising, pct } = this.phase(t);
    return rising ? this.anneal(maxMomentum, baseMomentum, pct) : this.anneal(baseMomentum, maxMomentum, pct);
  }
  protected override applyMore(t: number): void {
    const m = this.momentumAt(t);
    if (m === null) return;
    for (const g of this.optimizer.paramGroups) {
      const o = g.options as { momentum?: number; betas?: [number, number] };
      if (this.optimizer instanceof Adam) o.betas = [m, o.betas?.[1] ?? 0.999];
      else o.momentum = m;
    }
  }
}
