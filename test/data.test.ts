// Data: the IDX reader on the real Fashion-MNIST files and on damaged ones, MNIST's fixed split, and
// shuffled batches copied into the same device tensors.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseIdx, readIdx, loadMnist, loadMnistAll, loadFashionMnist, Batches, seededPermutation } from '../src/data/index.ts';
import { memoryStats } from '../src/index.ts';
import { cpu, getGpu } from './helpers.ts';
import { ImageStream } from '../demo/stream.ts';

const idxBytes = (dims: number[], data: number[]) => {
  const head = new Uint8Array(4 + 4 * dims.length);
  head.set([0, 0, 8, dims.length]);
  const v = new DataView(head.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  return Uint8Array.from([...head, ...data]);
};

describe('the IDX reader', () => {
  it('reads raw and gzipped IDX', () => {
    const raw = idxBytes([2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const b of [raw, gzipSync(raw)]) {
      const r = parseIdx(b);
      expect(r.dims).toEqual([2, 2, 3]);
      expect([...r.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }
  });
  it('names the fault of missing, truncated, corrupt and malformed files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idx-'));
    expect(() => readIdx(join(dir, 'nope.gz'), 'install it')).toThrow(/nope.gz is missing: install it/);
    const good = idxBytes([3, 2], [1, 2, 3, 4, 5, 6]);
    writeFileSync(join(dir, 'trunc'), good.subarray(0, good.length - 2));
    expect(() => readIdx(join(dir, 'trunc'))).toThrow(/truncated: the header promises 6 values \[3 x 2\] but 4 bytes follow/);
    const gz = gzipSync(good);
    writeFileSync(join(dir, 'cut.gz'), gz.subarray(0, gz.length - 10));
    expect(() => readIdx(join(dir, 'cut.gz'))).toThrow(/corrupt gzip stream/);
    expect(() => parseIdx(Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 0]), 'x')).toThrow(/bad IDX magic 01 02 08 01/);
    expect(() => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 0]), 'x')).toThrow(/data type 0xd is not supported/);
    expect(() => parseIdx(Uint8Array.from([...good, 7]), 'x')).toThrow(/1 bytes of trailing garbage/);
  });
});

describe('datasets', () => {
  it('MNIST: 10,000 digits, a fixed 9,000 / 1,000 split, disjoint and reproducible', () => {
    const all = loadMnistAll();
    expect(all.n).toBe(10000);
    const { train, test } = loadMnist();
    expect([train.n, test.n]).toEqual([9000, 1000]);
    expect(train.images.length).toBe(9000 * 784);
    let lo = Infinity, hi = -Infinity;
    for (const v of train.images) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    // Every class in the test split; the split is a permutation (no image in both).
    expect(new Set(test.labels).size).toBe(10);
    const perm = seededPermutation(10000, 20240501);
    expect(new Set(perm).size).toBe(10000);
    expect(loadMnist().test.images).toEqual(test.images);
  });
  it('Fashion-MNIST: the Debian IDX files, 60,000 + 10,000 labelled 28x28 images', () => {
    const { train, test } = loadFashionMnist();
    expect([train.n, test.n]).toEqual([60000, 10000]);
    expect(train.shape).toEqual([1, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    expect(() => loadFashionMnist('/nonexistent')).toThrow(/is missing: install Debian's dataset-fashion-mnist/);
  });
});

describe('shuffled batches', () => {
  it('cover an epoch once in a Philox order, reusing the same device tensors', async () => {
    const gpu = await getGpu();
    const { test } = loadMnist();
    const b = new Batches(test, 100, 7, gpu);
    const seen = new Set<string>();
    const firstStorage = b.images.storage;
    await b.load(0, 0).images.toArray();
    const before = memoryStats(gpu);
    const labelCounts = new Array(10).fill(0);
    for (const { images, labels } of b.epoch(0)) {
      expect(images.storage).toBe(firstStorage);
      const [img, lab] = [await images.toArray(), await labels.toArray()];
      for (let i = 0; i < 100; i++) seen.add(img.subarray(i * 784, i * 784 + 784).join(','));
      for (const l of lab) labelCounts[l]++;
    }
    expect(memoryStats(gpu).liveBytes).toBe(before.liveBytes);
    expect(seen.size).toBe(new Set(Array.from({ length: 1000 }, (_, i) => test.images.subarray(i * 784, i * 784 + 784).join(','))).size);
    expect(labelCounts.reduce((a, c) => a + c, 0)).toBe(1000);
    // A different epoch is a different order; the same epoch the same order.
    expect([...b.order(1)]).not.toEqual([...b.order(0)]);
    expect([...b.order(0)]).toEqual([...new Batches(test, 100, 7, cpu).order(0)]);
    b.dispose();
  });
});

describe("the demo's image stream", () => {
  it("draws the CLI's batches and counts finished epochs (a checkpoint's epoch) across batch-size changes", async () => {
    // 10 one-pixel images whose value is their index.
    const set = { n: 10, shape: [1, 1, 1] as [number, number, number], images: Float32Array.from({ length: 10 }, (_, i) => i), labels: new Uint8Array(10) };
    const s = new ImageStream(set, 5, cpu);
    const cli = new Batches(set, 3, 5, cpu);
    expect(s.epochsDone).toBe(0);
    // Batch 3: 3 batches an epoch (the tenth image is left out, as the CLI's Batches do).
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const got = Array.from(await s.next(3).toArray());
      expect(got, `batch ${i}`).toEqual(Array.from(await cli.load(0, i).images.toArray()));
      seen.push(...got);
      expect(s.epochsDone, `after batch ${i}`).toBe(i === 2 ? 1 : 0);
    }
    expect(new Set(seen).size).toBe(9);
    s.next(3);
    expect(s.epochsDone).toBe(1);
    s.next(4); // a new size starts a fresh epoch: the rest of epoch 2 is abandoned
    expect(s.epochsDone).toBe(2);
    s.next(4); // batch 4: 2 batches an epoch
    expect(s.epochsDone).toBe(3);
    cli.dispose();
    s.dispose();
  });
});
