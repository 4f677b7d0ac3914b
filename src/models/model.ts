// What every trainable model of src/models offers the training loops (the CLI in Node, the demo in the
// browser): a Module whose parameters hold every trained tensor (so one state_dict is one checkpoint),
// its optimizers, and one training step that returns its loss terms as one small tensor, so a loop reads
// every number of a step back with a single readback.

import type { Tensor } from '../tensor.ts';
import type { Module } from '../nn/module.ts';
import type { Optimizer } from '../nn/optim.ts';
import type { Generator } from '../random/philox.ts';

/** One training batch: images (or points) x; y the second domain's batch (CycleGAN); labels (classifier). */
export interface TrainBatch {
  /** The batch: images [n, ...] in [0, 1] (or 2-D points for the GAN). */
  x: Tensor;
  /** A batch of the second domain (CycleGAN only). */
  y?: Tensor;
  /** Class labels [n] (the classifier only). */
  labels?: Tensor;
}

/**
 * What every model of `wgpu-gen/models` offers a training loop (the CLI's, the demo's, or a user's): a
 * Module whose parameters hold every trained tensor, its optimizers, and one training step that returns
 * its loss terms as one small tensor, read back with a single readback.
 *
 * @example
 * ```ts
 * import { MlpVAE } from 'wgpu-gen/models';
 * const vae = new MlpVAE({ zDim: 20 });
 * const noise = new Generator(1);
 * for (const { x } of loader) {
 *   const terms = vae.trainStep({ x }, noise);        // [loss, rec, kl]
 *   const [loss, rec, kl] = await terms.toArray();
 *   terms.dispose();
 * }
 * ```
 */
export interface Trainable extends Module {
  /** Names of the loss terms trainStep returns, in order (e.g. ['loss', 'rec', 'kl']). */
  readonly lossNames: readonly string[];
  /** The optimizers, in a fixed order (checkpoints store their state in this order). */
  optimizers(): Optimizer[];
  /**
   * One training step (all optimizer updates of one iteration); returns the loss terms as a 1-D tensor
   * [lossNames.length]. `noise` draws every random number the step needs (z, eps), so a resumed run that
   * restores its state continues exactly.
   */
  trainStep(batch: TrainBatch, noise: Generator): Tensor;
}
