// The demo's training images: shuffled epochs over an image set (src/data's Batches, the CLI's
// shuffles), rebuilt when the page's batch size changes.

import { Batches } from '../src/data/browser.ts';
import type { ImageSet } from '../src/data/browser.ts';
import type { Backend } from '../src/index.ts';
import type { Tensor } from '../src/index.ts';

export class ImageStream {
  private batches: Batches | null = null;
  private epoch = -1;
  private index = 0;
  private order: Uint32Array | null = null;
  constructor(
    private readonly set: ImageSet,
    private readonly seed: number,
    private readonly backend?: Backend,
  ) {}

  /** The next batch of `size` images (a device tensor reused from call to call). */
  next(size: number): Tensor {
    if (this.batches?.batchSize !== size) {
      this.batches?.dispose();
      this.batches = new Batches(this.set, size, this.seed, this.backend);
      this.index = this.batches.perEpoch; // start a fresh epoch at the new size
    }
    if (this.index >= this.batches.perEpoch) {
      this.order = this.batches.order(++this.epoch);
      this.index = 0;
    }
    return this.batches.load(this.epoch, this.index++, this.order!).images;
  }

  /**
   * Epochs finished: those begun before the current one (a batch-size change abandons the rest of an
   * epoch and starts the next), plus the current one once its last batch is out.
   */
  get epochsDone(): number {
    if (!this.batches) return 0;
    return this.epoch + (this.index >= this.batches.perEpoch ? 1 : 0);
  }

  dispose(): void {
    this.batches?.dispose();
    this.batches = null;
  }
}
