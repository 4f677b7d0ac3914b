// The demo's training loop (demo/trainer.ts) stops on a non-finite gradient or parameter, not only on a
// non-finite loss: the optimizers' finite flags are read with the loss terms every step. A stub model
// whose loss is finite (sqrt(w) at w = 0 is 0) while its gradient is +Inf (0.5 / sqrt(0)).
import { describe, expect, it } from 'vitest';
import { tensor, nn, withBackend, type Tensor } from '../src/index.ts';
import { Serial, Trainer } from '../demo/trainer.ts';
import type { LiveModel } from '../demo/adapters.ts';
import type { Trainable } from '../src/models/model.ts';
import { cpu, getGpu } from './helpers.ts';

function stub(w0: number[]): LiveModel {
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
    batch: () => ({}),
    itemsPerStep: () => 1,
    epochsDone: () => 0,
    render: async () => {},
    dispose: () => {},
  } as unknown as LiveModel;
}

const events = { onStep() {}, onRender() {}, onRunning() {}, onError() {} };

describe('the demo trainer checks every gradient and parameter each step', () => {
  for (const [name, get] of [
    ['cpu', async () => cpu],
    ['webgpu', getGpu],
  ] as const) {
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
  }
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
