// CycleGAN: the dilation domains (dilate3x3 against its definition, disjoint halves), the loss terms of a
// training step against their definitions recomputed on the host, and a short run that matches step by
// step on the CPU reference and on WebGPU.
import { describe, expect, it } from 'vitest';
import { Generator, noGrad, tensor, withBackend, type Backend, type Tensor } from '../src/index.ts';
import { CycleGAN, translationError } from '../src/models/cyclegan.ts';
import { dilate3x3, dilationDomains, loadMnist, Batches } from '../src/data/index.ts';
import { cpu, getGpu, randomData } from './helpers.ts';

/** The definition read literally: pixels outside the image count as -infinity. */
function naiveDilate(img: number[][]): number[][] {
  const at = (i: number, j: number) => img[i]?.[j] ?? -Infinity;
  return img.map((row, i) =>
    row.map((_, j) => Math.max(...[-1, 0, 1].flatMap((a) => [-1, 0, 1].map((b) => at(i + a, j + b))))),
  );
}

const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
const meanAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

describe('the dilation domains', () => {
  it('dilate3x3 is the max over the 3x3 neighbourhood, clipped at the border', () => {
    // One bright pixel becomes a 3x3 block; a corner pixel a 2x2 one (the larger value wins where they meet).
    const a = new Float32Array(4 * 5);
    a[1 * 5 + 2] = 1;
    a[3 * 5 + 4] = 0.5;
    expect([...dilate3x3(a, 1, 4, 5)]).toEqual([0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0.5, 0, 0, 0, 0.5, 0.5]);
    // Two images of 5 x 6 random values (negative too) against the literal definition.
    const n = 2,
      h = 5,
      w = 6;
    const r = randomData(n * h * w, 1, -1, 1);
    const d = dilate3x3(r, n, h, w);
    for (let k = 0; k < n; k++) {
      const img = Array.from({ length: h }, (_, i) => [...r.subarray(k * h * w + i * w, k * h * w + i * w + w)]);
      expect([...d.subarray(k * h * w, (k + 1) * h * w)]).toEqual(naiveDilate(img).flat());
    }
    expect(() => dilate3x3(r, 3, h, w)).toThrow(/60 values are not 3 images of 5 x 6/);
  });

  it('builds X and Y from disjoint halves: no X digit has its own dilation in Y', () => {
    const split = loadMnist();
    const dom = dilationDomains(split);
    expect(dom.x.n).toBe(4500);
    expect(dom.y.n).toBe(4500);
    const key = (a: Float32Array, i: number) =>
      Buffer.from(a.buffer, a.byteOffset + i * 784 * 4, 784 * 4).toString('base64');
    const inY = new Set(Array.from({ length: dom.y.n }, (_, i) => key(dom.y.images, i)));
    const dx = dilate3x3(dom.x.images, dom.x.n);
    const shared = Array.from({ length: dom.x.n }, (_, i) => key(dx, i)).filter((k) => inY.has(k));
    expect(shared.length).toBe(0);
    // Y is the dilation of the second half, and the test targets are the test digits' dilations.
    expect(key(dom.y.images, 0)).toBe(key(dilate3x3(split.train.images.slice(4500 * 784, 4501 * 784), 1), 0));
    expect(dom.testX.n).toBe(1000);
    expect(dom.targets!.images).toEqual(dilate3x3(split.test.images, 1000));
    // Dilation only adds ink: every target pixel is >= its digit's.
    expect(dom.targets!.images.every((v, i) => v >= split.test.images[i])).toBe(true);
  });
});

/** Host copies of the [-1, 1]-scale D outputs the loss definitions need, from the model's current weights. */
async function lossesByDefinition(m: CycleGAN, x: Tensor, y: Tensor, lsgan: boolean) {
  const host = await noGrad(async () => {
    const { gx, fgx } = m.translate(x);
    const { fy, gfy } = m.translateBack(y);
    const s = (t: Tensor) => t.mul(2).sub(1);
    const out = {
      x: await x.toArray(),
      y: await y.toArray(),
      gx: await gx.toArray(),
      fgx: await fgx.toArray(),
      fy: await fy.toArray(),
      gfy: await gfy.toArray(),
      dYreal: await m.D_Y.call(s(y)).toArray(),
      dYfake: await m.D_Y.call(s(gx)).toArray(),
      dXreal: await m.D_X.call(s(x)).toArray(),
      dXfake: await m.D_X.call(s(fy)).toArray(),
    };
    return out;
  });
  // L(o, 1) and L(o, 0) per grid cell: squared error (LSGAN) or binary cross-entropy on logits.
  const real = (o: number) => (lsgan ? (o - 1) ** 2 : Math.log1p(Math.exp(-o)));
  const fake = (o: number) => (lsgan ? o ** 2 : Math.log1p(Math.exp(o)));
  const avg = (a: Float32Array, f: (o: number) => number) => mean(a.map(f));
  return {
    // cycle L1 on the [-1, 1] scale = 2 x the [0, 1]-scale mean absolute error
    cyc: 2 * (meanAbsDiff(host.fgx, host.x) + meanAbsDiff(host.gfy, host.y)),
    g_gan: avg(host.dYfake, real) + avg(host.dXfake, real),
    d: 0.5 * (avg(host.dYreal, real) + avg(host.dYfake, fake) + avg(host.dXreal, real) + avg(host.dXfake, fake)),
  };
}

describe('CycleGAN', () => {
  it('returns d, g_gan and cyc as their definitions (both GAN losses), and updates both optimizers', async () => {
    await withBackend(cpu, async () => {
      for (const ganLoss of ['lsgan', 'bce'] as const) {
        const m = new CycleGAN({ width: 4, resBlocks: 1, ganLoss, generator: new Generator(7) });
        expect(m.lossNames).toEqual(['d', 'g_gan', 'cyc']);
        expect([...m.stateDict().keys()].slice(0, 2)).toEqual(['G.0.weight', 'G.3.weight']);
        expect([...m.stateDict().keys()]).toContain('D_X.0.bias');
        const x = tensor(randomData(2 * 784, 2, 0, 1), [2, 1, 28, 28]);
        const y = tensor(randomData(2 * 784, 3, 0, 1), [2, 1, 28, 28]);
        const want = await lossesByDefinition(m, x, y, ganLoss === 'lsgan');
        const g0 = await m.G.parameters()[0].toArray(),
          d0 = await m.D_Y.parameters()[0].toArray();
        const got = await m.trainStep({ x, y }, new Generator(1)).toArray();
        expect(got[0], `${ganLoss} d`).toBeCloseTo(want.d, 5);
        expect(got[1], `${ganLoss} g_gan`).toBeCloseTo(want.g_gan, 5);
        expect(got[2], `${ganLoss} cyc`).toBeCloseTo(want.cyc, 5);
        expect(m.optimizers().map((o) => o.stepCount)).toEqual([1, 1]);
        expect(await m.G.parameters()[0].toArray()).not.toEqual(g0);
        expect(await m.D_Y.parameters()[0].toArray()).not.toEqual(d0);
        // The public API maps [0, 1] to [0, 1]; forward is G.
        const fx = await m.forward(x).toArray();
        expect(fx.every((v) => v >= 0 && v <= 1)).toBe(true);
        expect(fx).toEqual(await m.translate(x).gx.toArray());
      }
    });
  });

  it('scores translation as the mean L1 to the true targets, the no-translation baseline and their ratio', async () => {
    await withBackend(cpu, async () => {
      const m = new CycleGAN({ width: 4, resBlocks: 1, generator: new Generator(3) });
      const n = 5,
        x = randomData(n * 784, 4, 0, 1);
      const set = { images: x, n, shape: [1, 28, 28] as [number, number, number] };
      const targets = { ...set, images: dilate3x3(x, n) };
      const r = await translationError(m, set, targets, 2);
      const gx = await noGrad(() => m.forward(tensor(x, [n, 1, 28, 28]))).toArray();
      expect(r.l1).toBeCloseTo(meanAbsDiff(gx, targets.images), 5);
      expect(r.baselineL1).toBeCloseTo(meanAbsDiff(x, targets.images), 5);
      expect(r.ratio).toBeCloseTo(r.l1 / r.baselineL1, 5);
      expect(r.cycleL1).toBeGreaterThan(0);
    });
  });

  it('trains the same on the CPU reference and on WebGPU, step by step, with finite losses', async () => {
    const gpu = await getGpu();
    // One fixed kernel variant: measuring the variants would cost tens of seconds on SwiftShader and does
    // not change what is computed.
    gpu.tuner.forced = 'reg';
    const dom = dilationDomains(loadMnist());
    const run = (b: Backend) =>
      withBackend(b, async () => {
        const m = new CycleGAN({ width: 4, resBlocks: 1, generator: new Generator(11) });
        const bx = new Batches(dom.x, 4, 1, b),
          by = new Batches(dom.y, 4, 2, b);
        const noise = new Generator(5);
        const curve: number[][] = [];
        for (let s = 0; s < 8; s++) {
          const l = m.trainStep({ x: bx.load(0, s).images, y: by.load(0, s).images }, noise);
          curve.push([...(await l.toArray())]);
          l.dispose();
        }
        bx.dispose();
        by.dispose();
        return curve;
      });
    try {
      const c = await run(cpu);
      const g = await run(gpu);
      // The GPU sums in another order (tiled convolutions, tree reductions), so the losses differ by float32
      // rounding: measured ~1e-7 relative at the first steps, growing to ~5e-7 by step 8 as Adam carries
      // the differences into the weights. 1e-5 leaves room for that growth and catches any real mismatch.
      for (let s = 0; s < c.length; s++) {
        for (let k = 0; k < 3; k++) {
          expect(Number.isFinite(c[s][k]), `cpu step ${s} term ${k}`).toBe(true);
          expect(Math.abs(c[s][k] - g[s][k]), `step ${s} term ${k}: cpu ${c[s][k]} webgpu ${g[s][k]}`).toBeLessThan(
            1e-5 * Math.abs(c[s][k]) + 1e-6,
          );
        }
      }
      // The cycle loss falls as the generators learn to invert each other.
      expect(c[c.length - 1][2]).toBeLessThan(c[0][2]);
    } finally {
      gpu.tuner.forced = null;
    }
  });
});
