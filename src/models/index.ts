// The project's generative models and the classifier, for training from a user's own script
// (`import { MlpVAE } from 'wgpu-gen/models'`): each is a Module with its optimizers and a trainStep.
/**
 * The project's generative models and the digit classifier, for training from a script of one's own: each
 * is an nn.Module with its optimizers and a trainStep (see {@link Trainable}): VAEs (MLP and
 * convolutional), a GAN on 2-D points, DCGAN, CycleGAN, an RBM and a DBN, with their evaluation helpers.
 *
 * @example
 * ```ts
 * import { init, Generator } from 'wgpu-gen';
 * import { MlpVAE } from 'wgpu-gen/models';
 * await init();
 * const vae = new MlpVAE({ zDim: 20 });
 * const terms = vae.trainStep({ x: batch }, new Generator(1));   // [loss, rec, kl]
 * ```
 * @module wgpu-gen/models
 */
export type { Trainable, TrainBatch } from './model.ts';
export { VAE, MlpVAE, ConvVAE, type VAEOptions, type ElboTerms } from './vae.ts';
export {
  GAN,
  MlpGAN,
  ringBatch,
  ringCentres,
  modeCoverage,
  RING_STEPS,
  type GanOptions,
  type ModeReport,
} from './gan.ts';
export { DCGAN, type DCGANOptions } from './dcgan.ts';
export {
  CycleGAN,
  ResBlock,
  resnetGenerator,
  patchDiscriminator,
  translationError,
  type CycleGANOptions,
  type ImageArray,
  type TranslationReport,
} from './cyclegan.ts';
export { Classifier, accuracy, type ClassifierOptions, type ClassifierArch } from './classifier.ts';
export { gaussianStats, frechetDistance } from './frechet.ts';
export { realStats, scoreGenerator, type FeatureStats, type GeneratorScores } from './score.ts';
export { RBM, bernoulli, type RBMOptions, type AisOptions, type RbmChain } from './rbm.ts';
export { DBN, type DBNOptions } from './dbn.ts';
