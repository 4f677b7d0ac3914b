// Datasets: TensorDataset and DataLoader (browser-safe), the GAN's 2-D sets (toy2d.ts), the IDX reader, MNIST and Fashion-MNIST loaders (Node), shuffled device batches.
/**
 * Data: {@link TensorDataset} and {@link DataLoader} (host datasets batched onto the device, PyTorch's
 * names), MNIST and Fashion-MNIST loaders and the IDX reader (Node), shuffled image batches, the
 * CycleGAN domains and the 2-D toy sets of the GAN.
 *
 * @example
 * ```ts
 * import { TensorDataset, DataLoader } from 'wgpu-gen/data';
 * const ds = new TensorDataset({ x: { data: points, itemShape: [2] }, y: { data: labels, itemShape: [] } });
 * for (const { x, y } of new DataLoader(ds, { batchSize: 64, seed: 1 })) trainStep(x, y);
 * ```
 * @module wgpu-gen/data
 */
export { parseIdx, readIdx, type IdxArray } from './idx.ts';
export {
  loadMnist,
  loadMnistAll,
  loadFashionMnist,
  mnistAsset,
  seededPermutation,
  MNIST_SPLIT_SEED,
  FASHION_DIR,
  type ImageSet,
  type Split,
} from './datasets.ts';
export * from './portable.ts';
