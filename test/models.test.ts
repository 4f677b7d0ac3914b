// Models: the MLP VAE's ELBO terms against their closed forms, a short training run that matches
// step by step on both backends and lowers the negative ELBO, and its importance-weighted log p(x)
// against its definition and against the ELBO on a trained model.
import { describe, expect, it } from 'vitest';
import {
  CpuBackend,
  Generator,
  nn,
  noGrad,
  randn,
  tensor,
  tidy,
  withBackend,
  type Backend,
  type Tensor,
} from '../src/index.ts';
import { MlpVAE, ConvVAE } from '../src/models/vae.ts';
import { DCGAN } from '../src/models/dcgan.ts';
import { Classifier } from '../src/models/classifier.ts';
import { gaussianStats, frechetDistance, symmetricEigen } from '../src/models/frechet.ts';
import { realStats, scoreGenerator } from '../src/models/score.ts';
import type { Trainable } from '../src/models/model.ts';
import { loadMnist, Batches } from '../src/data/index.ts';
import { cpu, getGpu, rng, RUN_SEED } from './helpers.ts';

describe('MLP VAE', () => {
  it('computes the ELBO terms as their definitions', async () => {
    await withBackend(cpu, async () => {
      const vae = new MlpVAE({ inputDim: 6, hidden: 5, zDim: 2, generator: new Generator(1) });
      const x = tensor([
        [0, 1, 1, 0, 0.5, 1],
        [1, 1, 0, 0, 0, 0.25],
      ]);
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
    for (let s = 0; s < c.length; s++)
      expect(Math.abs(c[s] - g[s]) / c[s], `step ${s}: cpu ${c[s]} webgpu ${g[s]}`).toBeLessThan(3e-3);
    expect(c[0]).toBeGreaterThan(500);
    expect(c[c.length - 1]).toBeLessThan(0.5 * c[0]);
  });

  it('logLikelihood is the importance-weighted estimate written from its definition, the same in any chunks', async () => {
    await withBackend(cpu, async () => {
      const vae = new MlpVAE({ inputDim: 6, hidden: 5, zDim: 2, generator: new Generator(1) });
      const x = tensor([
        [0, 1, 1, 0, 1, 1],
        [1, 1, 0, 0, 0, 1],
      ]);
      const k = 3;
      // The same normals as the estimator draws (one draw of [k, n, z]; 4 values, one Philox block, per chunk of 1).
      const eps = await randn([k, 2, 2], { generator: new Generator(8) }).toArray();
      const { mu, logvar } = vae.encode(x);
      const [m, lv, xs] = [await mu.toArray(), await logvar.toArray(), await x.toArray()];
      const want: number[] = [];
      for (let i = 0; i < 2; i++) {
        const logw: number[] = [];
        for (let s = 0; s < k; s++) {
          const z = [0, 1].map((j) => m[2 * i + j] + Math.exp(lv[2 * i + j] / 2) * eps[(s * 2 + i) * 2 + j]);
          const logits = await vae.decode(tensor([z])).toArray();
          // log p(x|z): Bernoulli on logits l, x log sigmoid(l) + (1 - x) log sigmoid(-l)
          let lp = 0;
          for (let d = 0; d < 6; d++)
            lp +=
              xs[6 * i + d] * -Math.log1p(Math.exp(-logits[d])) +
              (1 - xs[6 * i + d]) * -Math.log1p(Math.exp(logits[d]));
          // log N(z; 0, I) - log N(z; mu, sigma^2)
          for (let j = 0; j < 2; j++) {
            const e = eps[(s * 2 + i) * 2 + j];
            lp += -0.5 * z[j] ** 2 + 0.5 * e ** 2 + lv[2 * i + j] / 2;
          }
          logw.push(lp);
        }
        const top = Math.max(...logw);
        want.push(top + Math.log(logw.reduce((a, w) => a + Math.exp(w - top), 0) / k));
      }
      const whole = await vae.logLikelihood(x, k, new Generator(8)).toArray();
      const inOnes = await vae.logLikelihood(x, k, new Generator(8), 1).toArray();
      for (let i = 0; i < 2; i++) {
        expect(whole[i]).toBeCloseTo(want[i], 4);
        expect(inOnes[i]).toBeCloseTo(want[i], 4);
      }
      expect(() => vae.logLikelihood(x, 0)).toThrow(/logLikelihood needs a whole number k >= 1/);
    });
  });

  it('sampleGradients: y = mu + sigma eps, and the gradients through it match the chain rule and finite differences', async () => {
    const f64 = new CpuBackend(true);
    await withBackend(f64, async () => {
      const vae = new MlpVAE({ inputDim: 6, hidden: 5, zDim: 3, generator: new Generator(2) });
      const x = tensor([[0, 1, 1, 0, 1, 0]]);
      const eps = tensor([[0.7, -1.3, 0.2]]);
      const r = vae.sampleGradients(x, eps);
      const [mu, sigma, y, dMu, dSigma] = [r.mu, r.sigma, r.y, r.dMu, r.dSigma].map((t) => f64.readSync(t.storage));
      const e = [0.7, -1.3, 0.2];
      const recAt = (z: number[]) => {
        const l = f64.readSync(vae.decode(tensor([z])).storage);
        const xs = [0, 1, 1, 0, 1, 0];
        return xs.reduce((a, v, d) => a + v * Math.log1p(Math.exp(-l[d])) + (1 - v) * Math.log1p(Math.exp(l[d])), 0);
      };
      const h = 1e-6;
      for (let j = 0; j < 3; j++) {
        expect(y[j]).toBeCloseTo(mu[j] + sigma[j] * e[j], 12);
        // d rec / d sigma_j = d rec / d y_j * eps_j: the chain rule through the sample.
        expect(dSigma[j]).toBeCloseTo(dMu[j] * e[j], 12);
        const up = [...y],
          dn = [...y];
        up[j] += h;
        dn[j] -= h;
        expect(dMu[j], `d rec / d mu_${j}`).toBeCloseTo((recAt(up) - recAt(dn)) / (2 * h), 6);
      }
      expect(f64.readSync(r.rec.storage)[0]).toBeCloseTo(recAt([...y]), 10);
      // The decoder and encoder were held fixed: their parameters got no gradient and still require one.
      for (const p of vae.parameters()) expect([p.grad, p.requiresGrad]).toEqual([null, true]);
    });
  });

  it('on a trained model the estimate is at least the ELBO and grows with k (Burda et al. theorem 1)', async () => {
    const gpu = await getGpu();
    const { train, test } = loadMnist();
    await withBackend(gpu, async () => {
      const vae = new MlpVAE({ hidden: 200, zDim: 10, generator: new Generator(3) });
      const opt = new nn.Adam(vae.parameters(), { lr: 2e-3 });
      const batches = new Batches(train, 100, 4, gpu);
      const gen = new Generator(5);
      for (let s = 0; s < 100; s++) {
        const { images } = batches.load(0, s % batches.perEpoch);
        tidy(() => {
          opt.zeroGrad();
          vae.elbo(images, gen).loss.backward();
          opt.step();
        });
      }
      batches.dispose();
      const x = tensor(test.images.subarray(0, 100 * 784), [100, 784]);
      const mean = async (t: Tensor) => (await t.toArray()).reduce((a, v) => a + v, 0) / 100;
      // The ELBO averaged over 10 draws per image, so its own noise is small beside the gaps.
      let elbo = 0;
      for (let r = 0; r < 10; r++) elbo -= (await tidy(() => vae.elbo(x, new Generator(100 + r)).loss).item()) / 10;
      const L = [];
      for (const k of [1, 10, 100]) L.push(await mean(vae.logLikelihood(x, k, new Generator(7))));
      // k = 1 is the ELBO's one-sample estimate: equal in expectation (100 images: within about a nat).
      expect(Math.abs(L[0] - elbo), `L1 ${L[0]} elbo ${elbo}`).toBeLessThan(2);
      expect(L[1], `L10 ${L[1]} L1 ${L[0]}`).toBeGreaterThan(L[0]);
      expect(L[2], `L100 ${L[2]} L10 ${L[1]}`).toBeGreaterThan(L[1]);
      expect(L[2]).toBeGreaterThan(elbo);
      console.log(
        `trained MLP VAE, 100 test images: ELBO ${elbo.toFixed(2)}, IWAE k=1 ${L[0].toFixed(2)}, k=10 ${L[1].toFixed(2)}, k=100 ${L[2].toFixed(2)} nats`,
      );
    });
  });
});

describe('MLP GAN on the 8-Gaussian ring', () => {
  it('dSteps: k discriminator steps per generator step (algorithm 1), compiled as eager', async () => {
    const { MlpGAN, ringBatch } = await import('../src/models/gan.ts');
    const { compile } = await import('../src/index.ts');
    expect(() => new MlpGAN({ dSteps: 0 })).toThrow(/dSteps must be a positive integer, got 0/);
    await withBackend(cpu, async () => {
      const run = async (compiled: boolean) => {
        const gan = new MlpGAN({ hidden: 16, dSteps: 3, generator: new Generator(6) });
        const noise = new Generator(7);
        const step = compiled
          ? compile((b: { x: Tensor }, g: Generator) => gan.trainStep(b, g))
          : (b: { x: Tensor }, g: Generator) => gan.trainStep(b, g);
        const out: number[][] = [];
        for (let s = 0; s < 4; s++) {
          const x = tensor(ringBatch(32, 1, 32 * s), [32, 2]);
          const t = step({ x }, noise);
          out.push([...(await t.toArray())]);
          t.dispose();
          x.dispose();
        }
        return { out, d: gan.optD.stepCount, g: gan.optG.stepCount };
      };
      const eager = await run(false),
        comp = await run(true);
      expect([eager.d, eager.g]).toEqual([12, 4]);
      expect([comp.d, comp.g]).toEqual([12, 4]);
      eager.out.forEach((v, s) => v.forEach((x, k) => expect(comp.out[s][k], `step ${s} loss ${k}`).toBeCloseTo(x, 5)));
    });
  });

  it("the views' numbers: D(x) is sigmoid of the logit, and the per-point G gradient matches float64 finite differences in both loss forms", async () => {
    const { MlpGAN } = await import('../src/models/gan.ts');
    const f64 = new CpuBackend(true);
    await withBackend(f64, async () => {
      for (const loss of ['nonsaturating', 'saturating'] as const) {
        const gan = new MlpGAN({ hidden: 8, loss, generator: new Generator(4) });
        const pts = [0.3, -1.2, 2, 0.5, -0.7, 0.1];
        const x = tensor(pts, [3, 2]);
        // Read as float64 (toArray() rounds to float32): the finite differences need every digit.
        const f64read = (t: Tensor) => f64.readSync(t.storage);
        const logits = f64read(gan.D.call(x));
        const d = f64read(gan.discriminate(x));
        for (let i = 0; i < 3; i++) expect(d[i]).toBeCloseTo(1 / (1 + Math.exp(-logits[i])), 12);
        const grad = f64read(gan.generatorPointGradient(x));
        // The per-point loss from the logit l: -log sigmoid(l) (non-saturating), log(1 - sigmoid(l)) (saturating).
        const lossAt = async (p: number[]) => {
          const l = f64read(gan.D.call(tensor(p, [3, 2])));
          return [...l].reduce(
            (a, v) => a + (loss === 'nonsaturating' ? Math.log1p(Math.exp(-v)) : -Math.log1p(Math.exp(v))),
            0,
          );
        };
        const h = 1e-6;
        for (let k = 0; k < 6; k++) {
          const up = [...pts],
            dn = [...pts];
          up[k] += h;
          dn[k] -= h;
          expect(grad[k], `${loss} d/dx[${k}]`).toBeCloseTo(((await lossAt(up)) - (await lossAt(dn))) / (2 * h), 6);
        }
        // The same inside noGrad (the page draws its views there): the gradient turns grad mode on for itself.
        expect([...f64read(noGrad(() => gan.generatorPointGradient(x)))]).toEqual([...grad]);
        // D was held out of the graph: no gradient reached it, and its parameters still require grad.
        for (const p of gan.D.parameters()) expect([p.grad, p.requiresGrad]).toEqual([null, true]);
      }
    });
  });

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
        curves.push(
          await withBackend(b, async () => {
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
          }),
        );
      }
      const [c, g] = curves;
      for (let i = 0; i < c.length; i++)
        expect(Math.abs(c[i] - g[i]), `${loss} ${i}: ${c[i]} vs ${g[i]}`).toBeLessThan(3e-3 * Math.abs(c[i]) + 1e-4);
      // D's first loss: two BCEs near log 2 each for a fresh discriminator.
      expect(c[0]).toBeGreaterThan(1);
      expect(c[0]).toBeLessThan(1.8);
      if (loss === 'saturating') expect(c[1]).toBeLessThan(0);
    }
  });
});

/** Loss vectors of `steps` training steps of a model built on backend b, with the same seeds everywhere. */
async function trainCurve(
  b: Backend,
  build: () => Trainable,
  steps: number,
  batch: number,
  withLabels = false,
): Promise<Float32Array[]> {
  return withBackend(b, async () => {
    const model = build();
    const batches = new Batches(loadMnist().train, batch, 4, b);
    const noise = new Generator(5);
    const out: Float32Array[] = [];
    for (let s = 0; s < steps; s++) {
      const { images, labels } = batches.load(0, s);
      const t = model.trainStep({ x: images, labels: withLabels ? labels : undefined }, noise);
      out.push(await t.toArray());
      t.dispose();
    }
    batches.dispose();
    return out;
  });
}

function expectSameCurves(c: Float32Array[], g: Float32Array[], names: readonly string[], rel: number): void {
  for (let s = 0; s < c.length; s++) {
    for (let k = 0; k < names.length; k++) {
      expect(Math.abs(c[s][k] - g[s][k]), `step ${s} ${names[k]}: cpu ${c[s][k]} webgpu ${g[s][k]}`).toBeLessThan(
        rel * Math.abs(c[s][k]) + 1e-4,
      );
    }
  }
}

describe('convolutional models', () => {
  it('conv VAE: the same negative ELBO step by step on both backends, and it falls', async () => {
    const gpu = await getGpu();
    const build = () => new ConvVAE({ zDim: 8, hidden: 8, lr: 3e-3, generator: new Generator(3) });
    const [c, g] = [await trainCurve(cpu, build, 12, 16), await trainCurve(gpu, build, 12, 16)];
    // eps normals differ by the GPU's cos/log precision (as for the MLP VAE).
    expectSameCurves(c, g, ['loss', 'rec', 'kl'], 3e-3);
    expect(c[11][0]).toBeLessThan(0.85 * c[0][0]);
  });

  it('DCGAN: D and G steps match on both backends; D starts near 2 log 2', async () => {
    const gpu = await getGpu();
    const build = () => new DCGAN({ zDim: 16, width: 8, generator: new Generator(1) });
    const [c, g] = [await trainCurve(cpu, build, 6, 16), await trainCurve(gpu, build, 6, 16)];
    // Batch norm divides by batch statistics of a fresh net: differences of z's float normals grow a little.
    expectSameCurves(c, g, ['d', 'g'], 1e-2);
    expect(Math.abs(c[0][0] - 2 * Math.log(2))).toBeLessThan(0.3);
    const model = await withBackend(cpu, async () => new DCGAN({ zDim: 16, width: 8, generator: new Generator(1) }));
    const x = await withBackend(cpu, async () => model.sample(3, new Generator(2)).toArray());
    expect(x.length).toBe(3 * 784);
    expect(Math.min(...x)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
  });

  it('classifier: cross-entropy and batch accuracy match on both backends, and the loss falls', async () => {
    const gpu = await getGpu();
    const build = () => new Classifier({ width: 8, hidden: 32, lr: 5e-3, generator: new Generator(7) });
    const [c, g] = [await trainCurve(cpu, build, 40, 32, true), await trainCurve(gpu, build, 40, 32, true)];
    // Step by step while the trajectories are close (float rounding grows through 40 Adam steps of a
    // chaotic fit, and one image's argmax can flip: accuracy moves in steps of 1/32).
    expectSameCurves(
      c.slice(0, 20).map((v) => v.slice(0, 1)),
      g.slice(0, 20).map((v) => v.slice(0, 1)),
      ['loss'],
      2e-3,
    );
    for (let s = 0; s < 20; s++)
      expect(Math.abs(c[s][1] - g[s][1]), `step ${s} acc`).toBeLessThanOrEqual(1 / 32 + 1e-6);
    expect(g[39][0]).toBeLessThan(0.6 * g[0][0]);
    expect(Math.abs(c[0][0] - Math.log(10))).toBeLessThan(0.3);
    // A plateau near log 10 for ~15 steps (small default-initialized weights), then a fast fall.
    expect(c[39][0]).toBeLessThan(0.6 * c[0][0]);
  });
});

describe('Frechet distance', () => {
  it('is 0 for identical sets and matches the closed form for diagonal covariances', () => {
    const r = rng(RUN_SEED);
    const n = 4000,
      d = 5;
    const f = Float64Array.from({ length: n * d }, () => r() - 0.5);
    const s = gaussianStats(f, n, d);
    expect(Math.abs(frechetDistance(s, s))).toBeLessThan(1e-9);
    // Diagonal: d^2 = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
    const diag = (m: number[], v: number[]) => ({
      mean: Float64Array.from(m),
      cov: Float64Array.from({ length: m.length ** 2 }, (_, k) =>
        k % (m.length + 1) === 0 ? v[k / (m.length + 1)] : 0,
      ),
    });
    const a = diag([0, 1, 2], [1, 4, 9]),
      b = diag([1, 1, 0], [4, 1, 0.25]);
    const want = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 0.5) ** 2;
    expect(frechetDistance(a, b)).toBeCloseTo(want, 9);
  });

  it('handles a full covariance: rotating both sets together does not change it', () => {
    const d = 4,
      r = rng(RUN_SEED + 1);
    const randomSpd = () => {
      const m = Array.from({ length: d * d }, () => r() - 0.5);
      return Float64Array.from({ length: d * d }, (_, k) => {
        const [i, j] = [Math.floor(k / d), k % d];
        let s = i === j ? 0.1 : 0;
        for (let t = 0; t < d; t++) s += m[i * d + t] * m[j * d + t];
        return s;
      });
    };
    const s1 = { mean: Float64Array.from({ length: d }, () => r()), cov: randomSpd() };
    const s2 = { mean: Float64Array.from({ length: d }, () => r()), cov: randomSpd() };
    // An orthogonal Q from the eigenvectors of a random SPD matrix.
    const q = symmetricEigen(randomSpd(), d).vectors;
    const rot = (s: typeof s1) => {
      const mean = new Float64Array(d),
        cov = new Float64Array(d * d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) mean[i] += q[i * d + j] * s.mean[j];
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++)
          for (let k = 0; k < d; k++)
            for (let l = 0; l < d; l++) cov[i * d + j] += q[i * d + k] * s.cov[k * d + l] * q[j * d + l];
      return { mean, cov };
    };
    const fd = frechetDistance(s1, s2);
    expect(fd).toBeGreaterThan(0);
    expect(frechetDistance(rot(s1), rot(s2))).toBeCloseTo(fd, 8);
    // And it is symmetric.
    expect(frechetDistance(s2, s1)).toBeCloseTo(fd, 8);
  });
});

describe('scoring generated digits (score.ts)', () => {
  it('an MLP judge learns the digits; a "generator" that returns the test digits scores Frechet 0 and their classes', async () => {
    await withBackend(cpu, async () => {
      const split = loadMnist();
      const clf = new Classifier({ arch: 'mlp', hidden: 32, lr: 3e-3, generator: new Generator(3) });
      const b = new Batches(split.train, 100, 5);
      const order = b.order(0);
      const losses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const { images, labels } = b.load(0, i, order);
        const out = clf.trainStep({ x: images, labels });
        losses.push((await out.toArray())[0]);
        out.dispose();
      }
      b.dispose();
      expect(Math.abs(losses[0] - Math.log(10))).toBeLessThan(0.3);
      expect(losses.slice(-5).reduce((a, v) => a + v, 0) / 5).toBeLessThan(0.5 * losses[0]);
      clf.eval();
      const n = 300;
      const test = { images: split.test.images.subarray(0, n * 784), n };
      const real = await realStats(clf, test, n);
      // A stand-in for DCGAN whose samples are the same test digits, 100 at a time, as features() asks.
      let at = 0,
        training = true;
      const fake = {
        get training() {
          return training;
        },
        eval() {
          training = false;
          return this;
        },
        train(on = true) {
          training = on;
          return this;
        },
        sample(m: number) {
          const t = tensor(test.images.subarray(at * 784, (at + m) * 784), [m, 1, 28, 28]);
          at += m;
          return t;
        },
      } as unknown as DCGAN;
      const s = await scoreGenerator(fake, clf, real, n);
      expect(training, 'scoring restores train mode').toBe(true);
      expect(Math.abs(s.fd)).toBeLessThan(
        1e-6 * (1 + frechetDistance(real, { mean: new Float64Array(real.mean.length), cov: real.cov })),
      );
      // Class shares are the judge's argmax over the same digits, counted here directly.
      const pred = await noGrad(() => tidy(() => clf.forward(tensor(test.images, [n, 784])).argmax(1))).toArray();
      const want = new Array(10).fill(0);
      for (const k of pred) want[k] += 1 / n;
      s.class_fractions.forEach((f, k) => expect(f).toBeCloseTo(want[k], 9));
      expect(s.min_class_fraction).toBe(Math.min(...s.class_fractions));
      expect(s.mean_top_prob).toBeGreaterThan(0.1);
      expect(s.mean_top_prob).toBeLessThanOrEqual(1);
    });
  });
});
