// Shuffled mini-batches. Each epoch's order is a Philox permutation (seed, epoch), and each batch is
// copied into the same two device tensors (images [B, C, H, W], labels [B]), so training allocates
// nothing per batch.

import { Tensor, keep } from '../tensor.ts';
import { zeros } from '../ops/creation.ts';
import { getBackend } from '../backend/registry.ts';
import type { Backend } from '../backend/backend.ts';
import { seededPermutation, type ImageSet } from './mnist_split.ts';

export class Batches {
  readonly images: Tensor;
  readonly labels: Tensor;
  private readonly hostImages: Float32Array;
  private readonly hostLabels: Float32Array;
  readonly perEpoch: number;

  /** Full batches only (the remainder of an epoch is dropped, as drop_last=True). */
  constructor(readonly set: ImageSet, readonly batchSize: number, readonly seed: number, backend: Backend = getBackend()) {
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > set.n) {
      throw new Error(`batches: batch size ${batchSize} must be an integer in [1, ${set.n}] for a set of ${set.n} images`);
    }
    const d = set.shape[0] * set.shape[1] * set.shape[2];
    this.images = keep(zeros([batchSize, ...set.shape], { backend }));
    this.labels = keep(zeros([batchSize], { backend }));
    this.hostImages = new Float32Array(batchSize * d);
    this.hostLabels = new Float32Array(batchSize);
    this.perEpoch = Math.floor(set.n / batchSize);
  }

  /** The permutation of an epoch. */
  order(epoch: number): Uint32Array {
    return seededPermutation(this.set.n, (this.seed * 1000003 + epoch) >>> 0);
  }

  /** Loads batch `index` of `epoch` into this.images / this.labels (the same tensors every time). */
  load(epoch: number, index: number, order = this.order(epoch)): { images: Tensor; labels: Tensor } {
    if (index < 0 || index >= this.perEpoch) throw new Error(`batches: batch ${index} is out of range (0..${this.perEpoch - 1})`);
    const d = this.hostImages.length / this.batchSize;
    for (let i = 0; i < this.batchSize; i++) {
      const k = order[index * this.batchSize + i];
      this.hostImages.set(this.set.images.subarray(k * d, k * d + d), i * d);
      this.hostLabels[i] = this.set.labels[k];
    }
    this.images.backend.write(this.images.storage, this.hostImages);
    this.labels.backend.write(this.labels.storage, this.hostLabels);
    return { images: this.images, labels: this.labels };
  }

  /** All batches of an epoch, in its shuffled order. */
  *epoch(epoch: number): Generator<{ images: Tensor; labels: Tensor; index: number }> {
    const order = this.order(epoch);
    for (let i = 0; i < this.perEpoch; i++) yield { ...this.load(epoch, i, order), index: i };
  }

  dispose(): void {
    this.images.dispose();
    this.labels.dispose();
  }
}
