// Buffer pool: freed storage (and readback staging) buffers are kept by size class and handed out again,
// so a training loop that makes the same tensors each step allocates nothing after its first step.
//
// Bounded: the pooled bytes stay under capBytes = max(floorBytes, 2 x the high-water mark of the bytes
// in use (tensors and staging)). A repeated step never frees more than that peak at once; the factor 2
// leaves room for size classes that one phase of a step frees while another uses others. A run of
// varied sizes cannot hoard memory: over the cap the least recently released buffers are destroyed
// first. A buffer still named by unsubmitted commands is not destroyed until the next submit
// (afterSubmit), since submitting a destroyed buffer is a validation error.
//
// While a recording is open (src/device/recording.ts) its arena serves tensor buffers: they belong to
// the recording until it is disposed.
//
// Out of memory: a createBuffer that throws is retried once after trimming the pool, and liveBytes
// counts a buffer only once it was created. Dawn (and browsers) report an out-of-memory createBuffer
// asynchronously, through an error scope (one per createBuffer: only a pool miss makes one, and a
// training loop misses only in its first step), after the op that asked for the buffer has returned:
// the pool then uncounts the buffer, trims itself, lowers the cap to the live bytes, and records an
// error naming the size and the op and shape it was for (src/device/site.ts).
//   Where that error is thrown, so that it is not blamed on later, unrelated ops: a tensor buffer of at
// least WATCH_BYTES (where failures happen in practice) is `unconfirmed` until its scope answers, and
// the context runs each dispatch that uses an unconfirmed buffer in a submit of its own, inside a
// validation scope, so that a failed buffer invalidates that dispatch alone, never the unrelated work
// batched around it. Once the failure is known, every use of the buffer (an op, a readback, a write)
// throws the error, and the next sync() reports it if nothing used the buffer. A dispatch that used
// the buffer before the failure was known, other than its own op writing it, computed nothing: the
// context's next check throws then (see GPUContext.isolatedFailed). A smaller buffer is not watched
// (its dispatches stay batched): its failure is the context's next error, as any asynchronous one.

import { allocationSite, describeSite } from './site.ts';

/** Size class of a request: powers of two up to 64 KiB, then steps of 1/8 of the enclosing power of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 65536) return 2 ** Math.ceil(Math.log2(b));
  const step = 2 ** (Math.floor(Math.log2(b - 1)) - 3);
  return Math.ceil(b / step) * step;
}

export interface PoolOptions {
  /** The cap never goes below this (default 64 MiB). */
  floorBytes?: number;
  /** Whether unsubmitted commands use a buffer (it may not be destroyed before they are submitted). */
  pending?: (buf: GPUBuffer) => boolean;
  /** Receives an asynchronous out-of-memory error (the context throws it at its next health check). */
  onError?: (e: Error) => void;
  /** Told of each tensor buffer just before the pool destroys it (the context's bind-group cache drops its groups). */
  onDestroy?: (buf: GPUBuffer) => void;
}

/**
 * Where tensor buffers come from while a recording is open (src/device/recording.ts): acquire gets the
 * size class and a way to take one from the pool; release returns false for buffers it does not own.
 */
export interface Arena {
  acquire(size: number, fresh: () => GPUBuffer): GPUBuffer;
  release(buf: GPUBuffer): boolean;
}

type Kind = 'tensor' | 'staging';
/** The free buffers of one kind and size, and their creation numbers, oldest last. */
interface FreeList {
  bufs: GPUBuffer[];
  ids: number[];
}
const MiB = 2 ** 20;
const fmtBytes = (b: number) => (b >= MiB ? `${(b / MiB).toFixed(1)} MiB` : `${b} bytes`);

/**
 * Fresh tensor buffers of at least this size are watched until their out-of-memory scope answers (see
 * the header). A dispatch touching 32 MiB takes ~0.1 ms even at 300 GB/s, the order of an extra submit,
 * and an allocation that small rarely fails alone.
 */
export const WATCH_BYTES = 32 * MiB;

/** What the pool knows of a watched buffer: the op (site serial) that made it, and whether it is that op's output. */
export interface Watched {
  serial: number;
  output: boolean;
}

export class BufferPool {
  /**
   * Per kind and size, the free buffers in descending order of creation: take() hands out the oldest buffer of the
   * class, so the buffers an op gets depend only on which are free, not on the order they were released
   * in, and a repeated step gets the same buffers for the same ops every time (the context's bind-group
   * cache, src/device/bindgroups.ts, then finds every group made; handing out the last released, the
   * buffers a GAN step got were permuted from step to step and a third of its groups were new each step).
   */
  private readonly free: Record<Kind, Map<number, FreeList>> = { tensor: new Map(), staging: new Map() };
  /** Each buffer's creation number (the order of `free`'s lists). */
  private readonly ids = new WeakMap<GPUBuffer, number>();
  /** Every pooled buffer -> its list in `free`, least recently released first (Map keeps insertion order). */
  private readonly lru = new Map<GPUBuffer, FreeList>();
  /** Evicted while unsubmitted commands use them: destroyed after the next submit. */
  private doomed: GPUBuffer[] = [];
  /** Tensor buffers handed out and not yet released. */
  private readonly live = new Set<GPUBuffer>();
  /** Live buffers whose creation ran out of memory (uncounted already), with the error naming them. */
  private readonly failures = new Map<GPUBuffer, Error>();
  /** Every buffer whose creation failed, live or not (for the context's late attribution). */
  private readonly failedEver = new WeakMap<GPUBuffer, Error>();
  /** Failures no use or sync() has reported yet, oldest first. */
  private unreported: Error[] = [];
  /** Watched buffers whose out-of-memory scope has not answered (see WATCH_BYTES). */
  private readonly unconfirmed = new Map<GPUBuffer, Watched>();
  /** Every watched buffer's note (kept after its scope answered). */
  private readonly watchedEver = new WeakMap<GPUBuffer, Watched>();
  /** Out-of-memory scopes not answered yet. */
  private readonly scopes = new Set<Promise<unknown>>();
  /** Bytes in tensor buffers handed out and not yet released. */
  liveBytes = 0;
  /** Bytes in buffers (tensor and staging) waiting in the pool. */
  pooledBytes = 0;
  /** Bytes in staging buffers handed out (a readback in flight). */
  stagingBytes = 0;
  /** High-water mark of liveBytes + stagingBytes (lowered to the bytes in use after an out-of-memory error). */
  peakBytes = 0;
  /** createBuffer calls so far (tests check that a repeated step makes none). */
  buffersCreated = 0;
  /** The cap's floor (tests lower it to exercise eviction). */
  floorBytes: number;
  /** Set while a recording is open (see Arena). */
  arena: Arena | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly limits: GPUSupportedLimits,
    private readonly opts: PoolOptions = {},
  ) {
    this.floorBytes = opts.floorBytes ?? 64 * MiB;
  }

  /** The most the pool keeps. */
  get capBytes(): number {
    return Math.max(this.floorBytes, 2 * this.peakBytes);
  }

  acquire(bytes: number, label = 'tensor'): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.limits.maxBufferSize) {
      throw new Error(`a tensor of ${bytes} bytes exceeds the adapter's maxBufferSize=${this.limits.maxBufferSize}`);
    }
    // Kernels bind whole buffers: one no kernel could bind would only fail later, at its first dispatch.
    if (size > this.limits.maxStorageBufferBindingSize) {
      throw new Error(
        `a tensor of ${bytes} bytes exceeds the adapter's maxStorageBufferBindingSize=${this.limits.maxStorageBufferBindingSize}`,
      );
    }
    if (this.arena) return this.arena.acquire(size, () => this.acquireSized(size, label));
    return this.acquireSized(size, label);
  }

  private acquireSized(size: number, label: string): GPUBuffer {
    const buf =
      this.take('tensor', size) ??
      this.create(size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label);
    this.live.add(buf);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes + this.stagingBytes);
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (this.arena?.release(buf)) return;
    this.live.delete(buf);
    if (this.failures.delete(buf)) {
      if (this.failures.size === 0) allocationSite.checks.delete(this.checkInputs);
      this.destroy(buf);
      return;
    }
    this.liveBytes -= buf.size;
    this.put('tensor', buf);
  }

  acquireStaging(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const buf =
      this.take('staging', size) ?? this.create(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'staging');
    this.stagingBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes + this.stagingBytes);
    return buf;
  }

  releaseStaging(buf: GPUBuffer): void {
    this.stagingBytes -= buf.size;
    this.put('staging', buf);
  }

  /** A staging buffer whose mapping failed: uncounted and destroyed, not pooled. */
  discardStaging(buf: GPUBuffer): void {
    this.stagingBytes -= buf.size;
    buf.destroy();
  }

  /** Destroys every pooled buffer (the live ones stay); returns the bytes freed. */
  trim(): number {
    return this.evictTo(0);
  }

  /** Destroys the buffers evicted while unsubmitted commands used them; the context calls it after a submit. */
  afterSubmit(): void {
    if (!this.doomed.length) return;
    for (const b of this.doomed) this.destroy(b);
    this.doomed = [];
  }

  /** Destroys a buffer, telling opts.onDestroy first. */
  private destroy(buf: GPUBuffer): void {
    this.opts.onDestroy?.(buf);
    buf.destroy();
  }

  private take(kind: Kind, size: number): GPUBuffer | undefined {
    const list = this.free[kind].get(size);
    if (!list?.bufs.length) return undefined;
    const buf = list.bufs.pop()!;
    list.ids.pop();
    this.lru.delete(buf);
    this.pooledBytes -= size;
    return buf;
  }

  private put(kind: Kind, buf: GPUBuffer): void {
    const size = buf.size;
    let list = this.free[kind].get(size);
    if (!list) this.free[kind].set(size, (list = { bufs: [], ids: [] }));
    // Binary search for the first older buffer (ids descend), and the buffer goes before it.
    const id = this.ids.get(buf) ?? 0,
      ids = list.ids;
    let lo = 0,
      hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid] > id) lo = mid + 1;
      else hi = mid;
    }
    if (lo === ids.length) {
      list.bufs.push(buf);
      ids.push(id);
    } else {
      list.bufs.splice(lo, 0, buf);
      ids.splice(lo, 0, id);
    }
    this.lru.set(buf, list);
    this.pooledBytes += size;
    if (this.pooledBytes > this.capBytes) this.evictTo(this.capBytes);
  }

  /** Takes a pooled buffer out of its list. */
  private unlist(list: FreeList, buf: GPUBuffer): void {
    const i = list.bufs.lastIndexOf(buf);
    list.bufs.splice(i, 1);
    list.ids.splice(i, 1);
    this.lru.delete(buf);
  }

  /** Destroys the least recently released buffers until at most `target` bytes stay pooled. */
  private evictTo(target: number): number {
    let freed = 0;
    for (const [buf, list] of this.lru) {
      if (this.pooledBytes <= target) break;
      this.unlist(list, buf);
      this.pooledBytes -= buf.size;
      freed += buf.size;
      if (this.opts.pending?.(buf)) this.doomed.push(buf);
      else this.destroy(buf);
    }
    return freed;
  }

  private create(size: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    // Named for the error the device may report later: the buffer, and the op and shape it is for.
    const what = describeSite();
    const desc: GPUBufferDescriptor = {
      label: `${label}#${this.buffersCreated}${what ? ` for ${what}` : ''}`,
      size,
      usage,
    };
    this.device.pushErrorScope('out-of-memory');
    let buf: GPUBuffer;
    try {
      try {
        buf = this.device.createBuffer(desc);
      } catch {
        const freed = this.trim();
        try {
          buf = this.device.createBuffer(desc);
        } catch (e) {
          throw new Error(
            `could not allocate a ${size}-byte buffer (${desc.label}) even after freeing ${fmtBytes(freed)} of pooled buffers ` +
              `(live: ${fmtBytes(this.liveBytes)}): ${(e as Error).message}`,
            { cause: e },
          );
        }
      }
    } finally {
      const scope = this.device.popErrorScope();
      // buf is unset only when the retry threw: nothing was counted, nothing to uncount.
      const answered: Promise<unknown> = scope.then(
        (err) => {
          this.scopes.delete(answered);
          if (buf) this.unconfirmed.delete(buf);
          if (this.unconfirmed.size === 0) allocationSite.watchers.delete(this.onOp);
          if (err && buf) this.outOfMemory(buf, err);
        },
        () => this.scopes.delete(answered),
      );
      this.scopes.add(answered);
    }
    if (size >= WATCH_BYTES && label !== 'staging') {
      const w: Watched = { serial: allocationSite.serial, output: false };
      this.unconfirmed.set(buf, w);
      this.watchedEver.set(buf, w);
      allocationSite.watchers.add(this.onOp);
    }
    this.ids.set(buf, this.buffersCreated);
    this.buffersCreated++;
    return buf;
  }

  /** After each op while a buffer is watched: the op's output storage, if watched, is marked as such. */
  private readonly onOp = (out: unknown): void => {
    const buf = (out as { buffer?: GPUBuffer } | null)?.buffer;
    const w = buf && this.watchedEver.get(buf);
    if (w && w.serial === allocationSite.serial) w.output = true;
  };

  /** Before an op allocates: an input whose allocation failed is refused, naming the op and the input. */
  private readonly checkInputs = (inputs: readonly unknown[]): void => {
    for (let i = 0; i < inputs.length; i++) {
      const buf = (inputs[i] as { buffer?: GPUBuffer } | null)?.buffer;
      const e = buf && this.failureOf(buf);
      if (e) throw new Error(`${describeSite()}: input ${i} has no memory: ${e.message}`);
    }
  };

  /** Whether any buffer is watched or failed (the context's checks cost nothing otherwise). */
  get watching(): boolean {
    return this.unconfirmed.size > 0 || this.failures.size > 0;
  }
  /** The note of a watched buffer whose scope has not answered, if it is one. */
  unconfirmedOf(buf: GPUBuffer): Watched | undefined {
    return this.unconfirmed.get(buf);
  }
  /** A watched buffer's note, answered or not. */
  watchedOf(buf: GPUBuffer): Watched | undefined {
    return this.watchedEver.get(buf);
  }
  /** The error of a live buffer whose creation failed (it counts as reported from now on). */
  failureOf(buf: GPUBuffer): Error | undefined {
    const e = this.failures.get(buf);
    if (e) this.unreported = this.unreported.filter((x) => x !== e);
    return e;
  }
  /** The error of a buffer whose creation failed, live or released (no reporting). */
  failedError(buf: GPUBuffer): Error | undefined {
    return this.failedEver.get(buf);
  }
  /** A failure reported some other way (the context's next check): sync() does not report it again. */
  markReported(e: Error): void {
    this.unreported = this.unreported.filter((x) => x !== e);
  }
  /** Resolves when every out-of-memory scope opened so far has answered. */
  async settle(): Promise<void> {
    while (this.scopes.size) await Promise.all([...this.scopes]);
  }
  /** The failures nothing has reported yet (taken: reported by the caller). */
  takeUnreported(): Error[] {
    const out = this.unreported;
    this.unreported = [];
    return out;
  }

  /** A buffer's creation ran out of memory (reported asynchronously): uncount it and free the pool. */
  private outOfMemory(buf: GPUBuffer, err: GPUError): void {
    const list = this.lru.get(buf);
    const live = !list && this.live.has(buf);
    if (list) {
      // Already released into the pool: drop it from there.
      this.unlist(list, buf);
      this.pooledBytes -= buf.size;
      this.destroy(buf);
    } else if (live) {
      // Live: uncount it now; its tensor's release destroys it.
      this.live.delete(buf);
      this.liveBytes -= buf.size;
    } // else: a staging buffer in use, or one the pool destroyed already.
    // Memory is short: keep no more than is live.
    const freed = this.trim();
    this.peakBytes = this.liveBytes + this.stagingBytes;
    const after =
      freed > 0
        ? `freed ${fmtBytes(freed)} of pooled buffers, so a retry may succeed`
        : 'nothing was pooled to free: the live tensors and this one need more memory than the device has';
    const e = new Error(
      `out of memory: a ${buf.size}-byte buffer (${buf.label}) could not be allocated (other tensors live: ${fmtBytes(this.liveBytes)}); ` +
        `${after} (${err.message.split('\n')[0]})`,
    );
    this.failedEver.set(buf, e);
    if (live) {
      this.failures.set(buf, e);
      allocationSite.checks.add(this.checkInputs);
    }
    if (this.watchedEver.has(buf)) {
      // Its dispatches ran apart: the uses and sync() report it (see the header).
      this.unreported.push(e);
    } else {
      // Batched with other work, which failed with it: the context's next check throws.
      this.opts.onError?.(e);
    }
  }
}
