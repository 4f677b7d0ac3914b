// A deep belief network by greedy stacking of RBMs (Hinton, Osindero & Teh, "A Fast Learning Algorithm
// for Deep Belief Nets", 2006, section 4; Hinton's practical guide, 2010), the second Boltzmann model
// of the lecture's outline. Layer 0 is an RBM on the pixels v; each layer above is an RBM whose visible
// units are the hidden units h_l of the layer below, trained on samples of the layer below's posterior
// Q(h_l | h_{l-1}) = p(h_l = 1 | h_{l-1}) with the layers below frozen: greedy stacking, one layer at a
// time, so a DBN here always trains only its top RBM (build one on top of a trained RBM or DBN with
// `stackOn`). The generative model is the top RBM over (h_{L-1}, h_L) with directed sigmoid layers below,
// p(h_{l-1} | h_l) = sigmoid(b_{l-1} + W_{l-1} h_l); it is sampled top-down: Gibbs sampling in the top
// RBM, then one pass down.
//
// Evaluation: the variational lower bound on log p(v) of Salakhutdinov & Murray ("On the Quantitative
// Analysis of Deep Belief Networks", ICML 2008, section 4, eq. 14 for two layers, chained for more),
//   log p(v) >= E_Q[ sum_{l=1}^{L-1} log p(h_{l-1} | h_l) - F_top(h_{L-1}) ] - log Z_top + sum_l E_Q[H(Q(h_l | h_{l-1}))],
// with h_0 = v, Q the recognition chain above (each layer's p(h | below), factorial), F_top the top RBM's
// free energy over its visible units and log Z_top its partition function (AIS, as for an RBM). The
// expectation is estimated with samples of the recognition chain; the entropies are in closed form given
// the sampled layer below, which lowers the estimator's variance without changing its mean.

import { Tensor, tidy } from '../tensor.ts';
import { Module } from '../nn/module.ts';
import { ModuleList } from '../nn/layers.ts';
import type { Optimizer } from '../nn/optim.ts';
import { full } from '../ops/creation.ts';
import { noGrad } from '../autograd/engine.ts';
import { RBM, bernoulli, type AisOptions, type RbmChain } from './rbm.ts';
import type { Generator } from '../random/philox.ts';
import type { Backend } from '../backend/backend.ts';
import type { Trainable, TrainBatch } from './model.ts';

/** The DBN's options; k, chain, lr and momentum are its top RBM's (see RBMOptions). */
export interface DBNOptions {
  /** Visible units (default 784). */
  visible?: number;
  /** Hidden units of each layer, bottom first (at least 2 layers: a 1-layer DBN is an RBM). */
  layers?: number[];
  /** The top RBM's training: Gibbs steps, chain, SGD rate and momentum (the layers below are frozen). */
  k?: number;
  /** The top RBM's chain: 'cd' (default) or 'pcd'. */
  chain?: RbmChain;
  /** The top RBM's SGD learning rate (default 0.05). */
  lr?: number;
  /** The top RBM's SGD momentum (default 0.5). */
  momentum?: number;
  /** Draws the initial weights (default: the global generator). */
  generator?: Generator;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
}

/**
 * A deep belief network (Hinton, Osindero & Teh 2006) of stacked RBMs, trained greedily: stackOn() takes
 * the weights of a trained RBM (or DBN) as the layers below, and only the top RBM trains, on samples of
 * the layers below's posterior. Sampled top-down; evaluated by the variational bound of Salakhutdinov &
 * Murray (2008).
 *
 * @example
 * ```ts
 * import { RBM, DBN } from 'wgpu-gen/models';
 * const dbn = new DBN({ layers: [500, 500] });
 * await dbn.stackOn(trainedRbm);                      // layer 0 from the RBM, frozen
 * for (const { x } of loader) dbn.trainStep({ x }, noise).dispose();
 * ```
 */
export class DBN extends Module implements Trainable {
  readonly lossNames = ['rec', 'free_energy_gap'] as const;
  readonly rbms: ModuleList;
  readonly visible: number;
  readonly sizes: readonly number[];

  constructor(o: DBNOptions = {}) {
    super();
    this.visible = o.visible ?? 784;
    const sizes = o.layers ?? [500, 500];
    if (sizes.length < 2 || !sizes.every((h) => Number.isInteger(h) && h >= 1)) {
      throw new Error(
        `DBN: layers must list at least 2 positive integer hidden sizes (a 1-layer DBN is an RBM), got [${sizes.join(', ')}]`,
      );
    }
    this.sizes = [...sizes];
    const below = [this.visible, ...sizes];
    this.rbms = this.module(
      'layers',
      new ModuleList(
        sizes.map(
          (h, l) =>
            new RBM({
              visible: below[l],
              hidden: h,
              k: o.k,
              chain: o.chain,
              lr: o.lr,
              momentum: o.momentum,
              generator: o.generator,
              backend: o.backend,
            }),
        ),
      ),
    );
  }

  /** Layer l's RBM (0 = on the pixels). */
  layer(l: number): RBM {
    return this.rbms.at(l) as RBM;
  }

  /** The top RBM (the one that trains). */
  get top(): RBM {
    return this.layer(this.sizes.length - 1);
  }

  /** Only the top RBM trains (greedy stacking); the layers below keep the weights they were stacked with. */
  optimizers(): Optimizer[] {
    return [this.top.opt];
  }

  /**
   * Copies a trained RBM (into layer 0) or DBN (into its layers) below this one's top: the greedy step.
   * The sizes must match; the top RBM keeps its fresh weights.
   */
  async stackOn(lower: RBM | DBN): Promise<void> {
    const parts = lower instanceof DBN ? lower.sizes.map((_, l) => lower.layer(l)) : [lower];
    if (parts.length !== this.sizes.length - 1) {
      throw new Error(
        `DBN.stackOn: a stack of ${parts.length} layer(s) goes under a DBN of ${parts.length + 1} layers, this one has ${this.sizes.length}`,
      );
    }
    for (const [l, rbm] of parts.entries()) {
      const mine = this.layer(l);
      if (rbm.visible !== mine.visible || rbm.hidden !== mine.hidden) {
        throw new Error(
          `DBN.stackOn: layer ${l} is ${rbm.visible} x ${rbm.hidden} in the stack below, ${mine.visible} x ${mine.hidden} here`,
        );
      }
    }
    // The weights only: a layer below never trains, so PCD chains the RBM had reached stay behind.
    for (const [l, rbm] of parts.entries()) await this.layer(l).loadStateDict(new Map(rbm.namedParameters()));
  }

  /** p(h_L | v) of images v [n, visible]: the recognition pass (probabilities, mean-field), the features. */
  forward(v: Tensor): Tensor {
    let h = v.reshape([v.shape[0], this.visible]);
    for (let l = 0; l < this.sizes.length; l++) h = this.layer(l).hiddenProb(h);
    return h;
  }

  /** Binary states of the top RBM's visible layer for images x in [0, 1]: samples up the frozen layers. */
  private up(x: Tensor, noise?: Generator): Tensor {
    let h = bernoulli(x.reshape([x.shape[0], this.visible]), noise);
    for (let l = 0; l < this.sizes.length - 1; l++) h = bernoulli(this.layer(l).hiddenProb(h), noise);
    return h;
  }

  /** One CD-k (or PCD) update of the top RBM on the batch's states there; returns [rec, free-energy gap] of the top RBM. */
  trainStep({ x }: TrainBatch, noise: Generator): Tensor {
    return tidy(() => {
      const h = noGrad(() => this.up(x, noise));
      return this.top.trainStep({ x: h }, noise);
    });
  }

  /** Images [n, visible] in [0, 1]: `steps` Gibbs steps in the top RBM from noise, then one pass down (p(v | h_1) last). */
  sample(n: number, steps: number, generator?: Generator): Tensor {
    return tidy(() =>
      noGrad(() => {
        const top = this.top;
        const v0 = bernoulli(full([n, top.visible], 0.5, { backend: top.W.backend }), generator);
        let h = top.gibbs(v0, Math.max(1, steps), generator).v;
        for (let l = this.sizes.length - 2; l >= 1; l--) h = bernoulli(this.layer(l).visibleProb(h), generator);
        return this.layer(0).visibleProb(h);
      }),
    );
  }

  /** log Z of the top RBM by annealed importance sampling (RBM.aisLogZ). */
  aisLogZ(o: AisOptions = {}): ReturnType<RBM['aisLogZ']> {
    return this.top.aisLogZ(o);
  }

  /**
   * The variational lower bound on log p(v) (see the header) per image of binary v [n, visible], in nats,
   * from `samples` draws of the recognition chain per image and the top RBM's log Z: [n].
   */
  lowerBound(v: Tensor, logZTop: number, samples: number, generator?: Generator): Tensor {
    if (!(Number.isInteger(samples) && samples >= 1))
      throw new Error(`DBN.lowerBound: samples must be a positive integer, got ${samples}`);
    return tidy(() =>
      noGrad(() => {
        const n = v.shape[0],
          L = this.sizes.length;
        // Each image `samples` times: one recognition draw per row.
        let below = v
          .reshape([1, n, this.visible])
          .broadcastTo([samples, n, this.visible])
          .reshape([samples * n, this.visible]);
        let total: Tensor | null = null;
        const add = (t: Tensor) => (total = total ? total.add(t) : t);
        for (let l = 0; l < L - 1; l++) {
          const rbm = this.layer(l);
          const q = rbm.hiddenProb(below);
          // H(Q(h_l | h_{l-1})) = sum_j softplus(a_j) - q_j a_j, a = the logits (stable for saturated q).
          const a = below.matmul(rbm.W).add(rbm.hbias);
          add(a.softplus().sub(q.mul(a)).sum(1));
          const h = bernoulli(q, generator);
          // log p(h_{l-1} | h_l) = sum_i x_i s_i - softplus(s_i), s = b + W h (a Bernoulli log-likelihood in logits).
          const s = h.matmul(rbm.W.t()).add(rbm.vbias);
          add(below.mul(s).sub(s.softplus()).sum(1));
          below = h;
        }
        const bound = total!.sub(this.top.freeEnergy(below)).add(-logZTop);
        return bound.reshape([samples, n]).mean(0);
      }),
    );
  }
}
