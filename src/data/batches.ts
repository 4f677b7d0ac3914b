// Shuffled mini-batches of an image set (the CLI's and the demo's loader): a DataLoader (loader.ts)
// over { images [n, C, H, W], labels [n] (int32) }, shuffled, full batches only. Each epoch's order is a
// Philox permutation (seed, epoch), and each batch is copied into the same two device tensors, so
// training allocates nothing per batch.

import type { Tensor } from '../tensor.ts';
import type { Backend } from '../backend/backend.ts';
import { getBackend } from '../backend/registry.ts';
import type { ImageSet } from './mnist_split.ts';
import { DataLoader, TensorDataset } from './loader.ts';

/**
 * Shuffled full mini-batches of an ImageSet on the device, as the CLI's and the demo's training loops
 * use them: a DataLoader over { images [n, C, H, W], labels [n] (int32) } whose every batch is copied
 * into the same two tensors (`images`, `labels`), so training allocates nothing per batch. Each epoch's
 * order is a Philox permutation of (seed, epoch).
 *
 * @example
 * ```ts
 * import { loadMnist, Batches } from 'wgpu-gen/data';
 * const { train } = loadMnist();
 * const batches = new Batches(train, 128, 1);
 * for (const { images, labels } of batches.epoch(0)) model.trainStep({ x: images, labels }, noise).dispose();
 * batches.dispose();
 * ```
 */
export class Batches {
  readonly images: Tensor;
  readonly labels: Tensor;
  readonly perEpoch: number;
  private readonly loader: DataLoader<'images' | 'labels'>;

  /** Full batches only (the remainder of an epoch is dropped, as drop_last=True). */
  constructor(
    readonly set: ImageSet,
    readonly batchSize: number,
    readonly seed: number,
    backend: Backend = getBackend(),
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > set.n) {
      throw new Error(
        `batches: batch size ${batchSize} must be an integer in [1, ${set.n}] for a set of ${set.n} images`,
      );
    }
    const dataset = new TensorDataset({
      images: { data: set.images, itemShape: [...set.shape] },
      labels: { data: Float32Array.from(set.labels), itemShape: [], dtype: 'int32' },
    });
    this.loader = new DataLoader(dataset, { batchSize, seed, shuffle: true, dropLast: true, backend });
    this.perEpoch = this.loader.length;
    ({ images: this.images, labels: this.labels } = this.loader.tensors());
  }

  /** The permutation of an epoch. */
  order(epoch: number): Uint32Array {
    return this.loader.order(epoch);
  }

  /** Loads batch `index` of `epoch` into this.images / this.labels (the same tensors every time). */
  load(epoch: number, index: number, order = this.order(epoch)): { images: Tensor; labels: Tensor } {
    if (index < 0 || index >= this.perEpoch)
      throw new Error(`batches: batch ${index} is out of range (0..${this.perEpoch - 1})`);
    const { images, labels } = this.loader.load(epoch, index, order);
    return { images, labels };
  }

  /** All batches of an epoch, in its shuffled order. */
  *epoch(epoch: number): Generator<{ images: Tensor; labels: Tensor; index: number }> {
    for (const { images, labels, index } of this.loader.epoch(epoch)) yield { images, labels, index };
  }

  /** Frees the batch tensors. */
  dispose(): void {
    this.loader.dispose();
  }
}
