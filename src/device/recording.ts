// A recording of dispatches for replay (the WebGPU side of src/graph/program.ts). While a recording is
// open, GPUContext.dispatch records each dispatch (pipeline, storage buffers, uniform bytes, workgroup
// grid) instead of encoding it, and the buffer pool hands out the recording's own buffers: a buffer
// released while recording goes back to the recording's free list and serves a later acquire of its
// size class, so the recording's buffers are the step's memory plan (at most the live bytes at its
// peak, in last-use order). At the end the uniform blocks are laid out in one buffer and every bind
// group is created, once; a replay then only sets pipelines and bind groups and dispatches.
//
// Inputs: the call's input tensors are bound directly, not copied: the kernels that read input k hold its
// buffer in their bind groups, and a call with another buffer there rebinds those (rebind), so a loop
// that feeds the same tensors every step (the data loaders write each batch into the same storage)
// replays with no copy and no new bind group.
//
// Per-call data: patch(op, run) runs the backend calls of graph op `op` again with new params; their
// dispatches write their uniform bytes over the recorded ones (and their acquires get the recorded
// buffers back), so random counters and optimizer step counts change per call while every bind group
// stays the same; patchTail writes an optimizer update's params, or a random draw's counter, straight
// into its kernel's block, with no backend call (the kernel's WGSL is not made again). Source of the idea: TinyJit
// (tinygrad/engine/jit.py) replays captured kernel calls;
// Burn's wgpu "software graph" pre-resolves pipelines, bind groups and uniforms.

import type { Arena } from './pool.ts';

export interface RecordedDispatch {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  buffers: GPUBuffer[];
  /** Offset and size of the uniform block in the recording's uniform buffer (size 0: none). */
  uniformOffset: number;
  uniformSize: number;
  groups: [number, number, number];
  label: string;
  flops: number;
  bytes: number;
  bindGroup: GPUBindGroup | null;
}

const UNIFORM_ALIGN = 256;

export class Recording implements Arena {
  readonly dispatches: RecordedDispatch[] = [];
  /** Every buffer the recording acquired (it owns them until dispose()). */
  readonly owned = new Set<GPUBuffer>();
  /** Kernel choices made while recording that were the tuner's guesses (shape class -> variant). */
  readonly guesses = new Map<string, string>();
  private readonly free = new Map<number, GPUBuffer[]>();
  private uniforms = new Uint8Array(64 * 1024);
  private uniformUsed = 0;
  uniformGpu: GPUBuffer | null = null;
  /** Graph op of the backend calls being recorded, and each op's first dispatch and acquired buffers. */
  private op = -1;
  private readonly opDispatches = new Map<number, [number, number]>();
  private readonly opBuffers = new Map<number, GPUBuffer[]>();
  /** While patch() runs: the op's next dispatch and next buffer. */
  private patching: { op: number; dispatch: number; end: number; buffer: number } | null = null;
  private dirtyLo = Infinity;
  private dirtyHi = 0;
  ended = false;
  /** The buffers bound as the inputs, and where each is bound: [dispatch, binding] pairs. */
  inputs: GPUBuffer[] = [];
  private inputRefs: [number, number][][] = [];

  /** The backend calls from now on belong to graph op i. */
  setOp(i: number): void {
    this.op = i;
  }

  // ---- the pool's arena (src/device/pool.ts) ----

  acquire(size: number, fresh: () => GPUBuffer): GPUBuffer {
    if (this.patching) {
      const list = this.opBuffers.get(this.patching.op) ?? [];
      const b = list[this.patching.buffer++];
      if (!b || b.size !== size)
        throw new Error('internal: a patched op acquired other buffers than when it was recorded');
      return b;
    }
    if (this.ended) throw new Error('internal: acquire on a closed recording');
    const b = this.free.get(size)?.pop() ?? fresh();
    this.owned.add(b);
    let list = this.opBuffers.get(this.op);
    if (!list) this.opBuffers.set(this.op, (list = []));
    list.push(b);
    return b;
  }

  release(buf: GPUBuffer): boolean {
    if (this.patching) return true;
    if (!this.owned.has(buf)) return false;
    let list = this.free.get(buf.size);
    if (!list) this.free.set(buf.size, (list = []));
    list.push(buf);
    return true;
  }

  // ---- dispatches ----

  record(
    d: Omit<RecordedDispatch, 'uniformOffset' | 'uniformSize' | 'bindGroup'>,
    uniforms: ArrayBuffer | undefined,
  ): void {
    if (this.patching) {
      const p = this.patching;
      if (p.dispatch >= p.end)
        throw new Error('internal: a patched op dispatched more kernels than when it was recorded');
      const rd = this.dispatches[p.dispatch++];
      if (uniforms) {
        if (uniforms.byteLength !== rd.uniformSize)
          throw new Error('internal: a patched dispatch has another uniform size');
        this.uniforms.set(new Uint8Array(uniforms), rd.uniformOffset);
        this.dirtyLo = Math.min(this.dirtyLo, rd.uniformOffset);
        this.dirtyHi = Math.max(this.dirtyHi, rd.uniformOffset + rd.uniformSize);
      }
      return;
    }
    if (this.ended) throw new Error('internal: dispatch on a closed recording');
    let uniformOffset = 0,
      uniformSize = 0;
    if (uniforms) {
      uniformOffset = this.uniformUsed;
      uniformSize = uniforms.byteLength;
      const need = uniformOffset + Math.ceil(uniformSize / UNIFORM_ALIGN) * UNIFORM_ALIGN;
      if (need > this.uniforms.length) {
        const grown = new Uint8Array(Math.max(need, this.uniforms.length * 2));
        grown.set(this.uniforms);
        this.uniforms = grown;
      }
      this.uniforms.set(new Uint8Array(uniforms), uniformOffset);
      this.uniformUsed = need;
    }
    const span = this.opDispatches.get(this.op);
    if (span && span[1] !== this.dispatches.length)
      throw new Error('internal: the dispatches of one graph op are not consecutive');
    this.opDispatches.set(this.op, [span ? span[0] : this.dispatches.length, this.dispatches.length + 1]);
    this.dispatches.push({ ...d, uniformOffset, uniformSize, bindGroup: null });
  }

  /** From the replay's submit until a readback after it completed, ms: a running average (GPUContext.read). */
  latencyMs = 0;
  /** What an error during a replay names as the recent kernels. */
  errorLabel = '';

  /** Lays out the uniform buffer and creates every bind group; `inputs` are the buffers bound as inputs. */
  end(device: GPUDevice, inputs: GPUBuffer[]): void {
    this.ended = true;
    this.errorLabel = `a compiled step's replay (${this.dispatches.length} dispatches)`;
    this.inputs = [...inputs];
    this.inputRefs = inputs.map((buf) => {
      const refs: [number, number][] = [];
      this.dispatches.forEach((d, i) => d.buffers.forEach((b, j) => b === buf && refs.push([i, j])));
      return refs;
    });
    this.words = new Uint32Array(this.uniforms.buffer);
    this.floats = new Float32Array(this.uniforms.buffer);
    this.uniformGpu = device.createBuffer({
      label: 'recorded uniforms',
      size: Math.max(this.uniformUsed, UNIFORM_ALIGN),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    if (this.uniformUsed) device.queue.writeBuffer(this.uniformGpu, 0, this.uniforms, 0, this.uniformUsed);
    for (const d of this.dispatches) this.bindGroup(device, d);
  }

  /** Binds input k to another buffer: the bind groups of the kernels that read it are made again. */
  rebind(device: GPUDevice, k: number, buf: GPUBuffer): void {
    this.inputs[k] = buf;
    const dirty = new Set<number>();
    for (const [i, j] of this.inputRefs[k]) {
      this.dispatches[i].buffers[j] = buf;
      dirty.add(i);
    }
    for (const i of dirty) this.bindGroup(device, this.dispatches[i]);
  }

  private bindGroup(device: GPUDevice, d: RecordedDispatch): void {
    const entries: GPUBindGroupEntry[] = d.buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
    if (d.uniformSize)
      entries.push({
        binding: d.buffers.length,
        resource: { buffer: this.uniformGpu!, offset: d.uniformOffset, size: d.uniformSize },
      });
    d.bindGroup = device.createBindGroup({ label: d.label, layout: d.layout, entries });
  }

  /** Runs graph op `op`'s backend calls again (run) to write new uniform bytes over its dispatches'. */
  patch(op: number, run: () => void): void {
    const span = this.opDispatches.get(op) ?? [0, 0];
    this.patching = { op, dispatch: span[0], end: span[1], buffer: 0 };
    try {
      run();
      if (this.patching.dispatch !== span[1])
        throw new Error('internal: a patched op dispatched fewer kernels than when it was recorded');
    } finally {
      this.patching = null;
    }
  }

  /**
   * The last `bytes` bytes of the uniform block of graph op `op`'s last dispatch, as a word offset into
   * `words` and `floats`, marked to be uploaded: the fast patch of an optimizer update in a kernel's store
   * (its per-call params, step count and learning rate, are the last words of that kernel's block) or of
   * a random draw's counter, written in place by the caller with no backend call and no allocation.
   */
  patchTail(op: number, bytes: number): number {
    let at = this.tails.get(op);
    if (at === undefined) {
      const span = this.opDispatches.get(op);
      const d = span && span[1] > span[0] ? this.dispatches[span[1] - 1] : undefined;
      if (!d || d.uniformSize < bytes)
        throw new Error(`internal: op ${op} has no uniform block of ${bytes} bytes to patch`);
      at = d.uniformOffset + d.uniformSize - bytes;
      this.tails.set(op, at);
    }
    if (at < this.dirtyLo) this.dirtyLo = at;
    if (at + bytes > this.dirtyHi) this.dirtyHi = at + bytes;
    return at >> 2;
  }
  /** patchTail's byte offsets, by op. */
  private readonly tails = new Map<number, number>();
  /** The uniform bytes as words (views made once the recording is closed: the bytes no longer grow). */
  words = new Uint32Array(0);
  floats = new Float32Array(0);

  get isPatching(): boolean {
    return this.patching !== null;
  }

  /** Uploads the uniform bytes patched since the last replay. */
  flushPatches(queue: GPUQueue): void {
    if (this.dirtyHi > this.dirtyLo && this.uniformGpu) {
      const lo = Math.floor(this.dirtyLo / 4) * 4,
        hi = Math.ceil(this.dirtyHi / 4) * 4;
      queue.writeBuffer(this.uniformGpu, lo, this.uniforms, lo, hi - lo);
    }
    this.dirtyLo = Infinity;
    this.dirtyHi = 0;
  }
}
