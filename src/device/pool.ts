// Buffer pool: freed storage buffers are kept by size class and handed out again, so a training loop
// that makes the same tensors each step allocates nothing after its first step.

/** Size class of a request: powers of two up to 64 KiB, then steps of 1/8 of the enclosing power of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 65536) return 2 ** Math.ceil(Math.log2(b));
  const step = 2 ** (Math.floor(Math.log2(b - 1)) - 3);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly staging = new Map<number, GPUBuffer[]>();
  /** Bytes in buffers handed out and not yet released. */
  liveBytes = 0;
  /** Bytes in buffers waiting in the pool. */
  pooledBytes = 0;
  private counter = 0;

  constructor(private readonly device: GPUDevice, private readonly limits: GPUSupportedLimits) {}

  acquire(bytes: number, label = 'tensor'): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.limits.maxBufferSize) {
      throw new Error(`a tensor of ${bytes} bytes exceeds the adapter's maxBufferSize=${this.limits.maxBufferSize}`);
    }
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) this.pooledBytes -= size;
    else {
      buf = this.device.createBuffer({
        label: `${label}#${this.counter++}`,
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
    }
    this.liveBytes += size;
    return buf;
  }

  release(buf: GPUBuffer): void {
    this.liveBytes -= buf.size;
    this.pooledBytes += buf.size;
    let list = this.free.get(buf.size);
    if (!list) this.free.set(buf.size, (list = []));
    list.push(buf);
  }

  acquireStaging(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    return (
      this.staging.get(size)?.pop() ??
      this.device.createBuffer({ label: `staging#${this.counter++}`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    );
  }

  releaseStaging(buf: GPUBuffer): void {
    let list = this.staging.get(buf.size);
    if (!list) this.staging.set(buf.size, (list = []));
    list.push(buf);
  }

  /** Frees every pooled buffer (the live ones stay). */
  trim(): void {
    for (const list of [...this.free.values(), ...this.staging.values()]) for (const b of list) b.destroy();
    this.free.clear();
    this.staging.clear();
    this.pooledBytes = 0;
  }
}
