// `wgpu-gen/data` in the browser: MNIST's fixed split over digit arrays a page loads itself, shuffled
// device batches, the CycleGAN domains, the GAN's 2-D sets. The Node entry (src/data/index.ts) adds the dataset files.
export {
  MNIST_SPLIT_SEED,
  seededPermutation,
  subset,
  mnistFromDigitArrays,
  splitMnist,
  type ImageSet,
  type Split,
} from './mnist_split.ts';
export * from './portable.ts';
