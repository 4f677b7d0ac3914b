// The kernel vocabulary shared by both backends. The order of the pad modes and the random
// distributions is the code that their WGSL kernels switch on (pad.wgsl, random.wgsl), so adding one
// means adding it here, in the shader's switch and in the CPU backend. The elementwise ops (unary,
// binary, ternary) are rows of ./elementwise_table.ts, from which their codes, WGSL switches and CPU
// functions are generated; every elementwise kernel and every reduction, eager or compiled, is a
// FusedExpr over its inputs (the reductions' WGSL written by webgpu/fused.ts for each op).

/** A backend's buffer: opaque to the layers above (declared here, not in backend.ts, so the two files
 * import in one direction only). */
export interface Storage {
  /** Number of float32 elements. */
  readonly length: number;
}

import type { BinaryOp, TernaryOp, UnaryOp } from './elementwise_table.ts';
export {
  UNARY_OPS,
  BINARY_OPS,
  TERNARY_OPS,
  type UnaryOp,
  type BinaryOp,
  type TernaryOp,
} from './elementwise_table.ts';

export const REDUCE_OPS = ['sum', 'max', 'min', 'argmax', 'argmin'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

export const PAD_MODES = ['constant', 'reflect', 'replicate'] as const;
export type PadMode = (typeof PAD_MODES)[number];

export const RANDOM_DISTS = ['bits', 'uniform', 'normal', 'bernoulli'] as const;
export type RandomKind = (typeof RANDOM_DISTS)[number];

/** Largest rank the strided kernels take (their uniform blocks hold 8 dimensions). */
export const MAX_RANK = 8;

export interface MatmulSpec {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  /** Batch strides of A and B in elements (0 broadcasts one matrix over the batch). */
  strideA: number;
  strideB: number;
}

export interface RandomSpec {
  kind: RandomKind;
  /** Philox key (the generator's 64-bit seed as two words). */
  key: [number, number];
  /** Counter of the draw's first block; block i uses (c0 + i with carry into c1, c2, c3). */
  counter: [number, number, number, number];
  /** Output = value * scale + shift (uniform, normal) or mask * scale (bernoulli). */
  scale: number;
  shift: number;
  /** Keep probability for bernoulli. */
  p: number;
}

/** Philox key and first counter of a draw from a 64-bit seed at a 64-bit block offset (< 2^53). */
export function philoxWords(seed: bigint, offset: number): Pick<RandomSpec, 'key' | 'counter'> {
  // The key of the last seed seen is kept (frozen, shared by the specs): a compiled step draws on every
  // call, and BigInt arithmetic allocates.
  if (seed !== keySeed) {
    keySeed = seed;
    keyWords = Object.freeze([Number(seed & 0xffffffffn), Number((seed >> 32n) & 0xffffffffn)]) as [number, number];
  }
  return { key: keyWords, counter: [offset % 2 ** 32, Math.floor(offset / 2 ** 32), 0, 0] };
}
let keySeed: bigint | null = null;
let keyWords: [number, number] = [0, 0];

/** Geometry of a 2-D convolution: input [n, C, H, W], weight [O, C, KH, KW], output [n, O, OH, OW]. */
export interface ConvGeom {
  n: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/**
 * The finite check an optimizer step can do on the way (the update kernel reads every gradient and writes
 * every parameter anyway): where a gradient or an updated parameter value is NaN or +-Inf, the kernel
 * sets flags[slot] = tag. The optimizer tags with its step count, so flags never need clearing.
 */
export interface FiniteCheck {
  flags: Storage;
  slot: number;
  tag: number;
}

/** One optimizer step for one parameter (see shaders/optim.wgsl for the formulas). */
export type OptimSpec =
  | {
      kind: 'sgd';
      lr: number;
      weightDecay: number;
      momentum: number;
      dampening: number;
      nesterov: boolean;
      first: boolean;
    }
  | {
      kind: 'adam';
      lr: number;
      weightDecay: number;
      beta1: number;
      beta2: number;
      eps: number;
      step: number;
      decoupled?: boolean;
    };

/**
 * A parameter's optimizer update run in the store of the kernel that computes its gradient (a compiled
 * graph's fused kernel, src/graph/passes/fuse_optimizer.ts): the update optimStep would run, on the values
 * the kernel stores.
 */
export interface FusedOptim {
  param: Storage;
  s1: Storage;
  s2: Storage;
  spec: OptimSpec;
  check?: FiniteCheck;
}

/**
 * How a fused kernel reads input k at output element i: x[floor(i / div) % mod]. Every element: div 1,
 * mod n; one value: mod 1; a broadcast whose non-1 dims are one block of the output's (a bias of shape
 * (C) over (N, C): div 1, mod C; (1, C, 1, 1) over (N, C, H, W): div H*W, mod C): div the size of the dims
 * after it. (Shapes in parentheses here: a bracket followed by a colon reads as a Markdown link to TypeDoc.)
 */
export interface FusedRead {
  div: number;
  mod: number;
  /**
   * More terms for a broadcast over several blocks of the output's dims (an operand of shape (N, 1, W)
   * over (N, H, W)): the index is then floor(i / div) % mod + the sum of floor(i / t.div) % t.mod *
   * t.stride over these (see broadcastRead).
   */
  outer?: readonly ReadTerm[];
}

/** One more block of a FusedRead's index: floor(i / div) % mod, times stride. */
export interface ReadTerm {
  div: number;
  mod: number;
  stride: number;
}

/** Whether `r` reads element i at each output element i of n: element for element, no broadcast. */
export const readsAll = (r: FusedRead, n: number): boolean => r.div === 1 && r.mod === n && !r.outer?.length;

/** The element that `r` reads at output element i (the CPU's reading of what the WGSL computes). */
export function readAt(r: FusedRead, i: number): number {
  let at = Math.floor(i / r.div) % r.mod;
  if (r.outer) for (const t of r.outer) at += (Math.floor(i / t.div) % t.mod) * t.stride;
  return at;
}

/**
 * How an operand of shape `shape`, broadcast (NumPy's rules) to `out`, is read at each output element:
 * its dims that are not broadcast, merged where they are contiguous in both, one term each; the
 * innermost is the read's own div and mod (its stride is 1: the operand is contiguous), the rest its
 * `outer` terms. Every element: div 1, mod n; one value: mod 1.
 */
export function broadcastRead(shape: readonly number[], out: readonly number[]): FusedRead {
  // An empty output reads nothing (and its sizes would divide by zero in the text).
  if (out.includes(0)) return { div: 1, mod: 1 };
  // The common cases first (this runs for every eager op): the output's shape, or one value.
  let n = 1,
    same = shape.length === out.length,
    size = 1;
  for (let d = 0; d < out.length; d++) n *= out[d];
  for (let d = 0; d < shape.length; d++) {
    size *= shape[d];
    if (same && shape[d] !== out[d]) same = false;
  }
  if (same || size === 1) return { div: 1, mod: same ? n : 1 };
  const terms: ReadTerm[] = [];
  const pad = out.length - shape.length;
  let div = 1,
    stride = 1;
  for (let d = out.length - 1; d >= 0; d--) {
    const size = out[d];
    if (d >= pad && shape[d - pad] !== 1 && size !== 1) {
      const inner = terms.at(-1);
      // Merges into the inner term when the two are contiguous in the output and in the operand.
      if (inner && inner.div * inner.mod === div && inner.stride * inner.mod === stride) inner.mod *= size;
      else terms.push({ div, mod: size, stride });
      stride *= size;
    }
    div *= size;
  }
  if (terms.length === 0) return { div: 1, mod: 1 };
  const [first, ...outer] = terms;
  return outer.length ? { div: first.div, mod: first.mod, outer } : { div: first.div, mod: first.mod };
}

/**
 * A fused elementwise kernel's expression (src/graph/passes/fuse_elementwise.ts makes them): a tree of
 * unary and binary ops over the kernel's inputs, each read as its FusedRead says. The CPU backend evaluates it element by element with its op functions,
 * rounding each intermediate as a stored result would be; the WebGPU backend prints it as WGSL over the
 * same op functions (unary_op and binary_op, generated from ./elementwise_table.ts), so a fused kernel computes what the
 * unfused ones would.
 */
export type FusedExpr =
  | { kind: 'input'; k: number }
  /** In a fused reduction's or matmul's epilogue: the reduced or accumulated value. */
  | { kind: 'acc' }
  /** One value everywhere (a fill). */
  | { kind: 'const'; value: number }
  | { kind: 'unary'; op: UnaryOp; p0: number; p1: number; x: FusedExpr }
  | { kind: 'binary'; op: BinaryOp; a: FusedExpr; b: FusedExpr }
  | { kind: 'ternary'; op: TernaryOp; c: FusedExpr; a: FusedExpr; b: FusedExpr };

/** A fused expression's leaves: what it reads. */
export type FusedLeaf = FusedExpr & { kind: 'input' | 'acc' };

/** An op's operands in evaluation order (c, a, b for a ternary); none for a leaf or a constant. */
export const operands = (e: FusedExpr): FusedExpr[] =>
  e.kind === 'unary' ? [e.x] : e.kind === 'binary' ? [e.a, e.b] : e.kind === 'ternary' ? [e.c, e.a, e.b] : [];

/**
 * The expression with each leaf replaced by what `leaf` makes of it, constants kept; null where `leaf`
 * gives null for any leaf (the expression cannot be rewritten so). Every rewrite of the IR is this walk.
 */
export function mapLeaves(e: FusedExpr, leaf: (l: FusedLeaf) => FusedExpr): FusedExpr;
export function mapLeaves(e: FusedExpr, leaf: (l: FusedLeaf) => FusedExpr | null): FusedExpr | null;
export function mapLeaves(e: FusedExpr, leaf: (l: FusedLeaf) => FusedExpr | null): FusedExpr | null {
  switch (e.kind) {
    case 'input':
    case 'acc':
      return leaf(e);
    case 'const':
      return e;
    case 'unary': {
      const x = mapLeaves(e.x, leaf);
      return x && { ...e, x };
    }
    case 'binary': {
      const a = mapLeaves(e.a, leaf),
        b = mapLeaves(e.b, leaf);
      return a && b && { ...e, a, b };
    }
    case 'ternary': {
      const c = mapLeaves(e.c, leaf),
        a = mapLeaves(e.a, leaf),
        b = mapLeaves(e.b, leaf);
      return c && a && b && { ...e, c, a, b };
    }
  }
}

/** The expression with the reduced or accumulated value (`acc`) read as input k instead. */
export const withAcc = (e: FusedExpr, k: number): FusedExpr =>
  mapLeaves(e, (l) => (l.kind === 'acc' ? { kind: 'input', k } : l));

/** The ops of a fused expression in evaluation order (its label: fused:exp+mul+add). */
export function fusedOps(e: FusedExpr, out: string[] = []): string[] {
  for (const x of operands(e)) fusedOps(x, out);
  if ('op' in e) out.push(e.op);
  return out;
}

/**
 * The elementwise ops applied to a fused reduction's or matmul's results, over its own inputs (read per
 * output element, as FusedRead says).
 */
export interface FusedEpilogue {
  expr: FusedExpr;
  inputs: Storage[];
  reads: FusedRead[];
}

/**
 * A row kernel's ops in the order it runs them (its spilled value's, each stage's expression, sum and
 * epilogue, then the final expression's): its profile label and its line in a compiled program's listing.
 */
export function rowOps(
  stages: readonly { expr: FusedExpr; epilogue: { expr: FusedExpr } | null }[],
  final: FusedExpr,
  spill?: { expr: FusedExpr },
): string[] {
  return [
    ...(spill ? fusedOps(spill.expr) : []),
    ...stages.flatMap((st) => [...fusedOps(st.expr), 'sum', ...(st.epilogue ? fusedOps(st.epilogue.expr) : [])]),
    ...fusedOps(final),
  ];
}

/**
 * The read of a reduction's results at each element of the tensor it reduces (contiguous): element e
 * reads the output o of its row, o row-major over the kept runs, each run's index (e / stride) % size.
 */
export function rowRead({ kept }: ReduceGeom): FusedRead {
  if (!kept.length) return { div: 1, mod: 1 };
  const outer: ReadTerm[] = [];
  let stride = kept[kept.length - 1][0];
  for (let i = kept.length - 2; i >= 0; i--) {
    outer.push({ div: kept[i][1], mod: kept[i][0], stride });
    stride *= kept[i][0];
  }
  const [size, inner] = kept[kept.length - 1];
  return outer.length ? { div: inner, mod: size, outer } : { div: inner, mod: size };
}

/** The elements each output of a reduction reduces: the product of its reduced runs' sizes. */
export const reducedSize = (g: ReduceGeom): number => g.red.reduce((a, [n]) => a * n, 1);

/**
 * A strided reduction's geometry (a fused reduction; src/graph/passes/fuse_elementwise.ts makes it):
 * output o's elements start at base(o) = sum over the kept dims of (o's index along the dim) * stride,
 * and are the elements base(o) + i * red[0].stride + j * red[1].stride over the reduced runs (at most 2:
 * reducing [N, C, H, W] over [0, 2, 3] is the runs N and H*W), so no copy brings the reduced dims last.
 */
export interface ReduceGeom {
  rows: number;
  /** Kept dims, outermost first: [size, stride]. */
  kept: [number, number][];
  /** Reduced runs, outermost first: [size, stride]. */
  red: [number, number][];
}
