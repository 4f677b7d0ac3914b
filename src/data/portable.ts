// What `wgpu-gen/data` exports in the browser and in Node alike (both entries re-export this file, so an
// export added here reaches both): shuffled device batches, the GAN's 2-D sets, TensorDataset and
// DataLoader, the CycleGAN domains, and the MNIST asset codec. The dataset files are Node's
// (src/data/index.ts); the browser entry (src/data/browser.ts) adds MNIST's split over arrays a page loads.
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
