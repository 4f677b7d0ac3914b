// Datasets and loaders in PyTorch's manner (torch.utils.data: TensorDataset, DataLoader), over typed
// arrays on the host. Each epoch's order is a Philox permutation of (seed, epoch), so a run and its
// resumed continuation draw the same batches; each batch is copied into device tensors that the loader
// keeps and reuses (one set for full batches, one for a short last batch), so training allocates
// nothing per batch. Browser-safe.

import { Tensor, keep } from '../tensor.ts';
import { checkInt32, zeros } from '../ops/creation.ts';
import type { DType } from '../graph/types.ts';
import { getBackend } from '../backend/registry.ts';
import type { Backend } from '../backend/backend.ts';
import { fmtShape } from '../shape.ts';
import { seededPermutation } from './mnist_split.ts';

/** One field of a dataset: n items of `itemShape`, row-major (item i is data[i * size .. (i + 1) * size)). */
export interface Field {
  /** The values; an Int32Array (class labels) makes an int32 field unless `dtype` says otherwise. */
  data: Float32Array | Int32Array;
  /** The shape of one item ([] for a scalar such as a label). */
  itemShape: number[];
  /** The batch tensors' dtype (float32 by default, int32 for Int32Array data); an int32 field's values are checked once, here. */
  dtype?: DType;
}
/** A field as the dataset holds it: float32 values (an int32 field's are exact integers). */
export interface StoredField extends Field {
  /** The values as float32 (an Int32Array given to the dataset is converted). */
  data: Float32Array;
}

/**
 * A map-style dataset of named fields of equal length (PyTorch's TensorDataset): item i is row i of
 * every field, e.g. { images: [n, 1, 28, 28], labels: [n] }. The data stays on the host; a DataLoader
 * uploads it a batch at a time.
 *
 * @throws Error when the fields differ in length, data does not fill whole items, or an int32 field
 * holds a value that is not an integer within +-2^24.
 * @example
 * ```ts
 * const ds = new TensorDataset({
 *   x: { data: images, itemShape: [1, 28, 28] },   // Float32Array of n * 784
 *   y: { data: labels, itemShape: [] },            // Int32Array: an int32 field
 * });
 * ds.length;   // n
 * ```
 */
export class TensorDataset<K extends string = string> {
  /** The number of items. */
  readonly length: number;
  /** The fields by name, their data as float32. */
  readonly fields: Readonly<Record<K, StoredField>>;

  constructor(given: Record<K, Field>) {
    // Int32Array data (labels) is held as the float32 values an int32 tensor's storage has.
    const fields = Object.fromEntries(
      Object.entries(given as Record<string, Field>).map(([name, f]) => [
        name,
        f.data instanceof Int32Array ? { ...f, data: Float32Array.from(f.data), dtype: f.dtype ?? 'int32' } : f,
      ]),
    ) as Record<K, StoredField>;
    const entries = Object.entries(fields) as [K, StoredField][];
    if (!entries.length) throw new Error('TensorDataset: at least one field is needed');
    let n = -1;
    for (const [name, f] of entries) {
      const size = f.itemShape.reduce((a, c) => a * c, 1);
      if (!f.itemShape.every((d) => Number.isInteger(d) && d >= 1) || f.data.length % size !== 0) {
        throw new Error(
          `TensorDataset: field '${name}' has ${f.data.length} values, not a whole number of items of ${fmtShape(f.itemShape)}`,
        );
      }
      if (f.dtype === 'int32')
        for (let i = 0; i < f.data.length; i++) checkInt32(`TensorDataset: field '${name}'`, f.data[i], i);
      const m = f.data.length / size;
      if (n >= 0 && m !== n) throw new Error(`TensorDataset: field '${name}' has ${m} items, the others ${n}`);
      n = m;
    }
    this.length = n;
    this.fields = fields;
  }

  /** Item i: a view of each field's row. */
  item(i: number): Record<K, Float32Array> {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new Error(`TensorDataset: item ${i} is out of range (0..${this.length - 1})`);
    const out = {} as Record<K, Float32Array>;
    for (const [name, f] of Object.entries(this.fields) as [K, StoredField][]) {
      const size = f.data.length / this.length;
      out[name] = f.data.subarray(i * size, (i + 1) * size);
    }
    return out;
  }
}

/** DataLoader's options (PyTorch's DataLoader's, where they apply). */
export interface DataLoaderOptions<K extends string> {
  /** Items per batch (a positive integer). */
  batchSize: number;
  /** A new Philox permutation each epoch (default true); false: the dataset's order. */
  shuffle?: boolean;
  /** The permutations' seed (default 0). */
  seed?: number;
  /** Drop the last batch when it is short (default false, as PyTorch). */
  dropLast?: boolean;
  /**
   * Applied to each batch on the host before it is uploaded, in place (normalization, augmentation):
   * the batch's fields ([rows, ...itemShape] each) and the dataset indices of its rows.
   */
  transform?: (batch: Record<K, Float32Array>, indices: Uint32Array) => void;
  /** The backend to make the batch tensors on (default: the current one). */
  backend?: Backend;
}

/** A batch: a device tensor per field, [rows, ...itemShape]; `index` its position in the epoch. */
export type Batch<K extends string> = Record<K, Tensor> & { index: number };

/**
 * Shuffled mini-batches of a TensorDataset as device tensors (PyTorch's DataLoader). Iterating it runs
 * its next epoch; each epoch's order is a Philox permutation of (seed, epoch), so a resumed run draws
 * the same batches. The same device tensors are reused batch after batch: read or copy a batch before
 * loading the next, and dispose() the loader when done.
 *
 * @throws Error for a batch size that is not a positive integer (or larger than the dataset with dropLast).
 * @example
 * ```ts
 * import { TensorDataset, DataLoader } from 'wgpu-gen/data';
 * const loader = new DataLoader(ds, { batchSize: 64, seed: 1, dropLast: true });
 * for (let epoch = 0; epoch < 5; epoch++) {
 *   for (const { x, y } of loader) {                // x [64, 1, 28, 28], y [64] int32
 *     const loss = tidy(() => { opt.zeroGrad(); const l = F.crossEntropy(model.call(x), y); l.backward(); opt.step(); return l; });
 *     loss.dispose();
 *   }
 * }
 * loader.dispose();
 * ```
 */
export class DataLoader<K extends string = string> {
  /** Items per batch. */
  readonly batchSize: number;
  /** Whether each epoch is a new permutation. */
  readonly shuffle: boolean;
  /** The permutations' seed. */
  readonly seed: number;
  /** Whether a short last batch is dropped. */
  readonly dropLast: boolean;
  /** Batches per epoch. */
  readonly length: number;
  private readonly backend: Backend;
  private readonly transform: DataLoaderOptions<K>['transform'];
  /** Host staging and device tensors, by batch size (full, and the short last batch). */
  private readonly slots = new Map<number, { host: Record<K, Float32Array>; device: Record<K, Tensor> }>();
  private epochs = 0;
  private disposed = false;

  /**
   * @param dataset - The dataset to batch (it stays on the host).
   * @param o - batchSize (required), shuffle, seed, dropLast, transform, backend.
   */
  constructor(
    readonly dataset: TensorDataset<K>,
    o: DataLoaderOptions<K>,
  ) {
    const n = dataset.length;
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
      throw new Error(`DataLoader: batch size ${o.batchSize} must be a positive integer`);
    this.batchSize = o.batchSize;
    this.shuffle = o.shuffle ?? true;
    this.seed = o.seed ?? 0;
    this.dropLast = o.dropLast ?? false;
    if (this.dropLast && o.batchSize > n) {
      throw new Error(`DataLoader: batch size ${o.batchSize} with dropLast leaves no batch of a dataset of ${n} items`);
    }
    this.length = this.dropLast ? Math.floor(n / o.batchSize) : Math.ceil(n / o.batchSize);
    this.backend = o.backend ?? getBackend();
    this.transform = o.transform;
  }

  /** The item order of an epoch (a Philox permutation of (seed, epoch), or the identity). */
  order(epoch: number): Uint32Array {
    const n = this.dataset.length;
    return this.shuffle
      ? seededPermutation(n, (this.seed * 1000003 + epoch) >>> 0)
      : Uint32Array.from({ length: n }, (_, i) => i);
  }

  /**
   * Batch `index` of `epoch` in the loader's device tensors (the same tensors for every batch of its
   * size: read or copy them before loading the next).
   */
  load(epoch: number, index: number, order: Uint32Array = this.order(epoch)): Batch<K> {
    if (this.disposed) throw new Error('DataLoader: used after dispose()');
    if (!Number.isInteger(index) || index < 0 || index >= this.length)
      throw new Error(`DataLoader: batch ${index} is out of range (0..${this.length - 1})`);
    const start = index * this.batchSize;
    const rows = Math.min(this.batchSize, this.dataset.length - start);
    const slot = this.slot(rows);
    const indices = order.subarray(start, start + rows);
    for (const [name, f] of Object.entries(this.dataset.fields) as [K, Field][]) {
      const size = f.data.length / this.dataset.length;
      const host = slot.host[name];
      for (let r = 0; r < rows; r++) host.set(f.data.subarray(indices[r] * size, (indices[r] + 1) * size), r * size);
    }
    this.transform?.(slot.host, indices);
    for (const name of Object.keys(slot.host) as K[]) this.backend.write(slot.device[name].storage, slot.host[name]);
    return { ...slot.device, index } as Batch<K>;
  }

  /** The batches of one epoch, in its order. */
  *epoch(epoch: number): Generator<Batch<K>> {
    const order = this.order(epoch);
    for (let i = 0; i < this.length; i++) yield this.load(epoch, i, order);
  }

  /** Iterating the loader runs its next epoch (0, 1, ... as a PyTorch DataLoader reshuffles each time). */
  [Symbol.iterator](): Generator<Batch<K>> {
    return this.epoch(this.epochs++);
  }

  /** The device tensors that batches of `rows` rows are loaded into (made on first use). */
  tensors(rows = this.batchSize): Record<K, Tensor> {
    if (this.disposed) throw new Error('DataLoader: used after dispose()');
    return this.slot(rows).device;
  }

  private slot(rows: number) {
    let s = this.slots.get(rows);
    if (!s) {
      const host = {} as Record<K, Float32Array>,
        device = {} as Record<K, Tensor>;
      for (const [name, f] of Object.entries(this.dataset.fields) as [K, Field][]) {
        host[name] = new Float32Array(rows * (f.data.length / this.dataset.length));
        device[name] = keep(zeros([rows, ...f.itemShape], { backend: this.backend, dtype: f.dtype }));
      }
      s = { host, device };
      this.slots.set(rows, s);
    }
    return s;
  }

  /** Frees the device tensors. */
  dispose(): void {
    for (const s of this.slots.values()) for (const t of Object.values(s.device) as Tensor[]) t.dispose();
    this.slots.clear();
    this.disposed = true;
  }
}
