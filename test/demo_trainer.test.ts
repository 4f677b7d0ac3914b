// The demo's training loop (demo/trainer.ts) stops on a non-finite gradient or parameter, not only on a
// non-finite loss: the optimizers' finite flags are read with the loss terms every step. A stub model
// whose loss is finite (sqrt(w) at w = 0 is 0) while its gradient is +Inf (0.5 / sqrt(0)). At full speed
// the loop reads one step behind (issue 32): each step is issued before the one before it is read
// (counted through the stub's batch(), which the trainer calls as it issues a step), a step that goes bad
// is still the one named, and every other job on the Serial queue finds no step in flight.
import { describe, expect, it } from 'vitest';
import { tensor, nn, withBackend, type Tensor } from '../src/index.ts';
import { Serial, Trainer } from '../demo/trainer.ts';
import type { LiveModel } from '../demo/adapters.ts';
import type { Trainable } from '../src/models/model.ts';
import { forEachBackend } from './helpers.ts';

/** The stub; `onBatch` runs as each step is issued (the trainer asks for its batch first). */
function stub(w0: number[], onBatch: (w: Tensor) => void = () => {}): LiveModel {
  const w = tensor(w0, [w0.length], { requiresGrad: true });
  w.name = 'w';
  const opt = new nn.Adam([w], { lr: 1e-3 });
  const model = {
    lossNames: ['l'],
    namedParameters: () => [['layer.w', w]][Symbol.iterator](),
    optimizers: () => [opt],
    trainStep: (): Tensor => {
      opt.zeroGrad();
      const l = w.sqrt().sum();
      l.backward();
      opt.step();
      const out = l.reshape([1]);
      l.dispose();
      return out;
    },
  } as unknown as Trainable;
  return {
    model,
    config: {},
    batch: () => {
      onBatch(w);
      return {};
    },
    itemsPerStep: () => 1,
    epochsDone: () => 0,
    render: async () => {},
    dispose: () => {},
  } as unknown as LiveModel;
}

const events = { onStep() {}, onRender() {}, onRunning() {}, onError() {} };

describe('the demo trainer checks every gradient and parameter each step', () => {
  forEachBackend((name, get) => {
    it(`stops with the parameter named when a gradient becomes Inf under a finite loss (${name})`, async () => {
      const backend = await get();
      await withBackend(backend, async () => {
        const ok = new Trainer(stub([1, 4]), new Serial(), events, { batch: 1, lr: 1e-3, seed: 0 });
        const v = await ok.trainStep();
        expect(v[0]).toBeCloseTo(3, 3);
        const bad = new Trainer(stub([1, 0]), new Serial(), events, { batch: 1, lr: 1e-3, seed: 0 });
        await expect(bad.trainStep()).rejects.toThrow(
          /^at step 1 the gradient of layer\.w holds 0 NaN and 1 Inf of 2; layer\.w holds 1 NaN and 0 Inf of 2 after the update: lower the learning rate and reset$/,
        );
      });
    });
  });
});

describe('the demo loop reads one step behind', () => {
  forEachBackend((name, get) => {
    it(`${name}: step i + 1 is issued before step i is read; a pause reads the step in flight; other jobs find none`, async () => {
      const backend = await get();
      await withBackend(backend, async () => {
        // What trainer.step (steps read) was as each step was issued, and where redraws fell between.
        const log: string[] = [];
        const serial = new Serial();
        const t: Trainer = new Trainer(
          stub([1, 4], () => log.push(`issue at ${t.step}`)),
          serial,
          {
            ...events,
            onRender: () => log.push('render'),
            onStep: () => {
              if (t.step >= 6) t.running = false;
            },
          },
          { batch: 1, lr: 1e-3, seed: 0 },
        );
        t.start();
        while (t.running) await new Promise((r) => setTimeout(r, 5));
        await t.pause();
        const issues = log.filter((e) => e.startsWith('issue'));
        // The loop stops once step 6 is read, with step 7 in flight: read at the pause, and counted.
        expect(issues.length).toBe(7);
        expect(t.step).toBe(7);
        expect(t.history.steps).toEqual([1, 2, 3, 4, 5, 6, 7]);
        // Step k + 1 issued while step k is unread (t.step = k - 1), but after a redraw, which reads the
        // step in flight first.
        let k = 0,
          overlapped = 0;
        log.forEach((e, i) => {
          if (e === 'render') return;
          k++;
          const drawn = log[i - 1] === 'render';
          expect(e, `step ${k}`).toBe(`issue at ${k === 1 ? 0 : drawn ? k - 1 : k - 2}`);
          if (k > 1 && !drawn) overlapped++;
        });
        expect(overlapped).toBeGreaterThanOrEqual(3);
        // Any other job waits for the step in flight: its count and history agree with the weights.
        const u: Trainer = new Trainer(
          stub([1, 4], () => issued++),
          serial,
          {
            ...events,
            onStep: () => {
              if (u.step >= 3) u.running = false;
            },
          },
          { batch: 1, lr: 1e-3, seed: 0 },
        );
        let issued = 0;
        u.start();
        const seen: [number, number][] = [];
        while (u.running) seen.push(await serial.run(async () => [issued, u.step] as [number, number]));
        await u.pause();
        for (const [i, s] of seen) expect(s).toBe(i);
        expect([issued, u.step]).toEqual([4, 4]);
      });
    });

    it(`${name}: a step that goes bad in the loop is the one named, with the next one in flight`, async () => {
      const backend = await get();
      await withBackend(backend, async () => {
        let issued = 0;
        const errors: Error[] = [];
        // Step 4's update meets w = [1, 0]: an Inf gradient under a finite loss. (Where step 5 ran before
        // the flags arrived, the NaN and Inf counts are of after it, and the message says so.)
        const t = new Trainer(
          stub([1, 4], (w) => {
            if (++issued === 4) backend.write(w.storage, Float32Array.from([1, 0]));
          }),
          new Serial(),
          { ...events, onError: (e) => errors.push(e) },
          { batch: 1, lr: 1e-3, seed: 0 },
        );
        t.start();
        while (t.running) await new Promise((r) => setTimeout(r, 5));
        await t.pause();
        expect(errors.map((e) => e.message)).toEqual([
          expect.stringMatching(
            /^at step 4 the gradient of layer\.w holds \d NaN and \d Inf of 2.*: lower the learning rate and reset$/,
          ),
        ]);
        // Step 5 was issued before step 4 was read; it is dropped, not counted.
        expect(issued).toBe(5);
        expect(t.step).toBe(4);
        expect(t.history.steps).toEqual([1, 2, 3, 4]);
      });
    });
  });
});

describe("the loss charts' smoothing (demo/draw.ts smoothSeries)", () => {
  it('is a debiased EMA: constants stay, a step approaches its new level as 1 - a^t', async () => {
    const { smoothSeries } = await import('../demo/draw.ts');
    expect(smoothSeries([5, 5, 5, 5], 0.9).every((v) => Math.abs(v - 5) < 1e-12)).toBe(true);
    expect(smoothSeries([1, 2, 3], 0)).toEqual([1, 2, 3]);
    // 0 for t steps then 1: s = (1 - a) sum_{j < t'} a^j over the ones, w = 1 - a^(t + t'), by hand for a = 0.5.
    const s = smoothSeries([0, 0, 1, 1], 0.5);
    expect(s[1]).toBe(0);
    expect(s[2]).toBeCloseTo(0.5 / (1 - 0.125), 12);
    expect(s[3]).toBeCloseTo((0.5 * 0.5 + 0.5) / (1 - 0.0625), 12);
  });
});
