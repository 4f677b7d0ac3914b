// The learning-rate schedulers (src/nn/schedulers.ts) against PyTorch's: test/fixtures/schedulers.json,
// written by scripts/schedulers.py with torch.optim.lr_scheduler (the rates of 25 steps from lr 0.1);
// and a scheduler driving a compiled step as it drives an eager one.
import { describe, expect, it } from 'vitest';
import { compile, nn, tensor, tidy, Generator, type Tensor } from '../src/index.ts';
import fixture from './fixtures/schedulers.json' with { type: 'json' };
import { cpu, forEachBackend } from './helpers.ts';

const param = () => tensor([0], [1], { backend: cpu, requiresGrad: true });
const make: Record<string, (o: nn.Optimizer, opts: never) => nn.LRScheduler> = {
  step: (o, x) => new nn.StepLR(o, x),
  exponential: (o, x) => new nn.ExponentialLR(o, x),
  cosine: (o, x) => new nn.CosineAnnealingLR(o, x),
  linear: (o, x) => new nn.LinearLR(o, x),
  one_cycle: (o, x) => new nn.OneCycleLR(o, x),
  one_cycle_linear: (o, x) => new nn.OneCycleLR(o, x),
};

describe('learning-rate schedulers as torch.optim.lr_scheduler', () => {
  for (const [name, c] of Object.entries(fixture.cases) as [
    string,
    (typeof fixture.cases)[keyof typeof fixture.cases] & { momentums?: number[]; past_end?: string | null },
  ][]) {
    it(`${name} ${JSON.stringify(c.options)} on ${c.optimizer}: ${c.lrs.length - 1} rounds of step(), the rate${c.momentums ? ' and momentum' : ''} before each and after the last`, () => {
      const opt =
        c.optimizer === 'adam' ? new nn.Adam([param()], { lr: fixture.lr }) : new nn.SGD([param()], { lr: fixture.lr });
      const s = make[name.startsWith('one_cycle') ? 'one_cycle' : name](opt, c.options as never);
      const momentum = () =>
        c.optimizer === 'adam' ? (opt as nn.Adam).o.betas![0] : ((opt as nn.SGD).o.momentum ?? 0);
      c.lrs.forEach((want, t) => {
        expect(Math.abs(opt.lr - want), `step ${t}: ${opt.lr} for ${want}`).toBeLessThanOrEqual(
          1e-12 * Math.max(1, Math.abs(want)),
        );
        if (c.momentums)
          expect(
            Math.abs(momentum() - c.momentums[t]),
            `step ${t}: momentum ${momentum()} for ${c.momentums[t]}`,
          ).toBeLessThanOrEqual(1e-12);
        if (t < c.lrs.length - 1) s.step();
      });
      expect(s.lastLr).toBe(opt.lr);
      // PyTorch raises at the sched.step() after that ("Tried to step 27 times ... total steps is 25").
      if (c.past_end)
        expect(() => s.step()).toThrow(/^OneCycleLR: step\(\) called 26 times, more than totalSteps = 25/);
    });
  }

  it('bad options are errors naming the scheduler', () => {
    const opt = new nn.Adam([param()]);
    expect(() => new nn.StepLR(opt, { stepSize: 0 })).toThrow(/StepLR: stepSize must be a positive integer, not 0/);
    expect(() => new nn.CosineAnnealingLR(opt, { tMax: 2.5 })).toThrow(
      /CosineAnnealingLR: tMax must be a positive integer, not 2.5/,
    );
    expect(() => new nn.LinearLR(opt, { startFactor: 0 })).toThrow(/LinearLR: startFactor must be in \(0, 1\], not 0/);
    expect(() => new nn.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, pctStart: 1 })).toThrow(
      /OneCycleLR: pctStart must be in \(0, 1\), not 1/,
    );
    const s = new nn.OneCycleLR(opt, { maxLr: 1, totalSteps: 2 });
    s.step();
    s.step(); // the last of totalSteps rounds: allowed, as in PyTorch
    const lr = opt.lr;
    expect(() => s.step()).toThrow(/^OneCycleLR: step\(\) called 3 times, more than totalSteps = 2/);
    expect([s.t, opt.lr], 'a refused step changes nothing').toEqual([2, lr]);
    expect(() => new nn.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, maxMomentum: 1 })).toThrow(
      /^OneCycleLR: maxMomentum must be in \[0, 1\), not 1$/,
    );
    expect(() => {
      opt.lr = -1;
    }).toThrow(/invalid learning rate -1/);
  });

  forEachBackend((which, backend) => {
    it(`a scheduler drives a compiled step as an eager one (${which})`, async () => {
      const b = await backend();
      const setup = () => {
        const lin = new nn.Linear(4, 2, { generator: new Generator(5), backend: b });
        const opt = new nn.AdamW(lin.parameters(), { lr: 0.2 });
        return { lin, opt, sched: new nn.OneCycleLR(opt, { maxLr: 0.3, totalSteps: 8 }) };
      };
      const x = tensor([1, -2, 0.5, 3, 0, 1, -1, 2], [2, 4], { backend: b });
      const fn =
        ({ lin, opt }: ReturnType<typeof setup>) =>
        (a: Tensor) =>
          tidy(() => {
            const l = lin.call(a).tanh().square().mean();
            opt.zeroGrad();
            l.backward();
            opt.step();
            return l;
          });
      const [e, c] = [setup(), setup()];
      const eager = fn(e),
        step = compile(fn(c));
      for (let i = 0; i < 7; i++) {
        const [le, lc] = [eager(x), step(x)];
        expect(await lc.item(), `step ${i}`).toBeCloseTo(await le.item(), 6);
        le.dispose();
        lc.dispose();
        e.sched.step();
        c.sched.step();
      }
      const [we, wc] = [await e.lin.weight.toArray(), await c.lin.weight.toArray()];
      we.forEach((v, k) => expect(wc[k]).toBeCloseTo(v, 6));
      expect(step.stats.replays).toBeGreaterThan(3);
      step.dispose();
    });
  });
});
