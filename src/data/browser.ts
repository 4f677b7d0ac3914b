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
export { Batches } from './batches.ts';
export {
  toyBatch,
  toyScore,
  toyCentres,
  gridCentres,
  describeToy,
  TOY_DATASETS,
  type ToyDataset,
  type ToyReport,
} from './toy2d.ts';
export {
  TensorDataset,
  DataLoader,
  type Field,
  type StoredField,
  type DataLoaderOptions,
  type Batch,
} from './loader.ts';
export { dilate3x3, dilationDomains, mnistFashionDomains, type Domains } from './domains.ts';
export { encodeMnistAsset, decodeMnistAsset, loadMnistAsset } from './mnist_asset.ts';
