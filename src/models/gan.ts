// GAN (Goodfellow et al., "Generative Adversarial Nets", 2014) on 2-D data: MLP generator and
// discriminator, alternating a discriminator step that maximizes log D(x) + log(1 - D(G(z))) and a
// generator step that maximizes log D(G(z)) (the non-saturating loss, section 3 of the paper), or, as an
// option, minimizes log(1 - D(G(z))) (the saturating minimax form). Losses use BCE on logits, the
// numerically stable form. The game itself is the GAN base class, shared with DCGAN (dcgan.ts). Also the
// 8-Gaussian ring benchmark and its mode-coverage metric.

import { Tensor, tidy } from '../tensor.ts';
import { Module } from '../nn/module.ts';
import { Linear, ReLU, LeakyReLU, Sequential } from '../nn/layers.ts';
import { Adam, type Optimizer } from '../nn/optim.ts';
import { stack } from '../ops/movement.ts';
import { enableGrad, noGrad } from '../autograd/engine.ts';
import type { Trainable, TrainBatch } from './model.ts';
import { bceWithLogits } from '../ops/functional.ts';
import { randn } from '../ops/random.ts';
import { full } from '../ops/creation.ts';
import { Generator, philox4x32, uniformFromBits, boxMuller } from '../random/philox.ts';

/** MlpGAN's options. */
export interface GanOptions {
  /** Latent dims (default 2). */
  zDim?: number;
  /** Hidden units of both networks' two hidden layers (default 128). */
  hidden?: number;
  /** Dims of a data point (default 2). */
  dataDim?: number;
  /** The generator's Adam learning rate (default 1e-3). */
  lr?: number;
  /** The discriminator's Adam learning rate (default: lr; TTUR, Heusel et al. 2017, gives D a larger one). */
  lrD?: number;
  /** Both Adams' betas (default [0.5, 0.999]). */
  betas?: [number, number];
  /** 'nonsaturating' (default): G maximizes log D(G(z)); 'saturating': G minimizes log(1 - D(G(z))). */
  loss?: 'nonsaturating' | 'saturating';
  /** Discriminator steps per generator step (the D:G ratio; 1 by default, as in the paper's experiments). */
  dSteps?: number;
  /** Draws the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * What the GANs share: G and D with an Adam each, and the game (section 3 of the paper), one
 * discriminator step then one generator step on fresh latent codes, both losses BCE on logits:
 *   D: minimize BCE(D(x), 1) + BCE(D(G(z)), 0) = -[log D(x) + log(1 - D(G(z)))];
 *   G: minimize BCE(D(G(z)), 1) = -log D(G(z))   (non-saturating, the default), or
 *      minimize -BCE(D(G(z)), 0) = log(1 - D(G(z)))   (saturating).
 */
export abstract class GAN extends Module implements Trainable {
  readonly lossNames = ['d', 'g'] as const;
  /** The generator: latent codes [n, zDim] to samples. */
  abstract readonly G: Sequential;
  /** The discriminator: samples to one logit each, [n, 1]. */
  abstract readonly D: Sequential;
  /** The generator's Adam. */
  abstract readonly optG: Adam;
  /** The discriminator's Adam. */
  abstract readonly optD: Adam;
  /** Latent dims. */
  abstract readonly zDim: number;
  /** The generator's loss form: 'nonsaturating' (-log D(G(z))) or 'saturating' (log(1 - D(G(z)))). */
  abstract readonly loss: 'nonsaturating' | 'saturating';
  abstract trainStep(batch: TrainBatch, noise: Generator): Tensor;

  optimizers(): Optimizer[] {
    return [this.optG, this.optD];
  }

  /** The generator's loss (mean over the batch) from D's logits on fake points, in this model's form. */
  generatorLoss(logits: Tensor): Tensor {
    const target = full(logits.shape, this.loss === 'nonsaturating' ? 1 : 0, { backend: logits.backend });
    const l = this.loss === 'nonsaturating' ? bceWithLogits(logits, target) : bceWithLogits(logits, target).neg();
    target.dispose();
    return l;
  }

  /** D(x) = sigmoid of the discriminator's logit: its belief that each point of x is real, [n]. */
  discriminate(x: Tensor): Tensor {
    return noGrad(() => tidy(() => this.D.call(x).sigmoid().reshape([x.shape[0]])));
  }

  /**
   * The gradient of the generator's loss with respect to each fake point, D held fixed: [n, dataDim],
   * for the per-point loss (the batch mean times n). The generator's step moves each of its outputs along
   * minus this (GAN Lab's arrows); for the saturating loss it vanishes where D(x) is near 0, for the
   * non-saturating one where D(x) is near 1 (Goodfellow et al. 2014, section 3). D's parameters are
   * held out of the graph, so no gradient reaches them or G.
   */
  generatorPointGradient(points: Tensor): Tensor {
    // Views draw under noGrad; this one needs its graph.
    return this.D.frozen(() =>
      enableGrad(() =>
        tidy(() => {
          const x = points.detach().requiresGrad_();
          this.generatorLoss(this.D.call(x)).mul(points.shape[0]).backward();
          return x.grad!;
        }),
      ),
    );
  }

  /**
   * `dSteps` D steps (each on fresh fakes, the same real batch: Goodfellow et al.'s algorithm 1 with k =
   * dSteps) then one G step, on `real` (in G's output space); `z()` draws a batch of latent codes. The
   * D loss returned is the last D step's.
   */
  adversarialStep(real: Tensor, z: () => Tensor, dSteps = 1): { dLoss: Tensor; gLoss: Tensor } {
    const n = real.shape[0],
      backend = real.backend;
    const ones = full([n, 1], 1, { backend }),
      zeros = full([n, 1], 0, { backend });
    let dLoss: Tensor | null = null;
    for (let k = 0; k < dSteps; k++) {
      dLoss?.dispose();
      dLoss = tidy(() => {
        this.optD.zeroGrad();
        const fake = this.G.call(z()).detach();
        const l = bceWithLogits(this.D.call(real), ones).add(bceWithLogits(this.D.call(fake), zeros));
        l.backward();
        this.optD.step();
        return l;
      });
    }
    const gLoss = tidy(() => {
      this.optG.zeroGrad();
      const l = this.generatorLoss(this.D.call(this.G.call(z())));
      l.backward();
      this.optG.step();
      // D's parameters also received gradients from the generator step; the next D step zeroes them.
      return l;
    });
    ones.dispose();
    zeros.dispose();
    return { dLoss: dLoss!, gLoss };
  }
}

/**
 * A GAN on 2-D points (Goodfellow et al. 2014): MLP generator (ReLU) and discriminator (leaky ReLU 0.2),
 * trained on the 8-Gaussian ring benchmark (ringBatch, modeCoverage). forward(z) is G(z).
 *
 * @example
 * ```ts
 * import { MlpGAN, ringBatch, modeCoverage } from 'wgpu-gen/models';
 * const gan = new MlpGAN({ lrD: 2e-3 });
 * const noise = new Generator(7);
 * for (let step = 0; step < 1000; step++) {
 *   const x = tensor(ringBatch(256, 1, step), [256, 2]);
 *   gan.trainStep({ x }, noise).dispose();             // [d loss, g loss]
 *   x.dispose();
 * }
 * const report = modeCoverage(await gan.sample(2500).toArray());
 * ```
 */
export class MlpGAN extends GAN {
  readonly G: Sequential;
  readonly D: Sequential;
  readonly optG: Adam;
  readonly optD: Adam;
  readonly zDim: number;
  readonly loss: 'nonsaturating' | 'saturating';
  /** Discriminator steps per generator step. */
  readonly dSteps: number;

  constructor(o: GanOptions = {}) {
    super();
    const h = o.hidden ?? 128,
      d = o.dataDim ?? 2;
    this.zDim = o.zDim ?? 2;
    this.loss = o.loss ?? 'nonsaturating';
    this.dSteps = o.dSteps ?? 1;
    if (!Number.isInteger(this.dSteps) || this.dSteps < 1)
      throw new Error(`MlpGAN: dSteps must be a positive integer, got ${o.dSteps}`);
    const lo = { generator: o.generator };
    this.G = this.module(
      'G',
      new Sequential(new Linear(this.zDim, h, lo), new ReLU(), new Linear(h, h, lo), new ReLU(), new Linear(h, d, lo)),
    );
    this.D = this.module(
      'D',
      new Sequential(
        new Linear(d, h, lo),
        new LeakyReLU(0.2),
        new Linear(h, h, lo),
        new LeakyReLU(0.2),
        new Linear(h, 1, lo),
      ),
    );
    const adam = { lr: o.lr ?? 1e-3, betas: o.betas ?? ([0.5, 0.999] as [number, number]) };
    this.optG = new Adam(this.G.parameters(), adam);
    this.optD = new Adam(this.D.parameters(), { ...adam, lr: o.lrD ?? adam.lr });
  }

  /** The generator applied to latent codes z [n, zDim]. */
  forward(z: Tensor): Tensor {
    return this.G.call(z);
  }

  /** dSteps D steps and one G step on the batch of real points x; returns [d loss (the last D step's), g loss]. */
  trainStep({ x }: TrainBatch, noise: Generator): Tensor {
    // In a tidy scope: stack's unsqueezed views of the two losses are tensors too (they leaked outside one).
    return tidy(() => {
      const { dLoss, gLoss } = this.step(x, noise);
      return noGrad(() => stack([dLoss, gLoss]));
    });
  }

  /** n points G(z) [n, dataDim] from z ~ N(0, I) drawn from `gen` (default: the global generator). */
  sample(n: number, gen?: Generator): Tensor {
    return this.G.call(randn([n, this.zDim], { generator: gen }));
  }

  /** dSteps discriminator steps then one generator step on a batch of real points (see GAN.adversarialStep). */
  step(real: Tensor, gen?: Generator): { dLoss: Tensor; gLoss: Tensor } {
    return this.adversarialStep(real, () => randn([real.shape[0], this.zDim], { generator: gen }), this.dSteps);
  }
}

/** Centres of the ring: `modes` points on a circle of the given radius. */
export function ringCentres(modes = 8, radius = 2): [number, number][] {
  return Array.from({ length: modes }, (_, k) => [
    radius * Math.cos((2 * Math.PI * k) / modes),
    radius * Math.sin((2 * Math.PI * k) / modes),
  ]);
}

/** Steps of fresh ring points that count as one epoch (the ring has no epochs of its own). */
export const RING_STEPS = 1000;

/**
 * n points of the 8-Gaussian ring (radius 2, std 0.02 by default), from Philox on the host: block i of
 * key (seed, 0) with counter (offset + i) gives the mode (first word) and two normals (last two words).
 */
export function ringBatch(n: number, seed: number, offset: number, modes = 8, radius = 2, std = 0.02): Float32Array {
  const c = ringCentres(modes, radius);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const w = philox4x32([(offset + i) % 2 ** 32, Math.floor((offset + i) / 2 ** 32), 0, 0], [seed >>> 0, 0x72696e67]);
    const k = Math.floor(uniformFromBits(w[0]) * modes);
    const [e1, e2] = boxMuller(w[2], w[3]);
    out[2 * i] = c[k][0] + std * e1;
    out[2 * i + 1] = c[k][1] + std * e2;
  }
  return out;
}

/** What modeCoverage() reports about samples on the ring. */
export interface ModeReport {
  /** Samples within `radius` of each centre. */
  perMode: number[];
  /** Modes with at least `minCount` such samples. */
  covered: number;
  /** Fraction of all samples within `radius` of some centre. */
  highQuality: number;
}

/** Mode coverage on the ring: a mode counts when >= minCount of the samples lie within `radius` of it. */
export function modeCoverage(
  points: Float32Array,
  modes = 8,
  ringRadius = 2,
  radius = 0.06,
  minCount = 100,
): ModeReport {
  return centresCoverage(points, ringCentres(modes, ringRadius), radius, minCount);
}

/** Mode coverage around any centres: a mode counts when >= minCount samples lie within `radius` of it. */
export function centresCoverage(
  points: Float32Array,
  c: [number, number][],
  radius: number,
  minCount: number,
): ModeReport {
  const modes = c.length;
  const perMode = new Array(modes).fill(0);
  let close = 0;
  const n = points.length / 2;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < modes; k++) {
      if (Math.hypot(points[2 * i] - c[k][0], points[2 * i + 1] - c[k][1]) <= radius) {
        perMode[k]++;
        close++;
        break;
      }
    }
  }
  return { perMode, covered: perMode.filter((m) => m >= minCount).length, highQuality: close / n };
}
