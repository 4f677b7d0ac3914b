// The WebGPU backend: the same kernels as the CPU reference, dispatched as the WGSL in shaders/ or, for
// every elementwise kernel, every reduction (eager or fused) and GEMM store, as the text ./fused.ts generates from the
// expression IR. Shapes and op codes travel in uniform blocks; op selection, tile shapes and transposes are override
// constants fixed at pipeline creation. No size is refused for its grid: 1-D kernels take the context's
// grid() (folded over y and z), and the kernels with grids of tiles (GEMM cores, conv, Winograd's
// transforms) dispatch with flatGroups, which the context refolds past maxComputeWorkgroupsPerDimension.

import {
  applyFuse,
  type Backend,
  type ConvKind,
  type ElementwiseKernel,
  type Fuse,
  type FusedReduce,
  type RowsReduce,
  type GpuCapability,
  type MoveOf,
  type MoveSpec,
  type Recorder,
  type Recording as BackendRecording,
  type ReduceSpec,
  type Storage,
} from '../backend.ts';
import type { Recording } from '../../device/recording.ts';
import {
  MAX_RANK,
  PAD_MODES,
  RANDOM_DISTS,
  fusedOps,
  rowOps,
  readsAll,
  reducedSize,
  type FusedOptim,
  type ConvGeom,
  type FiniteCheck,
  type FusedEpilogue,
  type FusedExpr,
  type FusedRead,
  type MatmulSpec,
  type OptimSpec,
  type RandomSpec,
} from '../kernels.ts';
import { elementwiseWgsl } from '../elementwise_table.ts';
import { GPUContext, type ContextOptions, type DispatchSpec } from '../../device/context.ts';
import { numel, collapseDims } from '../../shape.ts';
import {
  ROWS_CHUNK,
  WORKGROUP_CHUNK,
  epilogueIo,
  fusedReduceSource,
  fusedRowsSource,
  fusedSource,
  fusedValues,
  type EpilogueCore,
  type FusedReduceOptions,
} from './fused.ts';
import { KernelTuner, chooseMatmul, matmulDispatch, bucket, type MatmulVariant, type Trial } from './tuner.ts';

export class GpuStorage implements Storage {
  constructor(
    readonly buffer: GPUBuffer,
    readonly length: number,
  ) {}
}

/** Packs a uniform block: 4 header words (u32 or f32 by type), then u32 arrays of MAX_RANK each. */
export function packUniforms(header: (number | { f: number })[], arrays: number[][] = []): ArrayBuffer {
  const words = 4 + arrays.length * MAX_RANK;
  const buf = new ArrayBuffer(Math.max(16, Math.ceil(words / 4) * 16));
  const u = new Uint32Array(buf);
  let f: Float32Array | null = null;
  // Plain loops (this runs for every eager dispatch).
  for (let i = 0; i < header.length; i++) {
    const h = header[i];
    if (typeof h === 'number') u[i] = h >>> 0;
    else (f ??= new Float32Array(buf))[i] = h.f;
  }
  for (let j = 0; j < arrays.length; j++) {
    const arr = arrays[j],
      at = 4 + j * MAX_RANK;
    for (let i = 0; i < arr.length; i++) u[at + i] = arr[i] >>> 0;
  }
  return buf;
}

const WG = 256;
/** Workgroup size of im2col and col2im. */
const RUN_WG = 64;

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly description: string;
  readonly tuner: KernelTuner;
  /** This backend's device context, tuner and recorder: Backend's typed capability (runtime.ts, program.ts). */
  get gpu(): GpuCapability {
    return this;
  }

  private constructor(readonly ctx: GPUContext) {
    const others = (ctx.kernelDefaults === 'software') !== ctx.isSoftware ? ` [${ctx.kernelDefaults} defaults]` : '';
    this.description = ctx.description + (ctx.isSoftware ? ' [software]' : '') + others;
    this.tuner = new KernelTuner(ctx);
    const env = typeof process !== 'undefined' ? process.env?.WGPU_REDUCE : undefined;
    if (env && env !== 'rows' && env !== 'workgroup') throw new Error(`WGPU_REDUCE=${env}: use rows or workgroup`);
    const software = ctx.kernelDefaults === 'software';
    this.reduceVariant = (env as 'rows' | 'workgroup' | undefined) ?? (software ? 'rows' : 'workgroup');
    this.im2colVariant = software ? 'runs' : 'elements';
    this.noFlags = ctx.pool.acquire(16, 'no flags');
    this.recorder = new GpuRecorder(this);
  }

  readonly recorder: Recorder;
  /** Elementwise kernels' WGSL, profile label and op count by fusedKey (see elementwise()). */
  private readonly kernels = new Map<string, { source: string; label: string; ops: number }>();

  /** `opts.limits` lowers the device's limits (tests run the past-the-limit paths at small sizes). */
  static async create(opts: ContextOptions = {}): Promise<WebGPUBackend> {
    return new WebGPUBackend(await GPUContext.create({ ...opts, generated: elementwiseWgsl() }));
  }

  private buf(s: Storage): GPUBuffer {
    return (s as GpuStorage).buffer;
  }
  alloc(init: number | Float32Array | Float64Array): GpuStorage {
    const n = typeof init === 'number' ? init : init.length;
    const s = new GpuStorage(this.ctx.pool.acquire(Math.max(n, 1) * 4), n);
    if (typeof init !== 'number' && n)
      this.ctx.write(s.buffer, init instanceof Float32Array ? init : Float32Array.from(init));
    return s;
  }
  private checkRank(op: string, shape: number[]): void {
    if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} exceeds the maximum rank ${MAX_RANK}`);
    if (numel(shape) >= 2 ** 32) throw new Error(`${op}: ${numel(shape)} elements exceed the 32-bit index range`);
  }

  write(s: Storage, data: Float32Array): void {
    if (data.length !== s.length) throw new Error(`write: ${data.length} values for a storage of ${s.length}`);
    if (data.length) this.ctx.write(this.buf(s), data);
  }
  /** A copy of a storage's values. */
  read(s: Storage): Promise<Float32Array>;
  /** A copy of a storage's raw 32-bit words (Philox bits). */
  read(s: Storage, o: { as: 'u32' }): Promise<Uint32Array>;
  async read(s: Storage, o?: { as: 'u32' }): Promise<Float32Array | Uint32Array> {
    const bytes = s.length === 0 ? new ArrayBuffer(0) : await this.ctx.read(this.buf(s), s.length * 4);
    return o ? new Uint32Array(bytes) : new Float32Array(bytes);
  }
  free(s: Storage): void {
    this.ctx.pool.release(this.buf(s));
  }
  memory() {
    return { liveBytes: this.ctx.pool.liveBytes, pooledBytes: this.ctx.pool.pooledBytes };
  }

  /**
   * A reduction (fused.ts fusedReduceSource), eager or compiled, in the design reduceVariant names. Past
   * 4096 elements the first pass makes a partial result per chunk (256 elements an invocation, 4096 a
   * workgroup, which bounds the serial sums' rounding), and a second reduction over those applies the
   * epilogue; from 257 to 4096 elements the per-invocation kernel sums its chunks of 256 and then their
   * results itself, in one pass. argmax and argmin take one pass (partial results would need indices).
   * An eager reduction (its input alone) keeps the label reduce:<op>, and its text is cached by its
   * geometry, as an eager elementwise kernel's is.
   */
  private reduceFused({ op, expr, inputs, reads, geom, epilogue, optim, assign }: FusedReduce): Storage {
    // No outputs (a [0, 3] reduced over dim 1): nothing to run, and a kept size of 0 would divide by 0 in base_of.
    if (geom.rows === 0) return this.alloc(0);
    const perInvocation = this.reduceVariant === 'rows';
    const R = reducedSize(geom);
    const C = perInvocation ? ROWS_CHUNK : WORKGROUP_CHUNK;
    const chunks = R > WORKGROUP_CHUNK && op !== 'argmax' && op !== 'argmin' ? Math.ceil(R / C) : 1;
    const ops = [...fusedOps(expr), op, ...(epilogue ? fusedOps(epilogue.expr) : [])];
    // The reduce primitive's form: its one input as it is (rowsOf), nothing in the store.
    const plain = expr.kind === 'input' && inputs.length === 1 && !epilogue && !optim && !assign;
    const label = plain ? `reduce:${op}` : `fused:${ops.join('+')}`;
    const source = (o: FusedReduceOptions) => {
      if (!plain) return fusedReduceSource(op, expr, reads, geom, o);
      const key = `${op}:${readKey(reads[0])}:${geom.rows}:${geom.kept.join(';')}:${geom.red.join(';')}:${perInvocation}:${o.chunk}`;
      let text = this.reduceSources.get(key);
      if (text === undefined) this.reduceSources.set(key, (text = fusedReduceSource(op, expr, reads, geom, o)));
      return text;
    };
    if (chunks > 1) {
      const partial = this.alloc(geom.rows * chunks);
      this.ctx.dispatch({
        kernel: 'fused_ops',
        source: source({ perInvocation, chunk: C }),
        label: `${label}:partial`,
        buffers: [...inputs.map((s) => this.buf(s)), partial.buffer],
        uniforms: packUniforms([geom.rows * chunks]),
        workgroups: this.ctx.grid(perInvocation ? Math.ceil((geom.rows * chunks) / 64) : geom.rows * chunks),
        flops: geom.rows * R * ops.length,
        bytes: 4 * geom.rows * R * inputs.length,
      });
      const out = this.reduceFused({
        op,
        expr: { kind: 'input', k: 0 },
        inputs: [partial],
        reads: [{ div: 1, mod: geom.rows * chunks }],
        geom: { rows: geom.rows, kept: [[geom.rows, chunks]], red: [[chunks, 1]] },
        epilogue,
        optim,
        assign,
      });
      this.free(partial);
      return out;
    }
    const out = this.alloc(geom.rows);
    this.ctx.dispatch({
      kernel: optim ? 'optim_fused_ops' : 'fused_ops',
      source: source({ perInvocation, epilogue, optim: !!optim, assign: assign?.expr }),
      label: optim ? `${label}+${optim.spec.kind}` : assign ? `${label}+assign` : label,
      constants: optimConstants(optim),
      buffers: [
        ...inputs.map((s) => this.buf(s)),
        ...(epilogue?.inputs ?? []).map((s) => this.buf(s)),
        out.buffer,
        ...this.optimBuffers(optim),
        ...(assign ? [this.buf(assign.dst)] : []),
      ],
      uniforms: withOptimUniforms(packUniforms([geom.rows]), optim),
      workgroups: this.ctx.grid(perInvocation ? Math.ceil(geom.rows / 64) : geom.rows),
      flops: geom.rows * R * ops.length,
      bytes: 4 * geom.rows * R * inputs.length,
    });
    return out;
  }
  /** The text of the eager reductions' kernels, by geometry (reduceFused). */
  private readonly reduceSources = new Map<string, string>();

  /** The row form (fused.ts fusedRowsSource): the design reduceFused() would choose, in one kernel. */
  private reduceRowsChain({ stages, spill, final, inputs, reads, geom }: RowsReduce): Storage {
    const perInvocation = this.reduceVariant === 'rows';
    const R = reducedSize(geom);
    const n = geom.rows * R;
    const out = this.alloc(n);
    if (n === 0) return out;
    const ops = rowOps(stages, final, spill);
    const epilogueInputs = stages.flatMap((st) => st.epilogue?.inputs ?? []);
    this.ctx.dispatch({
      kernel: 'fused_ops',
      source: fusedRowsSource(
        stages.map((st) => ({
          expr: st.expr,
          epilogue: st.epilogue && { expr: st.epilogue.expr, reads: st.epilogue.reads },
        })),
        final,
        reads,
        geom,
        perInvocation,
        spill,
      ),
      label: `fused:rows:${[...new Set(ops)].join('+')}`,
      buffers: [...inputs, ...epilogueInputs].map((s) => this.buf(s)).concat(out.buffer),
      uniforms: packUniforms([geom.rows]),
      workgroups: this.ctx.grid(perInvocation ? Math.ceil(geom.rows / 64) : geom.rows),
      flops: n * (ops.length + 1),
      bytes: 4 * n * (inputs.length + 1),
    });
    return out;
  }

  /**
   * An elementwise kernel from the IR (fused.ts fusedSource): one op of an eager call, or a compiled
   * step's fused chain. Its op parameters and constants are uniforms, so the text depends only on the
   * expression's ops and the reads; the text and label are cached by a short key (an eager op makes
   * no string of its kernel after the first call) and the pipeline by the text.
   */
  elementwise({ expr, inputs, reads, n, out: into, optim }: ElementwiseKernel): Storage {
    if (n >= 2 ** 32) throw new Error(`elementwise: ${n} elements exceed the 32-bit index range`);
    // An optimizer step (the update of a gradient already computed) is optim.wgsl's kernel, which
    // stores nothing back to the gradient.
    if (optim && expr.kind === 'input' && into !== undefined && into === inputs[0]) {
      this.optimStep(optim.param, into, optim.s1, optim.s2, optim.spec, optim.check);
      return into;
    }
    const out = (into as GpuStorage | undefined) ?? this.alloc(n);
    const n4 = Math.ceil(n / 4);
    // Inputs that are the output itself (an in-place write) are read through its binding. (Plain loops
    // and one uniform buffer below: this runs for every eager op.)
    let output: Set<number> | undefined;
    if (into)
      for (let k = 0; k < inputs.length; k++) if (this.buf(inputs[k]) === out.buffer) (output ??= new Set()).add(k);
    const key = fusedKey(expr, reads, n, output, optim?.spec.kind, !!into);
    let k = this.kernels.get(key);
    if (k === undefined) {
      const ops = fusedOps(expr);
      // An eager op keeps its family's label in a profile (unary:exp, binary:add); a chain is fused:...
      const label =
        expr.kind === 'const'
          ? 'fill'
          : ops.length === 1 && !optim
            ? `${expr.kind}:${ops[0]}`
            : `fused:${[...ops, ...(optim ? [optim.spec.kind] : [])].join('+')}`;
      k = {
        source: fusedSource(expr, reads, n, output, !!optim),
        label: into ? `${label}:in_place` : label,
        ops: ops.length,
      };
      this.kernels.set(key, k);
    }
    const buffers: GPUBuffer[] = [];
    for (let k = 0; k < inputs.length; k++) if (!output?.has(k)) buffers.push(this.buf(inputs[k]));
    buffers.push(out.buffer);
    if (optim) buffers.push(...this.optimBuffers(optim));
    const ops = k.ops;
    this.ctx.dispatch({
      kernel: optim ? 'optim_fused_ops' : 'fused_ops',
      source: k.source,
      label: k.label,
      constants: optim ? optimConstants(optim) : NO_CONSTANTS,
      buffers,
      uniforms: elementwiseUniforms(n4, fusedValues(expr), optim),
      workgroups: this.ctx.grid(Math.ceil(n4 / WG)),
      flops: n * (ops + (optim ? 9 : 0)),
      bytes: 4 * n * (inputs.length + 1) + (optim ? 24 * n : 0),
    });
    return out;
  }

  /** A storage of n elements, all `value` (an elementwise kernel of one constant). */
  private fill(n: number, value: number): Storage {
    return this.elementwise({ expr: { kind: 'const', value }, inputs: [], reads: [], n });
  }

  /** A reduction: the fused form (reduceFused) or the row form (reduceRowsChain). */
  reduce(spec: ReduceSpec): Storage {
    return 'stages' in spec ? this.reduceRowsChain(spec) : this.reduceFused(spec);
  }

  /** 'rows' by a software adapter's defaults, 'workgroup' by a GPU's (ctx.kernelDefaults; env WGPU_REDUCE overrides). */
  reduceVariant: 'rows' | 'workgroup' = 'workgroup';
  /**
   * How im2col and col2im split their work: a run of outputs per invocation (CPU-like adapters, where
   * the index divisions per output dominated) or one output per invocation (GPUs: neighbouring
   * invocations write neighbouring addresses). Tests set it to check both.
   */
  im2colVariant: 'runs' | 'elements' = 'elements';

  move(spec: MoveSpec): Storage {
    if (spec.kind === 'copy') {
      const { shape, src, dst } = spec;
      this.checkRank('copy', shape);
      this.copyRaw(
        this.buf(src.storage),
        this.buf(dst.storage),
        shape,
        src.strides,
        src.offset,
        dst.strides,
        dst.offset,
      );
      return dst.storage;
    }
    if (spec.kind === 'pad') return this.pad(spec);
    if (spec.kind === 'cumsum') return this.cumsum(spec);
    return this.gather(spec);
  }

  /** shaders/copy_strided.wgsl: one invocation per run of 8 elements of the innermost dimension. */
  private copyRaw(
    src: GPUBuffer,
    dst: GPUBuffer,
    shape: number[],
    si: number[],
    inOff: number,
    so: number[],
    outOff: number,
  ): void {
    const n = numel(shape);
    if (n === 0) return;
    const c = collapseDims(shape, si, so);
    [shape, si, so] = [c.shape, c.strides[0], c.strides[1]];
    const sh = shape.length ? shape : [1];
    const inner = sh[sh.length - 1];
    const invocations = (n / inner) * Math.ceil(inner / 8);
    this.ctx.dispatch({
      kernel: 'copy_strided',
      buffers: [src, dst],
      constants: { RANK: sh.length },
      uniforms: packUniforms([n, sh.length, inOff, outOff], [sh, si.length ? si : [0], so.length ? so : [0]]),
      workgroups: this.ctx.grid(Math.ceil(invocations / WG)),
      bytes: 8 * n,
    });
  }

  private pad({ x, shape, before, after, mode, value }: MoveOf<'pad'>): Storage {
    this.checkRank('pad', shape);
    const outShape = shape.map((s, d) => s + before[d] + after[d]);
    const n = numel(outShape);
    const out = this.alloc(n);
    this.ctx.dispatch({
      kernel: 'pad',
      label: `pad:${mode}`,
      constants: { MODE: PAD_MODES.indexOf(mode) },
      buffers: [this.buf(x), out.buffer],
      uniforms: packUniforms([n, shape.length, { f: value }], [outShape, shape, before]),
      workgroups: this.ctx.grid(Math.ceil(n / WG)),
      bytes: 8 * n,
    });
    return out;
  }

  private gather({ kind: mode, x, index, dims: { O, D, I, K } }: MoveOf<'gather' | 'scatter_add'>): Storage {
    const n = mode === 'gather' ? O * K * I : O * D * I;
    if (n >= 2 ** 32) throw new Error(`${mode}: ${n} elements exceed the 32-bit index range`);
    const out = this.alloc(n);
    if (n === 0) return out;
    this.ctx.dispatch({
      kernel: 'gather',
      label: mode,
      constants: { MODE: mode === 'gather' ? 0 : 1 },
      buffers: [this.buf(x), this.buf(index), out.buffer],
      uniforms: new Uint32Array([n, O, D, I, K, 0, 0, 0]).buffer,
      workgroups: this.ctx.grid(Math.ceil(n / WG)),
      bytes: mode === 'gather' ? 12 * n : 4 * n + 8 * O * K * I,
    });
    return out;
  }

  private cumsum({ x, dims: { O, D, I }, reverse }: MoveOf<'cumsum'>): Storage {
    const out = this.alloc(O * D * I);
    const lines = O * I;
    if (lines === 0 || D === 0) return out;
    this.ctx.dispatch({
      kernel: 'cumsum',
      label: reverse ? 'cumsum:reverse' : 'cumsum',
      constants: { MODE: reverse ? 1 : 0 },
      buffers: [this.buf(x), out.buffer],
      uniforms: packUniforms([lines, O, D, I]),
      workgroups: this.ctx.grid(Math.ceil(lines / WG)),
      flops: O * D * I,
      bytes: 8 * O * D * I,
    });
    return out;
  }

  random(n: number, spec: RandomSpec): Storage {
    const out = this.alloc(n);
    const nblocks = Math.ceil(n / 4);
    this.ctx.dispatch({
      kernel: 'random',
      label: `random:${spec.kind}`,
      constants: { DIST: RANDOM_DISTS.indexOf(spec.kind) },
      buffers: [out.buffer],
      uniforms: randomUniforms(n, spec),
      workgroups: this.ctx.grid(Math.ceil(nblocks / WG)),
      bytes: 4 * n,
    });
    return out;
  }

  /**
   * A matmul, with `fuse` (an elementwise epilogue such as bias and activation, an optimizer update) in
   * the store of the same kernel: the variant the tuner chooses for the plain matmul, with its io file
   * generated (fused.ts, epilogueIo).
   */
  matmul(a: Storage, b: Storage, spec: MatmulSpec, fuse: Fuse = {}): Storage {
    const { epilogue, optim } = fuse;
    const out = this.alloc(spec.batch * spec.M * spec.N);
    if (out.length === 0) return out;
    if (spec.K === 0) {
      // An empty sum: C is zero, then the epilogue and the update by an elementwise kernel.
      this.free(out);
      return applyFuse(this, this.fill(out.length, 0), fuse);
    }
    this.gemmInto(this.buf(a), this.buf(b), out.buffer, spec, epilogue, optim);
    return out;
  }

  /**
   * C = A B by the adapter's best matmul variant for `spec`, with `epilogue` (and `optim`) applied in
   * its store when given: matmul()'s kernel, and the GEMM of the im2col convolution's weight gradient.
   */
  private gemmInto(
    A: GPUBuffer,
    B: GPUBuffer,
    C: GPUBuffer,
    spec: MatmulSpec,
    epilogue?: FusedEpilogue,
    optim?: FusedOptim,
    what = 'matmul',
  ): void {
    const v = chooseMatmul(this.tuner, this.ctx, spec);
    const d = matmulDispatch(v, A, B, C, spec);
    if (!epilogue) return this.ctx.dispatch(d);
    // The matmul's 8 words, then the update's 16 (OptimMatmulParams in fused.ts).
    const ops = fusedOps(epilogue.expr).length;
    const flops = d.flops! + spec.batch * spec.M * spec.N * (ops + (optim ? 10 : 0));
    this.dispatchStore({ ...d, flops }, `matmul_${v}`, what, epilogue, optim);
  }

  /**
   * A convolution, with `fuse` applied to its results: in the implicit-GEMM variants (reg, tiled, splitk)
   * in their store, every output element being written once (the input gradient's stride phases write
   * disjoint elements), in im2col's last kernel (its GEMM for the forward pass and the weight gradient,
   * col2im for the input gradient), and in Winograd's output transform.
   */
  conv(kind: ConvKind, a: Storage, b: Storage, g: ConvGeom, fuse: Fuse = {}): Storage {
    // convCore takes the weight first for the forward pass and the input gradient.
    return kind === 'conv2d_grad_weight' ? this.convCore(kind, a, b, g, fuse) : this.convCore(kind, b, a, g, fuse);
  }

  /**
   * A convolution by one of the variants, chosen per adapter and shape by measurement:
   *   reg / tiled / splitk  implicit GEMM (shaders/conv.wgsl) on that GEMM core; the input gradient
   *                         without dilation runs per stride phase (ConvPart.phase), skipping the zeros
   *   im2col                explicit patch matrix, then the adapter's best matmul (vec4 on SwiftShader)
   *   winograd              forward and input gradient, when every stride phase has at most 2x2 taps:
   *                         F(2x2, 2x2) transforms (shaders/winograd.wgsl) around one batched matmul,
   *                         9 multiplies per 2x2 output tile instead of 16
   */
  private convCore(kind: ConvKind, a: Storage, b: Storage, g: ConvGeom, fuse: Fuse): Storage {
    const out = this.alloc(convSizes(kind, g)[2]);
    if (out.length === 0) return out;
    const [M, N, K] = convGemmDims({ kind }, g);
    const eligible: MatmulVariant[] = ['reg', 'tiled'];
    if (kind === 'conv2d_grad_weight' && M * N <= 16384) eligible.push('splitk');
    const colFloats = g.C * g.KH * g.KW * g.n * g.OH * g.OW;
    const maxFloats = Math.min(1 << 26, this.ctx.limits.maxStorageBufferBindingSize / 4);
    if (colFloats <= maxFloats) eligible.push('im2col');
    if (kind !== 'conv2d_grad_weight' && winogradFits(kind, g, maxFloats)) eligible.push('winograd');
    // (Stored in checkpoints' kernel_choices: the text must not change, so the kind is conv.wgsl's MODE.)
    const sizes = [g.n, g.C, g.O, g.H, g.W].map(bucket);
    const key = ['conv', CONV_MODE[kind], g.KH, g.KW, g.sh, g.dh, ...sizes, eligible.join('+')].join(':');
    // Problems too small to measure keep the guess: split-K for a small weight gradient on a GPU (few
    // outputs, a long sum); never on a CPU-like adapter, where its extra passes made such calls 10-100x
    // slower than 'reg' (measured on SwiftShader for CycleGAN's layers).
    const guess: MatmulVariant =
      this.ctx.kernelDefaults === 'software'
        ? 'reg'
        : kind === 'conv2d_grad_weight' && M * N <= 4096 && eligible.includes('splitk')
          ? 'splitk'
          : 'tiled';
    const v = this.tuner.choose(key, eligible, guess, M * N * K, (): Trial => {
      const pg = { ...g, n: Math.min(g.n, 8) };
      const bufs = this.tuner.scratch(...convSizes(kind, pg));
      return {
        run: (vv) => this.convRun(vv, { kind, a: bufs[0], b: bufs[1], out: bufs[2], g: pg }),
        release: () => this.tuner.releaseScratch(bufs),
      };
    });
    this.convRun(v, { kind, a: this.buf(a), b: this.buf(b), out: out.buffer, g, ...fuse });
    return out;
  }

  private convRun(v: MatmulVariant, r: ConvRun): void {
    if (v === 'im2col') return this.convIm2col(r);
    if (v === 'winograd') return this.convWinograd(r);
    const { kind, a, b, out, g, epilogue, optim } = r;
    const parts: ConvPart[] = kind === 'conv2d_grad_input' && g.dh === 1 && g.dw === 1 ? convPhases(g) : [{ kind }];
    for (const part of parts) {
      const [M, N] = convGemmDims(part, g);
      if (M * N === 0) continue;
      const d = convDispatch(v, part, a, b, out, g);
      const core = d.kernel as 'conv_reg' | 'conv_tiled' | 'conv_splitk';
      // Each output element is stored once (the stride phases store disjoint elements), so an optimizer
      // update in the store updates each parameter element once.
      this.dispatchStore(d, core, kind, epilogue, optim);
    }
  }

  /** The im2col variant: patches (or their transpose) as a matrix, one matmul, a layout copy. */
  private convIm2col({ kind, a, b, out, g, epilogue, optim }: ConvRun): void {
    const K = g.C * g.KH * g.KW,
      hw = g.OH * g.OW,
      N = g.n * hw;
    const geomWords = packConvGeom(g);
    const runs = this.im2colVariant === 'runs';
    const tmp: GPUBuffer[] = [];
    const scratch = (n: number) => {
      const t = this.ctx.pool.acquire(Math.max(n, 1) * 4, 'conv scratch');
      tmp.push(t);
      return t;
    };
    // shaders/im2col.wgsl's layouts (MODE 0, 1, 2): col [K, n*hw], its transpose, or per image [n, K, hw].
    const im2col = (x: GPUBuffer, layout: 'N' | 'T' | 'B') => {
      const col = scratch(K * N);
      this.ctx.dispatch({
        kernel: 'im2col',
        label: `im2col:${layout}`,
        constants: { MODE: 'NTB'.indexOf(layout), RUNS: runs, WG: RUN_WG },
        buffers: [x, col],
        uniforms: geomWords,
        workgroups: this.ctx.grid(Math.ceil((!runs ? K * N : layout === 'T' ? N * g.C : K * g.n * g.OH) / RUN_WG)),
        bytes: 8 * K * N,
      });
      return col;
    };
    const copy = (src: GPUBuffer, dst: GPUBuffer, shape: number[], si: number[], so: number[]) =>
      this.copyRaw(src, dst, shape, si, 0, so, 0);
    const gemm = (A: GPUBuffer, B: GPUBuffer, C: GPUBuffer, M: number, Nn: number, Kk: number, fused = false) => {
      const spec = { batch: 1, M, N: Nn, K: Kk, transA: false, transB: false, strideA: 0, strideB: 0 };
      if (fused) this.gemmInto(A, B, C, spec, epilogue, optim, 'conv2d_grad_weight:im2col');
      else this.gemmInto(A, B, C, spec);
    };
    /** dy [n, O, hw] -> [O, n*hw] */
    const dyRows = (dy: GPUBuffer) => {
      const t = scratch(g.O * N);
      copy(dy, t, [g.O, g.n, hw], [hw, g.O * hw, 1], [N, hw, 1]);
      return t;
    };
    if (kind === 'conv2d') {
      // y[i] [O, hw] = w [O, K] @ col[i] [K, hw] for each image i: one batched matmul writing y's own
      // layout, whose store takes the epilogue. (The one wide product w @ [K, n*hw] needed a layout copy
      // after it, where an epilogue had no store to run in.)
      const spec = { batch: g.n, M: g.O, N: hw, K, transA: false, transB: false, strideA: 0, strideB: K * hw };
      const col = im2col(b, 'B');
      this.gemmInto(a, col, out, spec, epilogue, optim, 'conv2d:im2col');
    } else if (kind === 'conv2d_grad_weight') {
      // dw [O, K] = dy [O, n*hw] @ colT [n*hw, K], in the weight's layout: an epilogue and an optimizer
      // update run in the GEMM's store.
      gemm(dyRows(a), im2col(b, 'T'), out, g.O, K, N, true);
    } else {
      const wt = scratch(K * g.O);
      copy(a, wt, [K, g.O], [1, K], [g.O, 1]);
      const dcol = scratch(K * N);
      // dcol [K, n*hw] = w^T [K, O] @ dy [O, n*hw], then col2im. (A per-image layout, dcol [n, K, hw] from
      // a batched GEMM straight off dy, made col2im slower on SwiftShader: 179 against 121 ms for the
      // bench's DCGAN layer.)
      gemm(wt, dyRows(b), dcol, K, N, g.O);
      const nx = g.n * g.C * g.H * g.W;
      const d: DispatchSpec = {
        kernel: 'col2im',
        constants: { RUNS: runs, WG: RUN_WG },
        buffers: [dcol, out],
        uniforms: geomWords,
        workgroups: this.ctx.grid(Math.ceil((runs ? g.n * g.C * g.H : nx) / RUN_WG)),
        bytes: 4 * (K * N + nx),
      };
      // col2im stores each element of dx once: its store takes the epilogue (and an update).
      this.dispatchStore(d, 'col2im', `${kind}:im2col`, epilogue, optim);
    }
    for (const t of tmp) this.ctx.pool.release(t);
  }

  /**
   * The 'winograd' forward pass (src = x, out = y) or input gradient (src = dy, out = dx)
   * (see shaders/winograd.wgsl): U = G w G^T, V = B^T src B, M = U V (one batched matmul), out = A^T M A.
   */
  private convWinograd({ kind, a: w, b: src, out, g, epilogue, optim }: ConvRun): void {
    if (kind === 'conv2d_grad_weight') throw new Error('internal: winograd has no weight gradient');
    const d = winogradDims(kind, g);
    const FORWARD = kind === 'conv2d';
    const uniforms = new Uint32Array([...new Uint32Array(packConvGeom(g)), d.TH, d.TW, d.T, d.Tp]).buffer;
    const { srcC, outC, K, batch } = d;
    const U = this.ctx.pool.acquire(batch * outC * K * 4, 'winograd U');
    const V = this.ctx.pool.acquire(batch * K * d.Tp * 4, 'winograd V');
    const M = this.ctx.pool.acquire(batch * outC * d.Tp * 4, 'winograd M');
    const RUNS = this.im2colVariant === 'runs';
    // Stages 1 and 2 run per channel and tile, or row of tiles (RUNS).
    const units = RUNS ? g.n * d.TH : d.Tp;
    const stage = (
      STAGE: number,
      name: string,
      a: GPUBuffer,
      b: GPUBuffer,
      groups: [number, number, number],
      bytes: number,
    ) => {
      const d: DispatchSpec = {
        kernel: 'winograd',
        label: `${kind}:winograd_${name}`,
        constants: { STAGE, FORWARD, RUNS, WG: RUN_WG },
        buffers: [a, b],
        uniforms,
        workgroups: groups,
        flatGroups: true,
        bytes,
      };
      if (STAGE !== 2) return this.ctx.dispatch(d);
      // The output transform stores each element of the result once: its store takes the epilogue (and
      // an update), through a generated io file as the GEMM cores'.
      this.dispatchStore(d, 'winograd', `${kind}:winograd`, epilogue, optim);
    };
    const wFloats = g.O * g.C * g.KH * g.KW;
    stage(
      0,
      'weights',
      w,
      U,
      [Math.ceil((FORWARD ? g.C : g.O) / RUN_WG), FORWARD ? g.O : g.C, d.P],
      4 * (wFloats + batch * outC * K),
    );
    const srcFloats = FORWARD ? g.n * g.C * g.H * g.W : g.n * g.O * g.OH * g.OW;
    stage(1, 'input', src, V, [Math.ceil(units / RUN_WG), srcC, 1], 4 * (srcFloats + batch * K * d.Tp));
    const spec = { batch, M: outC, N: d.Tp, K, transA: false, transB: false, strideA: outC * K, strideB: K * d.Tp };
    this.ctx.dispatch(matmulDispatch(chooseMatmul(this.tuner, this.ctx, spec), U, V, M, spec));
    const outFloats = FORWARD ? g.n * g.O * g.OH * g.OW : g.n * g.C * g.H * g.W;
    stage(2, 'output', M, out, [Math.ceil(units / RUN_WG), outC, 1], 4 * (batch * outC * d.T + outFloats));
    for (const t of [U, V, M]) this.ctx.pool.release(t);
  }

  /**
   * Dispatches `d` of a kernel with a store hook (`core`: a GEMM core, col2im, Winograd's output stage);
   * with an `epilogue` (and an optimizer update) in its store: the core's io file generated
   * (epilogueIo), the epilogue's inputs and the update's buffers bound after the kernel's own, the
   * update's params after its uniforms; labelled `fused:<what>+<ops>`.
   */
  private dispatchStore(
    d: DispatchSpec,
    core: EpilogueCore,
    what: string,
    epilogue?: FusedEpilogue,
    optim?: FusedOptim,
  ): void {
    if (!epilogue) return this.ctx.dispatch(d);
    const ops = [...fusedOps(epilogue.expr), ...(optim ? [optim.spec.kind] : [])];
    this.ctx.dispatch({
      ...d,
      kernel: `${optim ? 'optim' : 'epilogue'}_${core}`,
      source: epilogueIo(core, epilogue, !!optim),
      label: `fused:${what}+${ops.join('+')}`,
      buffers: [...d.buffers, ...epilogue.inputs.map((s) => this.buf(s)), ...this.optimBuffers(optim)],
      uniforms: withOptimUniforms(d.uniforms!, optim),
      constants: { ...d.constants, ...optimConstants(optim) },
    });
  }

  /** Bound as the flags of unchecked optimizer steps (slot NONE: never written). */
  private readonly noFlags: GPUBuffer;

  /** The buffers an optimizer update in a kernel's store binds (optimBindings in fused.ts), or none. */
  private optimBuffers(optim?: FusedOptim): GPUBuffer[] {
    return optim
      ? [
          this.buf(optim.param),
          this.buf(optim.s1),
          this.buf(optim.s2),
          optim.check ? this.buf(optim.check.flags) : this.noFlags,
        ]
      : [];
  }

  /** An optimizer's update of a parameter (and its state s1, s2) from its gradient: optim.wgsl. */
  private optimStep(param: Storage, grad: Storage, s1: Storage, s2: Storage, o: OptimSpec, check?: FiniteCheck): void {
    const n = param.length;
    const u = optimUniforms(n, o, check);
    this.ctx.dispatch({
      kernel: 'optim',
      label: `optim:${o.kind}`,
      constants: { OP: o.kind === 'sgd' ? 0 : 1 },
      buffers: [
        this.buf(param),
        this.buf(grad),
        this.buf(s1),
        this.buf(s2),
        check ? this.buf(check.flags) : this.noFlags,
      ],
      uniforms: u,
      workgroups: this.ctx.grid(Math.ceil(n / WG)),
      flops: 10 * n,
      bytes: 28 * n,
    });
  }

  /** Waits for the queue, and for matmul measurements in flight. */
  async sync(): Promise<void> {
    await this.tuner.settle();
    await this.ctx.sync();
  }
  dispose(): void {
    this.ctx.destroy();
  }
}

/** The backend's Recorder: the context's recordings (src/device/recording.ts) over storages. */
class GpuRecorder implements Recorder {
  private open: Recording | null = null;
  constructor(private readonly b: WebGPUBackend) {}
  begin(): void {
    this.open = this.b.ctx.beginRecording();
  }
  op(i: number): void {
    this.open!.setOp(i);
  }
  end(inputs: Storage[]): BackendRecording {
    const rec = this.open!;
    this.open = null;
    this.b.ctx.endRecording(
      rec,
      inputs.map((s) => (s as GpuStorage).buffer),
    );
    return new GpuRecording(this.b, rec);
  }
  abort(): void {
    if (this.open) this.b.ctx.abortRecording(this.open);
    this.open = null;
  }
}

class GpuRecording implements BackendRecording {
  readonly dispatches: number;
  readonly bytes: number;
  constructor(
    private readonly b: WebGPUBackend,
    private readonly rec: Recording,
  ) {
    this.dispatches = rec.dispatches.length;
    let bytes = 0;
    for (const buf of rec.owned) bytes += buf.size;
    this.bytes = bytes;
  }
  patch(op: number, run: () => void): void {
    this.b.ctx.patchRecording(this.rec, op, run);
  }
  patchOptim(op: number, n: number, spec: OptimSpec, check?: { slot: number; tag: number } | null): void {
    // The update's OptimParams end the block of the op's last kernel (withOptimUniforms; or they are the
    // whole block of optimStep, where the kernel had no store to run it in).
    const at = this.rec.patchTail(op, OPTIM_UNIFORM_BYTES);
    writeOptimWords(this.rec.words, this.rec.floats, at, n, spec, check);
  }
  patchRandom(op: number, n: number, spec: RandomSpec): void {
    // A draw is one kernel whose whole block is the spec (random()).
    const at = this.rec.patchTail(op, RANDOM_UNIFORM_BYTES);
    writeRandomWords(this.rec.words, this.rec.floats, at, n, spec);
  }
  replay(inputs: Storage[], out: [Storage, Storage][]): void {
    const pairs: [GPUBuffer, GPUBuffer, number][] = new Array(out.length);
    for (let k = 0; k < out.length; k++) {
      const [s, d] = out[k];
      pairs[k] = [(s as GpuStorage).buffer, (d as GpuStorage).buffer, s.length * 4];
    }
    const buffers: GPUBuffer[] = new Array(inputs.length);
    for (let k = 0; k < inputs.length; k++) buffers[k] = (inputs[k] as GpuStorage).buffer;
    this.b.ctx.replay(this.rec, buffers, pairs);
  }
  stale(): boolean {
    for (const [key, guess] of this.rec.guesses) {
      const chosen = this.b.tuner.choices.get(key);
      if (chosen === undefined) continue;
      if (chosen !== guess) return true;
      this.rec.guesses.delete(key);
    }
    return false;
  }
  dispose(): void {
    this.b.ctx.disposeRecording(this.rec);
  }
}

/**
 * One GEMM of a convolution: its kind, and for one stride phase of an input gradient the phase words
 * (rh, rw, kh0, kw0, nkh, nkw, HP, WP; conv.wgsl's MODE 3).
 */
interface ConvPart {
  kind: ConvKind;
  phase?: number[];
}

/** conv.wgsl's MODE of each kind (3 is an input gradient's stride phase); also in the tuner's stored keys. */
const CONV_MODE = { conv2d: 0, conv2d_grad_input: 1, conv2d_grad_weight: 2 } as const;

/** One convolution on buffers (convRun); a and b as convCore orders them. */
interface ConvRun extends Fuse {
  kind: ConvKind;
  a: GPUBuffer;
  b: GPUBuffer;
  out: GPUBuffer;
  g: ConvGeom;
}

/** The stride phases of the input gradient (dilation 1): input rows ih = rh + i*sh meet taps kh = kh0 + j*sh. */
function convPhases(g: ConvGeom): ConvPart[] {
  const parts: ConvPart[] = [];
  for (let rh = 0; rh < g.sh; rh++) {
    for (let rw = 0; rw < g.sw; rw++) {
      const kh0 = (rh + g.ph) % g.sh,
        kw0 = (rw + g.pw) % g.sw;
      const nkh = kh0 < g.KH ? Math.ceil((g.KH - kh0) / g.sh) : 0;
      const nkw = kw0 < g.KW ? Math.ceil((g.KW - kw0) / g.sw) : 0;
      const HP = rh < g.H ? Math.ceil((g.H - rh) / g.sh) : 0;
      const WP = rw < g.W ? Math.ceil((g.W - rw) / g.sw) : 0;
      parts.push({ kind: 'conv2d_grad_input', phase: [rh, rw, kh0, kw0, nkh, nkw, HP, WP] });
    }
  }
  return parts;
}

/**
 * The tile grid of the Winograd variant: P stride phases; TH x TW tiles of 2x2 over the output (forward)
 * or over the largest phase of dx (input gradient: phase 0's); T tiles over the batch, padded to Tp (a
 * multiple of 4, for vec4 GEMMs).
 */
function winogradDims(kind: Exclude<ConvKind, 'conv2d_grad_weight'>, g: ConvGeom) {
  const P = g.sh * g.sw;
  const [eh, ew] = kind === 'conv2d' ? [g.OH, g.OW] : [Math.ceil(g.H / g.sh), Math.ceil(g.W / g.sw)];
  const TH = Math.ceil(eh / 2),
    TW = Math.ceil(ew / 2);
  const T = g.n * TH * TW;
  // Per transform point a GEMM [outC x K] @ [K x Tp]: forward, K runs over (phase, c) and one GEMM a
  // point; input gradient, K = O and one GEMM a point and phase.
  const fwd = kind === 'conv2d';
  return {
    P,
    TH,
    TW,
    T,
    Tp: Math.ceil(T / 4) * 4,
    srcC: fwd ? g.C : g.O,
    outC: fwd ? g.O : g.C,
    K: fwd ? P * g.C : g.O,
    batch: fwd ? 9 : 9 * P,
  };
}

/**
 * Whether the Winograd variant applies (no dilation, at most 2x2 taps per stride phase) and its scratch
 * fits the binding limit (its transforms decode their cell from a flat workgroup index: flatGroups).
 */
function winogradFits(kind: Exclude<ConvKind, 'conv2d_grad_weight'>, g: ConvGeom, maxFloats: number): boolean {
  if (g.dh !== 1 || g.dw !== 1 || Math.ceil(g.KH / g.sh) > 2 || Math.ceil(g.KW / g.sw) > 2) return false;
  const d = winogradDims(kind, g);
  // The scratch matrices U, V and M (per point: [outC x K], [K x Tp], [outC x Tp]) within the limits.
  const floats = d.batch * Math.max(d.outC * d.K, d.K * d.Tp, d.outC * d.Tp);
  return floats <= maxFloats;
}

/** GEMM dimensions (M, N, K) of a conv part (see shaders/conv.wgsl). */
function convGemmDims(part: ConvPart, g: ConvGeom): [number, number, number] {
  const kk = g.KH * g.KW;
  if (part.phase) {
    const [, , , , nkh, nkw, HP, WP] = part.phase;
    return [g.C, g.n * HP * WP, g.O * nkh * nkw];
  }
  switch (part.kind) {
    case 'conv2d':
      return [g.O, g.n * g.OH * g.OW, g.C * kk];
    case 'conv2d_grad_input':
      return [g.C, g.n * g.H * g.W, g.O * kk];
    case 'conv2d_grad_weight':
      return [g.O, g.C * kk, g.n * g.OH * g.OW];
  }
}

/** Element counts of the A source, the B source and the output of a convolution. */
function convSizes(kind: ConvKind, g: ConvGeom): [number, number, number] {
  const x = g.n * g.C * g.H * g.W,
    w = g.O * g.C * g.KH * g.KW,
    y = g.n * g.O * g.OH * g.OW;
  if (kind === 'conv2d') return [w, x, y];
  if (kind === 'conv2d_grad_input') return [w, y, x];
  return [y, x, w];
}

/** shaders/random.wgsl's uniform block (12 words): the counter, the key, the 4-value blocks, scale, shift, p. */
function randomUniforms(n: number, spec: RandomSpec): ArrayBuffer {
  const u = new ArrayBuffer(RANDOM_UNIFORM_BYTES);
  writeRandomWords(new Uint32Array(u), new Float32Array(u), 0, n, spec);
  return u;
}
const RANDOM_UNIFORM_BYTES = 48;

/** randomUniforms' words, written at word `at` of `w` and `f` (two views of one buffer), every word. */
function writeRandomWords(w: Uint32Array, f: Float32Array, at: number, n: number, spec: RandomSpec): void {
  w.set(spec.counter, at);
  w.set(spec.key, at + 4);
  w[at + 6] = Math.ceil(n / 4);
  f[at + 7] = spec.scale;
  f[at + 8] = spec.shift;
  f[at + 9] = spec.p;
  w[at + 10] = 0;
  w[at + 11] = 0;
}

/** optim_ops.wgsl's OptimParams (16 words) for an update of n elements. */
function optimUniforms(n: number, o: OptimSpec, check?: { slot: number; tag: number } | null): ArrayBuffer {
  const u = new ArrayBuffer(OPTIM_UNIFORM_BYTES);
  writeOptimWords(new Uint32Array(u), new Float32Array(u), 0, n, o, check);
  return u;
}
const OPTIM_UNIFORM_BYTES = 64;

const bias = { beta1: NaN, beta2: NaN, step: NaN, c1: 0, c2: 0 };

/** optimUniforms' words, written at word `at` of `w` and `f` (two views of one buffer), every word. */
function writeOptimWords(
  w: Uint32Array,
  f: Float32Array,
  at: number,
  n: number,
  o: OptimSpec,
  check?: { slot: number; tag: number } | null,
): void {
  w[at] = n;
  w[at + 3] = check ? check.slot : 0xffffffff;
  f[at + 4] = o.lr;
  f[at + 5] = o.weightDecay;
  if (o.kind === 'sgd') {
    w[at + 1] = o.first ? 1 : 0;
    w[at + 2] = o.nesterov ? 1 : 0;
    f[at + 6] = o.momentum;
    f[at + 7] = o.dampening;
    for (let k = 8; k <= 12; k++) w[at + k] = 0;
    w[at + 14] = 0;
  } else {
    w[at + 1] = 0;
    w[at + 2] = 0;
    w[at + 6] = 0;
    w[at + 7] = 0;
    f[at + 8] = o.beta1;
    f[at + 9] = o.beta2;
    // The bias corrections, shared by a step's parameters (same betas, same step count): kept for the
    // next one, as Math.pow is most of this function's time.
    if (o.beta1 !== bias.beta1 || o.beta2 !== bias.beta2 || o.step !== bias.step) {
      bias.beta1 = o.beta1;
      bias.beta2 = o.beta2;
      bias.step = o.step;
      bias.c1 = 1 - o.beta1 ** o.step;
      bias.c2 = Math.sqrt(1 - o.beta2 ** o.step);
    }
    f[at + 10] = o.lr / bias.c1;
    f[at + 11] = bias.c2;
    f[at + 12] = o.eps;
    w[at + 14] = o.decoupled ? 1 : 0;
  }
  f[at + 13] = check?.tag ?? 0;
  w[at + 15] = 0;
}

/** A kernel's uniform bytes followed by an optimizer update's OptimParams (the kernel's struct ends with them). */
function withOptimUniforms(u: ArrayBuffer, optim?: FusedOptim): ArrayBuffer {
  if (!optim) return u;
  const both = new Uint8Array(u.byteLength + 64);
  both.set(new Uint8Array(u));
  both.set(new Uint8Array(optimUniforms(optim.param.length, optim.spec, optim.check)), u.byteLength);
  return both.buffer;
}

/** An expression's ops and inputs, short (fusedKey's first part); at module level, as it runs per eager op. */
function exprKey(e: FusedExpr): string {
  switch (e.kind) {
    case 'input':
      return `${e.k}`;
    case 'acc':
      return 'acc';
    case 'const':
      return 'c';
    case 'unary':
      return `u${e.op}(${exprKey(e.x)})`;
    case 'binary':
      return `b${e.op}(${exprKey(e.a)},${exprKey(e.b)})`;
    case 'ternary':
      return `t${e.op}(${exprKey(e.c)},${exprKey(e.a)},${exprKey(e.b)})`;
  }
}

/** A read's blocks, short (a part of the kernel caches' keys). */
const readKey = (r: FusedRead) =>
  `${r.div}/${r.mod}${r.outer ? r.outer.map((t) => `+${t.div}/${t.mod}*${t.stride}`).join('') : ''}`;

/**
 * What an elementwise kernel's text depends on, short: the ops (codes, not their parameters), the
 * inputs, each read's kind or sizes, the in-place inputs and whether an update runs in its store.
 */
function fusedKey(
  e: FusedExpr,
  reads: FusedRead[],
  n: number,
  output: Set<number> | undefined,
  optim: string | undefined,
  into: boolean,
): string {
  let key = exprKey(e);
  for (let k = 0; k < reads.length; k++) {
    const r = reads[k];
    key += r.mod === 1 && !r.outer ? ';1' : readsAll(r, n) ? ';n' : `;${readKey(r)}`;
  }
  if (output) key += `;out${[...output].join(',')}`;
  if (into) key += ';into';
  return optim ? `${key};${optim}` : key;
}

/**
 * An elementwise kernel's uniform block (fused.ts's Params): n4 and 3 words of padding, the values as
 * f32 padded to 16 bytes (Params.q), then the update's OptimParams, which end the block
 * (GpuRecording.patchOptim patches the tail).
 */
function elementwiseUniforms(n4: number, values: number[], optim?: FusedOptim): ArrayBuffer {
  const q = Math.ceil(values.length / 4) * 16;
  const buf = new ArrayBuffer(16 + q + (optim ? OPTIM_UNIFORM_BYTES : 0));
  new Uint32Array(buf, 0, 1)[0] = n4;
  if (values.length) {
    const f = new Float32Array(buf, 16, values.length);
    for (let i = 0; i < values.length; i++) f[i] = values[i];
  }
  if (optim)
    new Uint8Array(buf, 16 + q).set(new Uint8Array(optimUniforms(optim.param.length, optim.spec, optim.check)));
  return buf;
}

/** No override constants (one object, not one per dispatch). */
const NO_CONSTANTS: Record<string, number> = Object.freeze({}) as Record<string, number>;

/** optim_ops.wgsl's OP override for an update in a kernel's store. */
const optimConstants = (optim?: FusedOptim): Record<string, number> =>
  optim ? { OP: optim.spec.kind === 'sgd' ? 0 : 1 } : {};

/** shaders/conv_params.wgsl's ConvParams (24 words; the phase words only matter to conv.wgsl MODE 3). */
function packConvGeom(g: ConvGeom, phase: number[] = [0, 0, 0, 0, 0, 0, 0, 0]): ArrayBuffer {
  return new Uint32Array([...CONV_PARAMS.map((k) => g[k]), 0, ...phase]).buffer;
}
/** ConvParams' fields before its padding word and its phase row, in order. */
const CONV_PARAMS = ['n', 'C', 'H', 'W', 'O', 'KH', 'KW', 'OH', 'OW', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw'] as const;

function convDispatch(
  v: Exclude<MatmulVariant, 'im2col'>,
  part: ConvPart,
  a: GPUBuffer,
  b: GPUBuffer,
  out: GPUBuffer,
  g: ConvGeom,
): DispatchSpec {
  const [M, N, K] = convGemmDims(part, g);
  const u = packConvGeom(g, part.phase);
  const groups: [number, number, number] = v === 'splitk' ? [N, M, 1] : [Math.ceil(N / 32), Math.ceil(M / 32), 1];
  const kernel = v === 'splitk' ? 'conv_splitk' : v === 'tiled' ? 'conv_tiled' : 'conv_reg';
  return {
    kernel,
    label: `${part.kind}:${kernel.slice(5)}`,
    constants: { MODE: part.phase ? 3 : CONV_MODE[part.kind] },
    buffers: [a, b, out],
    uniforms: u,
    workgroups: groups,
    flatGroups: true,
    flops: 2 * M * N * K,
    bytes: 4 * (M * K + K * N + M * N),
  };
}
