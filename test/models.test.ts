// Models: the MLP VAE's ELBO terms against their closed forms, and a short training run that matches
// step by step on both backends and lowers the negative ELBO.
import { describe, expect, it } from 'vitest';
import { Generator, nn, tensor, tidy, withBackend, type Backend } from '../src/index.ts';
import { MlpVAE } from '../src/models/vae.ts';
import { loadMnist, Batches } from '../src/data/index.ts';
import { cpu, getGpu } from './helpers.ts';

describe('MLP VAE', () => {
  it('computes the ELBO terms as their definitions', async () => {
    await withBackend(cpu, async () => {
      const vae = new MlpVAE({ inputDim: 6, hidden: 5, zDim: 2, generator: new Generator(1) });
      const x = tensor([[0, 1, 1, 0, 0.5, 1], [1, 1, 0, 0, 0, 0.25]]);
      const { rec, kl, loss } = vae.elbo(x, new Generator(2));
      // KL from the encoder's outputs by the closed form, summed over z, averaged over the batch.
      const { mu, logvar } = vae.encode(x);
      const [m, lv] = [await mu.toArray(), await logvar.toArray()];
      let klRef = 0;
      for (let i = 0; i < m.length; i++) klRef += -0.5 * (1 + lv[i] - m[i] ** 2 - Math.exp(lv[i]));
      expect(await kl.item()).toBeCloseTo(klRef / 2, 5);
      expect(await loss.item()).toBeCloseTo((await rec.item()) + (await kl.item()), 5);
      expect(await rec.item()).toBeGreaterThan(0);
    });
  });

  it('trains on MNIST the same on both backends, and the negative ELBO falls', async () => {
    const gpu = await getGpu();
    const { train } = loadMnist();
    const run = async (b: Backend) =>
      withBackend(b, async () => {
        const vae = new MlpVAE({ generator: new Generator(3) });
        const opt = new nn.Adam(vae.parameters(), { lr: 1e-3 });
        const batches = new Batches(train, 64, 4, b);
        const gen = new Generator(5);
        const curve: number[] = [];
        for (let s = 0; s < 40; s++) {
          const { images } = batches.load(0, s);
          const loss = tidy(() => {
            opt.zeroGrad();
            const t = vae.elbo(images, gen);
            t.loss.backward();
            opt.step();
            return t.loss;
          });
          curve.push(await loss.item());
          loss.dispose();
        }
        batches.dispose();
        return curve;
      });
    const c = await run(cpu);
    const g = await run(gpu);
    // eps are normals: the GPU's differ from the CPU's by its cos/log precision (~2^-11 |z|), so the
    // curves agree to about 1e-3 rather than to float rounding.
    for (let s = 0; s < c.length; s++) expect(Math.abs(c[s] - g[s]) / c[s], `step ${s}: cpu ${c[s]} webgpu ${g[s]}`).toBeLessThan(3e-3);
    expect(c[0]).toBeGreaterThan(500);
    expect(c[c.length - 1]).toBeLessThan(0.5 * c[0]);
  });
});

describe('MLP GAN on the 8-Gaussian ring', () => {
  it('samples the ring and scores coverage: real data covers all 8 modes, 98.9% within 3 std', async () => {
    const { ringBatch, modeCoverage } = await import('../src/models/gan.ts');
    const pts = ringBatch(10000, 1, 0);
    const r = modeCoverage(pts);
    expect(r.covered).toBe(8);
    // P(|e| <= 3 sigma) for a 2-D Gaussian is 1 - exp(-9/2) = 0.989.
    expect(Math.abs(r.highQuality - (1 - Math.exp(-4.5)))).toBeLessThan(0.005);
    expect(ringBatch(5, 1, 100)).toEqual(ringBatch(105, 1, 0).slice(200, 210));
    // A collapsed generator (every sample at one centre) covers one mode.
    const collapsed = new Float32Array(20000).map((_, i) => (i % 2 === 0 ? 2 : 0));
    expect(modeCoverage(collapsed).covered).toBe(1);
  });

  it('alternates D and G steps identically on both backends, in both loss forms', async () => {
    const gpu = await getGpu();
    const { MlpGAN, ringBatch } = await import('../src/models/gan.ts');
    for (const loss of ['nonsaturating', 'saturating'] as const) {
      const curves: number[][] = [];
      for (const b of [cpu, gpu]) {
        curves.push(await withBackend(b, async () => {
          const gan = new MlpGAN({ generator: new Generator(1), loss });
          const gen = new Generator(2);
          const out: number[] = [];
          for (let s = 0; s < 15; s++) {
            const real = tensor(ringBatch(64, 3, s * 64), [64, 2]);
            const { dLoss, gLoss } = gan.step(real, gen);
            out.push(await dLoss.item(), await gLoss.item());
            for (const t of [dLoss, gLoss, real]) t.dispose();
          }
          return out;
        }));
      }
      const [c, g] = curves;
      for (let i = 0; i < c.length; i++) expect(Math.abs(c[i] - g[i]), `${loss} ${i}: ${c[i]} vs ${g[i]}`).toBeLessThan(3e-3 * Math.abs(c[i]) + 1e-4);
      // D's first loss: two BCEs near log 2 each for a fresh discriminator.
      expect(c[0]).toBeGreaterThan(1);
      expect(c[0]).toBeLessThan(1.8);
      if (loss === 'saturating') expect(c[1]).toBeLessThan(0);
    }
  });
});
