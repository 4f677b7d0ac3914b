// Datasets (Node): IDX reader, MNIST and Fashion-MNIST loaders, shuffled device batches.
export { parseIdx, readIdx, type IdxArray } from './idx.ts';
export { loadMnist, loadMnistAll, loadFashionMnist, seededPermutation, MNIST_SPLIT_SEED, FASHION_DIR, type ImageSet, type Split } from './datasets.ts';
export { Batches } from './batches.ts';
export { dilate3x3, dilationDomains, mnistFashionDomains, type Domains } from './domains.ts';
