// DCGAN (Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
// Generative Adversarial Networks", 2016, section 3) for 28x28 images, sized like the two conv / two
// conv-transpose PyTorch reference of the issue: the generator maps z through a linear layer to a 7x7
// feature map and two stride-2 transposed convolutions (batch norm and ReLU between, tanh out); the
// discriminator is two stride-2 convolutions (leaky ReLU 0.2, batch norm on the second, none on the
// input layer as the paper advises) and a linear logit. Weights start from N(0, 0.02) as in the paper.
// Training alternates a discriminator step, maximizing log D(x) + log(1 - D(G(z))), and a generator
// step maximizing log D(G(z)) (non-saturating; the saturating minimax form is an option), with BCE on
// logits. Images are in [0, 1] at the public API and in [-1, 1] inside (the tanh range).

import { Tensor, tidy } from '../tensor.ts';
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Flatten,
  LeakyReLU,
  Linear,
  ReLU,
  Sequential,
  Tanh,
  Unflatten,
} from '../nn/layers.ts';
import { Adam } from '../nn/optim.ts';
import { assignInPlace } from '../ops/functional.ts';
import { normal, randn } from '../ops/random.ts';
import { zeros } from '../ops/creation.ts';
import { stack } from '../ops/movement.ts';
import { noGrad } from '../autograd/engine.ts';
import type { Generator } from '../random/philox.ts';
import type { Backend } from '../backend/backend.ts';
import type { TrainBatch } from './model.ts';
import { GAN } from './gan.ts';

/** DCGAN's options. */
export interface DCGANOptions {
  /** Latent dims (default 64). */
  zDim?: number;
  /** Channels of the first conv (the second has twice as many); 64 in the paper's spirit, 32 by default here. */
  width?: number;
  /** The generator's Adam learning rate (default 2e-4, the paper's). */
  lr?: number;
  /** The discriminator's Adam learning rate (default: lr; TTUR, Heusel et al. 2017, gives D a larger one). */
  lrD?: number;
  /** Both Adams' betas (default [0.5, 0.999], the paper's). */
  betas?: [number, number];
  /** The generator's loss: 'nonsaturating' (default) or 'saturating' (see GanOptions.loss). */
  loss?: 'nonsaturating' | 'saturating';
  /** Draws the initial weights, N(0, 0.02) as in the paper (default: the global generator). */
  generator?: Generator;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
}

/**
 * DCGAN (Radford, Metz & Chintala 2016) for 28 x 28 grayscale images: the generator maps z through a
 * linear layer to 7 x 7 and two stride-2 transposed convolutions (batch norm, ReLU, tanh out); the
 * discriminator is two stride-2 convolutions (leaky ReLU 0.2) and a linear logit. Images are in [0, 1]
 * at the API (x for trainStep [n, 784] or [n, 1, 28, 28]; forward and sample return [n, 1, 28, 28]).
 *
 * @example
 * ```ts
 * import { DCGAN } from 'wgpu-gen/models';
 * const gan = new DCGAN({ zDim: 64, width: 32 });
 * const noise = new Generator(3);
 * for (const { x } of loader) gan.trainStep({ x }, noise).dispose();   // [d loss, g loss]
 * gan.eval();
 * const images = gan.sample(64);                                         // [64, 1, 28, 28]
 * ```
 */
export class DCGAN extends GAN {
  readonly G: Sequential;
  readonly D: Sequential;
  readonly optG: Adam;
  readonly optD: Adam;
  readonly zDim: number;
  readonly loss: 'nonsaturating' | 'saturating';

  constructor(o: DCGANOptions = {}) {
    super();
    this.zDim = o.zDim ?? 64;
    this.loss = o.loss ?? 'nonsaturating';
    const w = o.width ?? 32;
    const lo = { generator: o.generator, backend: o.backend };
    const conv = { stride: 2, padding: 1, ...lo };
    this.G = this.module(
      'G',
      new Sequential(
        new Linear(this.zDim, 2 * w * 7 * 7, lo),
        new Unflatten([2 * w, 7, 7]),
        new BatchNorm2d(2 * w, lo),
        new ReLU(),
        new ConvTranspose2d(2 * w, w, 4, conv),
        new BatchNorm2d(w, lo),
        new ReLU(),
        new ConvTranspose2d(w, 1, 4, conv),
        new Tanh(),
      ),
    );
    this.D = this.module(
      'D',
      new Sequential(
        new Conv2d(1, w, 4, conv),
        new LeakyReLU(0.2),
        new Conv2d(w, 2 * w, 4, conv),
        new BatchNorm2d(2 * w, lo),
        new LeakyReLU(0.2),
        new Flatten(),
        new Linear(2 * w * 7 * 7, 1, lo),
      ),
    );
    // Section 4 of the paper: all weights from N(0, 0.02); batch-norm scales from N(1, 0.02), shifts 0.
    noGrad(() => {
      for (const [name, p] of this.namedParameters()) {
        const bnScale = /\.weight$/.test(name) && p.ndim === 1;
        if (name.endsWith('.weight'))
          assignInPlace(p, normal(p.shape, bnScale ? 1 : 0, 0.02, { generator: o.generator, backend: p.backend }));
        else assignInPlace(p, zeros(p.shape, { backend: p.backend }));
      }
    });
    const adam = { lr: o.lr ?? 2e-4, betas: o.betas ?? ([0.5, 0.999] as [number, number]) };
    this.optG = new Adam(this.G.parameters(), adam);
    this.optD = new Adam(this.D.parameters(), { ...adam, lr: o.lrD ?? adam.lr });
  }

  /** Images in [0, 1], [n, 1, 28, 28], from latent codes z [n, zDim]. */
  forward(z: Tensor): Tensor {
    return this.G.call(z).add(1).mul(0.5);
  }

  /** n images from z ~ N(0, I) drawn from `gen`. */
  sample(n: number, gen?: Generator): Tensor {
    return tidy(() => this.forward(randn([n, this.zDim], { generator: gen, backend: this.D.parameters()[0].backend })));
  }

  /** One D step and one G step (see GAN) on real images mapped to [-1, 1]. Returns [d loss, g loss]. */
  trainStep({ x }: TrainBatch, noise: Generator): Tensor {
    return tidy(() => {
      const n = x.shape[0],
        backend = x.backend;
      const real = x.reshape([n, 1, 28, 28]).mul(2).sub(1);
      const { dLoss, gLoss } = this.adversarialStep(real, () => randn([n, this.zDim], { generator: noise, backend }));
      return noGrad(() => stack([dLoss, gLoss]));
    });
  }
}
