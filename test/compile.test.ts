// compile(fn): every model's compiled training step against its eager step over 50 steps on both
// backends (bit for bit on the CPU, whose twin of each fused kernel uses the reference's own op
// functions; within 1e-5 on WebGPU, where fused reductions sum in another order); elementwise and
// reduction fusion against the unfused ops on random and special values; resume, the non-finite check, retracing on a new batch size, a learning rate changed between
// calls, replaced state, unused random draws, re-recording after a kernel measurement, the gradients left
// on parameters, the errors of what a traced function may not do, the profiler and the memory a compiled
// step keeps.
import { describe, expect, it } from 'vitest';
import {
  compile,
  conv2d,
  conv2dWeight,
  convTranspose2d,
  F,
  full,
  Generator,
  nn,
  noGrad,
  profile,
  randn,
  sync,
  tensor,
  tidy,
  withBackend,
  type Backend,
  type Tensor,
} from '../src/index.ts';
import { MlpVAE, ConvVAE } from '../src/models/vae.ts';
import { MlpGAN, ringBatch } from '../src/models/gan.ts';
import { DCGAN } from '../src/models/dcgan.ts';
import { Classifier } from '../src/models/classifier.ts';
import { CycleGAN } from '../src/models/cyclegan.ts';
import type { Trainable, TrainBatch } from '../src/models/model.ts';
import { WebGPUBackend } from '../src/backend/webgpu/index.ts';
import { OPTIM_CONV_PARAMS } from '../src/backend/webgpu/fused.ts';
import { loadKernelSources } from '../src/device/shaders.ts';
import { cpu, forEachBackend, getGpu, randomData, RUN_SEED } from './helpers.ts';
import { averageStepSlack, chainSlack } from './fma.ts';

interface Setup {
  model: Trainable;
  /** Step i's batch: the same tensors each step, overwritten with new data (as the CLI's loaders do). */
  batch(i: number): TrainBatch;
  /**
   * Per-channel biases a batch norm follows (DCGAN's convolutions): the norm subtracts them again, so
   * their gradient is zero in exact arithmetic and rounding noise in float32. (The first linear layer's
   * bias is per feature, so it varies within a channel, and the norm keeps most of it.)
   */
  normed?: string[];
}

const images = (b: Backend, n: number, seed: number, shape = [n, 784]) => {
  const t = tensor(randomData(n * shape.slice(1).reduce((a, c) => a * c, 1), seed, 0, 1), shape, { backend: b });
  return { t, write: (i: number) => b.write(t.storage, randomData(t.size, seed + 1000 * (i + 1), 0, 1)) };
};

/** Every model at a tiny config (CycleGAN on 8 x 8 images), on synthetic data that changes each step. */
const MODELS: Record<string, (b: Backend) => Setup> = {
  'MLP VAE': (b) => {
    const x = images(b, 4, 1, [4, 16]);
    return {
      model: new MlpVAE({ inputDim: 16, hidden: 8, zDim: 2, generator: new Generator(1), backend: b }),
      batch: (i) => (x.write(i), { x: x.t }),
    };
  },
  'conv VAE': (b) => {
    const x = images(b, 2, 2);
    return {
      model: new ConvVAE({ hidden: 2, zDim: 2, generator: new Generator(2), backend: b }),
      batch: (i) => (x.write(i), { x: x.t }),
    };
  },
  'ring GAN': (b) => {
    const x = tensor(ringBatch(8, 3, 0), [8, 2], { backend: b });
    return {
      model: new MlpGAN({ hidden: 8, generator: new Generator(3) }),
      batch: (i) => (b.write(x.storage, ringBatch(8, 3, 8 * i)), { x }),
    };
  },
  DCGAN: (b) => {
    const x = images(b, 2, 4);
    return {
      model: new DCGAN({ width: 2, zDim: 4, generator: new Generator(4), backend: b }),
      batch: (i) => (x.write(i), { x: x.t }),
      normed: ['G.4.bias', 'D.2.bias'],
    };
  },
  classifier: (b) => {
    const x = images(b, 2, 5);
    const labels = tensor([3, 7], [2], { backend: b });
    return {
      model: new Classifier({ width: 2, hidden: 8, generator: new Generator(5), backend: b }),
      batch: (i) => (
        x.write(i),
        b.write(labels.storage, Float32Array.of(i % 10, (3 * i + 1) % 10)),
        { x: x.t, labels }
      ),
    };
  },
  CycleGAN: (b) => {
    const x = images(b, 2, 6, [2, 1, 8, 8]),
      y = images(b, 2, 7, [2, 1, 8, 8]);
    return {
      model: new CycleGAN({ width: 2, resBlocks: 1, generator: new Generator(6), backend: b }),
      batch: (i) => (x.write(i), y.write(i), { x: x.t, y: y.t }),
    };
  },
};

/** The backend, on WebGPU with the tuner's measurements off, so both runs use the same kernel variants. */
async function fixed<B extends Backend>(b: B): Promise<B> {
  if (b instanceof WebGPUBackend) {
    b.tuner.autotune = false;
    // A measurement still running would change a kernel choice in the middle of a comparison (and the
    // recording would be made again with another summation order): none may be left.
    await b.tuner.settle();
  }
  return b;
}

async function params(m: Trainable): Promise<Float32Array[]> {
  return Promise.all(m.parameters().map((p) => p.toArray()));
}

/** A parameter's optimizer slots (Adam's m and v), found among the model's optimizers. */
function slotsOf(model: Trainable, p: Tensor): Tensor[] {
  for (const opt of model.optimizers()) {
    const k = opt.params.indexOf(p);
    if (k >= 0) return opt.stateTensors()[k];
  }
  throw new Error('a parameter of no optimizer');
}

/**
 * `steps` training steps of the model eager and compiled, in lockstep: the losses of each, the
 * parameters and gradients after, the noise's offset and step counts. `sync`: after each step the
 * compiled model's state (parameters, buffers such as running statistics, optimizer slots) is set to
 * the eager model's, so each step starts from the same state and what differs is that one step's
 * rounding. Left apart, a GAN's game grows a step's rounding from one step to the next (a seed of the
 * DCGAN's test measured 2.7e-4 at step 23 before any change of its kernels), and the noise-driven
 * parameters (the normed biases) take Adam steps of about lr on the rounding noise's sign by
 * construction: differences that say nothing about the compiled step.
 */
async function trainBoth(b: Backend, name: string, steps: number, sync: boolean) {
  return withBackend(b, async () => {
    const runs = [MODELS[name](b), MODELS[name](b)];
    const noises = [new Generator(99), new Generator(99)];
    const eagerSteps = runs.map(
      ({ model }) =>
        (bt: TrainBatch, g: Generator) =>
          model.trainStep(bt, g),
    );
    const compiled = compile(eagerSteps[1]);
    const fns = [eagerSteps[0], compiled];
    const losses: number[][][] = [[], []];
    const normed = runs[0].normed ?? [];
    const named = runs.map(({ model }) => new Map(model.namedParameters()));
    for (let i = 0; i < steps; i++) {
      for (const r of [0, 1]) {
        const l = fns[r](runs[r].batch(i), noises[r]);
        losses[r].push([...(await l.toArray())]);
        l.dispose();
      }
      if (!sync || i === steps - 1) continue;
      const states = runs.map(({ model }) => model.stateDict());
      for (const [n, te] of states[0]) {
        const tc = states[1].get(n)!;
        const slots = named[0].has(n)
          ? slotsOf(runs[0].model, te).map((t, k) => [t, slotsOf(runs[1].model, tc)[k]])
          : [];
        for (const [src, dst] of [[te, tc], ...slots]) b.write(dst.storage, await src.toArray());
      }
    }
    const out = await Promise.all(
      runs.map(async ({ model }, r) => {
        const noiseDriven = [...model.namedParameters()].map(([n]) => normed.includes(n));
        expect(noiseDriven.filter(Boolean).length, 'the normed biases exist').toBe(normed.length);
        return {
          losses: losses[r],
          params: await params(model),
          grads: await Promise.all(model.parameters().map((p) => p.grad?.toArray() ?? null)),
          noiseDriven,
          offset: noises[r].offset,
          steps: model.optimizers().map((o) => o.stepCount),
          stats: r === 1 ? compiled.stats : null,
        };
      }),
    );
    compiled.dispose();
    return out;
  });
}

describe('compile(): a compiled training step equals the eager one', () => {
  for (const name of Object.keys(MODELS)) {
    forEachBackend((which, backend) => {
      it(`${name} on ${which}: over 50 steps, ${which === 'cpu' ? 'bit for bit' : 'each step from the eager state, within 1e-5'} (losses, parameters, gradients, generator, step counts)`, async () => {
        const b = await fixed(await backend());
        const [e, c] = await trainBoth(b, name, 50, which === 'webgpu');
        expect(c.stats!.eagerCalls).toBe(1);
        expect(c.stats!.traces).toBe(1);
        expect(c.stats!.replays).toBe(48);
        expect(c.losses.flat().every(Number.isFinite)).toBe(true);
        // The CPU twin evaluates fused kernels with the reference's own op functions and reductions: the
        // eager numbers exactly. On WebGPU a fused reduction sums in another order than the reduce kernels
        // (and the shader compiler may contract a multiply and an add across fused ops), and each step
        // starts from the eager step's state (trainBoth's sync): one step's rounding, relative 1e-5.
        const close = (got: ArrayLike<number>, want: ArrayLike<number>, what: string, rel = 1e-5) => {
          if (which === 'cpu') return expect(Array.from(got), what).toEqual(Array.from(want));
          const scale = Math.max(1e-3, ...Array.from(want, Math.abs));
          for (let i = 0; i < want.length; i++)
            expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} for ${want[i]}`).toBeLessThanOrEqual(
              rel * scale,
            );
        };
        for (let i = 0; i < 50; i++) close(c.losses[i], e.losses[i], `losses of step ${i} (TEST_SEED=${RUN_SEED})`);
        // A bias a batch norm follows has a gradient that is zero but for rounding, and takes Adam steps of
        // about lr on the rounding noise's sign, so any other summation order moves it another way: on
        // WebGPU (where trainBoth sets it equal after each step, so it differs by at most one step) it
        // is checked to be within 50 such steps (lr 2e-4), and its gradient to be rounding noise in
        // both runs.
        const gmax = (g: Float32Array | null) => (g ? Math.max(...Array.from(g, Math.abs)) : 0);
        const top = Math.max(...e.grads.map(gmax));
        const noise = (k: number) => which === 'webgpu' && e.noiseDriven[k];
        c.params.forEach((p, k) => {
          if (noise(k)) {
            for (let i = 0; i < p.length; i++)
              expect(Math.abs(p[i] - e.params[k][i]), `noise-driven parameter ${k}[${i}]`).toBeLessThanOrEqual(
                50 * 2 * 2e-4,
              );
          } else {
            close(p, e.params[k], `parameter ${k}`);
          }
        });
        // The gradients the last step leaves on the parameters, as the eager step leaves them.
        expect(c.grads.map((g) => g !== null)).toEqual(e.grads.map((g) => g !== null));
        c.grads.forEach((g, k) => {
          if (!g) return;
          if (noise(k))
            for (const h of [g, e.grads[k]])
              expect(gmax(h), `noise-driven gradient ${k}`).toBeLessThanOrEqual(1e-3 * top);
          else close(g, e.grads[k]!, `gradient of parameter ${k}`, 1e-3);
        });
        expect(c.offset).toBe(e.offset);
        expect(c.steps).toEqual(e.steps);
      });
    });
  }
});

/** A small MLP regression step with an explicit optimizer (what a user's own step looks like). */
function userStep(b: Backend, seed = 1) {
  const net = new nn.Sequential(
    new nn.Linear(3, 5, { generator: new Generator(seed), backend: b }),
    new nn.Tanh(),
    new nn.Linear(5, 1, { generator: new Generator(seed + 1), backend: b }),
  );
  const opt = new nn.Adam(net.parameters(), { lr: 1e-2 });
  const fn = (x: Tensor, y: Tensor) =>
    tidy(() => {
      opt.zeroGrad();
      const loss = net.call(x).sub(y).square().mean();
      loss.backward();
      opt.step();
      return loss;
    });
  return { net, opt, fn };
}

/**
 * A compiled run's losses as the eager (or uninterrupted) run's: bit for bit on the CPU, whose fused
 * twins round each op as eager mode does. On WebGPU within 1e-5 of max(1, |loss|): a GPU compiler may
 * contract a multiply and an add that eager mode ran as two kernels (WGSL allows it; a fused epilogue's
 * constants are literals, so tanh's 1 - y^2 can become fma(-y, y, 1)), about 1e-7 of a value per step,
 * which Adam's steps carry on. What these tests check moves a loss far more (asserted where it is
 * small: the learning rate's change).
 */
function sameLosses(which: string, got: number[], want: number[]) {
  if (which === 'cpu') return expect(got).toEqual(want);
  expect(got.length).toBe(want.length);
  got.forEach((v, i) =>
    expect(Math.abs(v - want[i]), `loss ${i}: ${v} for ${want[i]}`).toBeLessThanOrEqual(
      1e-5 * Math.max(1, Math.abs(want[i])),
    ),
  );
}

const data = (b: Backend, n: number, seed: number) => ({
  x: tensor(randomData(3 * n, seed), [n, 3], { backend: b }),
  y: tensor(randomData(n, seed + 1), [n, 1], { backend: b }),
});

describe('compile(): calls, signatures and per-call data', () => {
  forEachBackend((which, get) => {
    const backend = async () => fixed(await get());

    it(`${which}: a new batch size retraces, and the old one still replays`, async () => {
      const b = await backend();
      const { fn } = userStep(b);
      const step = compile(fn);
      const d4 = data(b, 4, 1),
        d6 = data(b, 6, 2);
      for (let i = 0; i < 3; i++) step(d4.x, d4.y).dispose();
      expect(step.stats).toMatchObject({ eagerCalls: 1, traces: 1, replays: 1, signatures: 1 });
      for (let i = 0; i < 3; i++) step(d6.x, d6.y).dispose();
      expect(step.stats).toMatchObject({ eagerCalls: 2, traces: 2, replays: 2, signatures: 2 });
      step(d4.x, d4.y).dispose();
      expect(step.stats).toMatchObject({ traces: 2, replays: 3 });
      step.dispose();
    });

    it(`${which}: the cache keeps at most maxSignatures signatures`, async () => {
      const b = await backend();
      const { fn } = userStep(b);
      const step = compile(fn, { maxSignatures: 2 });
      for (const n of [2, 3, 4, 2]) for (let i = 0; i < 2; i++) step(data(b, n, n).x, data(b, n, n).y).dispose();
      // 2 was evicted by 4, so its third visit starts again from an eager call.
      expect(step.stats).toMatchObject({ signatures: 2, eagerCalls: 4, traces: 4 });
      expect(() => compile(fn, { maxSignatures: 0 })).toThrow(/maxSignatures must be a positive integer/);
    });

    it(`${which}: a learning rate changed between calls takes effect, as in eager mode`, async () => {
      const b = await backend();
      const run = async (compiled: boolean, change: boolean) => {
        const { fn, opt } = userStep(b, 3);
        const step = compiled ? compile(fn) : fn;
        const d = data(b, 5, 3);
        const out: number[] = [];
        for (let i = 0; i < 8; i++) {
          if (change && i === 4) opt.o.lr = 0.2;
          const l = step(d.x, d.y);
          out.push(await l.item());
          l.dispose();
        }
        return out;
      };
      const eager = await run(false, true),
        compiled = await run(true, true),
        unchanged = await run(true, false);
      sameLosses(which, compiled, eager);
      expect(compiled.slice(0, 5)).toEqual(unchanged.slice(0, 5));
      // The new rate's effect, far past sameLosses' tolerance on WebGPU.
      expect(Math.abs(compiled[5] - unchanged[5])).toBeGreaterThan(100 * 1e-5 * Math.max(1, Math.abs(unchanged[5])));
    });

    it(`${which}: resuming a compiled run from saved state equals the uninterrupted run`, async () => {
      const b = await backend();
      const batches = Array.from({ length: 10 }, (_, i) => data(b, 4, 10 + i));
      const noiseStep = (net: ReturnType<typeof userStep>) => (x: Tensor, y: Tensor, g: Generator) =>
        tidy(() => net.fn(x.add(randn(x.shape, { generator: g, backend: b }).mul(0.01)), y));
      const whole = userStep(b, 5);
      const wholeStep = compile(noiseStep(whole));
      const g1 = new Generator(4);
      const ref: number[] = [];
      for (const d of batches) ref.push(await wholeStep(d.x, d.y, g1).item());
      // The same run stopped after 6 steps and restored into a new model, optimizer and generator.
      const first = userStep(b, 5);
      const firstStep = compile(noiseStep(first));
      const g2 = new Generator(4);
      const got: number[] = [];
      for (const d of batches.slice(0, 6)) got.push(await firstStep(d.x, d.y, g2).item());
      const saved = {
        params: await params(first.net as unknown as Trainable),
        slots: await Promise.all(first.opt.stateTensors().map((ts) => Promise.all(ts.map((t) => t.toArray())))),
        step: first.opt.stepCount,
        gen: g2.getState(),
      };
      const second = userStep(b, 77);
      second.net.parameters().forEach((p, k) => b.write(p.storage, saved.params[k]));
      second.opt.loadState(saved.slots, saved.step);
      const g3 = new Generator(0);
      g3.setState(saved.gen);
      const secondStep = compile(noiseStep(second));
      for (const d of batches.slice(6)) got.push(await secondStep(d.x, d.y, g3).item());
      sameLosses(which, got, ref);
    });

    it(`${which}: the non-finite check still fires in a replayed step, naming the parameters`, async () => {
      const b = await backend();
      const { fn, opt, net } = userStep(b, 7);
      const names = new Map([...net.namedParameters()].map(([k, p]) => [p, k]));
      const step = compile(fn);
      const d = data(b, 4, 7);
      for (let i = 0; i < 4; i++) step(d.x, d.y).dispose();
      expect(await opt.nonFinite(names)).toEqual([]);
      b.write(
        d.x.storage,
        Float32Array.from({ length: 12 }, (_, i) => (i === 5 ? NaN : 0.5)),
      );
      const l = step(d.x, d.y);
      expect(step.stats.replays).toBe(3);
      expect(Number.isNaN(await l.item())).toBe(true);
      const flagged = await opt.nonFinite(names);
      expect(flagged.length).toBe(4);
      expect(flagged.join('; ')).toMatch(/0\.weight holds .*NaN/);
    });

    it(`${which}: state replaced between calls (optimizer moments reset) starts the signature again`, async () => {
      const b = await backend();
      const run = async (compiled: boolean) => {
        const { fn, opt } = userStep(b, 9);
        const step = compiled ? compile(fn) : fn;
        const d = data(b, 4, 9);
        const out: number[] = [];
        for (let i = 0; i < 8; i++) {
          // Fresh moments: the old moment tensors are disposed and new ones made at the next step.
          if (i === 5)
            opt.loadState(
              opt.params.map(() => null),
              opt.stepCount,
            );
          out.push(await step(d.x, d.y).item());
        }
        return { out, stats: compiled ? (step as ReturnType<typeof compile>).stats : null };
      };
      const e = await run(false),
        c = await run(true);
      sameLosses(which, c.out, e.out);
      expect(c.stats).toMatchObject({ eagerCalls: 2, traces: 2 });
    });

    it(`${which}: an unused random draw still advances the generator, as in eager mode`, async () => {
      const b = await backend();
      const fn = (x: Tensor, g: Generator) => {
        randn([7], { generator: g, backend: b }); // dropped by dead-code elimination, its counter still taken
        return x.add(randn(x.shape, { generator: g, backend: b }));
      };
      const x = tensor([1, 2, 3], [3], { backend: b });
      const ge = new Generator(5),
        gc = new Generator(5);
      const step = compile(fn);
      for (let i = 0; i < 4; i++) {
        const e = fn(x, ge),
          c = step(x, gc);
        expect(await c.toArray()).toEqual(await e.toArray());
        e.dispose();
        c.dispose();
      }
      expect(gc.offset).toBe(ge.offset);
    });

    it(`${which}: results are new tensors in the function's structure; returned inputs and state are copies`, async () => {
      const b = await backend();
      const w = tensor([1, 2], [2], { backend: b });
      const step = compile((a: Tensor, o: { s: number }) => ({
        sum: a.add(w).mul(o.s),
        same: a,
        w,
        list: [a.reshape([2, 1])],
      }));
      const x = tensor([10, 20], [2], { backend: b });
      for (let i = 0; i < 3; i++) {
        const r = step(x, { s: 2 });
        expect(await r.sum.toArray()).toEqual(Float32Array.of(22, 44));
        expect(await r.same.toArray()).toEqual(Float32Array.of(10, 20));
        expect(r.list[0].shape).toEqual([2, 1]);
        // The first (eager) call returns x and w themselves; the compiled ones return copies.
        if (i > 0) {
          expect(r.same).not.toBe(x);
          expect(r.w).not.toBe(w);
        }
        for (const t of i > 0 ? [r.sum, r.same, r.w, r.list[0]] : [r.sum, r.list[0]]) t.dispose();
      }
      // A number argument is part of the signature (by value).
      const r = step(x, { s: 3 });
      expect(await r.sum.toArray()).toEqual(Float32Array.of(33, 66));
      expect(step.stats.signatures).toBe(2);
      expect(w.isDisposed).toBe(false);
    });

    it(`${which}: each call reads its own input tensors (new ones rebind; aliased arguments are another signature)`, async () => {
      const b = await backend();
      const f = (a: Tensor, c: Tensor) => a.mul(c).sum(1);
      const step = compile(f);
      for (let i = 0; i < 5; i++) {
        const a = tensor(randomData(6, 40 + i), [2, 3], { backend: b }),
          c = tensor(randomData(6, 50 + i), [2, 3], { backend: b });
        const [got, want] = [step(a, c), f(a, c)];
        expect(await got.toArray()).toEqual(await want.toArray());
        // The same tensor twice (one storage) is traced as such, and keeps working with distinct ones after.
        const [gotSame, wantSame] = [step(a, a), f(a, a)];
        expect(await gotSame.toArray()).toEqual(await wantSame.toArray());
        for (const t of [a, c, got, want, gotSame, wantSame]) t.dispose();
      }
      expect(step.stats.signatures).toBe(2);
      expect(step.stats.traces).toBe(2);
      const w = tensor([1, 2, 3], [3], { backend: b });
      const both = compile((a: Tensor) => a.add(w));
      both(w).dispose();
      expect(() => both(w)).toThrow(/is also used directly by the function/);
    });

    it(`${which}: the last call's argument objects, changed in place, are read as new arguments`, async () => {
      // A call with the same objects as the last one reuses its signature without building it (the
      // training loop's case); what was changed inside them must still be seen.
      const b = await backend();
      const f = (batch: { x: Tensor; scale?: number }, ys: Tensor[]) =>
        batch.x
          .mul(batch.scale ?? 1)
          .sum(1)
          .add(ys[0].sum());
      const step = compile(f);
      const x2 = tensor(randomData(6, 60), [2, 3], { backend: b }),
        x3 = tensor(randomData(9, 61), [3, 3], { backend: b }),
        y = tensor([1, 2], [2], { backend: b }),
        y2 = tensor([5], [1], { backend: b });
      const batch: { x: Tensor; scale?: number } = { x: x2 };
      const ys = [y];
      const check = async () => {
        const [got, want] = [step(batch, ys), f(batch, ys)];
        expect(await got.toArray()).toEqual(await want.toArray());
        got.dispose();
        want.dispose();
      };
      for (let i = 0; i < 3; i++) await check();
      expect(step.stats).toMatchObject({ signatures: 1, replays: 1 });
      batch.x = x3; // another shape in the same object
      await check();
      expect(step.stats.signatures).toBe(2);
      batch.scale = 3; // a new key, a number in the signature
      await check();
      expect(step.stats.signatures).toBe(3);
      batch.scale = 4; // another value of it
      await check();
      expect(step.stats.signatures).toBe(4);
      ys[0] = y2; // an array element replaced
      await check();
      expect(step.stats.signatures).toBe(5);
      x3.requiresGrad = true;
      await check();
      expect(step.stats.signatures).toBe(6);
      // Back to the first arguments: the first signature, replayed.
      delete batch.scale;
      batch.x = x2;
      ys[0] = y;
      const replays = step.stats.replays;
      await check();
      expect(step.stats).toMatchObject({ signatures: 6, replays: replays + 1 });
      // A disposed argument is reported, not read from the last call.
      x2.dispose();
      expect(() => step(batch, ys)).toThrow(/argument tensor #\d+ of shape \[2, 3\] was disposed/);
      step.dispose();
      for (const t of [x3, y, y2]) t.dispose();
    });

    it(`${which}: what a traced function may not do gets a clear error`, async () => {
      const b = await backend();
      const x = tensor([1, 2, 3, 4], [2, 2], { backend: b });
      const twice = <T>(f: () => T) => (f(), f());
      const reads = compile((a: Tensor) => {
        const s = a.sum();
        void s.item();
        return s;
      });
      expect(() => twice(() => reads(x))).toThrow(/item\(\) of a \[\] tensor inside a compiled function/);
      const asyncFn = compile(async (a: Tensor) => a.add(1));
      // The first call runs eagerly and returns the function's Promise (of x + 1); the second traces and refuses it.
      expect([...(await (await asyncFn(x)).toArray())]).toEqual([2, 3, 4, 5]);
      expect(() => asyncFn(x)).toThrow(/returned a Promise/);
      const num = compile((a: Tensor) => (a.add(1), 3));
      expect(() => twice(() => num(x))).toThrow(/returned a number/);
      // An op's error while tracing is the eager one (the second call traces: k changed in between).
      let k = 2;
      const bad = compile((a: Tensor) => a.matmul(tensor(new Float32Array(k), [k, 1], { backend: b })));
      bad(x).dispose();
      k = 3;
      expect(() => bad(x)).toThrow(/matmul: shapes \[2, 2\] and \[3, 1\] cannot be multiplied/);
      // After each error nothing is left in trace mode: eager ops work.
      expect(await x.add(1).toArray()).toEqual(Float32Array.of(2, 3, 4, 5));
    });
  });
});

/** Eager and compiled results of f on the same inputs, after the compiled step's eager and traced calls. */
async function bothWays(f: (...xs: Tensor[]) => Tensor, xs: Tensor[]) {
  const step = compile(f);
  step(...xs).dispose();
  step(...xs).dispose();
  const [e, c] = [f(...xs), step(...xs)];
  const out = { eager: await e.toArray(), compiled: await c.toArray(), dispatches: step.stats.dispatches };
  e.dispose();
  c.dispose();
  return out;
}

/** Special values and ordinary ones (NaN, +-Inf, +-0, subnormal, large). */
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 1, -1, 0.5, -2.5, 3, 88.8, -104, 3e38, -3e38];

describe('compile(): elementwise fusion', () => {
  forEachBackend((which, get) => {
    const backend = async () => fixed(await get());
    // The CPU twin rounds each intermediate as a stored result: bit for bit. On WebGPU the fused kernel
    // calls the same op functions, but the shader compiler may contract a multiply and an add across
    // what were two kernels (an FMA, which WGSL allows): NaN and Inf where the unfused ops have them,
    // finite values to 2e-6 of the result, plus, where a case's sums can cancel, its `slack`: the
    // absolute difference a contraction can make at element i, derived in the case (an FMA skips the
    // product's rounding, at most u |a b|, u = 2^-24, which cancellation does not scale down).
    const agree = (got: Float32Array, want: Float32Array, slack: (i: number) => number = () => 0) => {
      if (which === 'cpu') return expect(got).toEqual(want);
      want.forEach((w, i) => {
        if (!Number.isFinite(w) || (w === 0 && slack(i) === 0))
          expect(Object.is(got[i], w) || (w === 0 && got[i] === 0), `element ${i}: ${got[i]} for ${w}`).toBe(true);
        else
          expect(Math.abs(got[i] - w), `element ${i}: ${got[i]} for ${w}`).toBeLessThanOrEqual(
            2e-6 * Math.abs(w) + slack(i) + 1e-30,
          );
      });
    };

    it(`${which}: ten chained unary ops become one kernel, on random and special values`, async () => {
      const b = await backend();
      const chain = (x: Tensor) => x.exp().neg().sigmoid().mul(3).add(1).sqrt().log().tanh().abs().softplus();
      for (const data of [randomData(1001, 61, -4, 4), Float32Array.from(SPECIAL)]) {
        const x = tensor(data, [data.length], { backend: b });
        const r = await bothWays(chain, [x]);
        expect(r.dispatches).toBe(1);
        agree(r.compiled, r.eager);
        x.dispose();
      }
    });

    it(`${which}: binary ops with scalars, biases and channel broadcasts fuse; shapes not a multiple of 4`, async () => {
      const b = await backend();
      // [3, 5, 7] with a [5, 1] channel scale, a [7] bias and a scalar; the broadcast of a [7] row too.
      const f = (x: Tensor, s: Tensor, bias: Tensor, k: Tensor) =>
        x
          .mul(s)
          .add(bias)
          .leakyRelu(0.2)
          .sub(k)
          .mul(bias.broadcastTo([3, 5, 7]))
          .maximum(x)
          .div(s.add(2));
      const x = tensor(randomData(105, 62), [3, 5, 7], { backend: b });
      const s = tensor(randomData(5, 63), [5, 1], { backend: b }),
        bias = tensor(randomData(7, 64), [7], { backend: b });
      const k = tensor([0.25], [], { backend: b });
      const r = await bothWays(f, [x, s, bias, k]);
      // s.add(2) is its own kernel (it is [5, 1], not the output's shape); the rest is one.
      expect(r.dispatches).toBe(2);
      // Two of its multiply-adds may each be one FMA on a GPU: the difference allowed at each element is
      // derived in test/fma.ts (chainSlack; without it, 2e-6 relative fails about 1 run in 9 there).
      const [xv, sv, bv] = [await x.toArray(), await s.toArray(), await bias.toArray()];
      agree(r.compiled, r.eager, (i) => chainSlack(xv[i], sv[Math.floor(i / 7) % 5], bv[i % 7]));
    });

    it(`${which}: a reduction with an elementwise prologue and epilogue is one kernel, over any two runs of dims, NaN-propagating`, async () => {
      const b = await backend();
      const x = tensor(randomData(3 * 5 * 7 * 6, 67, -3, 3), [3, 5, 7, 6], { backend: b });
      const cb = tensor(randomData(5, 69), [1, 5, 1, 1], { backend: b });
      const cases: [(a: Tensor) => Tensor, number][] = [
        [(a) => a.square().sum(3), 1],
        [(a) => a.exp().sum([0, 2, 3]), 1],
        [(a) => a.mul(2).amax(0), 1],
        [(a) => a.neg().amin([1, 2], true), 1],
        [(a) => a.sum(), 1],
        // a broadcast block (a channel bias) in the prologue, read inside the reduction
        [(a) => a.add(cb).square().sum([0, 2, 3]), 1],
        // epilogues: the mean's scaling, and elementwise ops on the reduced values, in the same kernel
        [(a) => a.sub(1).square().mean([0, 2, 3], true), 1],
        [
          (a) =>
            a
              .exp()
              .sum([0, 2, 3], true)
              .log()
              .mul(2)
              .add(a.amax([0, 2, 3], true)),
          2,
        ],
      ];
      // A sum over one run of dims adds in the reduce kernels' order (measured: the same bits on
      // SwiftShader; a GPU's compiler may contract the prologue's multiply into the sum). Over two runs
      // the order differs from eager's (which sums the trailing run first), by rounding that scales
      // with the magnitudes summed, not the result (a sum of x's cancels): relative 1e-6 of the result
      // plus 2e-7 of sum |x| (the full sum's difference measured at most 3.4e-8 sum |x| over 60 fresh
      // inputs when its order differed too; the other cases sum positive terms).
      const mass = Array.from(await x.toArray(), Math.abs).reduce((a, c) => a + c, 0);
      // On WebGPU both kernel designs: one invocation per output (CPU-like adapters) and a workgroup per output (GPUs).
      const variants = b instanceof WebGPUBackend ? (['rows', 'workgroup'] as const) : ([null] as const);
      for (const v of variants) {
        const prev = b instanceof WebGPUBackend ? b.reduceVariant : null;
        if (v && b instanceof WebGPUBackend) b.reduceVariant = v;
        try {
          for (const [c, [f, kernels]] of cases.entries()) {
            const r = await bothWays(f, [x]);
            expect(r.dispatches, `case ${c}`).toBe(kernels);
            if (which === 'cpu') expect(r.compiled).toEqual(r.eager);
            else
              r.eager.forEach((w, i) =>
                expect(Math.abs(r.compiled[i] - w), `${v}, case ${c}: ${r.compiled[i]} for ${w}`).toBeLessThanOrEqual(
                  1e-6 * Math.max(1, Math.abs(w)) + 2e-7 * mass,
                ),
              );
          }
        } finally {
          if (prev && b instanceof WebGPUBackend) b.reduceVariant = prev;
        }
      }
      // Past 4096 elements, two passes (partial results per chunk, then the epilogue's pass).
      const long = tensor(randomData(64 * 3 * 14 * 14, 68, -2, 2), [64, 3, 14, 14], { backend: b });
      for (const v of variants) {
        const prev = b instanceof WebGPUBackend ? b.reduceVariant : null;
        if (v && b instanceof WebGPUBackend) b.reduceVariant = v;
        try {
          for (const f of [
            (a: Tensor) => a.sub(1).square().mean([0, 2, 3], true).add(1e-5).rsqrt(),
            (a: Tensor) => a.abs().max(),
            (a: Tensor) => a.exp().sum().log(),
          ]) {
            const r = await bothWays(f, [long]);
            expect(r.dispatches).toBe(which === 'cpu' ? 1 : 2);
            if (which === 'cpu') expect(r.compiled).toEqual(r.eager);
            else
              r.eager.forEach((w, i) =>
                expect(Math.abs(r.compiled[i] - w), `${v}: ${r.compiled[i]} for ${w}`).toBeLessThanOrEqual(
                  2e-6 * Math.max(1, Math.abs(w)),
                ),
              );
          }
        } finally {
          if (prev && b instanceof WebGPUBackend) b.reduceVariant = prev;
        }
      }
      // Special values: rows of 16 with NaN, +-Inf, +-0 and large magnitudes, max and min and sum.
      const sp = tensor(Float32Array.from([...SPECIAL, ...SPECIAL.slice(3), 5, 6, 7]), [2, 16], { backend: b });
      for (const f of [
        (a: Tensor) => a.abs().amax(1),
        (a: Tensor) => a.neg().amin(1),
        (a: Tensor) => a.mul(0.5).sum(1),
      ]) {
        const r = await bothWays(f, [sp]);
        expect(r.dispatches).toBe(1);
        r.eager.forEach((w, i) =>
          expect(
            Object.is(r.compiled[i], w) || Math.abs(r.compiled[i] - w) <= 1e-6 * Math.abs(w),
            `${r.compiled[i]} for ${w}`,
          ).toBe(true),
        );
      }
    });

    it(`${which}: a matmul + bias + leaky ReLU is one kernel, in every GEMM core; transposed and batched operands, odd shapes, special values`, async () => {
      const b = await backend();
      const bias = (n: number, seed: number) => {
        const d = randomData(n, seed);
        d.set(SPECIAL.slice(0, Math.min(n, 6)));
        return tensor(d, [n], { backend: b });
      };
      // [rows, in] x W [out, in]^T (a linear layer: A B^T, vec4t where K % 4 == 0), then a plain A B
      // (vec4 where K and N % 4 == 0), A^T B, a batched product with a residual, and odd sizes.
      const x = tensor(randomData(7 * 12, 70), [7, 12], { backend: b }),
        w = tensor(randomData(8 * 12, 71), [8, 12], { backend: b });
      const p = tensor(randomData(5 * 8, 72), [5, 8], { backend: b }),
        q = tensor(randomData(8 * 12, 73), [8, 12], { backend: b });
      const at = tensor(randomData(8 * 12, 74), [1, 8, 12], { backend: b }),
        bt = tensor(randomData(8 * 16, 75), [1, 8, 16], { backend: b });
      const u = tensor(randomData(3 * 13 * 7, 76), [3, 13, 7], { backend: b }),
        v = tensor(randomData(3 * 7 * 9, 77), [3, 7, 9], { backend: b });
      const res = tensor(randomData(3 * 13 * 9, 78), [3, 13, 9], { backend: b });
      const b8 = bias(8, 79),
        b12 = bias(12, 80),
        b16 = bias(16, 81),
        b9 = bias(9, 82);
      const cases: [string, (...t: Tensor[]) => Tensor, Tensor[]][] = [
        ['linear', (a, ww, bb) => F.linear(a, ww, bb).leakyRelu(0.2), [x, w, b8]],
        ['A B', (a, c, bb) => a.matmul(c).add(bb).tanh().mul(2), [p, q, b12]],
        ['A^T B', (a, c, bb) => a.bmm(c, true, false).add(bb).sigmoid(), [at, bt, b16]],
        ['batched, odd', (a, c, r, bb) => a.bmm(c).mul(0.5).add(r).add(bb).relu(), [u, v, res, b9]],
      ];
      const variants =
        b instanceof WebGPUBackend ? (['reg', 'vec4', 'vec4t', 'tiled', 'splitk'] as const) : ([null] as const);
      for (const variant of variants) {
        if (b instanceof WebGPUBackend) b.tuner.forced = variant;
        try {
          for (const [what, f, xs] of cases) {
            const r = await bothWays(f, xs);
            expect(r.dispatches, `${what} (${variant})`).toBe(1);
            agree(r.compiled, r.eager);
          }
        } finally {
          if (b instanceof WebGPUBackend) b.tuner.forced = null;
        }
      }
      // The product's value read by a sum too stays stored: the matmul, then one row kernel (the sum, then
      // the bias, activation and the sum's add at each element; src/graph/passes/fuse_rows.ts).
      const twice = await bothWays(
        (a: Tensor, ww: Tensor, bb: Tensor) => {
          const y = F.linear(a, ww);
          return y.add(bb).relu().add(y.sum());
        },
        [x, w, b8],
      );
      expect(twice.dispatches).toBe(2);
      agree(twice.compiled, twice.eager);
    });

    it(`${which}: a convolution + bias + activation is one kernel in every variant (forward, transposed, weight gradient): the implicit GEMMs, im2col, Winograd`, async () => {
      const b = await backend();
      const x = tensor(randomData(2 * 3 * 9 * 7, 83), [2, 3, 9, 7], { backend: b });
      const w = tensor(randomData(5 * 3 * 3 * 3, 84), [5, 3, 3, 3], { backend: b });
      const wt = tensor(randomData(3 * 4 * 4 * 4, 85), [3, 4, 4, 4], { backend: b });
      const dy = tensor(randomData(2 * 5 * 9 * 7, 86), [2, 5, 9, 7], { backend: b });
      const prev = tensor(randomData(5 * 3 * 3 * 3, 87), [5, 3, 3, 3], { backend: b });
      const channel = (n: number, seed: number) => {
        const d = randomData(n, seed);
        d.set(SPECIAL.slice(0, Math.min(n, 3)));
        return tensor(d, [n], { backend: b });
      };
      const b5 = channel(5, 88),
        b4 = channel(4, 89);
      const cases: [string, (...t: Tensor[]) => Tensor, (...t: Tensor[]) => Tensor, Tensor[]][] = [
        [
          'conv2d',
          (a, ww) => conv2d(a, ww, null, { padding: 1 }),
          (a, ww, bb) => conv2d(a, ww, bb, { padding: 1 }).leakyRelu(0.2),
          [x, w, b5],
        ],
        // stride 2: the transposed convolution runs as stride phases, each writing its own elements
        [
          'conv_transpose2d',
          (a, ww) => convTranspose2d(a, ww, null, { stride: 2, padding: 1 }),
          (a, ww, bb) => convTranspose2d(a, ww, bb, { stride: 2, padding: 1 }).tanh().add(1).mul(0.5),
          [x, wt, b4],
        ],
        // a weight gradient accumulated onto an earlier one (a discriminator used twice)
        [
          'conv2d weight gradient',
          (a, g) => conv2dWeight(a, [5, 3, 3, 3], g, { padding: 1 }),
          (a, g, p) => conv2dWeight(a, [5, 3, 3, 3], g, { padding: 1 }).add(p),
          [x, dy, prev],
        ],
      ];
      const variants =
        b instanceof WebGPUBackend ? (['reg', 'tiled', 'splitk', 'im2col', 'winograd'] as const) : ([null] as const);
      for (const variant of variants) {
        if (b instanceof WebGPUBackend) b.tuner.forced = variant;
        try {
          for (const [what, alone, f, xs] of cases) {
            const bare = await bothWays(alone, xs.slice(0, 2));
            const r = await bothWays(f, xs);
            // Where the forced variant is not eligible the tuner falls back to an implicit GEMM (split-K runs
            // weight gradients only; Winograd needs at most 2x2 taps per stride phase: the transposed
            // convolution's 4x4 kernel at stride 2, not the 3x3 at stride 1).
            // Each variant's last kernel (the GEMM; im2col's GEMM or col2im; Winograd's output transform)
            // takes the epilogue in its store: no kernel more than the convolution alone.
            expect(r.dispatches, `${what} (${variant}): ${bare.dispatches} for the convolution alone`).toBe(
              bare.dispatches,
            );
            agree(r.compiled, r.eager);
          }
        } finally {
          if (b instanceof WebGPUBackend) b.tuner.forced = null;
        }
      }
    });

    it(`${which}: fills, uploads and the ops over only them are computed once, when the step is compiled`, async () => {
      const b = await backend();
      const x = tensor(randomData(10, 90), [10], { backend: b });
      // 2 * 3 + [1..10] and exp of it are constants; the step is the one kernel reading them.
      const f = (a: Tensor) =>
        a.mul(
          full([], 2, { backend: b })
            .mul(3)
            .add(
              tensor(
                Array.from({ length: 10 }, (_, i) => i / 10),
                [10],
                { backend: b },
              ),
            )
            .exp(),
        );
      const r = await bothWays(f, [x]);
      expect(r.dispatches).toBe(1);
      agree(r.compiled, r.eager);
      // A constant returned is still a tensor of the caller's own, every call.
      const step = compile((a: Tensor) => [a.neg(), full([3], 7, { backend: b }).add(1)] as const);
      for (let i = 0; i < 3; i++) {
        const [y, c] = step(x);
        expect(Array.from(await c.toArray())).toEqual([8, 8, 8]);
        c.dispose();
        y.dispose();
      }
      // neg; the constant's copy into each call's result is no kernel.
      expect(step.stats.dispatches).toBe(1);
      step.dispose();
    });

    it(`${which}: a cheap value used twice is computed again in each user; a bigger one, or one read after an in-place update, ends a kernel`, async () => {
      const b = await backend();
      const x = tensor(randomData(10, 65), [10], { backend: b });
      // exp (1 op, at most MAX_DUPLICATED_OPS) is computed again inside mul(e, e + 1): one kernel.
      const cheap = await bothWays(
        (a: Tensor) => {
          const e = a.exp();
          return e.mul(e.add(1)).neg();
        },
        [x],
      );
      expect(cheap.dispatches).toBe(1);
      agree(cheap.compiled, cheap.eager);
      // Four ops used twice: stored once, then read by the second kernel.
      const big = await bothWays(
        (a: Tensor) => {
          const e = a.exp().neg().sigmoid().tanh();
          return e.mul(e.add(1)).neg();
        },
        [x],
      );
      expect(big.dispatches).toBe(2);
      agree(big.compiled, big.eager);
      // A cheap value a reduction reads too is computed again in the reduction (its prologue) and in the
      // elementwise ops after it, which join the sum in one row kernel: 1 kernel.
      const reduced = await bothWays(
        (a: Tensor) => {
          const e = a.exp();
          return e.mul(e.sum());
        },
        [x],
      );
      expect(reduced.dispatches).toBe(1);
      agree(reduced.compiled, reduced.eager);
      const state = tensor(randomData(10, 66), [10], { backend: b });
      // A value that reads the state an update then writes is computed before the update: exp+add, mul
      // writing the assigned value in place, then mul+neg after it. One that reads nothing the update
      // touches moves past it: exp+add+mul+neg after the update's kernel.
      for (const [reads, kernels] of [
        ['state', 3],
        ['a', 2],
      ] as const) {
        const f = (a: Tensor) => {
          const y = (reads === 'state' ? state : a).exp().add(1);
          F.assignInPlace(state, a.mul(2));
          return y.mul(3).neg();
        };
        const before = await state.toArray();
        const step = compile(f);
        const got = await step(x).toArray();
        const wantState = await state.toArray();
        F.assignInPlace(state, tensor(before, [10], { backend: b }));
        const want = await f(x).toArray();
        agree(got, want);
        agree(wantState, await state.toArray());
        for (let i = 0; i < 2; i++) step(x).dispose();
        expect(step.stats.dispatches, `reads ${reads}`).toBe(kernels);
      }
      // A running average (batch norm's update) reads the state it assigns: one kernel, in place, with
      // eager mode's values call after call; a value read between the kernel and the assign keeps the copy.
      const runs = [tensor(randomData(10, 67), [10], { backend: b }), tensor(randomData(10, 67), [10], { backend: b })];
      const avg = (r: Tensor) => (a: Tensor) => {
        F.assignInPlace(r, r.mul(0.9).add(a.exp().mul(0.1)));
        return a.neg();
      };
      const [eager, compiled] = [avg(runs[0]), compile(avg(runs[1]))];
      // r 0.9 + e 0.1 may be one FMA on a GPU: the difference allowed is derived in test/fma.ts
      // (averageStepSlack, summed over the calls; without it, 2e-6 relative fails about 1 run in 4 there).
      const xv = await x.toArray(),
        bound = new Float64Array(10);
      for (let i = 0; i < 4; i++) {
        const before = await runs[0].toArray();
        eager(x).dispose();
        compiled(x).dispose();
        const after = await runs[0].toArray();
        for (let j = 0; j < 10; j++) bound[j] += averageStepSlack(before[j], Math.exp(xv[j]), after[j]);
        agree(await runs[1].toArray(), after, (j) => 2 * bound[j]);
      }
      expect(compiled.stats.dispatches).toBe(2);
      const between = compile((a: Tensor) => {
        const v = state.mul(0.5).add(a);
        const seen = state.sum();
        F.assignInPlace(state, v);
        return seen;
      });
      for (let i = 0; i < 3; i++) between(x).dispose();
      // mul+add, the sum (which reads the state before the update), the assign's copy.
      expect(between.stats.dispatches).toBe(3);
    });

    it(`${which}: a norm's backward (its sums and the elementwise ops between and after them) is one row kernel, in both kernel designs, as eager mode's`, async () => {
      const b = await backend();
      // Instance norm over [2, 3] (rows of 63), layer norm over the last dim (rows of 37), a reduction over
      // two runs of dims ([0, 2]: its rows strided), and special values (a row with NaN, one with Inf).
      const norm = (dims: number[]) => (a: Tensor) => {
        const xc = a.sub(a.mean(dims, true));
        return xc.mul(xc.square().mean(dims, true).add(1e-5).rsqrt()).relu();
      };
      const grad = (dims: number[], w: Tensor) => (a: Tensor) =>
        tidy(() => {
          const x = a.mul(1).detach();
          x.requiresGrad = true;
          norm(dims)(x).mul(w).sum().backward();
          return x.grad!.mul(1);
        });
      const cases: [number[], number[], Float32Array | null][] = [
        [[3, 5, 7, 9], [2, 3], null],
        [[6, 37], [1], null],
        [[4, 3, 5], [0, 2], null],
        [[2, 16], [1], Float32Array.from([...SPECIAL, ...SPECIAL.slice(3), 5, 6, 7])],
      ];
      const variants = b instanceof WebGPUBackend ? (['rows', 'workgroup'] as const) : ([null] as const);
      for (const v of variants) {
        const prev = b instanceof WebGPUBackend ? b.reduceVariant : null;
        if (v && b instanceof WebGPUBackend) b.reduceVariant = v;
        try {
          for (const [shape, dims, data] of cases) {
            const size = shape.reduce((p, d) => p * d, 1);
            const x = tensor(data ?? randomData(size, 76, -3, 3), shape, { backend: b });
            const w = tensor(randomData(size, 77), shape, { backend: b });
            for (const [what, f, kernels] of [
              ['forward', norm(dims), 1],
              ['backward', grad(dims, w), 3],
            ] as const) {
              const r = await bothWays(f, [x]);
              // The forward's two sums and the normalization: one row kernel. With the backward: two (a
              // value read by two of a row kernel's passes is computed once and kept in its output, one
              // such value a kernel: the forward's sums with the normalized values, then the gradient's
              // two sums with the ops between and after them), then the gradient's copy (mul(1)).
              expect(r.dispatches, `${v} ${what} [${shape}] over [${dims}]`).toBe(kernels);
              if (which === 'cpu') expect(r.compiled, `${what} [${shape}]`).toEqual(r.eager);
              else
                r.eager.forEach((e, i) =>
                  expect(
                    Object.is(r.compiled[i], e) || Math.abs(r.compiled[i] - e) <= 1e-5 * Math.max(1, Math.abs(e)),
                    `${v} ${what} [${shape}] element ${i}: ${r.compiled[i]} for ${e}`,
                  ).toBe(true),
                );
            }
          }
        } finally {
          if (prev && b instanceof WebGPUBackend) b.reduceVariant = prev;
        }
      }
      // Rows longer than 4,096 elements stay reductions of their own.
      const long = tensor(randomData(2 * 4100, 78), [2, 4100], { backend: b });
      const r = await bothWays(norm([1]), [long]);
      expect(r.dispatches).toBeGreaterThan(1);
    });

    it(`${which}: batch norm's running statistics are updated in the store of the reduction computing each statistic, as eager mode's`, async () => {
      const b = await backend();
      // Bit for bit on the CPU twin. On WebGPU the fused mean sums in another order than the eager
      // reduction over a leading dim, so a statistic (and x - mean) can differ by a few float32 ulps of
      // the inputs' scale (3): an absolute bound of 1e-5, not a relative one.
      const near = (got: Float32Array, want: Float32Array, what: string) => {
        if (which === 'cpu') return expect(got, what).toEqual(want);
        want.forEach((w, i) => expect(Math.abs(got[i] - w), `${what} [${i}]`).toBeLessThanOrEqual(1e-5));
      };
      // One pass ([37, 10] over dim 0), a strided one over two runs of dims, batch norm's own ([6, 5, 7, 3]
      // over [0, 2, 3]), and a partial first pass (4,500 elements a channel: past 4,096 on WebGPU).
      for (const shape of [
        [37, 10],
        [6, 5, 7, 3],
        [4500, 2],
      ]) {
        const c = shape[1];
        const x = tensor(
          randomData(
            shape.reduce((p, d) => p * d, 1),
            71,
            -3,
            3,
          ),
          shape,
          { backend: b },
        );
        const stats = () => [
          tensor(randomData(c, 72), [c], { backend: b }),
          tensor(randomData(c, 73, 0.5, 2), [c], { backend: b }),
        ];
        const [se, sc] = [stats(), stats()];
        const bn =
          ([m, v]: Tensor[]) =>
          (a: Tensor) =>
            F.batchNorm(a, m, v, null, null, true, 0.1);
        const [eager, compiled] = [bn(se), compile(bn(sc))];
        for (let i = 0; i < 4; i++) {
          const [ye, yc] = [eager(x), compiled(x)];
          near(await yc.toArray(), await ye.toArray(), `call ${i}: y of [${shape}]`);
          ye.dispose();
          yc.dispose();
          for (const k of [0, 1])
            near(await sc[k].toArray(), await se[k].toArray(), `call ${i}: statistic ${k} of [${shape}]`);
        }
        // The mean and the variance, each with its statistic's assign, the factor rsqrt(var + eps), the
        // normalization: 4 kernels (6 with the assigns apart), 6 with the two partial first passes.
        expect(compiled.stats.dispatches, `[${shape}]`).toBe(b instanceof WebGPUBackend && shape[0] === 4500 ? 6 : 4);
      }
      // An update the reduction cannot take (the state read between the reduction and the assign) stays a
      // kernel of its own, with eager mode's values.
      const r = [tensor(randomData(10, 74), [10], { backend: b }), tensor(randomData(10, 74), [10], { backend: b })];
      const x = tensor(randomData(370, 75), [37, 10], { backend: b });
      const read = (s: Tensor) => (a: Tensor) => {
        const m = a.mean(0);
        const seen = s.mul(2);
        F.assignInPlace(s, s.mul(0.9).add(m.mul(0.1)));
        return seen.add(m);
      };
      const [eager, compiled] = [read(r[0]), compile(read(r[1]))];
      for (let i = 0; i < 3; i++) {
        near(await compiled(x).toArray(), await eager(x).toArray(), `call ${i}`);
        near(await r[1].toArray(), await r[0].toArray(), `call ${i}: the state`);
      }
      // The mean, the state's mul (read before the update), the assign, the add.
      expect(compiled.stats.dispatches).toBe(4);
    });
  });
});

describe("compile(): the optimizer step in the gradient's kernel", () => {
  forEachBackend((which, backend) => {
    // The convolution's weight gradient by the tuner's choice and by im2col (whose GEMM takes the update).
    for (const variant of which === 'webgpu' ? ([null, 'im2col'] as const) : ([null] as const))
      it(`${which}: each parameter's update runs in the store of the kernel computing its gradient (matmul, convolution${variant ? ` by ${variant}` : ''}, reduction, elementwise), as eager mode's`, async () => {
        const b = await fixed(await backend());
        if (b instanceof WebGPUBackend) b.tuner.forced = variant;
        try {
          await withBackend(b, async () => {
            // A convolution (weight: its weight gradient; bias: a sum over the batch), a linear layer (a
            // matmul; a sum), and a free parameter p used twice, whose gradient is the sum of two elementwise
            // terms (an elementwise kernel). Adam for the layers, SGD with Nesterov momentum for p (both update formulas).
            const make = () => {
              const conv = new nn.Conv2d(2, 3, 3, { generator: new Generator(3), backend: b });
              const lin = new nn.Linear(3 * 5 * 3, 4, { generator: new Generator(4), backend: b });
              const p = tensor(randomData(7 * 4, 5), [7, 4], { backend: b, requiresGrad: true });
              const opts = [
                new nn.Adam([...conv.parameters(), ...lin.parameters()], { lr: 0.05 }),
                new nn.SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }),
              ];
              return { conv, lin, p, opts };
            };
            const x = tensor(randomData(7 * 2 * 7 * 5, 91), [7, 2, 7, 5], { backend: b });
            const fn =
              ({ conv, lin, p, opts }: ReturnType<typeof make>) =>
              (a: Tensor) =>
                tidy(() => {
                  const y = lin.call(conv.call(a).leakyRelu(0.2).reshape([7, 45]));
                  const l = y.add(p).tanh().add(y.sub(p).relu()).square().mean();
                  for (const o of opts) o.zeroGrad();
                  l.backward();
                  for (const o of opts) o.step();
                  return l;
                });
            const [e, c] = [make(), make()];
            const eager = fn(e),
              step = compile(fn(c));
            const params = (m: ReturnType<typeof make>) => [
              m.conv.weight,
              m.conv.bias!,
              m.lin.weight,
              m.lin.bias!,
              m.p,
            ];
            for (let i = 0; i < 6; i++) {
              eager(x).dispose();
              step(x).dispose();
              // Each step's parameters as eager mode's (bit for bit on the CPU twin).
              for (const [k, pe] of params(e).entries()) {
                const [we, wc] = [await pe.toArray(), await params(c)[k].toArray()];
                if (which === 'cpu') expect(wc).toEqual(we);
                else
                  we.forEach((v, j) =>
                    expect(Math.abs(wc[j] - v), `step ${i} param ${k} [${j}]`).toBeLessThanOrEqual(
                      1e-6 * Math.max(1, Math.abs(v)),
                    ),
                  );
              }
            }
            if (b instanceof WebGPUBackend) {
              // No update kernel of its own: each is in the store of the kernel named after what it fused.
              const { kernels } = await profile(() => step(x).dispose(), b);
              const count = (re: RegExp) => kernels.filter((k) => re.test(k.kernel)).reduce((n, k) => n + k.count, 0);
              expect(count(/^optim:/)).toBe(0);
              expect(count(/^fused:conv2d_grad_weight.*\+adam$/)).toBe(1);
              if (variant === 'im2col') expect(count(/^fused:conv2d_grad_weight:im2col\+adam$/)).toBe(1);
              expect(count(/^fused:matmul.*\+adam$/)).toBe(1);
              expect(count(/^fused:.*sum.*\+adam$/)).toBe(2);
              expect(count(/^fused:.*\+sgd$/)).toBe(1);
              expect(count(/^fused:(?!.*sum)(?!matmul)(?!conv).*\+sgd$/)).toBe(1);
            }
            step.dispose();
          });
        } finally {
          if (b instanceof WebGPUBackend) b.tuner.forced = null;
        }
      });
  });
});

describe("the optimizer update in a convolution's store", () => {
  it("binds a uniform struct whose first fields are conv_params.wgsl's ConvParams, then OptimParams", async () => {
    const wgsl = (await loadKernelSources()).get('conv_reg')!;
    const fields = (body: string) =>
      body
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean);
    const conv = fields(/struct ConvParams \{([^}]*)\}/.exec(wgsl)![1]);
    const optim = fields(/struct OptimConvParams \{([^}]*)\}/.exec(OPTIM_CONV_PARAMS)![1]);
    expect(conv.length).toBe(24);
    expect(optim).toEqual([...conv, 'opt: OptimParams']);
  });
});

describe('compile() on WebGPU: recording and replay', () => {
  it('a kernel measurement that finishes after the recording re-records the step', async () => {
    const b = await getGpu();
    b.tuner.autotune = true;
    try {
      await withBackend(b, async () => {
        const vae = new MlpVAE({ hidden: 256, zDim: 4, generator: new Generator(2), backend: b });
        const x = tensor(randomData(64 * 784, 3, 0, 1), [64, 784], { backend: b });
        const step = compile((bt: TrainBatch, g: Generator) => vae.trainStep(bt, g));
        const g = new Generator(1);
        // Eager, then traced at once: the measurements the first call started have not run yet.
        step({ x }, g).dispose();
        step({ x }, g).dispose();
        await sync(b);
        // Whatever they chose, pick a variant no guess on this adapter is for every measured class: the
        // guesses are vec4 or reg on CPU-like adapters, tiled or split-K on GPUs (both always eligible).
        const never = b.ctx.kernelDefaults === 'software' ? 'tiled' : 'reg';
        for (const k of b.tuner.choices.keys()) b.tuner.choices.set(k, never);
        const l = step({ x }, g);
        expect(step.stats.rerecords).toBe(1);
        expect((await l.toArray()).every(Number.isFinite)).toBe(true);
        step({ x }, g).dispose();
        expect(step.stats.rerecords).toBe(1);
      });
    } finally {
      b.tuner.autotune = false;
      b.tuner.choices.clear();
    }
  });

  it("profile() reports every replayed dispatch, and the step keeps at most the eager step's peak bytes", async () => {
    const b = await fixed(await getGpu());
    await withBackend(b, async () => {
      const vae = new MlpVAE({ hidden: 64, zDim: 4, generator: new Generator(2), backend: b });
      const x = tensor(randomData(16 * 784, 4, 0, 1), [16, 784], { backend: b });
      const g = new Generator(1);
      const pool = b.ctx.pool;
      // The eager step's peak above what lives between steps.
      vae.trainStep({ x }, g).dispose();
      await sync(b);
      const before = pool.liveBytes;
      pool.peakBytes = before;
      vae.trainStep({ x }, g).dispose();
      await sync(b);
      const eagerPeak = pool.peakBytes - before;
      const step = compile((bt: TrainBatch, gen: Generator) => vae.trainStep(bt, gen));
      step({ x }, g).dispose();
      step({ x }, g).dispose();
      const { kernels } = await profile(() => step({ x }, g).dispose(), b);
      expect(kernels.reduce((n, k) => n + k.count, 0)).toBe(step.stats.dispatches);
      // Every parameter's Adam update ran: in its gradient's kernel (fused:...+adam) or one of its own.
      expect(kernels.filter((k) => k.kernel.endsWith('adam')).reduce((n, k) => n + k.count, 0)).toBe(
        vae.parameters().length,
      );
      expect(step.stats.bytes).toBeGreaterThan(0);
      expect(step.stats.bytes).toBeLessThanOrEqual(eagerPeak);
      // Between calls the compiled step holds its buffers, and nothing else grows.
      const live = pool.liveBytes;
      for (let i = 0; i < 5; i++) step({ x }, g).dispose();
      await sync(b);
      expect(pool.liveBytes).toBe(live);
      step.dispose();
      expect(pool.liveBytes).toBe(live - step.stats.bytes);
    });
  });
});

describe('compile() with noGrad and nested calls', () => {
  it('a compiled function called inside another one is part of its trace', async () => {
    const inner = compile((a: Tensor) => a.mul(2));
    const outer = compile((a: Tensor) => noGrad(() => inner(a).add(1)));
    const x = tensor([1, 2], [2], { backend: cpu });
    for (let i = 0; i < 3; i++) expect(await outer(x).toArray()).toEqual(Float32Array.of(3, 5));
    expect(outer.stats.traces).toBe(1);
    expect(inner.stats.traces).toBe(0);
  });
});
