// Optimizer state as PyTorch keeps it (src/nn/optim.ts): step counts per parameter (Adam's bias
// corrections and SGD's first momentum step follow a parameter's own steps), param groups with options
// of their own (and schedulers over them), stateDict() / loadStateDict(), and the per-parameter counts in
// checkpoints. Expected values are derived here from torch.optim's update rules, in the comments.
import { describe, expect, it } from 'vitest';
import { compile, nn, tensor, tidy, Generator, type Backend, type Tensor } from '../src/index.ts';
import { checkpointTensors, restoreCheckpoint } from '../src/io/checkpoint.ts';
import { forEachBackend, randomData } from './helpers.ts';

const near = async (t: Tensor, want: number[], tol = 1e-6) => {
  const got = await t.toArray();
  want.forEach((w, i) =>
    expect(Math.abs(got[i] - w), `[${i}]: ${got[i]} for ${w}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(w))),
  );
};
const grad = (p: Tensor, g: number[]) => {
  p.grad?.dispose();
  p.grad = tensor(g, [...p.shape], { backend: p.backend });
};

forEachBackend((which, backend) => {
  const param = (b: Backend, v: number[]) => tensor(v, [v.length], { backend: b, requiresGrad: true });

  describe(`optimizer state per parameter (${which})`, () => {
    it("Adam: a parameter first stepped at the optimizer's step 2 takes a first step", async () => {
      // Adam's first step is p - lr m1/(1-b1) / (sqrt(v1/(1-b2)) + eps) = p - lr sign(g) (|g| >> eps).
      // Its second, with the same g: m2/(1-b1^2) = g and v2/(1-b2^2) = g^2, so again p - lr sign(g).
      // With the optimizer's count instead (step 2 for b), b would end at [2.926, 4.074].
      const b = await backend();
      const p = param(b, [1, 2]),
        q = param(b, [3, 4]);
      const opt = new nn.Adam([p, q], { lr: 0.1 });
      grad(p, [1, 1]);
      opt.step();
      grad(p, [1, 1]);
      grad(q, [1, -1]);
      opt.step();
      // p's second step divides float32 bias corrections (1 - 0.999^2 loses digits): 1e-5.
      await near(p, [0.8, 1.8], 1e-5);
      await near(q, [2.9, 4.1]);
      expect(opt.paramSteps).toEqual([2, 1]);
      expect(opt.stepCount).toBe(2);
    });

    it('SGD: the momentum buffer of a parameter first stepped later starts undampened', async () => {
      // torch: buf = g at a parameter's first step; after, buf = momentum buf + (1 - dampening) g.
      // p: buf 1 -> 0.9; then buf 0.9 + 0.5 = 1.4 -> 0.9 - 0.14 = 0.76. q, first at step 2: buf 1 -> 1.9
      // (with the optimizer's count it would be dampened: buf 0.5 -> 1.95).
      const b = await backend();
      const p = param(b, [1]),
        q = param(b, [2]);
      const opt = new nn.SGD([p, q], { lr: 0.1, momentum: 0.9, dampening: 0.5 });
      grad(p, [1]);
      opt.step();
      grad(p, [1]);
      grad(q, [1]);
      opt.step();
      await near(p, [0.76]);
      await near(q, [1.9]);
    });

    it("param groups take options of their own, the constructor's the defaults; schedulers scale each", async () => {
      const b = await backend();
      const p = param(b, [1, 2]),
        q = param(b, [3, 4]);
      const opt = new nn.Adam([{ params: [p], lr: 0.1 }, { params: [q] }], { lr: 0.01, betas: [0.5, 0.9] });
      expect(opt.paramGroups.map((g) => g.options)).toEqual([
        { lr: 0.1, betas: [0.5, 0.9] },
        { lr: 0.01, betas: [0.5, 0.9] },
      ]);
      // StepLR: each group's rate times gamma^floor(t / stepSize), from its own base rate.
      const s = new nn.StepLR(opt, { stepSize: 2, gamma: 0.5 });
      expect(s.baseLrs).toEqual([0.1, 0.01]);
      grad(p, [1, -1]);
      grad(q, [-1, 1]);
      opt.step();
      s.step();
      // First Adam steps: lr sign(g) of each group's rate.
      await near(p, [0.9, 2.1]);
      await near(q, [3.01, 3.99]);
      s.step();
      expect(s.lastLrs).toEqual([0.05, 0.005]);
      expect(s.lastLr).toBe(0.05);
      opt.lr = 0.3;
      expect(opt.paramGroups.map((g) => g.options.lr)).toEqual([0.3, 0.3]);
    });

    it('bad params and group options are errors naming the optimizer and the group', async () => {
      const b = await backend();
      const p = param(b, [1]),
        q = param(b, [2]);
      expect(() => new nn.Adam([{ params: [p] }, { params: [q], lr: -1 }])).toThrow(
        /^Adam \(param group 1\): invalid learning rate -1 \(must be >= 0\)$/,
      );
      expect(() => new nn.SGD([{ params: [p], lr: 0.1, nesterov: true }], { lr: 0.1 })).toThrow(
        /^SGD: nesterov needs momentum > 0 and dampening 0$/,
      );
      expect(() => new nn.AdamW([{ params: [p] }, { params: [p, q] }])).toThrow(
        /^AdamW: parameter #\d+ appears more than once/,
      );
      expect(() => new nn.Adam([])).toThrow(/^Adam: got an empty parameter list$/);
      expect(() => new nn.Adam([p, { params: [q] }] as never)).toThrow(/^Adam: params mixes tensors and param groups/);
      // A group option changed to a bad value is caught at the next step, naming the group.
      const opt = new nn.Adam([{ params: [p] }, { params: [q] }]);
      opt.paramGroups[1].options.betas = [0.9, 1];
      grad(p, [1]);
      expect(() => opt.step()).toThrow(/^Adam \(param group 1\): invalid beta2 1/);
    });

    it('stateDict() / loadStateDict() carry the state and the options over to another optimizer', async () => {
      const b = await backend();
      const p = param(b, [1, -2, 3]),
        q = param(b, [0.5, 4]);
      const opt = new nn.Adam(
        [
          { params: [p], lr: 0.05 },
          { params: [q], weightDecay: 0.1 },
        ],
        { lr: 0.02 },
      );
      for (let s = 0; s < 3; s++) {
        grad(p, [...randomData(3, 10 + s)]);
        if (s > 0) grad(q, [...randomData(2, 20 + s)]);
        opt.step();
      }
      const sd = opt.stateDict();
      expect(Object.keys(sd.state)).toEqual(['0', '1']);
      expect(sd.state[0].step).toBe(3);
      expect(sd.state[1].step).toBe(2);
      expect(Object.keys(sd.state[0].values)).toEqual(['m', 'v']);
      expect(sd.paramGroups).toEqual([
        { lr: 0.05, params: [0] },
        { lr: 0.02, weightDecay: 0.1, params: [1] },
      ]);
      // Another optimizer over copies of the parameters, with other options, takes it all.
      const p2 = param(b, [...(await p.toArray())]),
        q2 = param(b, [...(await q.toArray())]);
      const other = new nn.Adam([{ params: [p2] }, { params: [q2] }], { lr: 1 });
      await other.loadStateDict(sd);
      expect(other.paramGroups.map((g) => g.options)).toEqual([{ lr: 0.05 }, { lr: 0.02, weightDecay: 0.1 }]);
      expect(other.paramSteps).toEqual([3, 2]);
      const g1 = [...randomData(3, 40)],
        g2 = [...randomData(2, 41)];
      for (const [a, c, o] of [
        [p, q, opt],
        [p2, q2, other],
      ] as const) {
        grad(a, g1);
        grad(c, g2);
        o.step();
      }
      expect(await p2.toArray()).toEqual(await p.toArray());
      expect(await q2.toArray()).toEqual(await q.toArray());
    });

    it('loadStateDict is all or nothing, and names what does not fit', async () => {
      const b = await backend();
      const p = param(b, [1, 2]);
      const opt = new nn.SGD([p], { lr: 0.1, momentum: 0.9 });
      grad(p, [1, 1]);
      opt.step();
      const sd = opt.stateDict();
      const wrong = param(b, [1, 2, 3]);
      const fresh = new nn.SGD([wrong], { lr: 0.5, momentum: 0.9 });
      await expect(fresh.loadStateDict(sd)).rejects.toThrow(
        /^SGD\.loadStateDict: momentum_buffer of parameter 0 has shape \[2\] for the parameter's \[3\]$/,
      );
      expect(fresh.paramGroups[0].options.lr).toBe(0.5);
      expect(fresh.paramSteps).toEqual([0]);
      const two = new nn.SGD([{ params: [param(b, [1, 2])] }, { params: [param(b, [1])] }], { lr: 0.1 });
      await expect(two.loadStateDict(sd)).rejects.toThrow(/^SGD\.loadStateDict: 1 param groups for the optimizer's 2$/);
      await expect(
        new nn.SGD([param(b, [0, 0])], { lr: 0.1 }).loadStateDict({ ...sd, paramGroups: [{ lr: -2, params: [0] }] }),
      ).rejects.toThrow(/^SGD: invalid learning rate -2/);
      await expect(
        new nn.SGD([param(b, [0, 0])], { lr: 0.1 }).loadStateDict({
          ...sd,
          state: { 0: { step: 1.5, values: sd.state[0].values } },
        }),
      ).rejects.toThrow(/^SGD\.loadStateDict: the step count of parameter 0 is 1.5, not a non-negative integer$/);
    });

    it('a compiled step with param groups equals the eager one, step counts included', async () => {
      const b = await backend();
      const run = async (compiled: boolean) => {
        const first = new nn.Linear(3, 4, { generator: new Generator(1), backend: b }),
          last = new nn.Linear(4, 1, { generator: new Generator(2), backend: b });
        const net = new nn.Sequential(first, new nn.Tanh(), last);
        const opt = new nn.Adam([{ params: first.parameters(), lr: 0.05 }, { params: last.parameters() }], {
          lr: 0.01,
        });
        const sched = new nn.ExponentialLR(opt, { gamma: 0.9 });
        const x = tensor(randomData(15, 3), [5, 3], { backend: b }),
          y = tensor(randomData(5, 4), [5, 1], { backend: b });
        const fn = (xs: Tensor, ys: Tensor) =>
          tidy(() => {
            opt.zeroGrad();
            const loss = net.call(xs).sub(ys).square().mean();
            loss.backward();
            opt.step();
            return loss;
          });
        const step = compiled ? compile(fn) : fn;
        const losses: number[] = [];
        for (let i = 0; i < 6; i++) {
          const l = step(x, y);
          losses.push(await l.item());
          l.dispose();
          sched.step();
        }
        return { losses, steps: [...opt.paramSteps], lrs: sched.lastLrs };
      };
      const eager = await run(false),
        compiled = await run(true);
      compiled.losses.forEach((l, i) =>
        expect(Math.abs(l - eager.losses[i]), `step ${i}`).toBeLessThanOrEqual(1e-5 * Math.abs(eager.losses[i])),
      );
      expect(compiled.steps).toEqual([6, 6, 6, 6]);
      expect(compiled.lrs).toEqual(eager.lrs);
    });

    it("checkpoints keep each parameter's step count (and files without them load as before)", async () => {
      const b = await backend();
      const make = () => {
        const m = new nn.Sequential(
          new nn.Linear(2, 3, { generator: new Generator(5), backend: b }),
          new nn.Linear(3, 1, { generator: new Generator(6), backend: b }),
        );
        return { m, opt: new nn.Adam(m.parameters(), { lr: 0.1 }) };
      };
      const a = make();
      const ps = a.m.parameters();
      for (let s = 0; s < 3; s++) {
        // The first layer starts stepping at the optimizer's third step.
        ps.forEach((p, k) => (k >= 2 || s === 2) && grad(p, [...randomData(p.size, 50 + 10 * s + k)]));
        a.opt.step();
      }
      expect(a.opt.paramSteps).toEqual([1, 1, 3, 3]);
      const ckpt = await checkpointTensors(a.m, [a.opt]);
      expect(ckpt.metadata.optimizer_param_steps).toBe('[[1,1,3,3]]');
      const c = make();
      await restoreCheckpoint(ckpt, c.m, [c.opt], 'ckpt');
      expect(c.opt.paramSteps).toEqual([1, 1, 3, 3]);
      expect(c.opt.stepCount).toBe(3);
      // An older file, without per-parameter counts: a parameter with slots gets the optimizer's count.
      const { optimizer_param_steps: _drop, ...old } = ckpt.metadata;
      const d = make();
      await restoreCheckpoint({ tensors: ckpt.tensors, metadata: old }, d.m, [d.opt], 'ckpt');
      expect(d.opt.paramSteps).toEqual([3, 3, 3, 3]);
      const e = make();
      await expect(
        restoreCheckpoint(
          { tensors: ckpt.tensors, metadata: { ...ckpt.metadata, optimizer_param_steps: '[[1,1,3]]' } },
          e.m,
          [e.opt],
          'run/ckpt',
        ),
      ).rejects.toThrow(
        /^run\/ckpt: metadata optimizer_param_steps is '\[\[1,1,3\]\]', not per optimizer \(1\) a JSON array of its parameters' \(4\) non-negative integer step counts$/,
      );
      expect(e.opt.paramSteps).toEqual([0, 0, 0, 0]);
    });
  });
});
