// Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", 2014, appendix C.2):
// Gaussian encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), Bernoulli decoder p(x|z) on logits, prior
// N(0, I). Training maximizes the ELBO  E_q[log p(x|z)] - KL(q(z|x) || N(0, I)), with z sampled by the
// reparameterization z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) from Philox (not a function of the
// parameters, so gradients reach mu and logvar only). Built from src/nn and tensor ops only.

import { Tensor } from '../tensor.ts';
import { Module } from '../nn/module.ts';
import { Linear } from '../nn/layers.ts';
import { bernoulliLogLik, gaussianKL, reparameterize } from '../ops/functional.ts';
import type { Generator } from '../random/philox.ts';
import type { Backend } from '../backend/backend.ts';

export interface VAEOptions {
  inputDim?: number;
  hidden?: number;
  zDim?: number;
  generator?: Generator;
  backend?: Backend;
}

export interface ElboTerms {
  /** Mean over the batch of -log p(x|z) (nats per image). */
  rec: Tensor;
  /** Mean over the batch of KL(q(z|x) || p(z)) (nats per image). */
  kl: Tensor;
  /** rec + kl: the negative ELBO per image, the loss to minimize. */
  loss: Tensor;
}

/** The MLP VAE: 784-400-z (mu, logvar heads) and z-400-784, ReLU hidden layers. */
export class MlpVAE extends Module {
  readonly enc: Linear;
  readonly mu: Linear;
  readonly logvar: Linear;
  readonly dec1: Linear;
  readonly dec2: Linear;
  readonly zDim: number;

  constructor(o: VAEOptions = {}) {
    super();
    const d = o.inputDim ?? 784, h = o.hidden ?? 400;
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

  /** Bernoulli logits of p(x|z), [batch, 784]. */
  decode(z: Tensor): Tensor {
    return this.dec2.call(this.dec1.call(z).relu());
  }

  forward(x: Tensor): Tensor {
    return this.decode(this.encode(x).mu).sigmoid();
  }

  /** The negative ELBO and its two terms for a batch x in [0, 1], one z sample per image. */
  elbo(x: Tensor, generator?: Generator): ElboTerms {
    const flat = x.reshape([x.shape[0], -1]);
    const { mu, logvar } = this.encode(flat);
    const z = reparameterize(mu, logvar, generator);
    const rec = bernoulliLogLik(this.decode(z), flat).neg().mean();
    const kl = gaussianKL(mu, logvar).mean();
    return { rec, kl, loss: rec.add(kl) };
  }
}
