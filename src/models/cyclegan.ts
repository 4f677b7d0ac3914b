// CycleGAN (Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using Cycle-Consistent
// Adversarial Networks", ICCV 2017), scaled down for 28 x 28 grayscale images. Two generators G: X -> Y
// and F: Y -> X, two discriminators D_Y (real y vs G(x)) and D_X (real x vs F(y)), and the full objective
// of section 3.3:
//   L(G, F, D_X, D_Y) = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + lambda L_cyc(G, F),
//   L_cyc = E_x ||F(G(x)) - x||_1 + E_y ||G(F(y)) - y||_1   (section 3.2, mean absolute error per pixel).
// Section 4 (training details), followed here: least-squares GAN losses (Mao et al. 2017) by default, D's
// objective divided by 2, Adam with lr 2e-4 and betas (0.5, 0.999), lambda = 10. The optional identity
// loss of section 5.2 (E_y ||G(y) - y||_1 + E_x ||F(x) - x||_1, weighted identity * lambda) is off by
// default. Not done here: the 50-image history buffer of section 4 (the discriminators see this step's
// fakes) and reflection padding (convs zero-pad).
//
// Networks (appendix 7.2, one downsampling level instead of two for 28 x 28): the generator is
// c7s1-k, d2k (3 x 3 stride 2), R2k x resBlocks, u k (3 x 3 stride-2 transposed conv), c7s1-channels,
// tanh, with instance norm (no affine) and ReLU; convs followed by instance norm carry no bias (the norm
// removes it). The discriminator is a PatchGAN: C k (4 x 4 stride 2, leaky ReLU 0.2, no norm), C 2k (4 x 4
// stride 2, instance norm, leaky ReLU 0.2), then a 3 x 3 conv to one logit per 18 x 18 patch (a 7 x 7 grid).
//
// Scale: the public API (trainStep batches, forward, translate) takes and returns images in [0, 1];
// internally images are mapped to [-1, 1] (v -> 2v - 1) and the generators end in tanh, as the paper's.
// All losses, the cycle term included, are computed on that [-1, 1] scale (so lambda weighs them as the
// paper's does): `cyc` = 2 x (the mean absolute error in [0, 1] units).

import { Tensor, tidy } from '../tensor.ts';
import { Module } from '../nn/module.ts';
import { Conv2d, ConvTranspose2d, InstanceNorm2d, LeakyReLU, ReLU, Sequential, Tanh } from '../nn/layers.ts';
import { Adam } from '../nn/optim.ts';
import { bceWithLogits, l1, mse } from '../ops/functional.ts';
import { stack } from '../ops/movement.ts';
import { tensor } from '../ops/creation.ts';
import { noGrad } from '../autograd/engine.ts';
import type { Generator } from '../random/philox.ts';
import type { Backend } from '../backend/backend.ts';
import type { Trainable, TrainBatch } from './model.ts';

/** CycleGAN's options (the paper's training details are the defaults where they fit 28 x 28 images). */
export interface CycleGANOptions {
  /** Image channels (1 for grayscale). */
  channels?: number;
  /** Base channel count k of both networks (the paper's is 64; 16 by default here). */
  width?: number;
  /** Residual blocks in each generator (the paper's is 6 or 9 at 128+ pixels; 2 by default here). */
  resBlocks?: number;
  /** Weight of the cycle-consistency loss (section 3.3). */
  lambda?: number;
  /** Weight of the identity loss relative to lambda (section 5.2 uses 0.5); 0 = off. */
  identity?: number;
  /** The generators' Adam learning rate (default 2e-4, the paper's). */
  lr?: number;
  /** The discriminator's Adam learning rate (default: lr; TTUR, Heusel et al. 2017, gives D a larger one). */
  lrD?: number;
  /** Both Adams' betas (default [0.5, 0.999], the paper's). */
  betas?: [number, number];
  /**
   * 'lsgan' (default, section 4): D minimizes (D(y) - 1)^2 + D(G(x))^2, G minimizes (D(G(x)) - 1)^2 on D's
   * raw outputs; the paper chose it for stabler training, and its gradients do not vanish when D is sure.
   * 'bce': the original GAN's cross-entropy on logits, with G's non-saturating loss -log D(G(x)).
   */
  ganLoss?: 'lsgan' | 'bce';
  /** Draws the initial weights (PyTorch's default initializers per layer). */
  generator?: Generator;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
}

/** x + IN(conv(ReLU(IN(conv(x))))): two 3 x 3 convs keeping the shape (appendix 7.2's R block). */
export class ResBlock extends Module {
  readonly block: Sequential;
  constructor(ch: number, lo: { generator?: Generator; backend?: Backend }) {
    super();
    const conv = () => new Conv2d(ch, ch, 3, { padding: 1, bias: false, ...lo });
    this.block = this.module(
      'block',
      new Sequential(conv(), new InstanceNorm2d(ch), new ReLU(), conv(), new InstanceNorm2d(ch)),
    );
  }
  forward(x: Tensor): Tensor {
    return x.add(this.block.call(x));
  }
}

/** The generator on [-1, 1] images: [n, c, 28, 28] -> [n, c, 28, 28] (any even size works). */
export function resnetGenerator(
  c: number,
  k: number,
  blocks: number,
  lo: { generator?: Generator; backend?: Backend },
): Sequential {
  return new Sequential(
    new Conv2d(c, k, 7, { padding: 3, bias: false, ...lo }),
    new InstanceNorm2d(k),
    new ReLU(),
    new Conv2d(k, 2 * k, 3, { stride: 2, padding: 1, bias: false, ...lo }),
    new InstanceNorm2d(2 * k),
    new ReLU(),
    ...Array.from({ length: blocks }, () => new ResBlock(2 * k, lo)),
    new ConvTranspose2d(2 * k, k, 3, { stride: 2, padding: 1, outputPadding: 1, bias: false, ...lo }),
    new InstanceNorm2d(k),
    new ReLU(),
    new Conv2d(k, c, 7, { padding: 3, ...lo }),
    new Tanh(),
  );
}

/** The PatchGAN discriminator on [-1, 1] images: [n, c, 28, 28] -> logits [n, 1, 7, 7], each seeing an 18 x 18 patch. */
export function patchDiscriminator(c: number, k: number, lo: { generator?: Generator; backend?: Backend }): Sequential {
  return new Sequential(
    new Conv2d(c, k, 4, { stride: 2, padding: 1, ...lo }),
    new LeakyReLU(0.2),
    new Conv2d(k, 2 * k, 4, { stride: 2, padding: 1, bias: false, ...lo }),
    new InstanceNorm2d(2 * k),
    new LeakyReLU(0.2),
    new Conv2d(2 * k, 1, 3, { padding: 1, ...lo }),
  );
}

const toSigned = (v: Tensor) => v.mul(2).sub(1);
const toUnit = (s: Tensor) => s.add(1).mul(0.5);

/**
 * CycleGAN (Zhu, Park, Isola & Efros 2017) scaled down for 28 x 28 grayscale images: generators G: X -> Y
 * and F: Y -> X, PatchGAN discriminators D_X and D_Y, least-squares GAN losses and the cycle-consistency
 * loss weighted by lambda (10). Unpaired: trainStep takes a batch x of domain X and a batch y of domain Y,
 * images [n, channels, 28, 28] in [0, 1]; forward(x) is G(x) on the same scale.
 *
 * @example
 * ```ts
 * import { CycleGAN } from 'wgpu-gen/models';
 * const model = new CycleGAN({ width: 16, resBlocks: 2 });
 * const noise = new Generator(5);
 * const losses = model.trainStep({ x: batchX, y: batchY }, noise);  // one tensor of the lossNames terms
 * losses.dispose();
 * const translated = model.call(testX);                              // G(x), [n, 1, 28, 28] in [0, 1]
 * ```
 */
export class CycleGAN extends Module implements Trainable {
  /** X -> Y. */
  readonly G: Sequential;
  /** Y -> X. */
  readonly F: Sequential;
  /** Tells real x from F(y). */
  readonly D_X: Sequential;
  /** Tells real y from G(x). */
  readonly D_Y: Sequential;
  readonly optG: Adam;
  readonly optD: Adam;
  readonly lambda: number;
  readonly identity: number;
  readonly ganLoss: 'lsgan' | 'bce';
  readonly lossNames: readonly string[];

  constructor(o: CycleGANOptions = {}) {
    super();
    const c = o.channels ?? 1,
      k = o.width ?? 16,
      r = o.resBlocks ?? 2;
    const lo = { generator: o.generator, backend: o.backend };
    this.G = this.module('G', resnetGenerator(c, k, r, lo));
    this.F = this.module('F', resnetGenerator(c, k, r, lo));
    this.D_X = this.module('D_X', patchDiscriminator(c, k, lo));
    this.D_Y = this.module('D_Y', patchDiscriminator(c, k, lo));
    this.lambda = o.lambda ?? 10;
    this.identity = o.identity ?? 0;
    this.ganLoss = o.ganLoss ?? 'lsgan';
    this.lossNames = this.identity > 0 ? ['d', 'g_gan', 'cyc', 'idt'] : ['d', 'g_gan', 'cyc'];
    const adam = { lr: o.lr ?? 2e-4, betas: o.betas ?? ([0.5, 0.999] as [number, number]) };
    this.optG = new Adam([...this.G.parameters(), ...this.F.parameters()], adam);
    this.optD = new Adam([...this.D_X.parameters(), ...this.D_Y.parameters()], { ...adam, lr: o.lrD ?? adam.lr });
  }

  optimizers(): Adam[] {
    return [this.optG, this.optD];
  }

  /** G(x): [n, c, h, w] in [0, 1] -> [n, c, h, w] in [0, 1]. */
  forward(x: Tensor): Tensor {
    return toUnit(this.G.call(toSigned(x)));
  }

  /** x in [0, 1] -> G(x) and the cycle F(G(x)), both in [0, 1]. */
  translate(x: Tensor): { gx: Tensor; fgx: Tensor } {
    const gx = this.G.call(toSigned(x));
    return { gx: toUnit(gx), fgx: toUnit(this.F.call(gx)) };
  }

  /** y in [0, 1] -> F(y) and the cycle G(F(y)), both in [0, 1]. */
  translateBack(y: Tensor): { fy: Tensor; gfy: Tensor } {
    const fy = this.F.call(toSigned(y));
    return { fy: toUnit(fy), gfy: toUnit(this.G.call(fy)) };
  }

  /** The adversarial loss of D's output grid against a constant label (1 real, 0 fake), mean over the grid and batch. */
  private adversarial(out: Tensor, real: boolean): Tensor {
    const target = real ? out.onesLike() : out.zerosLike();
    return this.ganLoss === 'lsgan' ? mse(out, target) : bceWithLogits(out, target);
  }

  private setDiscriminatorsTrainable(flag: boolean): void {
    for (const p of this.optD.params) p.requiresGrad = flag;
  }

  /**
   * One generator update then one discriminator update (the order of the authors' implementation: the
   * discriminators then learn from the fakes this step made, detached). batch.x and batch.y are unpaired
   * [n, c, h, w] images in [0, 1]. Returns [d, g_gan, cyc(, idt)]:
   *   d     = 1/2 [L(D_Y(y), 1) + L(D_Y(G(x)), 0)] + 1/2 [L(D_X(x), 1) + L(D_X(F(y)), 0)]
   *   g_gan = L(D_Y(G(x)), 1) + L(D_X(F(y)), 1)
   *   cyc   = mean|F(G(x)) - x| + mean|G(F(y)) - y|   ([-1, 1] scale)
   *   idt   = mean|G(y) - y| + mean|F(x) - x|
   * and the generators minimize g_gan + lambda cyc (+ identity lambda idt). `noise` is unused: the step
   * draws no random numbers.
   */
  trainStep(batch: TrainBatch, _noise?: Generator): Tensor {
    if (!batch.y) throw new Error('CycleGAN.trainStep: the batch needs y, a batch of the second domain');
    const { x, y } = batch;
    return tidy(() => {
      const rx = toSigned(x),
        ry = toSigned(y);
      // Generators: the discriminators are frozen, so the backward pass leaves their gradients alone.
      this.optG.zeroGrad();
      this.setDiscriminatorsTrainable(false);
      let fakeY!: Tensor,
        fakeX!: Tensor,
        gGan!: Tensor,
        cyc!: Tensor,
        idt: Tensor | null = null;
      try {
        fakeY = this.G.call(rx);
        fakeX = this.F.call(ry);
        gGan = this.adversarial(this.D_Y.call(fakeY), true).add(this.adversarial(this.D_X.call(fakeX), true));
        cyc = l1(this.F.call(fakeY), rx).add(l1(this.G.call(fakeX), ry));
        let loss = gGan.add(cyc.mul(this.lambda));
        if (this.identity > 0) {
          idt = l1(this.G.call(ry), ry).add(l1(this.F.call(rx), rx));
          loss = loss.add(idt.mul(this.identity * this.lambda));
        }
        loss.backward();
        this.optG.step();
      } finally {
        this.setDiscriminatorsTrainable(true);
      }
      // Discriminators on real images and this step's (detached) fakes; the objective halved (section 4).
      this.optD.zeroGrad();
      const dY = this.adversarial(this.D_Y.call(ry), true).add(this.adversarial(this.D_Y.call(fakeY.detach()), false));
      const dX = this.adversarial(this.D_X.call(rx), true).add(this.adversarial(this.D_X.call(fakeX.detach()), false));
      const d = dY.add(dX).mul(0.5);
      d.backward();
      this.optD.step();
      return noGrad(() => stack([d, gGan, cyc, ...(idt ? [idt] : [])].map((t) => t.detach())));
    });
  }
}

/** Images as the data loaders hold them: n images of c x h x w values in [0, 1], row-major. */
export interface ImageArray {
  images: Float32Array;
  n: number;
  shape: [number, number, number];
}

/** What translationError() reports. */
export interface TranslationReport {
  /** Test images scored. */
  n: number;
  /** mean |G(x) - target| per pixel, [0, 1] units. */
  l1: number;
  /** mean |x - target|: the error of not translating at all. */
  baselineL1: number;
  /** l1 / baselineL1 (below 1: G moved x toward its true target). */
  ratio: number;
  /** mean |F(G(x)) - x|, [0, 1] units. */
  cycleL1: number;
}

/**
 * How well G translates when the true target of each test image is known (the dilation pair): mean L1
 * of G(x) against the target, of x against the target (the baseline), their ratio, and the cycle L1
 * |F(G(x)) - x|, in chunks of `chunk` images under noGrad, in eval mode (instance norm has no running
 * statistics, so eval changes nothing here but says what is meant).
 */
export async function translationError(
  model: CycleGAN,
  testX: ImageArray,
  targets: ImageArray,
  chunk = 200,
): Promise<TranslationReport> {
  if (targets.n !== testX.n || targets.images.length !== testX.images.length) {
    throw new Error(`translationError: ${targets.n} targets for ${testX.n} test images`);
  }
  const backend = model.G.parameters()[0].backend;
  const d = testX.shape[0] * testX.shape[1] * testX.shape[2];
  const wasTraining = model.training;
  model.eval();
  let l1Sum = 0,
    baseSum = 0,
    cycSum = 0;
  try {
    for (let s = 0; s < testX.n; s += chunk) {
      const m = Math.min(chunk, testX.n - s);
      const sums = noGrad(() =>
        tidy(() => {
          const x = tensor(testX.images.subarray(s * d, (s + m) * d), [m, ...testX.shape], { backend });
          const t = tensor(targets.images.subarray(s * d, (s + m) * d), [m, ...testX.shape], { backend });
          const { gx, fgx } = model.translate(x);
          return stack([gx.sub(t).abs().sum(), x.sub(t).abs().sum(), fgx.sub(x).abs().sum()]);
        }),
      );
      const [a, b, c] = await sums.toArray();
      sums.dispose();
      l1Sum += a;
      baseSum += b;
      cycSum += c;
    }
  } finally {
    model.train(wasTraining);
  }
  const total = testX.n * d;
  return {
    n: testX.n,
    l1: l1Sum / total,
    baselineL1: baseSum / total,
    ratio: l1Sum / baseSum,
    cycleL1: cycSum / total,
  };
}
