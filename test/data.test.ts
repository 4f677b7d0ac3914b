// Data: the IDX reader on the real Fashion-MNIST files and on damaged ones, MNIST's fixed split,
// TensorDataset and DataLoader (PyTorch's semantics: shuffle, drop last, a short last batch, a transform),
// and shuffled batches copied into the same device tensors.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  parseIdx,
  readIdx,
  loadMnist,
  loadMnistAll,
  loadFashionMnist,
  Batches,
  seededPermutation,
  TensorDataset,
  DataLoader,
  TOY_DATASETS,
  toyBatch,
  toyScore,
  gridCentres,
} from '../src/data/index.ts';
import { memoryStats } from '../src/index.ts';
import { cpu, forEachBackend, getGpu } from './helpers.ts';
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
    expect(() => readIdx(join(dir, 'trunc'))).toThrow(
      /truncated: the header promises 6 values \[3 x 2\] but 4 bytes follow/,
    );
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
    let lo = Infinity,
      hi = -Infinity;
    for (const v of train.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
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

describe('TensorDataset and DataLoader', () => {
  forEachBackend((which, backend) => {
    it(`${which}: each epoch covers the dataset once in a Philox order, a short last batch unless dropLast, device tensors reused, a transform applied`, async () => {
      const b = await backend();
      // 10 items: x [2, 3] holding 6i..6i+5, y the index i.
      const ds = new TensorDataset({
        x: { data: Float32Array.from({ length: 60 }, (_, k) => k), itemShape: [2, 3] },
        y: { data: Float32Array.from({ length: 10 }, (_, i) => i), itemShape: [] },
      });
      expect(ds.length).toBe(10);
      expect(Array.from(ds.item(3).x)).toEqual([18, 19, 20, 21, 22, 23]);
      const dl = new DataLoader(ds, {
        batchSize: 4,
        seed: 3,
        backend: b,
        transform: (batch) => batch.x.forEach((v, k) => (batch.x[k] = v * 2)),
      });
      expect(dl.length).toBe(3);
      const storages = new Set<unknown>();
      const epochRows = async () => {
        const rows: number[] = [];
        for (const batch of dl) {
          const [x, y] = [await batch.x.toArray(), await batch.y.toArray()];
          expect(batch.x.shape).toEqual([y.length, 2, 3]);
          // Each row is its item, doubled by the transform.
          y.forEach((i, r) =>
            expect(Array.from(x.subarray(6 * r, 6 * r + 6))).toEqual([0, 1, 2, 3, 4, 5].map((j) => 2 * (6 * i + j))),
          );
          rows.push(...y);
          storages.add(batch.x.storage);
        }
        return rows;
      };
      const e0 = await epochRows(),
        e1 = await epochRows();
      // 4 + 4 + 2 rows, every item once; the next epoch another order; the order is (seed, epoch)'s.
      expect([...e0].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(e1).not.toEqual(e0);
      expect(e0).toEqual([...seededPermutation(10, 3 * 1000003)]);
      // One device tensor for the full batches, one for the short last batch, reused across epochs.
      expect(storages.size).toBe(2);
      const live = memoryStats(b).liveBytes;
      for (const _ of dl) void _;
      expect(memoryStats(b).liveBytes).toBe(live);
      dl.dispose();
      // dropLast and no shuffle: the dataset's order, full batches only.
      const plain = new DataLoader(ds, { batchSize: 4, shuffle: false, dropLast: true, backend: b });
      const ys: number[] = [];
      for (const batch of plain.epoch(0)) ys.push(...(await batch.y.toArray()));
      expect(ys).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      plain.dispose();
      expect(() => plain.load(0, 0)).toThrow(/after dispose/);
    });
  });

  it('bad input gets errors naming the field, the sizes or the batch', () => {
    expect(() => new TensorDataset({ x: { data: new Float32Array(7), itemShape: [2] } })).toThrow(
      /field 'x' has 7 values, not a whole number of items of \[2\]/,
    );
    expect(
      () =>
        new TensorDataset({
          x: { data: new Float32Array(4), itemShape: [2] },
          y: { data: new Float32Array(3), itemShape: [] },
        }),
    ).toThrow(/field 'y' has 3 items, the others 2/);
    const ds = new TensorDataset({ x: { data: new Float32Array(4), itemShape: [2] } });
    expect(() => ds.item(2)).toThrow(/item 2 is out of range \(0\.\.1\)/);
    expect(() => new DataLoader(ds, { batchSize: 0, backend: cpu })).toThrow(/batch size 0 must be a positive integer/);
    expect(() => new DataLoader(ds, { batchSize: 3, dropLast: true, backend: cpu })).toThrow(
      /dropLast leaves no batch of a dataset of 2 items/,
    );
    expect(() => new DataLoader(ds, { batchSize: 1, backend: cpu }).load(0, 2)).toThrow(
      /batch 2 is out of range \(0\.\.1\)/,
    );
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
    expect(seen.size).toBe(
      new Set(Array.from({ length: 1000 }, (_, i) => test.images.subarray(i * 784, i * 784 + 784).join(','))).size,
    );
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
    const set = {
      n: 10,
      shape: [1, 1, 1] as [number, number, number],
      images: Float32Array.from({ length: 10 }, (_, i) => i),
      labels: new Uint8Array(10),
    };
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

describe('the 2-D datasets of the GAN views (src/data/toy2d.ts)', () => {
  it('each is a deterministic stream: the same points for (seed, offset), a batch continuing where the last ended', () => {
    for (const kind of TOY_DATASETS) {
      const a = toyBatch(kind, 100, 7, 0);
      expect([...toyBatch(kind, 100, 7, 0)], kind).toEqual([...a]);
      expect([...toyBatch(kind, 50, 7, 50)], kind).toEqual([...a.subarray(100)]);
      expect([...toyBatch(kind, 100, 8, 0)], kind).not.toEqual([...a]);
      expect(a.every(Number.isFinite), kind).toBe(true);
    }
    // Independent streams: the grid's first point is not the moons' at the same seed and offset.
    expect(toyBatch('grid', 1, 7, 0)[0]).not.toBe(toyBatch('moons', 1, 7, 0)[0]);
  });

  it('real points score as the data they are: every mode of the grid covered, the curves near-perfect; a collapsed generator does not', () => {
    const n = 10000;
    const grid = toyScore('grid', toyBatch('grid', n, 1, 0));
    expect(grid.kind).toBe('modes');
    if (grid.kind === 'modes') {
      expect([grid.modes, grid.covered]).toEqual([25, 25]);
      // Within 3 std of its centre: P(chi^2_2 <= 9) = 1 - exp(-4.5) = 0.98889 of a 2-D Gaussian.
      expect(grid.highQuality).toBeCloseTo(1 - Math.exp(-4.5), 2);
    }
    for (const kind of ['moons', 'spiral'] as const) {
      const r = toyScore(kind, toyBatch(kind, n, 2, 0));
      expect(r.kind).toBe('curve');
      // Within 3 noise std of the curve: at least the 98.9% of the noise disc, more where the curve is near on both sides.
      if (r.kind === 'curve') {
        expect(r.precision, kind).toBeGreaterThan(0.98);
        expect(r.recall, kind).toBeGreaterThan(0.99);
      }
    }
    const collapsed = new Float32Array(2 * 1000).fill(0);
    const g = toyScore('grid', collapsed);
    if (g.kind === 'modes') expect(g.covered).toBe(1);
    const m = toyScore('moons', new Float32Array(2000)); // every point at the origin, off both moons
    if (m.kind === 'curve') expect(m.recall).toBeLessThan(0.1);
    expect(gridCentres()).toHaveLength(25);
  });
});
