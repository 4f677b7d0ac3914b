// The project's generative models and the classifier, for training from a user's own script
// (`import { MlpVAE } from 'wgpu-gen/models'`): each is a Module with its optimizers and a trainStep.
export type { Trainable, TrainBatch } from './model.ts';
export { VAE, MlpVAE, ConvVAE, type VAEOptions, type ElboTerms } from './vae.ts';
export { GAN, MlpGAN, ringBatch, ringCentres, modeCoverage, RING_STEPS, type GanOptions, type ModeReport } from './gan.ts';
export { DCGAN, type DCGANOptions } from './dcgan.ts';
export { CycleGAN, ResBlock, resnetGenerator, patchDiscriminator, translationError, type CycleGANOptions, type ImageArray, type TranslationReport } from './cyclegan.ts';
export { Classifier, accuracy, type ClassifierOptions, type ClassifierArch } from './classifier.ts';
export { gaussianStats, frechetDistance } from './frechet.ts';
export { realStats, scoreGenerator, type FeatureStats, type GeneratorScores } from './score.ts';
export { RBM, bernoulli, type RBMOptions, type AisOptions, type RbmChain } from './rbm.ts';
export { DBN, type DBNOptions } from './dbn.ts';
