// The WebGPU execution context: pipelines (cached by kernel + override constants), the buffer pool,
// batching of dispatches into one compute pass per submit, a uniform arena, readback, limit checks,
// error and device-loss handling (the pool's asynchronous out-of-memory reports included: a dispatch, write
// or readback of a buffer whose allocation is not confirmed yet runs in a submit of its own, see pool.ts),
// emptyCache(), the eager path's cached bind groups (bindgroups.ts),
// the hooks of the kernel profiler, and recordings of dispatches for compiled steps (recording.ts:
// beginRecording/endRecording, patchRecording for per-call uniforms, replay).
//
// Readback in Node: Dawn answers a pending mapAsync by polling its device on every event-loop turn, so
// a readback right after a replay whose measured GPU time is long sleeps most of it first (read()).
//
// Grids past maxComputeWorkgroupsPerDimension (65,535 on most adapters): a 1-D problem is folded over y
// and z by grid() (kernels read their index with common.wgsl's flat_index or flat_group). A kernel with
// a 2-D or 3-D grid of tiles (the GEMM cores, Winograd's transforms) decodes its tile from flat_group
// (common.wgsl's unflatten), so its dispatch says `flatGroups` and a grid past the limit is refolded
// here as a 1-D one of as many workgroups; within the limit the grid is dispatched as it is and the
// decoded tile is the workgroup id. Either way the dispatch a recording keeps (and replays) is already
// within the limit. The limit is read from `limits`, which ContextOptions.limits can lower (tests reach
// these paths at small sizes).
//
// Ordering: all work goes through one queue. Dispatches are recorded into a pending command encoder and
// submitted at flush(); a queue.writeBuffer into a buffer that a pending dispatch uses would run before
// that dispatch, so such a write flushes first. A buffer freed while pending work still reads it may be
// reused by later dispatches: they are ordered after it in the same pass or a later submit. One the pool
// evicts while pending work names it is destroyed only after that work's submit (pool.afterSubmit).

import { acquireDevice, type AcquireOptions, type Acquired } from './gpu.ts';
import { loadKernelSources, type KernelName } from './shaders.ts';
import { BufferPool } from './pool.ts';
import { allocationSite, describeSite } from './site.ts';
import { Profiler } from './profiler.ts';
import { Recording } from './recording.ts';
import { phaseClock } from './phases.ts';
import { BindGroupCache } from './bindgroups.ts';

export interface ContextOptions extends AcquireOptions {
  /**
   * Effective limits below the device's (a value above the device's is ignored): dispatches are checked
   * and folded against these. Tests lower maxComputeWorkgroupsPerDimension to run the past-the-limit
   * paths on small problems.
   */
  limits?: { maxComputeWorkgroupsPerDimension?: number };
}

export interface DispatchSpec {
  kernel: KernelName;
  /** Generated WGSL appended to the kernel's source (the kernel then is a library, e.g. fused_ops). */
  source?: string;
  /** Name in the profile and in error messages (default: the kernel), e.g. 'unary:exp'. */
  label?: string;
  constants?: Record<string, number | boolean>;
  /** Storage buffers in binding order (0..n-1); the uniform block, if any, takes binding n. */
  buffers: GPUBuffer[];
  /** Uniform block contents (u32/f32 words), padded to 16 bytes. */
  uniforms?: ArrayBuffer;
  workgroups: [number, number?, number?];
  /**
   * The kernel finds its cell of the grid from its flat workgroup index (common.wgsl's
   * unflatten(flat_group(...))), so a grid with a dimension past maxComputeWorkgroupsPerDimension is
   * refolded as a 1-D one of x * y * z workgroups (grid()) rather than refused.
   */
  flatGroups?: boolean;
  /** Floating-point operations and bytes moved, for the profiler's GFLOP/s and GB/s. */
  flops?: number;
  bytes?: number;
}

const UNIFORM_ARENA_BYTES = 1 << 20;
const UNIFORM_ALIGN = 256;
const CAPTURE_QUERIES = 256;
/** A replay's encoder and pass descriptor, made once (a replay makes no object it can reuse). */
const REPLAY_LABEL = { label: 'replay' } as const;
/** read(): a replay shorter than this (a GPU's, usually) is waited for as Dawn waits, by polling; a sleep is at most READ_SLEEP_MAX_MS. */
const READ_SLEEP_MIN_MS = 20,
  READ_SLEEP_MAX_MS = 2000;

export class GPUContext {
  readonly device: GPUDevice;
  readonly description: string;
  readonly isSoftware: boolean;
  readonly limits: GPUSupportedLimits;
  readonly hasTimestamps: boolean;
  readonly pool: BufferPool;
  readonly profiler: Profiler;
  /** Prefixed to dispatch labels (the tuner marks its trial runs 'tune:'). */
  labelPrefix = '';
  /** Print the WGSL of a kernel whose pipeline fails (env WGPU_DEBUG=1). */
  debug = false;

  private readonly acquired: Acquired;
  private readonly sources: Map<KernelName, string>;
  private readonly modules = new Map<KernelName, GPUShaderModule>();
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** The pipeline last set on `pass`. */
  private passPipeline: GPUComputePipeline | null = null;
  private pendingUse = new Set<GPUBuffer>();
  /**
   * The eager path's bind groups, kept per layout and buffers with their uniform slots (bindgroups.ts;
   * tests and the bench read its counts).
   */
  readonly bindGroups: BindGroupCache;
  private readonly uniformCpu = new Uint8Array(UNIFORM_ARENA_BYTES);
  private uniformGpu: GPUBuffer;
  private uniformUsed = 0;
  private error: Error | null = null;
  private lostReason: string | null = null;
  private lastKernels: string[] = [];
  /**
   * The last replay submitted, while nothing but readback copies was submitted after it: a readback then
   * waits for that replay, whose GPU time past calls measured (see read()).
   */
  private replayMark: { rec: Recording; at: number } | null = null;
  /**
   * Whether read() sleeps through a long replay rather than poll: in Node, where Dawn polls (a browser
   * waits for the GPU process's answer, with no busy thread to spare); bench/sleep_read.ts turns it off
   * to compare.
   */
  readSleep = typeof process !== 'undefined' && !!process.versions?.node;
  /** Set while read() submits its copy alone (which keeps replayMark). */
  private copyOnlyFlush = false;
  /** While timeGpu() runs: the query set its dispatches write their timestamps to. */
  private capture: { querySet: GPUQuerySet; count: number } | null = null;
  /** The open recording (src/device/recording.ts), or the one being patched. */
  private recording: Recording | null = null;
  /** Set while guardAllocations() runs a dispatch apart. */
  private isolating = false;
  /** The validation scopes of dispatches and copies run apart, until each has answered (and been judged). */
  private readonly guards = new Set<Promise<void>>();

  private constructor(acq: Acquired, sources: Map<KernelName, string>, lower: ContextOptions['limits'] = {}) {
    this.acquired = acq;
    this.device = acq.device;
    this.description = acq.description;
    this.isSoftware = acq.isSoftware;
    this.limits = lowerLimits(acq.device.limits, lower);
    this.hasTimestamps = acq.device.features.has('timestamp-query');
    this.sources = sources;
    this.pool = new BufferPool(this.device, this.limits, {
      pending: (b) => this.pendingUse.has(b),
      // An out-of-memory allocation is the root cause of what fails after it: its message comes first.
      onError: (e) => {
        this.error = this.error ? new Error(`${e.message}; then: ${this.error.message}`) : e;
      },
      onDestroy: (b) => this.bindGroups.forget(b),
    });
    this.bindGroups = new BindGroupCache(this.device);
    this.profiler = new Profiler(this.device, this.hasTimestamps);
    this.uniformGpu = this.newUniformArena();
    this.debug = typeof process !== 'undefined' && process.env?.WGPU_DEBUG === '1';
    this.device.addEventListener('uncapturederror', (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message;
      this.error ??= new Error(`WebGPU error (recent kernels: ${this.lastKernels.join(', ')}): ${msg}`);
    });
    this.device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  static async create(opts: ContextOptions = {}): Promise<GPUContext> {
    const [acq, sources] = await Promise.all([acquireDevice(opts), loadKernelSources()]);
    return new GPUContext(acq, sources, opts.limits);
  }

  private newUniformArena(): GPUBuffer {
    return this.device.createBuffer({
      label: 'uniform arena',
      size: UNIFORM_ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** Throws the first asynchronous WebGPU error or the device loss, if any happened. */
  checkHealthy(): void {
    if (this.lostReason)
      throw new Error(`WebGPU device lost (${this.lostReason}); tensors on it are gone, re-create the backend`);
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw e;
    }
  }

  private module(kernel: KernelName): GPUShaderModule {
    let m = this.modules.get(kernel);
    if (!m) {
      const code = this.sources.get(kernel);
      if (!code) throw new Error(`unknown kernel '${kernel}'`);
      m = this.device.createShaderModule({ label: kernel, code });
      if (this.debug) {
        m.getCompilationInfo().then((info) => {
          if (info.messages.some((x) => x.type === 'error')) {
            console.error(`[wgpu-gen] WGSL of failing kernel ${kernel}:\n${code}`);
            for (const x of info.messages) console.error(`${x.type} ${x.lineNum}:${x.linePos} ${x.message}`);
          }
        });
      }
      this.modules.set(kernel, m);
    }
    return m;
  }

  /** The navigator.gpu object the device came from (Dawn's instance in Node). */
  get gpu(): GPU {
    return this.acquired.gpu;
  }

  /** Compiles every kernel module and throws, with the WGSL line, on the first compile error. */
  async validateKernels(): Promise<void> {
    for (const kernel of this.sources.keys()) {
      // A library for generated epilogues compiles only with its generated part: the cores are checked
      // here with their own io files, and with generated ones by the fused-matmul tests.
      if (kernel.startsWith('epilogue_') || kernel.startsWith('optim_')) continue;
      const info = await this.module(kernel).getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length) {
        throw new Error(
          `kernel ${kernel} does not compile: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`,
        );
      }
    }
  }

  pipeline(kernel: KernelName, constants: Record<string, number | boolean> = {}) {
    // The key `kernel|A=1,B=2`, built without the arrays of Object.entries (this runs on every dispatch).
    let key = kernel + '|',
      sep = '';
    for (const k in constants) {
      key += sep + k + '=' + constants[k];
      sep = ',';
    }
    let p = this.pipelines.get(key);
    if (!p) {
      const consts: Record<string, number> = {};
      for (const [k, v] of Object.entries(constants)) consts[k] = typeof v === 'boolean' ? Number(v) : v;
      const pipeline = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module: this.module(kernel), entryPoint: 'main', constants: consts },
      });
      p = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** The pipeline of a generated kernel: `library`'s source then `code`, cached by the text and constants. */
  private generatedPipeline(
    library: KernelName,
    code: string,
    label: string,
    constants: Record<string, number | boolean> = {},
  ) {
    const key = `${library}|${Object.entries(constants)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}|${code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const full = `${this.sources.get(library)}\n${code}`;
      const module = this.device.createShaderModule({ label, code: full });
      if (this.debug) {
        module.getCompilationInfo().then((info) => {
          if (info.messages.some((x) => x.type === 'error')) {
            console.error(`[wgpu-gen] WGSL of failing generated kernel ${label}:\n${code}`);
            for (const x of info.messages) console.error(`${x.type} ${x.lineNum}:${x.linePos} ${x.message}`);
          }
        });
      }
      const consts: Record<string, number> = {};
      for (const [k, v] of Object.entries(constants)) consts[k] = typeof v === 'boolean' ? Number(v) : v;
      const pipeline = this.device.createComputePipeline({
        label,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: consts },
      });
      p = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Checks a dispatch against the device's limits, naming the kernel and the limit on failure; the grid
   * of a flatGroups kernel past the limit is refolded (in place in `groups`).
   */
  private checkLimits(spec: DispatchSpec, groups: [number, number, number]): void {
    const maxG = this.limits.maxComputeWorkgroupsPerDimension;
    let refold = false;
    for (let i = 0; i < 3; i++) {
      const g = groups[i];
      if (!Number.isInteger(g) || g < 0) throw new Error(`kernel ${spec.kernel}: invalid workgroup count ${g}`);
      if (g > maxG) {
        if (!spec.flatGroups) {
          throw new Error(
            `kernel ${spec.kernel}: ${g} workgroups in dimension ${'xyz'[i]} exceed maxComputeWorkgroupsPerDimension=${maxG}`,
          );
        }
        refold = true;
      }
    }
    if (refold) {
      const total = groups[0] * groups[1] * groups[2];
      const folded = this.grid(total);
      if (folded[2] > maxG)
        throw new Error(
          `kernel ${spec.kernel}: ${total} workgroups exceed maxComputeWorkgroupsPerDimension^3 (${maxG}^3)`,
        );
      groups.splice(0, 3, ...folded);
    }
  }

  /**
   * Checks a dispatch's bindings against maxStorageBufferBindingSize, where a bind group is made for them
   * (a cached group's buffers were checked when it was made: a buffer's size does not change).
   */
  private readonly checkBindings = (spec: DispatchSpec): void => {
    for (const b of spec.buffers) {
      if (b.size > this.limits.maxStorageBufferBindingSize) {
        throw new Error(
          `kernel ${spec.kernel}: a ${b.size}-byte binding exceeds maxStorageBufferBindingSize=${this.limits.maxStorageBufferBindingSize}`,
        );
      }
    }
  };

  /**
   * Workgroup grid for a 1-D problem of `count` workgroups, folded into y, then z, past the
   * per-dimension limit (x * y * z >= count; the kernel bounds-checks its flat_index).
   */
  grid(count: number): [number, number, number] {
    const maxG = this.limits.maxComputeWorkgroupsPerDimension;
    if (count <= maxG) return [Math.max(count, 1), 1, 1];
    const z = Math.ceil(count / (maxG * maxG));
    const plane = Math.ceil(count / z);
    const y = Math.ceil(plane / maxG);
    return [Math.ceil(plane / y), y, z];
  }

  dispatch(spec: DispatchSpec): void {
    const rec = this.recording;
    const groups: [number, number, number] = [spec.workgroups[0], spec.workgroups[1] ?? 1, spec.workgroups[2] ?? 1];
    if (rec?.isPatching) {
      // Only the uniform bytes change; an empty dispatch was not recorded either.
      if (groups[0] * groups[1] * groups[2] > 0) rec.record(null as never, spec.uniforms);
      return;
    }
    this.checkHealthy();
    // A buffer that could not be allocated, or may not have been (src/device/pool.ts's header).
    if (!rec && this.pool.watching && this.guardAllocations(spec)) return;
    if (this.labelPrefix) spec = { ...spec, label: this.labelPrefix + (spec.label ?? spec.kernel) };
    this.checkLimits(spec, groups);
    if (groups[0] * groups[1] * groups[2] === 0) return;
    const { pipeline, layout } = spec.source
      ? this.generatedPipeline(spec.kernel, spec.source, spec.label ?? spec.kernel, spec.constants)
      : this.pipeline(spec.kernel, spec.constants);
    const label = spec.label ?? spec.kernel;
    if (rec) {
      this.checkBindings(spec);
      return rec.record(
        { pipeline, layout, buffers: spec.buffers, groups, label, flops: spec.flops ?? 0, bytes: spec.bytes ?? 0 },
        spec.uniforms,
      );
    }
    let bindGroup = this.bindGroups.lookup(layout, spec, this.checkBindings);
    if (!bindGroup && this.bindGroups.full) {
      // No room for another group: submit what uses the cached ones, and start over.
      this.flush();
      this.bindGroups.reset();
      bindGroup = this.bindGroups.lookup(layout, spec, this.checkBindings);
    }
    // Pending work uses the cached group with other uniform bytes: a group of its own, in the arena.
    bindGroup ??= this.arenaBindGroup(spec, layout);
    this.encode(pipeline, bindGroup, groups, label, spec.flops ?? 0, spec.bytes ?? 0);
    for (const b of spec.buffers) this.pendingUse.add(b);
    this.lastKernels.push(label);
    if (this.lastKernels.length > 4) this.lastKernels.shift();
  }

  /** A bind group for one dispatch, its uniform block in the per-submit arena. */
  private arenaBindGroup(spec: DispatchSpec, layout: GPUBindGroupLayout): GPUBindGroup {
    this.checkBindings(spec);
    const entries: GPUBindGroupEntry[] = spec.buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
    if (spec.uniforms) {
      if (this.uniformUsed + UNIFORM_ALIGN > UNIFORM_ARENA_BYTES) this.flush();
      const off = this.uniformUsed;
      this.uniformCpu.set(new Uint8Array(spec.uniforms), off);
      this.uniformUsed += Math.ceil(spec.uniforms.byteLength / UNIFORM_ALIGN) * UNIFORM_ALIGN;
      entries.push({
        binding: spec.buffers.length,
        resource: { buffer: this.uniformGpu, offset: off, size: spec.uniforms.byteLength },
      });
    }
    return this.device.createBindGroup({ label: spec.kernel, layout, entries });
  }

  /** Encodes one dispatch into the pending encoder (its own timed pass while profiling or in timeGpu). */
  private encode(
    pipeline: GPUComputePipeline,
    bindGroup: GPUBindGroup,
    groups: [number, number, number],
    label: string,
    flops: number,
    bytes: number,
  ): void {
    this.encoder ??= this.device.createCommandEncoder({ label: 'batch' });
    let prof = this.profiler.enabled ? this.profiler.passTimestamps(label, flops, bytes) : null;
    if (this.capture) {
      if (this.capture.count * 2 + 2 > CAPTURE_QUERIES)
        throw new Error(`timeGpu: more than ${CAPTURE_QUERIES / 2} dispatches`);
      const i = this.capture.count++;
      prof = { querySet: this.capture.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
    }
    if (prof || this.profiler.enabled) {
      // One pass per dispatch so each gets its own timestamps.
      this.endPass();
      const pass = this.encoder.beginComputePass({ label, timestampWrites: prof ?? undefined });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...groups);
      pass.end();
    } else {
      if (!this.pass) {
        this.pass = this.encoder.beginComputePass({ label: 'batch' });
        this.passPipeline = null;
      }
      // A pass keeps its pipeline: set only when it changes.
      if (pipeline !== this.passPipeline) this.pass.setPipeline((this.passPipeline = pipeline));
      this.pass.setBindGroup(0, bindGroup);
      this.pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    }
    if (this.profiler.enabled && (!this.profiler.usesTimestamps || this.profiler.queryFull())) this.flush();
  }

  // ---- recordings (src/device/recording.ts) ----

  /** Opens a recording: until endRecording(), dispatches are recorded and buffers come from it. */
  beginRecording(): Recording {
    if (this.recording) throw new Error('internal: a recording is already open');
    this.checkHealthy();
    this.flush();
    const rec = new Recording();
    this.recording = rec;
    this.pool.arena = rec;
    return rec;
  }

  /** Closes the open recording: its uniform buffer and bind groups are made (`inputs`: see Recording). */
  endRecording(rec: Recording, inputs: GPUBuffer[]): void {
    if (this.recording !== rec) throw new Error('internal: not the open recording');
    this.recording = null;
    this.pool.arena = null;
    if (!rec.ended) rec.end(this.device, inputs);
  }

  /** Abandons the open recording after an error: its buffers go back to the pool. */
  abortRecording(rec: Recording): void {
    if (this.recording === rec) {
      this.recording = null;
      this.pool.arena = null;
    }
    rec.ended = true;
    this.disposeRecording(rec);
  }

  /** Runs `run` (backend calls of graph op `op`) against a closed recording, refreshing that op's uniforms. */
  patchRecording(rec: Recording, op: number, run: () => void): void {
    if (this.recording) throw new Error('internal: patch while a recording is open');
    this.recording = rec;
    this.pool.arena = rec;
    try {
      rec.patch(op, run);
    } finally {
      this.recording = null;
      this.pool.arena = null;
    }
  }

  /**
   * Replays a closed recording on the input buffers `inputs` (rebound where they differ from the
   * recorded ones): every recorded dispatch, then the copies `out` (src, dst, bytes), in one submit after
   * the work already pending.
   */
  replay(rec: Recording, inputs: GPUBuffer[], out: [GPUBuffer, GPUBuffer, number][]): void {
    this.checkHealthy();
    this.flush();
    for (let k = 0; k < inputs.length; k++) if (inputs[k] !== rec.inputs[k]) rec.rebind(this.device, k, inputs[k]);
    rec.flushPatches(this.device.queue);
    phaseClock?.mark('upload');
    const enc = (this.encoder = this.device.createCommandEncoder(REPLAY_LABEL));
    const ds = rec.dispatches;
    if (this.profiler.enabled || this.capture) {
      for (const d of ds) this.encode(d.pipeline, d.bindGroup!, d.groups, d.label, d.flops, d.bytes);
    } else if (ds.length) {
      // The tight loop: no per-dispatch allocation, a pipeline set only when it changes.
      const pass = enc.beginComputePass(REPLAY_LABEL);
      let last: GPUComputePipeline | null = null;
      for (let i = 0; i < ds.length; i++) {
        const d = ds[i];
        if (d.pipeline !== last) pass.setPipeline((last = d.pipeline));
        pass.setBindGroup(0, d.bindGroup!);
        pass.dispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2]);
      }
      pass.end();
    }
    phaseClock?.mark('encode');
    this.encoder ??= this.device.createCommandEncoder(REPLAY_LABEL);
    this.endPass();
    for (const [src, dst, bytes] of out) if (bytes) this.encoder.copyBufferToBuffer(src, 0, dst, 0, bytes);
    this.lastKernels = [rec.errorLabel];
    this.flush();
    this.replayMark = { rec, at: performance.now() };
  }

  /** Releases a recording's buffers to the pool. */
  disposeRecording(rec: Recording): void {
    for (const b of rec.owned) this.pool.release(b);
    rec.owned.clear();
    rec.uniformGpu?.destroy();
    rec.uniformGpu = null;
  }

  /** Notes a kernel choice that was the tuner's guess, if a recording is open (it may be re-recorded later). */
  noteGuess(key: string, variant: string): void {
    if (this.recording && !this.recording.isPatching) this.recording.guesses.set(key, variant);
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Submits all pending work. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniformGpu, 0, this.uniformCpu, 0, this.uniformUsed);
    }
    this.bindGroups.upload(this.device.queue);
    this.profiler.beforeSubmit(this.encoder);
    const commands = this.encoder.finish();
    phaseClock?.mark('finish');
    this.device.queue.submit([commands]);
    phaseClock?.mark('submit');
    this.profiler.afterSubmit(this.device.queue);
    this.encoder = null;
    this.uniformUsed = 0;
    this.pendingUse.clear();
    this.pool.afterSubmit();
    if (!this.copyOnlyFlush) this.replayMark = null;
  }

  /** Destroys every pooled buffer, after submitting pending work; returns the bytes freed (torch.cuda.empty_cache). */
  emptyCache(): number {
    this.flush();
    return this.pool.trim();
  }

  /** Uploads data into a buffer, after flushing if pending work still uses that buffer. */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    if (this.recording) throw new Error('internal: a buffer write while recording dispatches');
    this.checkHealthy();
    const watched = this.pool.watching && this.guardBuffer('writing into', buffer);
    if (this.pendingUse.has(buffer)) this.flush();
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    // writeBuffer needs a multiple of 4 bytes.
    this.device.queue.writeBuffer(buffer, byteOffset, bytes, 0, bytes.byteLength & ~3);
    if (watched) this.endGuard('a write', buffer);
  }

  /** Reads `bytes` bytes of a buffer back to the CPU. */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    if (this.recording) throw new Error('internal: a readback while recording dispatches');
    this.checkHealthy();
    const watched = this.pool.watching && this.guardBuffer('reading back', buffer);
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.pool.acquireStaging(size);
    const copyOnly = !this.encoder;
    this.encoder ??= this.device.createCommandEncoder({ label: 'batch' });
    this.endPass();
    this.encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
    this.copyOnlyFlush = copyOnly;
    this.flush();
    this.copyOnlyFlush = false;
    if (watched) this.endGuard('a readback', buffer);
    // Dawn in Node answers a pending mapAsync by polling its device on every turn of the event loop, a
    // core kept busy until the work is done; on SwiftShader that core is one the "GPU" needs (a 2-core
    // machine trained 1.18x-1.48x slower, bench/sleep_read.ts). A readback right after a replay whose GPU time is known to be long
    // (over READ_SLEEP_MIN_MS: a software adapter's, or a large model's) first sleeps most of that time.
    const mark = this.replayMark;
    if (mark && this.readSleep && mark.rec.latencyMs > READ_SLEEP_MIN_MS) {
      const wait = 0.8 * mark.rec.latencyMs - (performance.now() - mark.at);
      if (wait > 1) await new Promise((r) => setTimeout(r, Math.min(wait, READ_SLEEP_MAX_MS)));
    }
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
      // The replay's GPU time (an average: a sleep too long shortens the next one).
      if (mark) {
        const ms = performance.now() - mark.at;
        mark.rec.latencyMs = mark.rec.latencyMs ? 0.7 * mark.rec.latencyMs + 0.3 * ms : ms;
      }
    } catch (e) {
      this.pool.discardStaging(staging);
      this.checkHealthy();
      throw new Error(`reading a ${bytes}-byte buffer back failed: ${(e as Error).message}`, { cause: e });
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.pool.releaseStaging(staging);
    if (watched || this.guards.size) {
      // The copy ran apart: if the buffer turned out not to exist, nothing was copied. And a dispatch
      // run apart before it may have read such a buffer: its error is thrown here, at the latest.
      await this.settleGuards();
      if (watched) this.guardBuffer('reading back', buffer);
    }
    this.checkHealthy();
    return out;
  }

  /**
   * GPU time in ms of the dispatches that fn (synchronous) issues, from timestamp queries: other work
   * on the queue does not count, so the tuner can measure while the program runs. Without the
   * 'timestamp-query' feature it is the wall time until the queue drains (other work included).
   */
  async timeGpu(fn: () => void): Promise<number> {
    if (!this.hasTimestamps || (this.profiler.enabled && !this.profiler.usesTimestamps)) {
      await this.sync();
      const t0 = performance.now();
      fn();
      await this.sync();
      return performance.now() - t0;
    }
    this.flush();
    const querySet = this.device.createQuerySet({ label: 'timeGpu', type: 'timestamp', count: CAPTURE_QUERIES });
    const capture = { querySet, count: 0 };
    this.capture = capture;
    try {
      fn();
    } finally {
      this.capture = null;
    }
    return this.resolveTimes(querySet, capture.count * 2);
  }

  private async resolveTimes(querySet: GPUQuerySet, n: number): Promise<number> {
    const resolve = this.device.createBuffer({
      label: 'timeGpu resolve',
      size: Math.max(n, 2) * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const staging = this.device.createBuffer({
      label: 'timeGpu readback',
      size: Math.max(n, 2) * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.encoder ??= this.device.createCommandEncoder({ label: 'batch' });
    this.endPass();
    if (n > 0) {
      this.encoder.resolveQuerySet(querySet, 0, n, resolve, 0);
      this.encoder.copyBufferToBuffer(resolve, 0, staging, 0, n * 8);
    }
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const t = new BigInt64Array(staging.getMappedRange());
    let total = 0;
    for (let i = 0; i < n; i += 2) total += Number(t[i + 1] - t[i]) / 1e6;
    staging.unmap();
    for (const b of [staging, resolve]) b.destroy();
    querySet.destroy();
    this.checkHealthy();
    return total;
  }

  /** Resolves when the queue has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    // An allocation's out-of-memory report may still be on its way: wait for it.
    await this.settleGuards();
    this.checkHealthy();
    const failed = this.pool.takeUnreported();
    if (failed.length)
      throw new Error(
        `${failed[0].message}${failed.length > 1 ? ` (and ${failed.length - 1} more allocations failed)` : ''}`,
      );
  }

  // ---- allocations the device could not make (src/device/pool.ts's header: what is watched, and why) ----

  /**
   * Throws for an eager dispatch that uses a buffer whose allocation failed; runs one that uses a buffer
   * not confirmed yet in a submit of its own, inside a validation scope (true: done), so that a failure
   * loses that dispatch alone and its errors come here rather than to the uncaptured-error handler.
   */
  private guardAllocations(spec: DispatchSpec): boolean {
    if (this.isolating) return false;
    let unconfirmed = false;
    for (const b of spec.buffers) {
      const e = this.pool.failureOf(b);
      if (e)
        throw new Error(
          `${describeSite() || `kernel ${spec.label ?? spec.kernel}`}: an operand's buffer could not be allocated: ${e.message}`,
        );
      if (this.pool.unconfirmedOf(b)) unconfirmed = true;
    }
    if (!unconfirmed) return false;
    const serial = allocationSite.serial,
      label = spec.label ?? spec.kernel;
    this.flush();
    this.device.pushErrorScope('validation');
    this.isolating = true;
    try {
      this.dispatch(spec);
      this.flush();
    } finally {
      this.isolating = false;
      this.guard(
        this.device
          .popErrorScope()
          .then((err) => (err ? this.isolatedFailed(label, spec.buffers, serial, err) : undefined)),
      );
    }
    return true;
  }

  /** Keeps a guard's promise until it settles (never rejecting: a failed pop means the device is gone). */
  private guard(p: Promise<void>): void {
    const g: Promise<void> = p.catch(() => undefined).finally(() => this.guards.delete(g));
    this.guards.add(g);
  }

  /** Resolves when every out-of-memory report and every guard's verdict so far is in. */
  private async settleGuards(): Promise<void> {
    await this.pool.settle();
    while (this.guards.size) await Promise.all([...this.guards]);
  }

  /**
   * A dispatch run apart failed validation. When every failed buffer it used is the output of the op
   * that issued it (randn's own buffer), the failure is that allocation's: its uses and sync() report
   * it. Otherwise the dispatch computed nothing that later work can rely on (an op read the buffer
   * before its failure was known, or its scratch failed): the next check throws.
   */
  private async isolatedFailed(label: string, buffers: GPUBuffer[], serial: number, err: GPUError): Promise<void> {
    await this.pool.settle();
    const failed = buffers.filter((b) => this.pool.failedError(b));
    const own = (b: GPUBuffer) => {
      const w = this.pool.watchedOf(b);
      return !!w && w.output && w.serial === serial;
    };
    if (failed.length && failed.every(own)) return;
    const cause = failed.length ? this.pool.failedError(failed.find((b) => !own(b))!)! : null;
    if (cause) this.pool.markReported(cause);
    this.error ??= cause
      ? new Error(
          `kernel ${label} did not run: a buffer it used could not be allocated, which was not known yet: ${cause.message}`,
        )
      : new Error(`WebGPU error (kernel ${label}): ${err.message}`);
  }

  /** For a write or readback: throws if the buffer's allocation failed; opens a scope if it is not confirmed (true). */
  private guardBuffer(what: string, buffer: GPUBuffer): boolean {
    const e = this.pool.failureOf(buffer);
    if (e) throw new Error(`${what} a ${buffer.size}-byte buffer: it could not be allocated: ${e.message}`);
    if (!this.pool.unconfirmedOf(buffer)) return false;
    this.flush();
    this.device.pushErrorScope('validation');
    return true;
  }

  /** Closes guardBuffer()'s scope: an error there is the allocation's if it failed, else the context's. */
  private endGuard(what: string, buffer: GPUBuffer): void {
    this.guard(
      this.device.popErrorScope().then(async (err) => {
        if (!err) return;
        await this.pool.settle();
        if (!this.pool.failedError(buffer)) this.error ??= new Error(`WebGPU error (${what}): ${err.message}`);
      }),
    );
  }

  /** Destroys the device and lets Node exit. */
  destroy(): void {
    this.flush();
    this.pool.trim();
    this.uniformGpu.destroy();
    this.bindGroups.destroy();
    this.device.destroy();
    this.acquired.release();
  }
}

/** The device's limits, or a copy with some lowered (ContextOptions.limits). */
function lowerLimits(device: GPUSupportedLimits, lower: NonNullable<ContextOptions['limits']>): GPUSupportedLimits {
  const entries = Object.entries(lower).filter(
    ([k, v]) => v !== undefined && v < (device as unknown as Record<string, number>)[k],
  );
  if (!entries.length) return device;
  const copy: Record<string, number> = {};
  // WebIDL attributes are enumerable getters on the prototype (in browsers and in Dawn's Node binding).
  for (const k in device) copy[k] = (device as unknown as Record<string, number>)[k];
  for (const [k, v] of entries) copy[k] = v!;
  return Object.freeze(copy) as unknown as GPUSupportedLimits;
}
