// Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", 2014, appendix C.2):
// Gaussian encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), Bernoulli decoder p(x|z) on logits, prior
// N(0, I). Training maximizes the ELBO  E_q[log p(x|z)] - KL(q(z|x) || N(0, I)), with z sampled by the
// reparameterization z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) from Philox (not a function of the
// parameters, so gradients reach mu and logvar only). Two architectures share the objective: the paper's
// MLP and a convolutional one. Built from src/nn and tensor ops only. logLikelihood() estimates log p(x)
// itself, not its bound, by importance weighting (Burda, Grosse & Salakhutdinov, "Importance Weighted
// Autoencoders", 2016, eq. 8, as the evaluation of their section 5).

import { Tensor, tidy } from '../tensor.ts';
import { Module } from '../nn/module.ts';
import { Conv2d, ConvTranspose2d, Linear } from '../nn/layers.ts';
import { Adam, type Optimizer } from '../nn/optim.ts';
import { bernoulliLogLik, gaussianKL, gaussianLogLik, reparameterize } from '../ops/functional.ts';
import { stack } from '../ops/movement.ts';
import { tensor, zeros } from '../ops/creation.ts';
import { randn } from '../ops/random.ts';
import { enableGrad, noGrad } from '../autograd/engine.ts';
import type { Generator } from '../random/philox.ts';
import type { Backend } from '../backend/backend.ts';
import type { Trainable, TrainBatch } from './model.ts';

/** The VAEs' options. */
export interface VAEOptions {
  /** Values per image (MLP only; default 784, a 28 x 28 image). */
  inputDim?: number;
  /** Hidden units (MLP) or channels of the first conv (conv; the second has twice as many). */
  hidden?: number;
  /** Latent dims (default 20). */
  zDim?: number;
  /** Adam learning rate of trainStep (default 1e-3, as in the quality run). */
  lr?: number;
  /** Draws the initial weights (default: the global generator). */
  generator?: Generator;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
}

/** The negative ELBO of a batch and its two terms, as 0-d tensors (elbo()). */
export interface ElboTerms {
  /** Mean over the batch of -log p(x|z) (nats per image). */
  rec: Tensor;
  /** Mean over the batch of KL(q(z|x) || p(z)) (nats per image). */
  kl: Tensor;
  /** rec + kl: the negative ELBO per image, the loss to minimize. */
  loss: Tensor;
}

/**
 * A variational autoencoder (Kingma & Welling 2014) on images in [0, 1]: Gaussian encoder q(z|x),
 * Bernoulli decoder p(x|z) on logits, prior N(0, I). This base holds the ELBO, the importance-weighted
 * log-likelihood, sampling and the training step (Adam on the negative ELBO); MlpVAE and ConvVAE give
 * the encoder and the decoder. forward(x) is the reconstruction sigmoid(decode(mu(x))).
 */
export abstract class VAE extends Module implements Trainable {
  readonly lossNames = ['loss', 'rec', 'kl'] as const;
  /** Latent dims. */
  abstract readonly zDim: number;
  private opt?: Adam;

  constructor(private readonly lr = 1e-3) {
    super();
  }

  /** q(z|x) for a batch of images (any shape [batch, ...] with 784 values per image). */
  abstract encode(x: Tensor): { mu: Tensor; logvar: Tensor };
  /** Bernoulli logits of p(x|z), [batch, 784]. */
  abstract decode(z: Tensor): Tensor;

  forward(x: Tensor): Tensor {
    return this.decode(this.encode(x).mu).sigmoid();
  }

  /**
   * Kingma & Welling's manifold figure for z = 2: decoder means [k*k, 784] on a k x k grid of Gaussian
   * quantiles, row i at z2 = probit(1 - (i + 0.5) / k) (top = high z2), column j at z1 = probit((j + 0.5) / k).
   */
  manifold(k: number): Tensor {
    if (this.zDim !== 2) throw new Error(`vae: the manifold figure needs z = 2, this model has z = ${this.zDim}`);
    const grid = new Float32Array(k * k * 2);
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        grid[2 * (i * k + j)] = probit((j + 0.5) / k);
        grid[2 * (i * k + j) + 1] = probit(1 - (i + 0.5) / k);
      }
    return tidy(() => this.decode(tensor(grid, [k * k, 2], { backend: this.parameters()[0].backend })).sigmoid());
  }

  /** The negative ELBO and its two terms for a batch x in [0, 1], one z sample per image. */
  elbo(x: Tensor, generator?: Generator): ElboTerms {
    const flat = x.reshape([x.shape[0], -1]);
    const { mu, logvar } = this.encode(x);
    const z = reparameterize(mu, logvar, generator);
    const rec = bernoulliLogLik(this.decode(z), flat).neg().mean();
    const kl = gaussianKL(mu, logvar).mean();
    return { rec, kl, loss: rec.add(kl) };
  }

  /**
   * The importance-weighted estimate of log p(x) per image [batch] (IWAE eq. 8, q as the proposal):
   * log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). Its expectation is at most log p(x), at
   * least the ELBO (k = 1 is the ELBO's one-sample estimate), and grows with k. The k samples go through
   * the decoder `chunk` at a time; the running log-sum-exp is combined on the device, so k can be
   * thousands (the CLI's eval uses 5,000) without holding more than one chunk.
   */
  logLikelihood(x: Tensor, k: number, generator?: Generator, chunk = 100): Tensor {
    if (!Number.isInteger(k) || k < 1)
      throw new Error(`vae: logLikelihood needs a whole number k >= 1 of importance samples, got ${k}`);
    return noGrad(() =>
      tidy(() => {
        const n = x.shape[0];
        const flat = x.reshape([n, -1]);
        const D = flat.shape[1];
        const { mu, logvar } = this.encode(x);
        const sigma = logvar.mul(0.5).exp();
        let total: Tensor | null = null;
        for (let done = 0; done < k; done += chunk) {
          const kc = Math.min(chunk, k - done);
          const step = tidy(() => {
            const eps = randn([kc, n, this.zDim], { backend: x.backend, generator });
            const z = eps
              .mul(sigma)
              .add(mu)
              .reshape([kc * n, this.zDim]);
            const muK = mu.broadcastTo([kc, n, this.zDim]).reshape([kc * n, this.zDim]);
            const lvK = logvar.broadcastTo([kc, n, this.zDim]).reshape([kc * n, this.zDim]);
            const logPxz = bernoulliLogLik(this.decode(z), flat.broadcastTo([kc, n, D]).reshape([kc * n, D]));
            const logPz = gaussianLogLik(
              z,
              zeros([kc * n, this.zDim], { backend: x.backend }),
              zeros([kc * n, this.zDim], { backend: x.backend }),
            );
            const logQ = gaussianLogLik(z, muK, lvK);
            const lse = logPxz.add(logPz).sub(logQ).reshape([kc, n]).logsumexp(0);
            return total ? stack([total, lse]).logsumexp(0) : lse;
          });
          total?.dispose();
          total = step;
        }
        return total!.sub(Math.log(k));
      }),
    );
  }

  /**
   * Back-prop through one sample, for the page's reparameterization panel: for one image x [1, ...] and a
   * draw eps [1, zDim], y = mu + sigma * eps with (mu, sigma) the encoder's outputs, and the gradients of
   * the reconstruction term -log p(x|y) with respect to mu and sigma that flow through y (the decoder
   * held fixed): d/dmu = d/dy, d/dsigma = d/dy * eps, as the chain rule through y = mu + sigma * eps says.
   */
  sampleGradients(
    x: Tensor,
    eps: Tensor,
  ): { mu: Tensor; sigma: Tensor; y: Tensor; rec: Tensor; dMu: Tensor; dSigma: Tensor } {
    return this.frozen(() =>
      enableGrad(() =>
        tidy(() => {
          const e = noGrad(() => this.encode(x));
          const mu = e.mu.detach().requiresGrad_(),
            sigma = e.logvar.mul(0.5).exp().detach().requiresGrad_();
          const y = mu.add(sigma.mul(eps));
          const rec = bernoulliLogLik(this.decode(y), x.reshape([x.shape[0], -1]))
            .neg()
            .sum();
          rec.backward();
          return {
            mu: mu.detach(),
            sigma: sigma.detach(),
            y: y.detach(),
            rec: rec.detach(),
            dMu: mu.grad!,
            dSigma: sigma.grad!,
          };
        }),
      ),
    );
  }

  optimizers(): Optimizer[] {
    this.opt ??= new Adam(this.parameters(), { lr: this.lr });
    return [this.opt];
  }

  /** One Adam step on the negative ELBO of the batch; returns [loss, rec, kl]. */
  trainStep({ x }: TrainBatch, noise: Generator): Tensor {
    const [opt] = this.optimizers();
    return tidy(() => {
      opt.zeroGrad();
      const t = this.elbo(x, noise);
      t.loss.backward();
      opt.step();
      return noGrad(() => stack([t.loss, t.rec, t.kl]));
    });
  }
}

/**
 * The MLP VAE of the paper's appendix C.2: 784-400-z (mu, logvar heads) and z-400-784, ReLU hidden
 * layers.
 *
 * @example
 * ```ts
 * import { MlpVAE } from 'wgpu-gen/models';
 * const vae = new MlpVAE({ zDim: 20 });
 * const [opt] = vae.optimizers();                     // Adam, lr 1e-3
 * const { loss, rec, kl } = vae.elbo(x);               // x [N, 784] in [0, 1]
 * const recon = vae.call(x);                           // [N, 784]
 * const logits = vae.decode(randn([16, 20]));          // samples, as Bernoulli logits
 * ```
 */
export class MlpVAE extends VAE {
  readonly enc: Linear;
  readonly mu: Linear;
  readonly logvar: Linear;
  readonly dec1: Linear;
  readonly dec2: Linear;
  readonly zDim: number;

  constructor(o: VAEOptions = {}) {
    super(o.lr);
    const d = o.inputDim ?? 784,
      h = o.hidden ?? 400;
    this.zDim = o.zDim ?? 20;
    const lo = { generator: o.generator, backend: o.backend };
    this.enc = this.module('enc', new Linear(d, h, lo));
    this.mu = this.module('mu', new Linear(h, this.zDim, lo));
    this.logvar = this.module('logvar', new Linear(h, this.zDim, lo));
    this.dec1 = this.module('dec1', new Linear(this.zDim, h, lo));
    this.dec2 = this.module('dec2', new Linear(h, d, lo));
  }

  encode(x: Tensor): { mu: Tensor; logvar: Tensor } {
    const h = this.enc.call(x.reshape([x.shape[0], -1])).relu();
    return { mu: this.mu.call(h), logvar: this.logvar.call(h) };
  }

  decode(z: Tensor): Tensor {
    return this.dec2.call(this.dec1.call(z).relu());
  }
}

/**
 * The convolutional VAE for 28x28 images: two stride-2 4x4 convs (28 -> 14 -> 7, ReLU) and linear
 * mu / logvar heads; the decoder mirrors it (linear to 7x7, two stride-2 transposed convs, logits out).
 */
export class ConvVAE extends VAE {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly mu: Linear;
  readonly logvar: Linear;
  readonly fc: Linear;
  readonly deconv1: ConvTranspose2d;
  readonly deconv2: ConvTranspose2d;
  readonly zDim: number;
  private readonly c: number;

  constructor(o: VAEOptions = {}) {
    super(o.lr);
    const c = (this.c = o.hidden ?? 16);
    this.zDim = o.zDim ?? 20;
    const lo = { generator: o.generator, backend: o.backend };
    const s2 = { stride: 2, padding: 1, ...lo };
    this.conv1 = this.module('conv1', new Conv2d(1, c, 4, s2));
    this.conv2 = this.module('conv2', new Conv2d(c, 2 * c, 4, s2));
    this.mu = this.module('mu', new Linear(2 * c * 49, this.zDim, lo));
    this.logvar = this.module('logvar', new Linear(2 * c * 49, this.zDim, lo));
    this.fc = this.module('fc', new Linear(this.zDim, 2 * c * 49, lo));
    this.deconv1 = this.module('deconv1', new ConvTranspose2d(2 * c, c, 4, s2));
    this.deconv2 = this.module('deconv2', new ConvTranspose2d(c, 1, 4, s2));
  }

  encode(x: Tensor): { mu: Tensor; logvar: Tensor } {
    const h = this.conv2
      .call(this.conv1.call(x.reshape([x.shape[0], 1, 28, 28])).relu())
      .relu()
      .flatten(1);
    return { mu: this.mu.call(h), logvar: this.logvar.call(h) };
  }

  decode(z: Tensor): Tensor {
    const h = this.fc
      .call(z)
      .relu()
      .reshape([z.shape[0], 2 * this.c, 7, 7]);
    return this.deconv2.call(this.deconv1.call(h).relu()).reshape([z.shape[0], 784]);
  }
}

/** Inverse error function (Giles, "Approximating the erfinv function", GPU Computing Gems, 2011). */
export function erfinv(x: number): number {
  let w = -Math.log((1 - x) * (1 + x)),
    p: number;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-8;
    for (const c of [
      3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
      1.50140941,
    ])
      p = c + p * w;
  } else {
    w = Math.sqrt(w) - 3;
    p = -0.000200214257;
    for (const c of [
      0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406,
      2.83297682,
    ])
      p = c + p * w;
  }
  return p * x;
}

/** The standard normal quantile: z with P(Z <= z) = p. */
export const probit = (p: number): number => Math.SQRT2 * erfinv(2 * p - 1);
