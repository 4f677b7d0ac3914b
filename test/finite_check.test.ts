// The optimizers' finite check: the update kernels flag a parameter whose gradient or updated value is
// NaN or +-Inf (no extra dispatch), Optimizer.nonFinite() names it and says which; a flag of an earlier
// step does not fire again; a check awaited one step behind (the next step issued first) still describes
// its own step; invalid hyper-parameters are errors. Both backends.
import { describe, expect, it } from 'vitest';
import { tensor, nn, profile, type Backend } from '../src/index.ts';
import { cpu, forEachBackend, getGpu } from './helpers.ts';

function params(backend: Backend) {
  const a = tensor([1, 2, 3, 4, 5], [5], { backend }),
    b = tensor([0.5, -0.5, 0.25], [3], { backend });
  a.requiresGrad = b.requiresGrad = true;
  a.name = 'layer.weight';
  b.name = 'layer.bias';
  return [a, b];
}

describe('optimizers check that gradients and parameters stay finite', () => {
  forEachBackend((name, get) => {
    for (const kind of ['adam', 'sgd'] as const) {
      it(`${kind} on ${name}: names the parameter whose gradient or value became non-finite`, async () => {
        const backend = await get();
        const [a, b] = params(backend);
        const opt = kind === 'adam' ? new nn.Adam([a, b], { lr: 0.1 }) : new nn.SGD([a, b], { lr: 0.1, momentum: 0.9 });
        expect(await opt.nonFinite(), 'before any step').toEqual([]);
        const step = (ga: number[], gb: number[]) => {
          a.grad = tensor(ga, [5], { backend });
          b.grad = tensor(gb, [3], { backend });
          opt.step();
        };
        step([1, 1, 1, 1, 1], [1, 1, 1]);
        expect(await opt.nonFinite()).toEqual([]);
        step([1, NaN, 1, Infinity, 1], [1, 1, 1]);
        const bad = await opt.nonFinite();
        expect(bad).toHaveLength(1);
        expect(bad[0]).toMatch(/the gradient of layer\.weight holds 1 NaN and 1 Inf of 5/);
        // Adam turns a NaN gradient into a NaN parameter; SGD too (p - lr * NaN).
        expect(bad[0]).toMatch(
          /layer\.weight holds 2 NaN and 0 Inf of 5 after the update|layer\.weight holds \d NaN and \d Inf of 5 after the update/,
        );
        // A later step that is finite everywhere but b: the old flag of a does not fire again.
        a.grad = null;
        b.grad = tensor([1, 1, 1], [3], { backend });
        backend.write(b.storage, Float32Array.from([1, -Infinity, 0]));
        opt.step();
        expect(await opt.nonFinite()).toEqual(['layer.bias holds 0 NaN and 1 Inf of 3 after the update']);
        b.grad = tensor([1, 1, 1], [3], { backend });
        backend.write(b.storage, Float32Array.from([1, 2, 0]));
        opt.step();
        expect(await opt.nonFinite()).toEqual([]);
      });
    }
  });

  forEachBackend((name, get) => {
    it(`read one step behind (${name}): the check taken right after a step describes that step, however many steps follow before it is awaited`, async () => {
      const backend = await get();
      const [a, b] = params(backend);
      const opt = new nn.Adam([a, b], { lr: 0.1 });
      const step = (ga: number[]) => {
        a.grad = tensor(ga, [5], { backend });
        b.grad = tensor([1, 1, 1], [3], { backend });
        opt.step();
        return opt.nonFinite();
      };
      // Step 1 finite, its check pending while step 2 (the bad one) runs: step 1 is clean.
      const first = step([1, 1, 1, 1, 1]);
      const second = step([1, NaN, 1, 1, 1]);
      // Step 3 is issued (a's gradient finite again, a itself NaN from step 2) before step 2's check resolves.
      const third = step([1, 1, 1, 1, 1]);
      expect(await first).toEqual([]);
      // Compared with step 2's tag, taken at the call: not with the count when it resolves (3). The counts
      // are read when the flags arrive: after step 3, and said so.
      expect(await second).toEqual(['layer.weight holds 1 NaN and 0 Inf of 5 after the update (counted 1 step later)']);
      // Step 3 flags a again (its value is NaN after the update): its own check names it, with nothing later.
      expect(await third).toEqual(['layer.weight holds 1 NaN and 0 Inf of 5 after the update']);
    });
  });

  it('restoring a checkpoint drops the flags (their step tags may repeat) and is all or nothing', async () => {
    const [a, b] = params(cpu);
    const opt = new nn.Adam([a, b], { lr: 0.1 });
    a.grad = tensor([1, NaN, 1, 1, 1], [5], { backend: cpu });
    b.grad = tensor([1, 1, 1], [3], { backend: cpu });
    opt.step();
    expect(await opt.nonFinite()).toHaveLength(1);
    // Back to step 0 (as the CLI does after its warm-up steps), then a clean step 1: no stale flag.
    opt.loadState([null, null], 0);
    cpu.write(a.storage, Float32Array.from([1, 2, 3, 4, 5]));
    a.grad = tensor([1, 1, 1, 1, 1], [5], { backend: cpu });
    opt.step();
    expect(opt.stepCount).toBe(1);
    expect(await opt.nonFinite()).toEqual([]);
    // A slot of the wrong length in the second parameter: nothing is written, the count stays.
    const m = await opt.stateTensors()[0][0].toArray();
    expect(() =>
      opt.loadState(
        [
          [new Float32Array(5), new Float32Array(5)],
          [new Float32Array(3), new Float32Array(2)],
        ],
        7,
      ),
    ).toThrow(/optimizer state of layer\.bias: 2 values for 3/);
    expect(await opt.stateTensors()[0][0].toArray()).toEqual(m);
    expect(opt.stepCount).toBe(1);
  });

  it('the check adds no dispatch to a step (webgpu)', async () => {
    const backend = await getGpu();
    const [a, b] = params(backend);
    const opt = new nn.Adam([a, b]);
    a.grad = tensor([1, 1, 1, 1, 1], [5], { backend });
    b.grad = tensor([1, 1, 1], [3], { backend });
    opt.step();
    const { kernels } = await profile(() => opt.step(), backend);
    expect(kernels.map((k) => [k.kernel, k.count])).toEqual([['optim:adam', 2]]);
  });

  it('invalid hyper-parameters are errors, also when changed between steps', async () => {
    const [a] = params(cpu);
    expect(() => new nn.Adam([a], { lr: NaN })).toThrow(/Adam: invalid learning rate NaN \(must be >= 0\)/);
    expect(() => new nn.Adam([a], { lr: -1e-3 })).toThrow(/Adam: invalid learning rate -0\.001/);
    expect(() => new nn.Adam([a], { betas: [1, 0.999] })).toThrow(/Adam: invalid beta1 1 \(must be in \[0, 1\)\)/);
    expect(() => new nn.Adam([a], { eps: -1 })).toThrow(/Adam: invalid eps -1/);
    expect(() => new nn.SGD([a], { lr: -0.1 })).toThrow(/SGD: invalid learning rate -0\.1/);
    expect(() => new nn.SGD([a], { lr: 0.1, momentum: NaN })).toThrow(/SGD: invalid momentum NaN/);
    const opt = new nn.Adam([a], { lr: 1e-3 });
    a.grad = tensor([1, 1, 1, 1, 1], [5], { backend: cpu });
    opt.o.lr = Number('abc');
    const before = await a.toArray();
    expect(() => opt.step()).toThrow(/Adam: invalid learning rate NaN/);
    expect(await a.toArray(), 'a refused step changes nothing').toEqual(before);
    expect(opt.stepCount).toBe(0);
  });
});
