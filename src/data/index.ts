// Datasets: TensorDataset and DataLoader (browser-safe), the GAN's 2-D sets (toy2d.ts), the IDX reader, MNIST and Fashion-MNIST loaders (Node), shuffled device batches.
export { parseIdx, readIdx, type IdxArray } from './idx.ts';
export { loadMnist, loadMnistAll, loadFashionMnist, mnistAsset, seededPermutation, MNIST_SPLIT_SEED, FASHION_DIR, type ImageSet, type Split } from './datasets.ts';
export { Batches } from './batches.ts';
export { toyBatch, toyScore, toyCentres, gridCentres, describeToy, TOY_DATASETS, type ToyDataset, type ToyReport } from './toy2d.ts';
export { TensorDataset, DataLoader, type Field, type StoredField, type DataLoaderOptions, type Batch } from './loader.ts';
export { dilate3x3, dilationDomains, mnistFashionDomains, type Domains } from './domains.ts';
export { encodeMnistAsset, decodeMnistAsset, loadMnistAsset } from './mnist_asset.ts';
