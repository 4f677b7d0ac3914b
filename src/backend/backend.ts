// The one interface both backends implement, kernel for kernel. Storage is opaque to the layers above;
// shapes and strides are plain arrays, and every tensor's storage is contiguous row-major float32.

import type { GPUContext } from '../device/context.ts';
import type { KernelTuner } from './webgpu/tuner.ts';
import { withAcc } from './kernels.ts';
import type {
  ConvGeom,
  FusedEpilogue,
  FusedExpr,
  FusedOptim,
  FusedRead,
  MatmulSpec,
  ReduceGeom,
  OptimSpec,
  PadMode,
  RandomSpec,
  ReduceOp,
  Storage,
} from './kernels.ts';

export type { Storage };

/**
 * One elementwise kernel (Backend.elementwise): n values of `expr` over `inputs`, input k read as
 * reads[k] says (a broadcast operand: kernels.ts broadcastRead).
 */
export interface ElementwiseKernel {
  expr: FusedExpr;
  inputs: Storage[];
  reads: FusedRead[];
  n: number;
  /**
   * Written into this storage (of n elements, returned) instead of a new one; an input that is `out`
   * must be read element for element (each element is read before it is written).
   */
  out?: Storage;
  /**
   * The n values are a parameter's gradient: the parameter's optimizer update runs in the same store
   * (its state updated in place; the finite check's flags raised as FiniteCheck says).
   */
  optim?: FusedOptim;
}

/** A tensor viewed around one dim as (O, D, I): the sizes before it, its own, after it. */
export interface AlongDim {
  O: number;
  D: number;
  I: number;
}
/** A gather's view: [O, D, I] the indexed tensor (D the dim), K the index's extent along the dim. */
export interface GatherDims extends AlongDim {
  K: number;
}
/** A strided view of a storage: element idx of a shape lies at offset + idx . strides. */
export interface View {
  storage: Storage;
  strides: number[];
  offset: number;
}

/**
 * move()'s kinds, one options object each (see Backend.move).
 *   copy         dst.storage[dst.offset + idx . dst.strides] = src.storage[src.offset + idx . src.strides]
 *                for every idx of `shape`, in place (returns dst.storage)
 *   pad          x of `shape` padded by before[d] and after[d] elements per dim, by `mode` (constant: `value`)
 *   gather       along the middle dim of x viewed as [O, D, I], with an index of [O, K, I] (positions as
 *                floats): y[o, k, i] = x[o, index[o, k, i], i] ([O, K, I]; NaN where the index is not an
 *                integer in [0, D))
 *   scatter_add  gather's adjoint: y[o, d, i] = sum in k order of x[o, k, i] where index[o, k, i] == d
 *                ([O, D, I], x then of [O, K, I])
 *   cumsum       cumulative sums along the middle dim of x viewed as [O, D, I], in order (`reverse`: from
 *                the end)
 */
export type MoveSpec =
  | { kind: 'copy'; shape: number[]; src: View; dst: View }
  | { kind: 'pad'; x: Storage; shape: number[]; before: number[]; after: number[]; mode: PadMode; value: number }
  | { kind: 'gather' | 'scatter_add'; x: Storage; index: Storage; dims: GatherDims }
  | { kind: 'cumsum'; x: Storage; dims: AlongDim; reverse: boolean };
/** One kind of MoveSpec. */
export type MoveOf<K extends MoveSpec['kind']> = Extract<MoveSpec, { kind: K }>;

/** What a GEMM or convolution core (and a reduction) applies in its store: an epilogue, an optimizer update. */
export interface Fuse {
  /** Applied to each result, read as `acc`. */
  epilogue?: FusedEpilogue;
  /** The results are a parameter's gradient: its optimizer update runs in the same store. */
  optim?: FusedOptim;
}

/**
 * reduce()'s operand, in one of two forms: the fused form, op over `geom` of the tensor whose elements
 * are `expr` over `inputs` (input k read as reads[k] says), with an epilogue and an update (Fuse) on its
 * results (the reduce primitive's is its input alone, rowsOf(); argmax and argmin take one reduced run
 * and nothing in the store); or the row form (RowsReduce).
 */
export type ReduceSpec = FusedReduce | RowsReduce;
/** reduce()'s fused form (see ReduceSpec). */
export type FusedReduce = Fuse & {
  op: ReduceOp;
  expr: FusedExpr;
  inputs: Storage[];
  reads: FusedRead[];
  geom: ReduceGeom;
  /** An assign in the store, after the result is stored (see StoreAssign). */
  assign?: StoreAssign;
};

/** The reduce primitive's operand: op over each contiguous row of x viewed as [rows, R]. */
export const rowsOf = (op: ReduceOp, x: Storage, rows: number, R: number): FusedReduce => ({
  op,
  expr: { kind: 'input', k: 0 },
  inputs: [x],
  reads: [{ div: 1, mod: rows * R }],
  geom: { rows, kept: [[rows, R]], red: [[R, 1]] },
});

/**
 * reduce()'s row form: per output o of `geom` (a row of the reduced tensor, at most 4,096 elements), sums
 * in stage order, each over the row's elements of its expression and then its epilogue, and the `final`
 * expression at every element of the row; returns the reduced tensor's shape of final values (a norm's
 * backward in one kernel: its two sums and the elementwise ops between and after them). Input indices of
 * a stage's expression and of `final`: `inputs` 0..n-1 (read per element, as reads[k] says), then the
 * earlier stages' values n + j; of a stage's epilogue: its own inputs (read at o), then the earlier
 * stages' values, and `acc` the stage's sum. Each sum is the fused form's (its order and bits).
 */
export interface RowsReduce {
  stages: { expr: FusedExpr; epilogue: FusedEpilogue | null }[];
  /**
   * A value (over the inputs and the stages before `stage`) computed once, at each element in stage
   * `stage`'s pass, stored in the output there and read as input n + K (K the stages) by that stage's
   * expression and everything after it: the final expression reads it before writing the element.
   */
  spill?: { expr: FusedExpr; stage: number };
  final: FusedExpr;
  inputs: Storage[];
  reads: FusedRead[];
  geom: ReduceGeom;
}

/**
 * An update of another storage in a reduction's store (batch norm's running statistics, from the
 * statistic the kernel computes): dst[o] = expr at each result o, where `acc` is result o as stored
 * (after the epilogue) and input 0 is dst[o]'s old value; its constants are the expression's own.
 */
export interface StoreAssign {
  dst: Storage;
  expr: FusedExpr;
}

/**
 * The elementwise kernel that applies `fuse` to a core's stored results y (its `acc`), where the core
 * runs without it in its store: the epilogue into a new storage, or the update alone, in place on y.
 */
export function fuseAfter(y: Storage, { epilogue: e, optim }: Fuse): ElementwiseKernel {
  const n = y.length,
    all = { div: 1, mod: n };
  if (!e) return { expr: { kind: 'input', k: 0 }, inputs: [y], reads: [all], n, out: y, optim };
  return { expr: withAcc(e.expr, e.inputs.length), inputs: [...e.inputs, y], reads: [...e.reads, all], n, optim };
}

/**
 * A core's stored (so rounded) results y, then `fuse` by an elementwise kernel with y as the epilogue's
 * `acc` (y freed), as the unfused ops would run them: the CPU backend's cores, and an empty matmul.
 */
export function applyFuse(b: Backend, y: Storage, fuse: Fuse): Storage {
  if (!fuse.epilogue && !fuse.optim) return y;
  const g = b.elementwise(fuseAfter(y, fuse));
  if (g !== y) b.free(y);
  return g;
}

/** The convolution cores: the forward pass and its two gradients. */
export type ConvKind = 'conv2d' | 'conv2d_grad_input' | 'conv2d_grad_weight';

/**
 * A device that holds tensors' storage and runs their kernels: the WebGPU backend, or the CPU reference
 * ({@link CpuBackend}), kernel for kernel the same. Users meet it as `init()`'s result, as `t.backend`,
 * and as the `backend` option of the creation functions and layers; the kernel methods that ops call
 * are internal and left out of this reference (see src/backend/backend.ts).
 *
 * @example
 * ```ts
 * const gpu = await init();                          // the current backend, WebGPU
 * console.log(gpu.name, gpu.description);            // 'webgpu', the adapter in words
 * const cpu = await createBackend({ backend: 'cpu' });
 * const x = randn([4], { backend: cpu });            // a tensor on the CPU reference
 * ```
 */
export interface Backend {
  /** Which kind of backend this is. */
  readonly name: 'cpu' | 'webgpu';
  /** One line naming the device. */
  readonly description: string;

  /** A new storage: n elements with unspecified contents, or a copy of `data`. @internal */
  alloc(init: number | Float32Array | Float64Array): Storage;
  /** A copy of a storage's values, read back from the device (`t.toArray()` does this for a tensor). */
  read(s: Storage): Promise<Float32Array>;
  /** A copy of a storage's raw 32-bit words (Philox bits). */
  read(s: Storage, o: { as: 'u32' }): Promise<Uint32Array>;
  /** Overwrites a storage's values in place (same length): data batches without re-allocation. @internal */
  write(s: Storage, data: Float32Array): void;
  /** Frees a storage (a tensor's dispose() does this when its last view goes). @internal */
  free(s: Storage): void;
  /** Bytes held by live storages, and by pooled free ones. */
  memory(): { liveBytes: number; pooledBytes: number };

  /**
   * An elementwise kernel from the IR: every elementwise op, eager or compiled, one op or a fused chain,
   * a fill (a constant), an optimizer step (an update of a gradient already computed: expr input 0, out
   * the gradient) runs as one; see ElementwiseKernel.
   * @internal
   */
  elementwise(k: ElementwiseKernel): Storage;
  /**
   * out[r] = op over row r's reduced elements (ReduceSpec: x's row r, or the elements of row r that
   * spec.geom lays out of the tensor spec.expr computes), then in the fused form spec.epilogue on each
   * result (`acc`) and spec.optim's update, in the same kernel on WebGPU. Sums in pairwise order; with
   * two reduced runs, the inner one ending the tensor, the inner sums are stored (rounded) first, as the
   * reduce primitive composes such a reduction.
   * @internal
   */
  reduce(spec: ReduceSpec): Storage;
  /** Values moved, not computed: a strided copy, a pad, a gather or scatter, a running sum (MoveSpec). @internal */
  move(spec: MoveSpec): Storage;
  /** n Philox draws as `spec` says (bits, uniform, normal or a Bernoulli mask). @internal */
  random(n: number, spec: RandomSpec): Storage;
  /**
   * The batched product op(a) @ op(b) that `spec` describes; with `fuse`, each result C[i] passes through
   * fuse.epilogue (`acc` is C[i]), and fuse.optim makes the results a parameter's gradient, whose
   * optimizer update runs in the same store (one kernel on WebGPU; on the CPU the same values, each
   * intermediate rounded as a stored result would be).
   * @internal
   */
  matmul(a: Storage, b: Storage, spec: MatmulSpec, fuse?: Fuse): Storage;
  /**
   * A convolution core (no bias), `kind` naming it and its operands (a, b), with `fuse` as matmul's:
   *   'conv2d' (x, w):             y[n,o,oh,ow] = sum_{c,kh,kw} w[o,c,kh,kw] x[n,c,oh*sh-ph+kh*dh, ow*sw-pw+kw*dw]
   *   'conv2d_grad_input' (dy, w): dx[n,c,ih,iw] = sum over (o,kh,kw) with ih = oh*sh-ph+kh*dh of w[o,c,kh,kw] dy[n,o,oh,ow]
   *   'conv2d_grad_weight' (dy, x): dw[o,c,kh,kw] = sum_{n,oh,ow} dy[n,o,oh,ow] x[n,c,oh*sh-ph+kh*dh, ow*sw-pw+kw*dw]
   * (fuse.optim only with conv2d_grad_weight: a weight's gradient).
   * @internal
   */
  conv(kind: ConvKind, a: Storage, b: Storage, geom: ConvGeom, fuse?: Fuse): Storage;

  /**
   * A GPU backend's device context (buffer pool, profiler, adapter facts), kernel tuner and recorder, for
   * the process-level helpers of src/runtime.ts (profile, emptyCache, kernelChoices, ...) and compiled
   * steps; absent on the CPU reference, which has none of them. A typed capability, so that no caller
   * downcasts to a backend class.
   * @internal
   */
  readonly gpu?: GpuCapability;

  /** Waits for queued work (a no-op on the CPU). */
  sync(): Promise<void>;
  /** Releases the device (shutdown() calls it); tensors on it can no longer be used. */
  dispose(): void;
}

/** Records the kernels the backend calls between begin() and end(), for replay. */
export interface Recorder {
  /** Opens a recording: kernels are recorded, not run; storages made until end() belong to it. */
  begin(): void;
  /** The backend calls from now on belong to graph op i (for Recording.patch). */
  op(i: number): void;
  /** Closes the recording; `inputs` are the storages it read as the call's inputs (see Recording.replay). */
  end(inputs: Storage[]): Recording;
  /** Closes the open recording after an error, freeing what it allocated. */
  abort(): void;
}

export interface Recording {
  /** Kernel dispatches per replay. */
  readonly dispatches: number;
  /** Bytes of the storages the recording owns (its memory plan). */
  readonly bytes: number;
  /** Runs `run` (graph op `op`'s backend calls with new params) to refresh the per-call data of its kernels. */
  patch(op: number, run: () => void): void;
  /**
   * Refreshes the params of the optimizer update that graph op `op`'s kernel runs in its store (the
   * per-call step count and learning rate), without running the op's backend calls again.
   */
  patchOptim(op: number, n: number, spec: OptimSpec, check?: { slot: number; tag: number } | null): void;
  /** Refreshes the Philox counter and key of graph op `op`'s random draw of n values, without its backend call. */
  patchRandom(op: number, n: number, spec: RandomSpec): void;
  /**
   * Runs every recorded kernel with `inputs` in place of the input storages it was recorded with (bound,
   * not copied), then copies each `out` pair (src to dst).
   */
  replay(inputs: Storage[], out: [Storage, Storage][]): void;
  /** True when a kernel variant chosen while recording (a guess) has since been measured as another. */
  stale(): boolean;
  /** Frees the storages the recording owns. */
  dispose(): void;
}

/** What a GPU backend offers beyond its kernels (Backend.gpu). @internal */
export interface GpuCapability {
  readonly ctx: GPUContext;
  readonly tuner: KernelTuner;
  /**
   * Records a block of kernel calls for replay: a compiled step (src/graph/program.ts,
   * src/graph/replay.ts) records its graph once and replays it. The CPU reference has none: it runs the
   * graph op by op on every call.
   */
  readonly recorder: Recorder;
}
