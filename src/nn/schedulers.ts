// Learning-rate schedulers with PyTorch's formulas (torch.optim.lr_scheduler), in closed form: each
// sets every param group's learning rate for step t from the rate that group started with (torch's
// base_lrs). The rate is host state
// that an optimizer reads at every step, also in a compiled step (a step's learning rate is per-call
// data, src/graph/trace.ts), so a scheduler drives compiled and eager training alike.
import type { Optimizer } from './optim.ts';

export abstract class LRScheduler<O extends object = object> {
  /** Each param group's learning rate when the scheduler was made (PyTorch's base_lrs). */
  readonly baseLrs: number[];
  /** Steps taken (PyTorch's last_epoch). */
  t = 0;
  /** The options are set before the first rate is computed (here, not by a subclass's field). */
  constructor(readonly optimizer: Optimizer, readonly o: O) {
    this.baseLrs = optimizer.paramGroups.map((_, k) => optimizer.groupLr(k));
    this.apply();
  }
  /** The first group's base rate. */
  get baseLr(): number {
    return this.baseLrs[0];
  }
  /** The learning rate at step t of a group that started at `base`. */
  protected abstract rate(t: number, base: number): number;
  private apply(): void {
    this.optimizer.paramGroups.forEach((g, k) => (g.options.lr = this.rate(this.t, this.baseLrs[k])));
  }
  /** Advances one step (after the optimizer's), setting the learning rates the next step uses. */
  step(): void {
    this.t++;
    this.apply();
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
  if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new Error(`${name}: ${what} must be a positive ${integer ? 'integer' : 'number'}, not ${v}`);
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

export interface OneCycleOptions {
  maxLr: number;
  totalSteps: number;
  pctStart?: number;
  annealStrategy?: AnnealStrategy;
  divFactor?: number;
  finalDivFactor?: number;
}

/**
 * The 1cycle policy (Smith & Topor 2017; torch's OneCycleLR, two phases): from maxLr / divFactor up to
 * maxLr over the first pctStart of totalSteps, then down to that start / finalDivFactor at the last
 * step, by cosine or linear annealing. Every group's own rate is replaced, as in PyTorch.
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
    super(opt, o);
  }
  protected rate(t: number): number {
    const { maxLr, totalSteps, pctStart = 0.3, annealStrategy = 'cos', divFactor = 25, finalDivFactor = 1e4 } = this.o;
    if (t >= totalSteps) throw new Error(`OneCycleLR: step ${t} is past totalSteps ${totalSteps}`);
    const initial = maxLr / divFactor, min = initial / finalDivFactor;
    const anneal = (a: number, b: number, pct: number) =>
      annealStrategy === 'cos' ? b + ((a - b) / 2) * (1 + Math.cos(Math.PI * pct)) : (b - a) * pct + a;
    const up = pctStart * totalSteps - 1, last = totalSteps - 1;
    return t <= up ? anneal(initial, maxLr, t / up) : anneal(maxLr, min, (t - up) / (last - up));
  }
}
