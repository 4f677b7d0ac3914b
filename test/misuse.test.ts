// API misuse gives clear errors instead of silent wrong numbers: backward() through a freed graph or
// one whose tensors tidy disposed (PyTorch: "Trying to backward through the graph a second time"),
// crossEntropy labels that are not class indices, and loadStateDict's all-or-nothing validation.
// On both backends where the backend matters; the engine's other semantics (accumulation into leaves,
// retainGraph, detach, noGrad) are checked alongside so the new checks do not break them.
import { describe, expect, it } from 'vitest';
import { F, Generator, nn, noGrad, tensor, tidy, withBackend, type Tensor } from '../src/index.ts';
import { cpu, forEachBackend } from './helpers.ts';

const SECOND_TIME =
  /^backward\(\): trying to backward through the graph a second time \(or after its tensors were disposed\)/;
const FREED = /had its graph freed by an earlier backward\(\); pass \{ retainGraph: true \} to the first backward\(\)$/;
const DISPOSED = /was disposed \(by tidy or dispose\(\)\); call backward\(\) inside the tidy that made the graph$/;
const grad = async (t: Tensor) => (t.grad ? [...(await t.grad.toArray())] : null);

forEachBackend((name, backend) => {
  describe(`backward() misuse (${name})`, () => {
    const run = async (fn: () => Promise<void>) => withBackend(await backend(), fn);

    it('a second backward through a freed graph throws and leaves .grad as it was', () =>
      run(async () => {
        const w = tensor([1, 2], [2], { requiresGrad: true });
        const loss = w.mul(w).sum();
        loss.backward();
        expect(() => loss.backward()).toThrow(SECOND_TIME);
        expect(() => loss.backward()).toThrow(
          /the output, Tensor\(shape=\[\], backend=\w+, requires_grad\), had its graph freed/,
        );
        expect(await grad(w)).toEqual([2, 4]);
      }));

    it('a new loss over a node freed by an earlier backward throws', () =>
      run(async () => {
        const w = tensor([1, 2], [2], { requiresGrad: true });
        const h = w.mul(3);
        h.sum().backward();
        expect(() => h.mul(2).sum().backward()).toThrow(SECOND_TIME);
        expect(() => h.mul(2).sum().backward()).toThrow(
          /a tensor on its graph, Tensor\(shape=\[2\], .*\), had its graph freed/,
        );
        expect(await grad(w)).toEqual([3, 3]);
      }));

    it('requiresGrad_ on an op result whose graph backward freed throws (it is still not a leaf)', () =>
      run(async () => {
        const w = tensor([1, 2], [2], { requiresGrad: true });
        const h = w.mul(3);
        h.sum().backward();
        expect(() => h.requiresGrad_(false)).toThrow(/requiresGrad_\(\): only leaf tensors/);
        expect(w.requiresGrad_(false).requiresGrad).toBe(false);
      }));

    it('backward on a loss whose graph tidy disposed throws (and no .grad appears)', () =>
      run(async () => {
        const w = tensor([1, 2], [2], { requiresGrad: true });
        const loss = tidy(() => w.mul(w).mul(2).sum());
        expect(() => loss.backward()).toThrow(SECOND_TIME);
        expect(() => loss.backward()).toThrow(DISPOSED);
        expect(w.grad).toBeNull();
      }));

    it('backward on a disposed loss throws', () =>
      run(async () => {
        const w = tensor([1, 2], [2], { requiresGrad: true });
        const loss = w.mul(w).sum();
        loss.dispose();
        expect(() => loss.backward()).toThrow(/the output, .*, was disposed/);
      }));

    it('still allowed: retainGraph, accumulation over graphs, backward inside tidy, detach, noGrad', () =>
      run(async () => {
        const w = tensor([1, 2], [2], { requiresGrad: true });
        const loss = w.mul(w).sum(); // d/dw = 2w
        loss.backward(undefined, { retainGraph: true });
        loss.backward(); // the second may free it
        expect(await grad(w)).toEqual([4, 8]);
        expect(() => loss.backward()).toThrow(FREED);
        w.mul(3).sum().backward(); // a fresh graph over the same leaf accumulates
        expect(await grad(w)).toEqual([7, 11]);
        tidy(() => w.mul(w).mul(2).sum().backward());
        expect(await grad(w)).toEqual([11, 19]);
        const h = w.mul(2);
        h.sum().backward();
        // A detached view of a freed node is a new leaf-less constant: using it is fine.
        expect(h.detach().mul(w).sum().backward()).toBeUndefined();
        expect(await grad(w)).toEqual([15, 25]);
        expect(noGrad(() => h.mul(2)).requiresGrad).toBe(false);
      }));
  });

  describe(`crossEntropy labels (${name})`, () => {
    it('valid labels give the usual loss', async () => {
      const b = await backend();
      const logits = tensor([2, 0, 0, 0, 1, 0], [2, 3], { backend: b });
      const loss = await F.crossEntropy(logits, tensor([0, 1], [2], { backend: b })).item();
      const lse = (m: number) => m + Math.log(1 + 2 * Math.exp(-m));
      expect(loss).toBeCloseTo((lse(2) - 2 + lse(1) - 1) / 2, 5);
    });
    for (const [bad, at] of [
      [5, 1],
      [3, 1],
      [-1, 1],
      [1.5, 0],
      [NaN, 0],
    ] as const) {
      it(`label ${bad} of 3 classes ${name === 'cpu' ? 'throws, naming it' : 'makes the loss +Inf (no readback per call)'}`, async () => {
        const b = await backend();
        const labels = at === 1 ? [1, bad] : [bad, 0];
        const logits = tensor([0, 1, 2, 0, 1, 2], [2, 3], { backend: b, requiresGrad: true });
        const target = tensor(labels, [2], { backend: b });
        if (name === 'cpu') {
          expect(() => F.crossEntropy(logits, target)).toThrow(
            new RegExp(
              `^crossEntropy: target label ${bad} \\(at index ${at}\\) is not a class index: expected an integer in \\[0, 2\\] for 3 classes$`,
            ),
          );
        } else {
          // WebGPU: checking would read the labels back every call, so the bad row's loss is +Inf instead,
          // which the training loop's non-finite-loss check stops on; the good row's loss stays finite.
          const rows = await F.crossEntropy(logits, target, 'none').toArray();
          expect(rows[at]).toBe(Infinity);
          expect(Number.isFinite(rows[1 - at])).toBe(true);
          expect(await F.crossEntropy(logits, target).item()).toBe(Infinity);
        }
      });
    }
  });
});

describe('loadStateDict is all or nothing', () => {
  type Entry = { shape: number[]; data: Float32Array } | Tensor;
  /** Loads a state dict of 7s changed by `mutate`; returns the error, after checking no weight changed. */
  const load = (mutate: (sd: Map<string, Entry>) => void) =>
    withBackend(cpu, async () => {
      const m = new nn.Sequential(
        new nn.Linear(2, 3, { generator: new Generator(1) }),
        new nn.Linear(3, 2, { generator: new Generator(2) }),
      );
      const before = await Promise.all([...m.stateDict().values()].map((t) => t.toArray()));
      const sd = new Map<string, Entry>(
        [...m.stateDict()].map(([k, t]) => [k, { shape: t.shape, data: new Float32Array(t.size).fill(7) }]),
      );
      mutate(sd);
      const err = await m.loadStateDict(sd).then(
        () => null,
        (e: Error) => e,
      );
      const after = await Promise.all([...m.stateDict().values()].map((t) => t.toArray()));
      if (err) expect(after, 'a rejected state dict left a weight overwritten').toEqual(before);
      else expect(after.every((a) => a.every((v) => v === 7))).toBe(true);
      return err?.message ?? 'loaded';
    });
  it('loads a valid state dict', async () => expect(await load(() => {})).toBe('loaded'));
  it('a wrong length in the last key', async () => {
    expect(await load((sd) => ((sd.get('1.bias') as { data: Float32Array }).data = new Float32Array(5)))).toBe(
      'loadStateDict: 1.bias has 5 values in the state dict for shape [2] (2 values)',
    );
  });
  it('a wrong shape in the last key', async () => {
    expect(await load((sd) => ((sd.get('1.bias') as { shape: number[] }).shape = [3]))).toBe(
      'loadStateDict: 1.bias has shape [3] in the state dict but [2] in the model',
    );
  });
  it('a missing and an unexpected key', async () => {
    expect(
      await load((sd) => {
        sd.delete('1.bias');
        sd.set('2.weight', { shape: [1], data: new Float32Array(1) });
      }),
    ).toBe('loadStateDict: missing keys: 1.bias; unexpected keys: 2.weight');
  });
  it('a disposed tensor as the last value', async () => {
    expect(
      await load((sd) => {
        const t = tensor([1, 2], [2], { backend: cpu });
        t.dispose();
        sd.set('1.bias', t);
      }),
    ).toBe('loadStateDict: 1.bias in the state dict is a disposed tensor');
  });
  it('data that is not a Float32Array', async () => {
    expect(await load((sd) => ((sd.get('1.bias') as { data: unknown }).data = [7, 7]))).toBe(
      'loadStateDict: 1.bias has data [object Array], not a Float32Array, in the state dict for shape [2] (2 values)',
    );
  });
  it('tensors as values load too', async () => {
    expect(await load((sd) => sd.set('1.bias', tensor([7, 7], [2], { backend: cpu })))).toBe('loaded');
  });
});
