// The demo's training loop, in the page's training worker (worker.ts; the page itself only shows what it
// reports): each step is encoded and its loss terms and finite flags read back, one step behind at full
// speed (step i + 1 is issued before step i's readback is awaited, so the device's queue never drains
// between steps; any other job reads the step left in flight first, so it sees the model, the step count
// and the history agree, and a bad step is still reported as the one that produced it), and the loop
// gives the worker's event loop a turn at least every ~25 ms, so that the page's requests (a pause, a
// pointer decode) are answered while it trains, on the CPU backend too where a step is plain
// JavaScript. Every piece of device work on the model (steps, redraws, the latent
// explorer's decodes, checkpoint reads) goes through one Serial queue, so that none of them ever sees a
// half-updated model or a disposed one; a kernel profile holds that queue from its warm-up to its table,
// so that nothing else runs among the profiled steps. The views are redrawn about once a second, or less
// often where drawing is slow (at most ~20% of the time), without letting the slow first redraws (kernel
// compilation, the tuner's trials) stop them for long; a new model's views are drawn twice so that the
// redraws during training start warm. A speed other than 'full' spaces the steps out (at most that many a
// second), to watch a GAN's players move. The step is compiled (src/graph/compile.ts: traced once, then
// its recorded kernels replayed; the same numbers up to the order fused reductions sum in) unless the
// page's "Compiled step" box is cleared.

import {
  Generator,
  backendInfo,
  compile,
  kernelChoices,
  profile,
  sync,
  type Compiled,
  type KernelStats,
  type Tensor,
} from '../src/index.ts';
import type { TrainBatch } from '../src/models/index.ts';
import type { LiveModel } from './adapters.ts';
import { appendHistory, replaceHistory, type LossHistory } from './draw.ts';
import type { Speed } from './protocol.ts';

/**
 * Runs async jobs one after another, in the order they were asked for. A job may leave work in flight
 * (leave(): the training loop's step, issued with its readbacks and not yet read): the next job runs it
 * first (so no other job ever sees a step half counted), unless that job takes it over (runOver(): the
 * loop's next step, issued before the one left is read, so that the device's queue never drains).
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  private left: (() => Promise<void>) | null = null;
  run<T>(job: () => Promise<T>): Promise<T> {
    return this.chain(async () => {
      await this.settle();
      return job();
    });
  }
  /** Runs job in turn, handing it the work the job before it left in flight (null if none) to finish itself. */
  runOver<T>(job: (left: (() => Promise<void>) | null) => Promise<T>): Promise<T> {
    return this.chain(() => {
      const l = this.left;
      this.left = null;
      return job(l);
    });
  }
  /** Work the running job leaves in flight, for the next job to finish first. It must not throw: its owner keeps its errors. */
  leave(finish: () => Promise<void>): void {
    this.left = finish;
  }
  private async settle(): Promise<void> {
    const l = this.left;
    this.left = null;
    await l?.();
  }
  private chain<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** A training step issued, its readbacks (loss terms, every optimizer's finite check) enqueued behind it. */
interface Issued {
  terms: Tensor;
  read: Promise<[Float32Array, string[][]]>;
  items: number;
}

/** A macrotask turn (not clamped like nested setTimeout(0), not throttled like requestAnimationFrame). */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export interface TrainerEvents {
  /** After every step (history and counters updated). */
  onStep(): void;
  /** After the views were redrawn. */
  onRender(ms: number): void;
  /** When the loop starts or stops (by pause, error, or reset). */
  onRunning(running: boolean): void;
  onError(e: Error): void;
}

export class Trainer {
  step = 0;
  /** The step whose weights the views show (set by each redraw). */
  renderedStep = 0;
  /** Training time between redraws while the loop runs (ms; see run()). */
  redrawEveryMs = 1000;
  /** Epochs finished before this trainer's model was created (from the checkpoint it was loaded from). */
  readonly epochBase: number;
  readonly history: LossHistory = { steps: [], values: [] };
  running = false;
  batchSize: number;
  /** At most this many steps a second while the loop runs, or 'full'. */
  speed: Speed = 'full';
  private lr: number;
  /** The discriminators' learning rate where the model has them (null: lr). */
  private lrD: number | null = null;
  private readonly noise: Generator;
  private loop: Promise<void> | null = null;
  /** Completion times and item counts of recent steps (the throughput window). */
  private recent: { t: number; items: number }[] = [];
  /** The model's parameter names, for the finite check's messages (built at the first step). */
  private names: Map<Tensor, string> | null = null;
  /** The error of a step left in flight, found by the job that read it (see overlappedStep). */
  private failure: Error | null = null;

  /** The compiled training step, or null when steps run eagerly (op by op). */
  private compiledStep: Compiled<[TrainBatch, Generator], Tensor> | null = null;

  constructor(
    readonly live: LiveModel,
    private readonly serial: Serial,
    private readonly ev: TrainerEvents,
    o: {
      batch: number;
      lr: number;
      lrD?: number | null;
      seed: number;
      step?: number;
      epoch?: number;
      compiled?: boolean;
      speed?: Speed;
    },
  ) {
    this.batchSize = o.batch;
    if (o.compiled ?? true) this.compiledStep = this.compileStep();
    this.lr = o.lr;
    this.step = o.step ?? 0;
    this.epochBase = o.epoch ?? 0;
    // The step's random numbers (z, eps), apart from those of the initial weights.
    this.noise = new Generator(o.seed + 1);
    this.speed = o.speed ?? 'full';
    this.setLr(o.lr, o.lrD ?? null);
  }

  /** The step noise's Philox position (saved in checkpoints, as the CLI does, so a resumed run continues exactly). */
  get noiseState(): { seed: string; offset: number } {
    return this.noise.getState();
  }
  set noiseState(s: { seed: string; offset: number }) {
    this.noise.setState(s);
  }

  get learningRate(): number {
    return this.lr;
  }
  /** The discriminators' learning rate, when set apart from the generators' (null otherwise). */
  get learningRateD(): number | null {
    return this.lrD;
  }

  /**
   * Takes effect at the next step: the optimizers read their lr every step. lrD (when the live model
   * has discriminators: LiveModel.discriminatorOptimizers) sets theirs apart; null gives them lr too.
   */
  setLr(lr: number, lrD: number | null = this.lrD): void {
    for (const [name, v] of [
      ['learning rate', lr],
      ['discriminator learning rate', lrD ?? lr],
    ] as const) {
      if (!(v > 0)) throw new Error(`${name} must be positive, got ${v}`);
    }
    const dOpts = new Set(this.live.discriminatorOptimizers?.() ?? []);
    this.lr = lr;
    this.lrD = dOpts.size ? lrD : null;
    for (const opt of this.live.model.optimizers()) opt.lr = dOpts.has(opt) ? (this.lrD ?? lr) : lr;
  }

  /** The loss history of a run this one continues (a checkpoint's), before its first step. */
  restoreHistory(h: LossHistory): void {
    replaceHistory(this.history, h);
  }

  private compileStep(): Compiled<[TrainBatch, Generator], Tensor> {
    return compile((b: TrainBatch, g: Generator) => this.live.model.trainStep(b, g));
  }

  get compiled(): boolean {
    return this.compiledStep !== null;
  }

  /** Compiled or eager steps from the next step on (in turn with the other device work). */
  setCompiled(on: boolean): Promise<void> {
    return this.serial.run(async () => {
      if (on && !this.compiledStep) this.compiledStep = this.compileStep();
      if (!on && this.compiledStep) {
        this.compiledStep.dispose();
        this.compiledStep = null;
      }
    });
  }

  /** Frees the compiled step (its recorded buffers, and its hold on the model's state). */
  dispose(): void {
    this.compiledStep?.dispose();
    this.compiledStep = null;
  }

  /** One training step, in turn with the other device work; returns its loss terms. */
  trainStep(): Promise<number[]> {
    return this.serial.run(() => this.stepNow());
  }

  /** The step itself, read at once, for callers that hold the Serial queue already. */
  private async stepNow(): Promise<number[]> {
    this.throwFailure();
    return this.finish(this.issue());
  }

  /**
   * Issues one step with its readbacks enqueued right behind it (Optimizer.nonFinite takes the step's
   * check when called), so they hold this step's values however many steps follow before they are awaited.
   */
  private issue(): Issued {
    const size = this.batchSize;
    const batch = this.live.batch(size);
    const terms = this.compiledStep
      ? this.compiledStep(batch, this.noise)
      : this.live.model.trainStep(batch, this.noise);
    try {
      // The loss terms and the optimizers' finite flags (every gradient and parameter), read together.
      this.names ??= new Map([...this.live.model.namedParameters()].map(([k, p]) => [p, k]));
      const read = Promise.all([
        terms.toArray(),
        Promise.all(this.live.model.optimizers().map((o) => o.nonFinite(this.names!))),
      ]);
      read.catch(() => {}); // awaited by finish(), or dropped after an earlier step's error: never unhandled
      return { terms, read, items: this.live.itemsPerStep(size) };
    } catch (e) {
      terms.dispose();
      throw e;
    }
  }

  /** Awaits an issued step's values: counts the step, adds it to the history, and throws if it went non-finite. */
  private async finish(s: Issued): Promise<number[]> {
    let v: number[], bad: string[];
    try {
      const [terms, flags] = await s.read;
      v = [...terms];
      bad = flags.flat();
    } finally {
      s.terms.dispose();
    }
    this.step++;
    appendHistory(this.history, [this.step], [v]);
    const now = performance.now();
    this.recent.push({ t: now, items: s.items });
    while (this.recent.length > 2 && now - this.recent[0].t > 3000) this.recent.shift();
    if (!v.every(Number.isFinite)) {
      const names = this.live.model.lossNames;
      throw new Error(
        `the loss became ${v.map((x, i) => `${names[i]} = ${x}`).join(', ')} at step ${this.step}: lower the learning rate and reset`,
      );
    }
    if (bad.length) {
      const list = bad.slice(0, 3).join('; ') + (bad.length > 3 ? ` (and ${bad.length - 3} more parameters)` : '');
      throw new Error(`at step ${this.step} ${list}: lower the learning rate and reset`);
    }
    return v;
  }

  /**
   * The loop's step at full speed, one step behind: issues the next step, then reads the one the last
   * call left in flight, and leaves the new one in flight in its turn (Serial.leave: whichever job comes
   * next, a redraw, a checkpoint, a decode under the pointer or this again, reads it first). So the
   * device's queue never drains between steps, while every other job sees the model, the step count and
   * the history agree. A bad step is reported as the one that produced it: the step issued after it is
   * awaited and dropped (not counted; its update is in the weights, which are non-finite by then).
   */
  private overlappedStep(): Promise<void> {
    return this.serial.runOver(async (left) => {
      this.throwFailure();
      let next: Issued;
      try {
        next = this.issue();
      } catch (e) {
        await left?.();
        throw e;
      }
      await left?.();
      if (this.failure) {
        await next.read.catch(() => {});
        next.terms.dispose();
        this.throwFailure();
      }
      this.serial.leave(() => this.settle(next));
    });
  }

  /** Reads a step left in flight; its error is kept for the loop to report (onError), not thrown at the job that read it. */
  private async settle(s: Issued): Promise<void> {
    try {
      await this.finish(s);
    } catch (e) {
      this.failure ??= e instanceof Error ? e : new Error(String(e));
    }
  }

  /** A step read by another job than the loop's, that went bad: thrown (once) where the loop or a step would go on. */
  private throwFailure(): void {
    const e = this.failure;
    this.failure = null;
    if (e) throw e;
  }

  /** Steps and examples per second over the last few seconds of training. */
  throughput(): { stepsPerSec: number; itemsPerSec: number } {
    const r = this.recent;
    if (r.length < 2) return { stepsPerSec: 0, itemsPerSec: 0 };
    const dt = (r[r.length - 1].t - r[0].t) / 1000;
    const items = r.slice(1).reduce((a, s) => a + s.items, 0);
    return { stepsPerSec: (r.length - 1) / dt, itemsPerSec: items / dt };
  }

  /** Redraws the views; resolves to the time it took (ms). */
  render(): Promise<number> {
    return this.serial.run(() => this.renderNow());
  }

  /**
   * The redraw of a new model, twice on WebGPU: the first compiles the redraw's kernels and starts the
   * tuner's measurements of its shapes, the second (once those are done) compiles the variants they
   * chose. Then the redraws during training do neither (for the conv VAE on SwiftShader, on a loaded
   * 2-core machine, the run's first redraw took 15-16 s without this and 7-8 s with it, which costs
   * 1-2.5 s more at the model switch).
   */
  async renderWarm(): Promise<void> {
    await this.render();
    if (backendInfo().name !== 'webgpu') return;
    await this.serial.run(() => sync());
    await this.render();
    await this.serial.run(() => sync()); // measurements the second one started (an im2col's inner matmul)
  }

  private async renderNow(): Promise<number> {
    const t0 = performance.now();
    await this.live.render();
    const ms = performance.now() - t0;
    this.renderedStep = this.step;
    this.ev.onRender(ms);
    return ms;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.recent = [];
    this.ev.onRunning(true);
    this.loop = this.run();
  }

  /**
   * Step mode: exactly one training step while paused, then the views redrawn from its weights (a
   * lecture's "one step of each player, then look"). Refused while the loop runs.
   */
  async stepOnce(): Promise<void> {
    if (this.running) throw new Error('Step: pause training first');
    await this.trainStep();
    this.ev.onStep();
    await this.render();
  }

  /** A step's share of a second at the current speed (0 at 'full'). */
  private stepShareMs(): number {
    return this.speed === 'full' ? 0 : 1000 / this.speed;
  }

  /** Stops after the steps in flight (read and counted); resolves once the loop has finished (views redrawn). */
  async pause(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    // Redraw about once a second, but spend at most ~20% of the time drawing (slow adapters): every 4x
    // the redraw's time, estimated from this run's redraws, where one redraw can at most double the
    // estimate. The first redraws of a run compile kernels and share the device with the tuner's trials
    // of the training shapes (on SwiftShader, the conv VAE's first took ~5x a later one, set a ~50 s
    // interval, and the views stood at step 1 meanwhile): they cannot set a long interval, and a
    // steadily slow redraw still reaches its own 4x after a few.
    let lastRender = performance.now(),
      drawMs = 250,
      lastYield = performance.now();
    this.redrawEveryMs = 1000;
    // The loop's redraws: after the step left in flight is read, and not of a model that went bad there.
    const draw = () =>
      this.serial.run(async () => {
        this.throwFailure();
        return this.renderNow();
      });
    try {
      while (this.running) {
        const began = performance.now();
        // At full speed one step behind (overlappedStep); a slow speed reads each step at once, so that
        // the views and counters show it while the loop waits.
        if (this.speed === 'full') await this.overlappedStep();
        else await this.trainStep();
        this.ev.onStep();
        if (performance.now() - lastRender > this.redrawEveryMs) {
          drawMs = Math.min(await draw(), 2 * drawMs);
          lastRender = performance.now();
          this.redrawEveryMs = Math.max(1000, 4 * drawMs);
        }
        if (this.speed !== 'full') {
          // A slow speed: wait out the rest of the step's share of a second (in slices, so a pause or a
          // speed change is seen soon).
          let left: number;
          while (this.running && (left = this.stepShareMs() - (performance.now() - began)) > 0)
            await sleep(Math.min(50, left));
          lastYield = performance.now();
        } else if (performance.now() - lastYield > 25) {
          await nextTask();
          lastYield = performance.now();
        }
      }
      // The step left in flight is read first (and reported if it went bad), then the views drawn.
      await draw();
      this.ev.onStep();
    } catch (e) {
      this.running = false;
      this.ev.onError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.loop = null;
      this.ev.onRunning(false);
    }
  }

  /**
   * Profiles n training steps with the runtime's kernel profiler, after warm-up steps outside the table
   * (the tuner measures kernel variants in the background when it first meets a shape class, and its
   * `tune:*` trial kernels and pipeline compilations would otherwise land in the profile): warm-up steps
   * until one meets no new shape class. The training loop is paused first (the caller restarts it);
   * warm-up, profile and the redraw after it are one job on the Serial queue, so that no other device
   * work (a redraw, a decode under the pointer, a checkpoint read) runs among the profiled steps.
   */
  async profileSteps(n: number): Promise<{ kernels: KernelStats[]; warmup: number }> {
    await this.pause();
    return this.serial.run(async () => {
      let warmup = 0,
        classes: number;
      do {
        classes = kernelChoices().length;
        await this.stepNow();
        this.ev.onStep();
        await sync(); // the tuner's measurements (started by that step) and the queue
      } while (++warmup < 4 && kernelChoices().length > classes);
      const { kernels } = await profile(async () => {
        for (let i = 0; i < n; i++) {
          await this.stepNow();
          this.ev.onStep();
        }
      });
      await this.renderNow(); // the views show the weights after these steps
      return { kernels, warmup };
    });
  }
}
