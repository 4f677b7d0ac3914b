// The eager path's bind-group cache (src/device/bindgroups.ts, issue 32): a repeated step binds through
// cached groups only, a kernel run on the same buffers with other uniforms before a submit gets the right
// bytes (a version of its own, or its slot rewritten once no pending work reads it), the groups of a
// buffer the pool destroys go with it, and a cache that runs out of slots submits and starts over; the
// results are the CPU reference's throughout. And the pool hands out the oldest free buffer of a class,
// so a step gets the same buffers every time.
import { describe, expect, it } from 'vitest';
import { Generator, tensor, withBackend, type Tensor } from '../src/index.ts';
import { MlpGAN, ringBatch } from '../src/models/gan.ts';
import { BufferPool } from '../src/device/pool.ts';
import { getGpu, randomData } from './helpers.ts';

const sumOf = (xs: Float32Array) => xs.reduce((a, b) => a + b, 0);

describe('bind-group cache', () => {
  it('a repeated training step makes no bind group after its first steps', async () => {
    const gpu = await getGpu();
    const cache = gpu.ctx.bindGroups;
    const model = withBackend(gpu, () => new MlpGAN({ hidden: 8, generator: new Generator(3) }));
    const batch = { x: tensor(ringBatch(8, 3, 0), [8, 2], { backend: gpu }) };
    const noise = new Generator(4);
    const step = async () => {
      const out = withBackend(gpu, () => model.trainStep(batch, noise));
      const losses = await out.toArray();
      out.dispose();
      return losses;
    };
    for (let i = 0; i < 3; i++) await step();
    const [hits, misses] = [cache.hits, cache.misses];
    for (let i = 0; i < 3; i++) for (const l of await step()) expect(Number.isFinite(l)).toBe(true);
    expect(cache.misses).toBe(misses);
    expect(cache.hits).toBeGreaterThan(hits);
  });

  it('a kernel run again on the same buffers with other uniforms, before a submit, reads its own bytes', async () => {
    const gpu = await getGpu();
    const data = randomData(1000, 1);
    const x = tensor(data, [1000], { backend: gpu });
    const expected = sumOf(data);
    for (let round = 0; round < 3; round++) {
      // Each product lands in the buffer the last one freed: the same (x, out) groups, new scale each time.
      const sums: Tensor[] = [];
      for (let k = 1; k <= 20; k++) {
        const y = x.mul(k);
        sums.push(y.sum());
        y.dispose();
      }
      const got = await Promise.all(sums.map((s) => s.item()));
      got.forEach((v, i) => expect(v).toBeCloseTo((i + 1) * expected, 2));
      for (const s of sums) s.dispose();
    }
    x.dispose();
  });

  it("drops a destroyed buffer's groups, and starts over when its slots run out", async () => {
    const gpu = await getGpu();
    const cache = gpu.ctx.bindGroups;
    const xs = Array.from({ length: 1500 }, (_, i) => tensor([i, 1, 2], [3], { backend: gpu }));
    const run = async () => {
      // More groups than the first uniform buffer's 1024 slots, before any submit.
      const ys = xs.map((x, i) => x.mul(i + 1));
      const got = await Promise.all(ys.map((y) => y.toArray()));
      got.forEach((v, i) => expect([...v]).toEqual([i * (i + 1), i + 1, 2 * (i + 1)]));
      for (const y of ys) y.dispose();
    };
    await run();
    await run();
    expect(cache.size).toBeGreaterThan(0);
    // emptyCache destroys the pooled buffers: the groups that bound them go, and the next run makes new ones.
    const before = cache.size;
    gpu.ctx.emptyCache();
    expect(cache.size).toBeLessThan(before);
    await run();
    for (const x of xs) x.dispose();
  });
});

describe('buffer pool order', () => {
  it('hands out the oldest free buffer of a size class, whatever the order of release', async () => {
    const gpu = await getGpu();
    const pool = new BufferPool(gpu.ctx.device, gpu.ctx.limits);
    const [a, b, c] = [pool.acquire(64), pool.acquire(64), pool.acquire(64)];
    for (const order of [
      [a, b, c],
      [c, b, a],
      [b, c, a],
    ]) {
      for (const buf of order) pool.release(buf);
      expect([pool.acquire(64), pool.acquire(64), pool.acquire(64)]).toEqual([a, b, c]);
    }
    for (const buf of [a, b, c]) pool.release(buf);
    pool.trim();
  });
});
