// The int32 dtype (src/graph/types.ts DType): creation and its range checks, each primitive's dtype rule
// (movement keeps int32, arithmetic gives float32, argmax makes int32), the casts, gradients refused on
// int32, the index consumers (gather, indexSelect, Embedding, crossEntropy, nllLoss) taking int32 as
// they take integer floats, randint, int32 through compile(), and int32 dataset fields. Both backends;
// the expected values are written from the definitions here (Math.trunc, loops), not from either backend.
import { describe, expect, it } from 'vitest';
import { arange, cat, compile, F, full, nn, randint, tensor, zeros, Generator, type Tensor } from '../src/index.ts';
import { dispatchStats as dispatchStatsForTests } from '../src/tensor.ts';
import { DataLoader, TensorDataset } from '../src/data/loader.ts';
import { backendOf, BACKENDS, cpu, getGpu, randomData } from './helpers.ts';

describe('int32 tensors: creation', () => {
  it('an Int32Array makes an int32 tensor; dtype: int32 checks integers within +-2^24', async () => {
    const t = tensor(new Int32Array([3, -7, 0, 16777216]), [2, 2], { backend: cpu });
    expect(t.dtype).toBe('int32');
    expect([...(await t.toInt32Array())]).toEqual([3, -7, 0, 16777216]);
    expect(String(t)).toContain('dtype=int32');
    expect(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        undefined,
        { backend: cpu, dtype: 'int32' },
      ).dtype,
    ).toBe('int32');
    expect(tensor(new Int32Array([1]), [1], { backend: cpu, dtype: 'float32' }).dtype).toBe('float32');
    expect(() => tensor([1, 1.5], undefined, { backend: cpu, dtype: 'int32' })).toThrow(
      /tensor\(\): value 1.5 at index 1 is not an integer, so it cannot be int32/,
    );
    expect(() => tensor(new Int32Array([16777217]), [1], { backend: cpu })).toThrow(
      /int32 value 16777217 at index 0 is beyond \+-16777216 \(2\^24\)/,
    );
    expect(() => tensor([NaN], undefined, { backend: cpu, dtype: 'int32' })).toThrow(
      /value NaN at index 0 is not an integer/,
    );
    expect(() => tensor([1], undefined, { backend: cpu, dtype: 'int64' as never })).toThrow(
      /tensor: unknown dtype "int64" \(float32, int32\)/,
    );
    expect(() => full([2], 0.5, { backend: cpu, dtype: 'int32' })).toThrow(/full: value 0.5 is not an integer/);
    const z = zeros([3], { backend: cpu, dtype: 'int32' });
    expect(z.dtype).toBe('int32');
    expect(z.fullLike(4).dtype).toBe('int32');
    expect(z.fullLike(0.5).dtype).toBe('float32');
    const a = arange(-3, 3, 2, { backend: cpu, dtype: 'int32' });
    expect([a.dtype, [...(await a.toInt32Array())]]).toEqual(['int32', [-3, -1, 1]]);
    await expect(tensor([1.5], undefined, { backend: cpu }).toInt32Array()).rejects.toThrow(
      /toInt32Array\(\): tensor of shape \[1\] is float32; call \.int\(\) first/,
    );
  });

  it('an int32 tensor cannot require gradients', () => {
    const t = tensor(new Int32Array([1, 2]), [2], { backend: cpu });
    expect(() => {
      t.requiresGrad = true;
    }).toThrow(/requiresGrad: a int32 tensor of shape \[2\] cannot require gradients/);
    expect(() => tensor(new Int32Array([1]), [1], { backend: cpu, requiresGrad: true })).toThrow(
      /cannot require gradients/,
    );
    expect(() => t.requiresGrad_()).toThrow(/cannot require gradients/);
    expect(t.requiresGrad).toBe(false);
  });
});

describe('int32 tensors: dtype rules and casts on both backends', () => {
  it('movement, gather, max/min keep int32; a mixed cat, a fractional pad, sums and arithmetic are float32', async () => {
    for (const name of BACKENDS) {
      const b = await backendOf(name);
      const i = tensor(new Int32Array([5, -2, 9, 0, 7, 3]), [2, 3], { backend: b });
      const f = tensor([[0.5, 1, 2]], undefined, { backend: b });
      const kinds: [string, Tensor, string][] = [
        ['reshape', i.reshape([3, 2]), 'int32'],
        ['permute', i.t(), 'int32'],
        ['slice', i.slice(1, 1), 'int32'],
        ['broadcast', i.slice(0, 0, 1).broadcastTo([4, 3]), 'int32'],
        ['cat', cat([i, i], 0), 'int32'],
        ['pad 0', i.pad([1, 1]), 'int32'],
        ['gather', i.gather(1, tensor(new Int32Array([2, 0, 1, 1]), [2, 2], { backend: b })), 'int32'],
        ['amax', i.amax(1), 'int32'],
        ['min(dim).values', i.min(0).values, 'int32'],
        ['clone', i.clone(), 'int32'],
        ['mixed cat', cat([i.slice(0, 0, 1).float(), f], 0), 'float32'],
        ['pad 0.5', i.pad([1, 0], 'constant', 0.5), 'float32'],
        ['sum', i.sum(), 'float32'],
        ['add', i.add(1), 'float32'],
        ['mul', i.mul(i), 'float32'],
        ['eq', i.eq(5), 'float32'],
        ['neg', i.neg(), 'float32'],
        ['cumsum', i.cumsum(1), 'float32'],
      ];
      for (const [what, t, want] of kinds) expect(t.dtype, `${name} ${what}`).toBe(want);
      expect([...(await i.t().toInt32Array())], name).toEqual([5, 0, -2, 7, 9, 3]);
      expect([...(await i.clone().toInt32Array())], name).toEqual([5, -2, 9, 0, 7, 3]);
      expect([...(await i.add(0.5).toArray())], name).toEqual([5.5, -1.5, 9.5, 0.5, 7.5, 3.5]);
      expect([...(await i.sum(1).toArray())], name).toEqual([12, 10]);
    }
  });

  it('argmax, argmin and max(dim).indices are int32 positions (first extremum), as a loop finds them', async () => {
    const shape = [7, 13],
      data = randomData(91, 41, -3, 3);
    data[5] = data[4]; // a tie: the first one wins
    const want = (cmp: (a: number, b: number) => boolean) =>
      Array.from({ length: 7 }, (_, r) => {
        let k = 0;
        for (let c = 1; c < 13; c++) if (cmp(data[r * 13 + c], data[r * 13 + k])) k = c;
        return k;
      });
    for (const name of BACKENDS) {
      const b = await backendOf(name);
      const x = tensor(data, shape, { backend: b });
      const am = x.argmax(1),
        an = x.argmin(1),
        mx = x.max(1);
      for (const t of [am, an, mx.indices]) expect(t.dtype, name).toBe('int32');
      expect(mx.values.dtype, name).toBe('float32');
      expect([...(await am.toInt32Array())], name).toEqual(want((a, c) => a > c));
      expect([...(await an.toInt32Array())], name).toEqual(want((a, c) => a < c));
      expect([...(await mx.indices.toInt32Array())], name).toEqual(want((a, c) => a > c));
      expect(x.argmax().dtype).toBe('int32');
    }
  });

  it('.int() truncates toward zero (Math.trunc), saturating to +-2^24 (NaN to -2^24); .float() is a view with no kernel', async () => {
    const vals = [-2.7, -0.5, -0, 0.5, 2.99, -3, 16777216, 1.5e8, 3e38, -1e-40, NaN, Infinity, -Infinity];
    const cast = (v: number) =>
      Number.isNaN(v) ? -(2 ** 24) : Math.min(Math.max(Math.trunc(Math.fround(v)), -(2 ** 24)), 2 ** 24);
    for (const name of BACKENDS) {
      const b = await backendOf(name);
      const x = tensor(vals, undefined, { backend: b, requiresGrad: true });
      const i = x.int();
      expect([i.dtype, i.requiresGrad], name).toEqual(['int32', false]);
      const got = await i.toArray();
      vals.forEach((v, k) =>
        expect(
          Object.is(got[k], cast(v)) || (v === -1e-40 && Object.is(got[k], -0)),
          `${name} int(${v}) = ${got[k]}`,
        ).toBe(true),
      );
      expect(x.long().dtype).toBe('int32');
      expect(x.to('float32')).toBe(x);
      const before = dispatchStatsForTests().calls;
      const f = i.float();
      expect(dispatchStatsForTests().calls, 'float() runs no primitive').toBe(before);
      expect([f.dtype, f.storage === i.storage], name).toEqual(['float32', true]);
      expect(i.int()).toBe(i);
    }
  });
});

describe('int32 indices and labels in the ops that take them', () => {
  it('gather, indexSelect and Embedding give the same values and gradients for int32 and float indices', async () => {
    for (const name of BACKENDS) {
      const b = await backendOf(name);
      const pos = [2, 0, 4, 4, 1, 3];
      const xf = () => tensor(randomData(5 * 3, 7), [5, 3], { backend: b, requiresGrad: true });
      const run = (idx: Tensor) => {
        const x = xf();
        const y = x.indexSelect(0, idx);
        y.mul(y).sum().backward();
        return { y, g: x.grad! };
      };
      const a = run(tensor(new Int32Array(pos), [6], { backend: b })),
        c = run(tensor(pos, undefined, { backend: b }));
      expect([...(await a.y.toArray())], name).toEqual([...(await c.y.toArray())]);
      expect([...(await a.g.toArray())], name).toEqual([...(await c.g.toArray())]);
      const emb = new nn.Embedding(5, 4, { backend: b, generator: new Generator(3n), paddingIdx: 1 });
      const e1 = await emb.forward(tensor(new Int32Array(pos), [2, 3], { backend: b })).toArray();
      const e2 = await emb.forward(tensor(pos, [2, 3], { backend: b })).toArray();
      expect([...e1], name).toEqual([...e2]);
    }
  });

  it('crossEntropy and nllLoss take int32 targets (ignoreIndex, weight, [N, C, d]); an int32 target is never probabilities', async () => {
    for (const name of BACKENDS) {
      const b = await backendOf(name);
      const labels = [2, 0, -100, 1, 2, 1];
      const loss = (target: Tensor) => {
        const logits = tensor(randomData(3 * 3 * 2, 9, -2, 2), [3, 3, 2], { backend: b, requiresGrad: true });
        const w = tensor([0.5, 1, 2], undefined, { backend: b });
        const l = F.crossEntropy(logits, target, { weight: w, labelSmoothing: 0.1 });
        l.backward();
        return { l, g: logits.grad! };
      };
      const a = loss(tensor(new Int32Array(labels), [3, 2], { backend: b })),
        c = loss(tensor(labels, [3, 2], { backend: b }));
      expect(await a.l.item(), name).toBe(await c.l.item());
      expect([...(await a.g.toArray())], name).toEqual([...(await c.g.toArray())]);
      const logp = tensor(randomData(12, 4, -2, 0), [4, 3], { backend: b });
      const nll = await F.nllLoss(logp, tensor(new Int32Array([0, 2, 1, 1]), [4], { backend: b }), 'sum').item();
      const lp = await logp.toArray();
      expect(nll, name).toBeCloseTo(-(lp[0] + lp[5] + lp[7] + lp[10]), 5);
      // Same shape as the logits but int32: indices were meant, and their shape is wrong.
      expect(() =>
        F.crossEntropy(tensor(randomData(6, 1), [2, 3], { backend: b }), zeros([2, 3], { backend: b, dtype: 'int32' })),
      ).toThrow(/crossEntropy: target of shape \[2, 3\] for input \[2, 3\] \(expected class indices \[2\]/);
    }
  });

  it('randint: int32 integers in [low, high), every value drawn, the same on both backends', async () => {
    const [c, g] = [cpu, await getGpu()];
    const a = randint(-3, 4, [500], { backend: c, generator: new Generator(11n) });
    const bq = randint(-3, 4, [500], { backend: g, generator: new Generator(11n) });
    expect([a.dtype, bq.dtype]).toEqual(['int32', 'int32']);
    const va = [...(await a.toInt32Array())];
    expect(va).toEqual([...(await bq.toInt32Array())]);
    expect(new Set(va)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    expect(() => randint(2, 2, [1], { backend: c })).toThrow(/randint: need integers low < high, got \[2, 2\)/);
    expect(() => randint(0, 2 ** 25, [1], { backend: c })).toThrow(/randint: int32 value 33554432 is beyond/);
  });
});

describe('int32 tensors through compile() and the data loader', () => {
  it('a compiled step takes int32 labels and returns int32 predictions; the dtype is part of the signature', async () => {
    const b = await getGpu();
    const model = new nn.Linear(4, 3, { backend: b, generator: new Generator(5n) });
    const step = compile((x: Tensor, y: Tensor) => {
      const logits = model.forward(x);
      return { loss: F.crossEntropy(logits, y), pred: logits.argmax(1) };
    });
    const x = tensor(randomData(20, 2), [5, 4], { backend: b });
    const yi = tensor(new Int32Array([0, 2, 1, 1, 0]), [5], { backend: b });
    const eager = {
      loss: await F.crossEntropy(model.forward(x), yi).item(),
      pred: [...(await model.forward(x).argmax(1).toInt32Array())],
    };
    for (let k = 0; k < 3; k++) {
      const r = step(x, yi);
      expect(r.pred.dtype, `call ${k}`).toBe('int32');
      expect(await r.loss.item()).toBeCloseTo(eager.loss, 6);
      expect([...(await r.pred.toInt32Array())]).toEqual(eager.pred);
    }
    expect(step.stats.replays).toBeGreaterThan(0);
    step(x, yi.float());
    expect(step.stats.signatures).toBe(2);
    step.dispose();
  });

  it('an int32 dataset field gives int32 batches; a fractional value in it is refused at construction', async () => {
    const ds = new TensorDataset({
      x: { data: Float32Array.from([1, 2, 3, 4]), itemShape: [1] },
      y: { data: Float32Array.from([3, 1, 0, 2]), itemShape: [], dtype: 'int32' },
    });
    const loader = new DataLoader(ds, { batchSize: 2, backend: cpu });
    const { x, y } = loader.tensors();
    expect([x.dtype, y.dtype]).toEqual(['float32', 'int32']);
    loader.dispose();
    expect(
      () => new TensorDataset({ y: { data: Float32Array.from([1, 2.5]), itemShape: [], dtype: 'int32' } }),
    ).toThrow(/TensorDataset: field 'y': value 2.5 at index 1 is not an integer/);
  });
});
