// The MNIST classifier that scores generated digits (the DCGAN's quality metric): two 3x3 convolutions
// with ReLU and 2x2 average pooling, a 128-unit hidden layer (the feature layer of the Frechet distance)
// and a 10-way linear head, trained with cross-entropy and Adam. Its features play the part Inception's
// pool features play in FID (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a
// Local Nash Equilibrium", 2017). arch 'mlp' (one hidden layer on the flat pixels, the same feature and
// head layers) is the demo page's judge: it trains there in seconds, where the conv one takes minutes on
// a software adapter.

import { Tensor, tidy } from '../tensor.ts';
import { Module } from '../nn/module.ts';
import { AvgPool2d, Conv2d, Flatten, Linear, ReLU, Sequential } from '../nn/layers.ts';
import { Adam, type Optimizer } from '../nn/optim.ts';
import { crossEntropy } from '../ops/functional.ts';
import { stack } from '../ops/movement.ts';
import { noGrad } from '../autograd/engine.ts';
import type { Generator } from '../random/philox.ts';
import type { Backend } from '../backend/backend.ts';
import type { Trainable, TrainBatch } from './model.ts';

/** The classifier's architecture: two convolutions with average pooling ('conv'), or one hidden layer ('mlp'). */
export type ClassifierArch = 'conv' | 'mlp';

/** The classifier's options. */
export interface ClassifierOptions {
  /** 'conv' (the default, the CLI's scorer) or 'mlp': 784 -> hidden -> classes. */
  arch?: ClassifierArch;
  /** Channels of the first conv (the second has twice as many); unused by 'mlp'. */
  width?: number;
  /** Units of the hidden (feature) layer (default 128). */
  hidden?: number;
  /** Classes (default 10). */
  classes?: number;
  /** Adam's learning rate (default 1e-3). */
  lr?: number;
  /** Draws the initial weights (default: the global generator). */
  generator?: Generator;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
}

/**
 * A digit classifier for 28 x 28 images in [0, 1] (MNIST, Fashion-MNIST): forward(x) gives class logits
 * [n, classes], features(x) its hidden layer (what the Frechet distance of realStats and scoreGenerator
 * is computed on); trainStep is one Adam step on the cross-entropy, returning [loss, batch accuracy].
 *
 * @example
 * ```ts
 * import { Classifier, accuracy } from 'wgpu-gen/models';
 * const clf = new Classifier({ arch: 'conv' });
 * for (const { x, labels } of batches) clf.trainStep({ x, labels }, noise).dispose();
 * clf.eval();
 * const acc = await accuracy(clf.call(testX), testLabels).item();
 * ```
 */
export class Classifier extends Module implements Trainable {
  readonly lossNames = ['loss', 'acc'] as const;
  readonly body: Sequential;
  readonly head: Linear;
  readonly opt: Adam;

  constructor(o: ClassifierOptions = {}) {
    super();
    const w = o.width ?? 32,
      h = o.hidden ?? 128;
    const lo = { generator: o.generator, backend: o.backend };
    this.body = this.module(
      'body',
      o.arch === 'mlp'
        ? new Sequential(new Flatten(), new Linear(784, h, lo), new ReLU())
        : new Sequential(
            new Conv2d(1, w, 3, { padding: 1, ...lo }),
            new ReLU(),
            new AvgPool2d(2),
            new Conv2d(w, 2 * w, 3, { padding: 1, ...lo }),
            new ReLU(),
            new AvgPool2d(2),
            new Flatten(),
            new Linear(2 * w * 7 * 7, h, lo),
            new ReLU(),
          ),
    );
    this.head = this.module('head', new Linear(h, o.classes ?? 10, lo));
    this.opt = new Adam(this.parameters(), { lr: o.lr ?? 1e-3 });
  }

  /** The feature layer (post-ReLU hidden units) for images [n, 1, 28, 28] or [n, 784] in [0, 1]. */
  features(x: Tensor): Tensor {
    return this.body.call(x.reshape([x.shape[0], 1, 28, 28]));
  }

  /** Class logits [n, classes]. */
  forward(x: Tensor): Tensor {
    return this.head.call(this.features(x));
  }

  optimizers(): Optimizer[] {
    return [this.opt];
  }

  /** One Adam step on the batch's cross-entropy; returns [loss, accuracy on the batch]. */
  trainStep({ x, labels }: TrainBatch): Tensor {
    if (!labels) throw new Error('classifier: trainStep needs labels');
    return tidy(() => {
      this.opt.zeroGrad();
      const logits = this.forward(x);
      const loss = crossEntropy(logits, labels);
      loss.backward();
      this.opt.step();
      return noGrad(() => stack([loss, accuracy(logits, labels)]));
    });
  }
}

/** Fraction of rows whose argmax equals the label. */
export function accuracy(logits: Tensor, labels: Tensor): Tensor {
  return noGrad(() => logits.argmax(1).eq(labels).mean());
}
