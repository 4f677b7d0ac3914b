// Kernel profiler: per-kernel count, total and median time, GFLOP/s and GB/s. With the adapter's
// 'timestamp-query' feature each dispatch runs in its own compute pass with begin/end timestamps;
// without it, each dispatch is submitted alone and timed on the CPU between successive
// onSubmittedWorkDone callbacks (coarser, includes submit overhead).
//
// Each timing is read back asynchronously. Every readback promise is handled where it is made: one that
// fails (the device destroyed by shutdown() while profiled work was in flight: Dawn rejects the mapping
// with an AbortError) must never become an unhandled rejection, even after stop() has returned; stop()
// reports such a loss as its error instead.

/** One kernel's row of a profile (profile(), formatProfile()): its dispatches' count, times and rates. */
export interface KernelStats {
  /** The kernel's name (its WGSL entry or fused label). */
  kernel: string;
  /** Dispatches timed. */
  count: number;
  /** Their total time, in milliseconds. */
  totalMs: number;
  /** The median dispatch's time, in milliseconds. */
  medianMs: number;
  /** Floating-point operations per second over the total time, in billions. */
  gflops: number;
  /** Bytes read and written per second over the total time, in billions. */
  gbps: number;
}

interface Pending {
  kernel: string;
  flops: number;
  bytes: number;
}

const QUERY_CAPACITY = 512;

export class Profiler {
  enabled = false;
  private samples = new Map<string, { times: number[]; flops: number; bytes: number }>();
  private querySet: GPUQuerySet | null = null;
  private resolveBuf: GPUBuffer | null = null;
  private inBatch: Pending[] = [];
  private readbacks: Promise<void>[] = [];
  /** The first readback that failed since start(): stop() throws it. */
  private lost: Error | null = null;
  private lastDone = 0;

  constructor(
    private readonly device: GPUDevice,
    readonly hasTimestamps: boolean,
  ) {}

  /** Whether dispatches are timed by timestamp queries (else on the CPU, one submit per dispatch). */
  usesTimestamps = false;

  start(opts: { cpuTiming?: boolean } = {}): void {
    this.enabled = true;
    this.samples.clear();
    this.lost = null;
    this.usesTimestamps = this.hasTimestamps && !opts.cpuTiming;
    if (this.usesTimestamps && !this.querySet) {
      this.querySet = this.device.createQuerySet({ label: 'profiler', type: 'timestamp', count: QUERY_CAPACITY });
      this.resolveBuf = this.device.createBuffer({
        label: 'profiler resolve',
        size: QUERY_CAPACITY * 8,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
    }
  }

  /** Timestamp writes for the next dispatch's pass, or null when timing on the CPU. */
  passTimestamps(kernel: string, flops: number, bytes: number): GPUComputePassTimestampWrites | null {
    this.inBatch.push({ kernel, flops, bytes });
    if (!this.usesTimestamps || !this.querySet) return null;
    const i = this.inBatch.length - 1;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  queryFull(): boolean {
    return this.inBatch.length * 2 >= QUERY_CAPACITY;
  }

  beforeSubmit(encoder: GPUCommandEncoder): void {
    if (!this.enabled || !this.usesTimestamps || !this.querySet || this.inBatch.length === 0) return;
    const batch = this.inBatch;
    this.inBatch = [];
    const n = batch.length * 2;
    const staging = this.device.createBuffer({
      label: 'profiler readback',
      size: n * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.querySet, 0, n, this.resolveBuf!, 0);
    encoder.copyBufferToBuffer(this.resolveBuf!, 0, staging, 0, n * 8);
    // The mapping is requested after the submit (afterSubmit): keep it until then.
    this.pendingStaging = { staging, batch };
  }

  private pendingStaging: { staging: GPUBuffer; batch: Pending[] } | null = null;

  afterSubmit(queue: GPUQueue): void {
    if (!this.enabled) return;
    if (this.pendingStaging) {
      const { staging, batch } = this.pendingStaging;
      this.pendingStaging = null;
      this.track(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigInt64Array(staging.getMappedRange());
          batch.forEach((p, i) => this.record(p, Number(t[2 * i + 1] - t[2 * i]) / 1e6));
          staging.unmap();
          staging.destroy();
        }),
      );
    } else if (!this.usesTimestamps && this.inBatch.length > 0) {
      const batch = this.inBatch;
      this.inBatch = [];
      const submitted = performance.now();
      this.track(
        queue.onSubmittedWorkDone().then(() => {
          const now = performance.now();
          const ms = now - Math.max(submitted, this.lastDone);
          this.lastDone = now;
          for (const p of batch) this.record(p, ms / batch.length);
        }),
      );
    }
  }

  /** Keeps a readback for stop(), handled now (see the header). */
  private track(readback: Promise<void>): void {
    this.readbacks.push(
      readback.catch((e: unknown) => {
        this.lost ??= e instanceof Error ? e : new Error(String(e));
      }),
    );
  }

  private record(p: Pending, ms: number): void {
    let s = this.samples.get(p.kernel);
    if (!s) this.samples.set(p.kernel, (s = { times: [], flops: 0, bytes: 0 }));
    s.times.push(Math.max(ms, 0));
    s.flops += p.flops;
    s.bytes += p.bytes;
  }

  /**
   * Waits for outstanding timings, stops profiling and returns the per-kernel table (slowest first);
   * throws if a timing could not be read back (the device destroyed meanwhile).
   */
  async stop(): Promise<KernelStats[]> {
    // Work submitted while waiting (a tuner's measurement in the background) adds readbacks: wait for
    // those too, so that none is left behind.
    while (this.readbacks.length) {
      const pending = this.readbacks;
      this.readbacks = [];
      await Promise.all(pending);
    }
    this.enabled = false;
    if (this.lost) {
      const e = this.lost;
      this.lost = null;
      throw new Error(
        `profile: kernel timings were lost (${e.name}${e.message ? `: ${e.message}` : ''}); was the device destroyed (shutdown()) before the profiled work finished?`,
      );
    }
    const rows: KernelStats[] = [];
    for (const [kernel, s] of this.samples) {
      const sorted = [...s.times].sort((a, b) => a - b);
      const total = sorted.reduce((a, b) => a + b, 0);
      const sec = total / 1e3;
      rows.push({
        kernel,
        count: sorted.length,
        totalMs: total,
        medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
        gflops: sec > 0 ? s.flops / sec / 1e9 : 0,
        gbps: sec > 0 ? s.bytes / sec / 1e9 : 0,
      });
    }
    return rows.sort((a, b) => b.totalMs - a.totalMs);
  }
}

/** The profile as a fixed-width text table. */
export function formatProfile(rows: KernelStats[]): string {
  const head = ['kernel', 'count', 'total ms', 'median ms', 'GFLOP/s', 'GB/s'];
  const body = rows.map((r) => [
    r.kernel,
    String(r.count),
    r.totalMs.toFixed(3),
    r.medianMs.toFixed(4),
    r.gflops.toFixed(2),
    r.gbps.toFixed(2),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}
