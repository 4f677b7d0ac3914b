// Tensor: a float32 n-d array on one backend, with PyTorch's names. Storage is contiguous and shared
// by reference count (reshape and detach make views of the same storage). Lifetimes are explicit:
// dispose(), or tidy(fn), which disposes every tensor made inside fn except those it returns.
// The op methods (add, matmul, sum, ...) are attached in src/ops/index.ts, each declared once there.

import type { Backend, Storage } from './backend/backend.ts';
import { fmtShape, numel } from './shape.ts';
import type { GradNode } from './autograd/engine.ts';

class StorageRef {
  refs = 1;
  constructor(readonly backend: Backend, readonly storage: Storage) {}
  release(): void {
    if (--this.refs === 0) this.backend.free(this.storage);
  }
}

let nextId = 0;
let liveTensors = 0;
const scopes: Set<Tensor>[] = [];

export class Tensor {
  readonly id = nextId++;
  readonly shape: number[];
  readonly backend: Backend;
  private ref: StorageRef | null;
  /** Whether gradients are accumulated into .grad by backward(). */
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The op that made this tensor, while its graph is alive. */
  gradFn: GradNode | null = null;
  /** Set when backward() freed this op result's gradFn: it is not a leaf, so a later backward must fail. */
  graphFreed = false;
  /** Name given by a Module to its parameters (for errors and checkpoints). */
  name?: string;

  constructor(backend: Backend, storage: Storage | StorageRef, shape: number[]) {
    this.backend = backend;
    this.shape = shape;
    if (storage instanceof StorageRef) {
      storage.refs++;
      this.ref = storage;
    } else {
      if (storage.length !== numel(shape)) {
        throw new Error(`internal: storage of ${storage.length} elements for shape ${fmtShape(shape)}`);
      }
      this.ref = new StorageRef(backend, storage);
    }
    liveTensors++;
    scopes[scopes.length - 1]?.add(this);
  }

  get storage(): Storage {
    if (!this.ref) throw new Error(`tensor #${this.id}${this.name ? ` (${this.name})` : ''} of shape ${fmtShape(this.shape)} was disposed`);
    return this.ref.storage;
  }
  /** A new tensor of another shape over the same storage (no copy). */
  viewAs(shape: number[]): Tensor {
    this.storage;
    return new Tensor(this.backend, this.ref!, shape);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  numel(): number {
    return this.size;
  }
  get isDisposed(): boolean {
    return this.ref === null;
  }
  get dtype(): 'float32' {
    return 'float32';
  }

  dispose(): void {
    if (!this.ref) return;
    this.ref.release();
    this.ref = null;
    this.gradFn = null;
    liveTensors--;
    for (const s of scopes) s.delete(this);
  }

  /** Flat row-major copy of the values. */
  async toArray(): Promise<Float32Array> {
    return this.backend.read(this.storage);
  }
  /** Nested arrays, like torch's tolist(). */
  async tolist(): Promise<unknown> {
    const flat = await this.toArray();
    const build = (d: number, off: number): unknown => {
      if (d === this.ndim) return flat[off];
      const stride = numel(this.shape.slice(d + 1));
      return Array.from({ length: this.shape[d] }, (_, i) => build(d + 1, off + i * stride));
    };
    return build(0, 0);
  }
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): tensor of shape ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return (await this.toArray())[0];
  }
  toString(): string {
    return `Tensor(shape=${fmtShape(this.shape)}, backend=${this.backend.name}${this.requiresGrad ? ', requires_grad' : ''})`;
  }
}

/** Moves a tensor out of every open tidy scope, so it outlives them. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(result: unknown, into: Set<Tensor>): void {
  if (result instanceof Tensor) into.add(result);
  else if (Array.isArray(result)) for (const r of result) collect(r, into);
  else if (result && typeof result === 'object' && Object.getPrototypeOf(result) === Object.prototype) {
    for (const v of Object.values(result)) collect(v, into);
  }
}

/**
 * Runs fn and disposes every tensor created inside it, except those it returns (a tensor, or arrays and
 * plain objects of tensors) and those passed to keep(). Works with async fn too: the scope closes when
 * the promise settles.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  const close = (result: unknown) => {
    const i = scopes.lastIndexOf(scope);
    if (i >= 0) scopes.splice(i, 1);
    const kept = new Set<Tensor>();
    collect(result, kept);
    for (const t of scope) if (!kept.has(t)) t.dispose();
    const parent = scopes[scopes.length - 1];
    if (parent) for (const t of kept) if (!t.isDisposed) parent.add(t);
  };
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => (close(r), r),
      (e) => {
        close(undefined);
        throw e;
      },
    ) as T;
  }
  close(result);
  return result;
}

export function liveTensorCount(): number {
  return liveTensors;
}
