// A Bernoulli restricted Boltzmann machine (Smolensky 1986; Hinton, "Training Products of Experts by
// Minimizing Contrastive Divergence", 2002; Hinton, "A Practical Guide to Training Restricted Boltzmann
// Machines", 2010), the first model of the lecture's outline. Binary visible units v (784 pixels) and
// hidden units h, energy E(v, h) = -b.v - c.h - v W h, so
//   p(h_j = 1 | v) = sigmoid(c_j + (v W)_j),   p(v_i = 1 | h) = sigmoid(b_i + (W h)_i),
//   free energy F(v) = -b.v - sum_j softplus(c_j + (v W)_j),   p(v) = exp(-F(v)) / Z.
// Training follows the log-likelihood's gradient, <v h>_data - <v h>_model, with the model's expectation
// from a Gibbs chain: CD-k starts the chain at the batch, persistent CD (Tieleman 2008) continues chains
// kept from the last step. The update is not a back-prop gradient: it is built from tensor ops (matmuls of
// the chain's states) and the runtime's Philox draws (Gibbs sampling on the device), and handed to SGD
// with momentum as the parameters' gradients (minus the statistics' difference). Hidden statistics are
// probabilities, the visible chain states samples (the guide's section 3).
//
// Evaluation: annealed importance sampling (Neal 2001; Salakhutdinov & Murray, "On the Quantitative
// Analysis of Deep Belief Networks", ICML 2008, section 3.2) estimates log Z from chains annealed from a
// base-rate RBM (W = 0, c = 0, visible biases bA) through p_k(v) proportional to exp(-F_k(v)),
//   F_k(v) = -(1 - beta_k) bA.v - beta_k b.v - sum_j softplus(beta_k (c_j + (v W)_j)),
// with one Gibbs transition at each beta_k; log Z = log Z_A + log mean_m w_m, log w_m the sum over k of
// F_{k-1}(v) - F_k(v) along chain m, and log Z_A = sum_i softplus(bA_i) + n_hidden log 2. The test
// log-likelihood is then mean(-F(v)) - log Z. For an RBM with few hidden units, exactLogZ() enumerates
// the hidden states: log Z = logsumexp_h [c.h + sum_i softplus(b_i + (W h)_i)].

import { Tensor, tidy, keep } from '../tensor.ts';
import { Module } from '../nn/module.ts';
import { SGD } from '../nn/optim.ts';
import type { Optimizer } from '../nn/optim.ts';
import { normal, rand } from '../ops/random.ts';
import { full, zeros } from '../ops/creation.ts';
import { stack } from '../ops/movement.ts';
import { assignInPlace } from '../ops/functional.ts';
import { noGrad } from '../autograd/engine.ts';
import type { Generator } from '../random/philox.ts';
import type { Backend } from '../backend/backend.ts';
import type { Trainable, TrainBatch } from './model.ts';

/** How the negative phase's chain starts: at the batch (CD-k) or where the last step's chains ended (PCD). */
export type RbmChain = 'cd' | 'pcd';

/** The RBM's options (defaults after Hinton's practical guide, 2010). */
export interface RBMOptions {
  /** Visible units (default 784, one per pixel). */
  visible?: number;
  /** Hidden units (default 500). */
  hidden?: number;
  /** Gibbs steps of the negative phase. */
  k?: number;
  /** 'cd' (default, CD-k) or 'pcd' (persistent CD). */
  chain?: RbmChain;
  /** Persistent chains (PCD only; default: the first batch's size). */
  chains?: number;
  /** SGD's learning rate (default 0.05). */
  lr?: number;
  /** SGD's momentum (default 0.5). */
  momentum?: number;
  /** SGD's weight decay (default 0). */
  weightDecay?: number;
  /** Draws the initial weights, N(0, 0.01) (default: the global generator). */
  generator?: Generator;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
}

/** Options of annealed importance sampling (the RBM's and DBN's log Z estimates). */
export interface AisOptions {
  /** Intermediate distributions (the betas, evenly spaced in [0, 1]; the paper uses up to 14,500). */
  betas?: number;
  /** Annealing runs. */
  runs?: number;
  /** The base-rate model's visible biases (default 0: the uniform distribution). */
  baseBias?: Tensor;
  /** Draws the chains' samples (default: the global generator). */
  generator?: Generator;
}

/**
 * Samples 0/1 with probability p, elementwise, from Philox (u < p, u uniform on [0, 1)); on images in
 * [0, 1], the binarization by sampling of Salakhutdinov & Murray's MNIST.
 */
export function bernoulli(p: Tensor, generator?: Generator): Tensor {
  return noGrad(() => rand(p.shape, { generator, backend: p.backend }).lt(p));
}

/**
 * A Bernoulli restricted Boltzmann machine (Hinton 2002, 2010) on binary images [n, 784]: trained by
 * CD-k or persistent CD with SGD and momentum (the update is the statistics' difference, not a back-prop
 * gradient), evaluated by annealed importance sampling of log Z (Salakhutdinov & Murray 2008).
 * forward(v) is p(h = 1 | v), the features.
 *
 * @example
 * ```ts
 * import { RBM } from 'wgpu-gen/models';
 * const rbm = new RBM({ hidden: 500, k: 1 });
 * const noise = new Generator(2);
 * // x [n, 784] in [0, 1], binarized inside by sampling; returns [rec, free-energy gap]
 * for (const { x } of loader) rbm.trainStep({ x }, noise).dispose();
 * ```
 */
export class RBM extends Module implements Trainable {
  readonly lossNames = ['rec', 'free_energy_gap'] as const;
  readonly W: Tensor;
  readonly vbias: Tensor;
  readonly hbias: Tensor;
  readonly k: number;
  readonly chain: RbmChain;
  readonly opt: SGD;
  readonly visible: number;
  readonly hidden: number;
  private readonly chains?: number;

  constructor(o: RBMOptions = {}) {
    super();
    this.visible = o.visible ?? 784;
    this.hidden = o.hidden ?? 500;
    this.k = o.k ?? 1;
    this.chain = o.chain ?? 'cd';
    if (!(Number.isInteger(this.k) && this.k >= 1)) throw new Error(`RBM: k must be a positive integer, got ${o.k}`);
    if (this.chain !== 'cd' && this.chain !== 'pcd')
      throw new Error(`RBM: chain must be 'cd' or 'pcd', got ${JSON.stringify(o.chain)}`);
    this.chains = o.chains;
    // PCD's persistent visible states, the buffer `chains` [chains, visible]: made at the first step (its
    // size is the first batch's unless `chains` says), saved in checkpoints, so that a resumed run goes on
    // from the chains the run had reached instead of new noise. Declared for CD too, which never makes
    // it, so that a PCD checkpoint loads into a CD RBM (--chain cd --allow-mismatch), its chains unused.
    this.lazyBuffer('chains', ([n, v, ...rest]) =>
      rest.length === 0 && v === this.visible && Number.isInteger(n) && n >= 1 && (o.chains ?? n) === n
        ? null
        : `PCD's chains are [${o.chains ?? 'n'}, ${this.visible}]`,
    );
    const b = { backend: o.backend };
    // The guide's section 8: W from N(0, 0.01), biases 0.
    this.W = this.param('W', normal([this.visible, this.hidden], 0, 0.01, { generator: o.generator, ...b }));
    this.vbias = this.param('vbias', zeros([this.visible], b));
    this.hbias = this.param('hbias', zeros([this.hidden], b));
    this.opt = new SGD(this.parameters(), {
      lr: o.lr ?? 0.05,
      momentum: o.momentum ?? 0.5,
      weightDecay: o.weightDecay ?? 0,
    });
  }

  optimizers(): Optimizer[] {
    return [this.opt];
  }

  /** The hidden units' probabilities p(h = 1 | v) of images v [n, visible] (the features). */
  forward(v: Tensor): Tensor {
    return this.hiddenProb(v.reshape([v.shape[0], this.visible]));
  }

  /** p(h = 1 | v), [n, hidden]. */
  hiddenProb(v: Tensor): Tensor {
    return v.matmul(this.W).add(this.hbias).sigmoid();
  }

  /** p(v = 1 | h), [n, visible]. */
  visibleProb(h: Tensor): Tensor {
    return h.matmul(this.W.t()).add(this.vbias).sigmoid();
  }

  /** F(v) = -b.v - sum_j softplus(c_j + (v W)_j), [n]. */
  freeEnergy(v: Tensor): Tensor {
    return v.mul(this.vbias).sum(1).add(v.matmul(this.W).add(this.hbias).softplus().sum(1)).neg();
  }

  /** k steps of block Gibbs sampling from visible states v: the last v and p(h | v) there. */
  gibbs(v: Tensor, k: number, generator?: Generator): { v: Tensor; ph: Tensor } {
    return noGrad(() => {
      // Each step's temporaries are freed as it ends: a long chain (the CLI's 1,000-step samples) holds
      // two states at a time, not all of them until the caller's scope closes.
      let x = v;
      for (let s = 0; s < k; s++) {
        const next = tidy(() => bernoulli(this.visibleProb(bernoulli(this.hiddenProb(x), generator)), generator));
        if (x !== v) x.dispose();
        x = next;
      }
      return { v: x, ph: this.hiddenProb(x) };
    });
  }

  /**
   * The negative log-likelihood gradient's estimate by the chain (CD-k or PCD) for a batch of binary v0,
   * as the parameters' gradients: -(<v h>_data - <v h>_chain) / n and the biases' alike. Returns the
   * chain's end and the mean squared reconstruction error of one Gibbs step (a monitor, not the objective).
   */
  cdGradients(v0: Tensor, noise?: Generator): { vk: Tensor; rec: Tensor } {
    return noGrad(() => {
      const n = v0.shape[0];
      const ph0 = this.hiddenProb(v0);
      let start = v0;
      const persistent =
        this.chain === 'pcd'
          ? (this.bufferOf('chains') ??
            this.buffer(
              'chains',
              bernoulli(full([this.chains ?? n, this.visible], 0.5, { backend: v0.backend }), noise),
            ))
          : null;
      if (persistent) start = persistent;
      const { v: vk, ph: phk } = this.gibbs(start, this.k, noise);
      const m = vk.shape[0];
      // Kept past the step's scope, as backward()'s gradients are (zeroGrad frees them).
      this.W.grad = keep(
        v0
          .t()
          .matmul(ph0)
          .mul(-1 / n)
          .add(
            vk
              .t()
              .matmul(phk)
              .mul(1 / m),
          ),
      );
      this.vbias.grad = keep(v0.mean(0).sub(vk.mean(0)).neg());
      this.hbias.grad = keep(ph0.mean(0).sub(phk.mean(0)).neg());
      const rec = this.visibleProb(ph0).sub(v0).square().sum(1).mean();
      if (!persistent) return { vk, rec };
      // The chains continue from here next step (the assign may take vk's storage: read the state).
      assignInPlace(persistent, vk);
      return { vk: persistent, rec };
    });
  }

  /**
   * One CD-k or PCD update on images x [n, visible] in [0, 1], binarized by sampling each pixel with its
   * intensity (binary images stay as they are); returns [rec, F(v0) - F(vk) mean].
   */
  trainStep({ x }: TrainBatch, noise: Generator): Tensor {
    return tidy(() => {
      const v0 = bernoulli(x.reshape([x.shape[0], this.visible]), noise);
      this.opt.zeroGrad();
      const { vk, rec } = this.cdGradients(v0, noise);
      const gap = noGrad(() => this.freeEnergy(v0).mean().sub(this.freeEnergy(vk).mean()));
      this.opt.step();
      return noGrad(() => stack([rec, gap]));
    });
  }

  /**
   * The first `count` hidden units' weights as images (row-major [count, visible]), each scaled to [0, 1]
   * by its own range: what each unit detects (the CLI's filters.png, the page's filter grid).
   */
  async filters(count = 64): Promise<Float32Array> {
    const W = await this.W.toArray(),
      H = this.hidden,
      V = this.visible,
      c = Math.min(count, H);
    const out = new Float32Array(c * V);
    for (let j = 0; j < c; j++) {
      let lo = Infinity,
        hi = -Infinity;
      for (let i = 0; i < V; i++) [lo, hi] = [Math.min(lo, W[i * H + j]), Math.max(hi, W[i * H + j])];
      for (let i = 0; i < V; i++) out[j * V + i] = (W[i * H + j] - lo) / (hi - lo || 1);
    }
    return out;
  }

  /** Images [n, visible] in [0, 1] drawn by `steps` Gibbs steps from random binary states (the last p(v | h)). */
  sample(n: number, steps: number, generator?: Generator): Tensor {
    return tidy(() =>
      noGrad(() => {
        const v0 = bernoulli(full([n, this.visible], 0.5, { backend: this.W.backend }), generator);
        const { v } = this.gibbs(v0, Math.max(0, steps - 1), generator);
        return this.visibleProb(bernoulli(this.hiddenProb(v), generator));
      }),
    );
  }

  /**
   * log Z by annealed importance sampling (see the header): the estimate, and the log-weights' spread
   * (the standard deviation of log w over the runs; a large one means too few betas).
   */
  async aisLogZ(o: AisOptions = {}): Promise<{ logZ: number; logWStd: number; betas: number; runs: number }> {
    const K = o.betas ?? 1000,
      M = o.runs ?? 100;
    if (!(Number.isInteger(K) && K >= 1 && Number.isInteger(M) && M >= 1))
      throw new Error(`RBM.aisLogZ: betas and runs must be positive integers, got ${K} and ${M}`);
    const backend = this.W.backend;
    const bA = o.baseBias ?? zeros([this.visible], { backend });
    const sA = noGrad(() => tidy(() => bA.softplus().sum()));
    const logZA = (await sA.item()) + this.hidden * Math.LN2;
    sA.dispose();
    const logWt = await (async () => {
      // F_beta(v) of the annealed model.
      const fBeta = (v: Tensor, beta: number) =>
        v
          .mul(bA)
          .sum(1)
          .mul(1 - beta)
          .add(v.mul(this.vbias).sum(1).mul(beta))
          .add(v.matmul(this.W).add(this.hbias).mul(beta).softplus().sum(1))
          .neg();
      let v = noGrad(() =>
        tidy(() => bernoulli(bA.sigmoid().reshape([1, this.visible]).broadcastTo([M, this.visible]), o.generator)),
      );
      let lw = zeros([M], { backend });
      for (let k = 1; k <= K; k++) {
        const b0 = (k - 1) / K,
          b1 = k / K;
        // A turn of the event loop every 100 betas: a long AIS stays interruptible (Ctrl-C in the CLI)
        // and a page stays responsive.
        if (k % 100 === 0) await new Promise((r) => setTimeout(r, 0));
        // One scope per beta: only the chain's state and the running log-weights outlive it (a scope
        // around the whole loop would hold every intermediate of thousands of betas at once).
        const [lwNext, vNext] = noGrad(() =>
          tidy(() => {
            const l = lw.add(fBeta(v, b0).sub(fBeta(v, b1)));
            // One Gibbs transition that leaves p_k invariant.
            const h = bernoulli(v.matmul(this.W).add(this.hbias).mul(b1).sigmoid(), o.generator);
            return [
              l,
              bernoulli(
                h
                  .matmul(this.W.t())
                  .add(this.vbias)
                  .mul(b1)
                  .add(bA.mul(1 - b1))
                  .sigmoid(),
                o.generator,
              ),
            ];
          }),
        );
        lw.dispose();
        v.dispose();
        [lw, v] = [lwNext, vNext];
      }
      v.dispose();
      return lw;
    })();
    const logW = await logWt.toArray();
    logWt.dispose();
    if (!o.baseBias) bA.dispose();
    // A loop, not Math.max(...xs): spreading 2^17 or more arguments overflows the call stack.
    const max = logW.reduce((m, w) => (w > m ? w : m), -Infinity);
    const lme = max + Math.log(logW.reduce((s, w) => s + Math.exp(w - max), 0) / M);
    const mean = logW.reduce((s, w) => s + w, 0) / M;
    const std = Math.sqrt(logW.reduce((s, w) => s + (w - mean) ** 2, 0) / M);
    return { logZ: logZA + lme, logWStd: std, betas: K, runs: M };
  }

  /** log Z by enumerating the 2^hidden hidden states (hidden <= 20), in float64 on the host. */
  async exactLogZ(): Promise<number> {
    if (this.hidden > 20)
      throw new Error(
        `RBM.exactLogZ: 2^${this.hidden} hidden states are too many to enumerate (at most 20 hidden units)`,
      );
    const [W, b, c] = await Promise.all([this.W.toArray(), this.vbias.toArray(), this.hbias.toArray()]);
    const V = this.visible,
      H = this.hidden;
    const terms: number[] = [];
    for (let mask = 0; mask < 2 ** H; mask++) {
      let t = 0;
      for (let j = 0; j < H; j++) if (mask & (1 << j)) t += c[j];
      for (let i = 0; i < V; i++) {
        let a = b[i];
        for (let j = 0; j < H; j++) if (mask & (1 << j)) a += W[i * H + j];
        t += Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
      }
      terms.push(t);
    }
    const max = terms.reduce((m, t) => (t > m ? t : m), -Infinity);
    return max + Math.log(terms.reduce((s, t) => s + Math.exp(t - max), 0));
  }

  /** Mean log p(v) in nats over binary images v [n, visible], given log Z. */
  async logLikelihood(v: Tensor, logZ: number): Promise<number> {
    const t = noGrad(() => tidy(() => this.freeEnergy(v.reshape([v.shape[0], this.visible])).mean()));
    const f = await t.item();
    t.dispose();
    return -f - logZ;
  }
}
