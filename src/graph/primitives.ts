// The primitive table: every operation that reaches a backend kernel is one row here, with its shape
// rule, its backend call and its backward rule (the vector-Jacobian product, formula in the comment above
// it: x the inputs, y the output, g the output's gradient). src/graph/apply.ts is the only caller.
// Everything else (mean, softmax, logsumexp, losses, linear, batch norm, ...) is a composition of these
// rows, so its gradient comes free (tinygrad's mixin/gradient.py: ~25 primitives, one rule table).
// The table is typed { [P in Primitive]: Rule<P> } (jax-js's src/frontend/jvp.ts does the same), so a
// primitive without a rule does not compile. Backward rules are written with tensor methods and the
// `apply` they are handed, against the GraphTensor interface, so they run on either backend and would
// be recorded by a tracer like any other op.

import { rowsOf, type Backend, type GatherDims, type Storage, type View } from '../backend/backend.ts';
import {
  broadcastRead,
  type BinaryOp,
  type ConvGeom,
  type FusedExpr,
  type MatmulSpec,
  type PadMode,
  type RandomSpec,
  type ReduceOp,
  type TernaryOp,
  type UnaryOp,
} from '../backend/kernels.ts';
import { binaryRow, ternaryRow, unaryRow } from '../backend/elementwise_table.ts';
import { broadcastShapes, broadcastStrides, contiguousStrides, fmtShape, numel, sameShape } from '../shape.ts';
import type { DType, GraphTensor } from './types.ts';

/** Each primitive's parameters (everything but its tensor inputs). */
export interface Params {
  unary: { op: UnaryOp; p0: number; p1: number };
  /** Broadcasting over the inputs' shapes (numpy rules). */
  binary: { op: BinaryOp };
  ternary: { op: TernaryOp };
  /** dims sorted and distinct. */
  reduce: { op: ReduceOp; dims: number[]; keepdim: boolean };
  /** A view: the output shares the input's storage. */
  reshape: { shape: number[] };
  permute: { dims: number[] };
  broadcast: { shape: number[] };
  /** Elements start, start + step, ... (len of them) along dim. */
  slice: { dim: number; start: number; len: number; step: number };
  /** slice's adjoint: the input scattered into zeros of `shape` at the sliced positions. */
  unslice: { shape: number[]; dim: number; start: number; step: number };
  concat: { dim: number };
  pad: { before: number[]; after: number[]; mode: PadMode; value: number };
  /** torch.gather: inputs [x, index], index of x's shape but along dim; positions as floats. */
  gather: { dim: number };
  /** gather's adjoint: inputs [src, index] of one shape, each src value added at its index in zeros of `shape`. */
  scatter_add: { dim: number; shape: number[] };
  /** Running sums along dim (reverse: from the end). */
  cumsum: { dim: number; reverse: boolean };
  /** 3-D batched op(a) @ op(b); a batch of 1 is shared by the whole batch. */
  matmul: { transA: boolean; transB: boolean };
  conv2d: { geom: ConvGeom };
  /** conv2d's input gradient from (dy, w); also conv_transpose2d's forward. */
  conv2d_grad_input: { geom: ConvGeom };
  /** conv2d's weight gradient from (dy, x). */
  conv2d_grad_weight: { geom: ConvGeom };
  random: { backend: Backend; shape: number[]; spec: RandomSpec };
  /** dtype: float32 unless given (an int32 value is checked by the caller, src/ops/creation.ts). */
  fill: { backend: Backend; shape: number[]; value: number; dtype?: DType };
  upload: { backend: Backend; shape: number[]; data: Float32Array | Float64Array; dtype?: DType };
}
export type Primitive = keyof Params;

/** The dispatch function as backward rules see it (src/graph/apply.ts's apply, for any tensor type). */
export type Apply<T> = <P extends Primitive>(prim: P, inputs: T[], params: Params[P]) => T;

export type BackwardRule<P extends Primitive> = <T extends GraphTensor<T>>(
  g: T,
  x: T[],
  y: T,
  p: Params[P],
  apply: Apply<T>,
) => (T | null)[];

export interface Rule<P extends Primitive> {
  /** Output shape from the input shapes; throws the op's error where they do not fit. */
  shape(x: number[][], p: Params[P]): number[];
  /** The backend call: a new storage, or 'view' where the output shares input 0's storage. */
  run(b: Backend, x: Storage[], p: Params[P], outShape: number[], xShapes: number[][]): Storage | 'view';
  /** null: not differentiable (creation, random draws), never recorded. */
  backward: BackwardRule<P> | null;
  /**
   * The output's dtype from the inputs' (see DType in types.ts); float32 where a row has none. Rows that
   * move values keep input 0's, so an int32 index stays int32 through reshape, slice, cat and gather.
   */
  dtype?(x: readonly { dtype: DType }[], p: Params[P]): DType;
  /** Where only some parameter values are differentiable (argmax is a reduce): false = not recorded. */
  recorded?(p: Params[P]): boolean;
}

// ---- helpers of the backward rules (compositions of primitives) ----

/** Sums a broadcast gradient back to `shape` (leading dims, and dims where shape has 1). */
export function sumTo<T extends GraphTensor<T>>(g: T, shape: number[]): T {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let d = 0; d < g.ndim; d++) if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) dims.push(d);
  const s = dims.length ? g.sum(dims, true) : g;
  return s.reshape(shape);
}

// (Module-level functions, not closures inside the rules: see Recorded in apply.ts for why.)
const un = <T>(apply: Apply<T>, op: UnaryOp, x: T, p0 = 0, p1 = 0) => apply('unary', [x], { op, p0, p1 });
const sliceOf = <T>(apply: Apply<T>, x: T, dim: number, start: number, len: number) =>
  apply('slice', [x], { dim, start, len, step: 1 });
/** The backend's MatmulSpec of a matmul primitive (its params, output shape and operand shapes). */
export function matmulSpec(
  { transA, transB }: Params['matmul'],
  [batch, M, N]: number[],
  [sa, sb]: number[][],
): MatmulSpec {
  const K = transA ? sa[1] : sa[2];
  return { batch, M, N, K, transA, transB, strideA: sa[0] === 1 ? 0 : M * K, strideB: sb[0] === 1 ? 0 : K * N };
}

const mm = <T>(apply: Apply<T>, l: T, r: T, transA: boolean, transB: boolean) =>
  apply('matmul', [l, r], { transA, transB });
/** Each input's gradient summed back to its shape (the binary ops broadcast). */
function sumBoth<T extends GraphTensor<T>>(a: T, b: T, ga: T | null, gb: T | null): (T | null)[] {
  return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
}
/** x (size 1..S along dim) placed at offset `at` in zeros of size S along dim: a constant pad of that dim. */
function placeAt<T extends GraphTensor<T>>(apply: Apply<T>, x: T, dim: number, at: number, S: number): T {
  const before = x.shape.map(() => 0),
    after = x.shape.map(() => 0);
  before[dim] = at;
  after[dim] = S - at - x.shape[dim];
  return apply('pad', [x], { before, after, mode: 'constant', value: 0 });
}
/** The elements of x along dim in reverse order (a concat of unit slices; pads are a few wide). */
function reversed<T extends GraphTensor<T>>(apply: Apply<T>, x: T, dim: number): T {
  const n = x.shape[dim];
  if (n === 1) return x;
  return apply(
    'concat',
    Array.from({ length: n }, (_, i) => sliceOf(apply, x, dim, n - 1 - i, 1)),
    { dim },
  );
}

/** A shape viewed as [O, D, I] around dim (the sizes before it, its own, after it), and K an index's extent there. */
function alongDim(shape: number[], dim: number, K: number): GatherDims {
  return { O: numel(shape.slice(0, dim)), D: shape[dim], I: numel(shape.slice(dim + 1)), K };
}

/** A contiguous storage of `shape` as a strided view (from `offset`). */
function dense(storage: Storage, shape: number[], offset = 0): View {
  return { storage, strides: contiguousStrides(shape), offset };
}

/** Copies x (of `shape`, read through strides from offset) into a new contiguous storage of outShape. */
function gather(b: Backend, x: Storage, outShape: number[], strides: number[], offset = 0): Storage {
  const out = b.alloc(numel(outShape));
  if (numel(outShape) > 0)
    b.move({ kind: 'copy', shape: outShape, src: { storage: x, strides, offset }, dst: dense(out, outShape) });
  return out;
}

const keptShape = (shape: number[], dims: number[]) => shape.map((s, d) => (dims.includes(d) ? 1 : s));

/**
 * Reduces `dims` of x (any set, sorted) into a storage laid out as the keepdim result. The kernel reduces
 * contiguous rows, so the reduced dims are first moved last (a strided copy, skipped when they already
 * are). Reduced dims that end the shape are already contiguous rows: they are reduced first and the others
 * on the smaller result, so only that is permuted (batch norm's [n, c, h, w] over [0, 2, 3] copies [n, c],
 * not the whole input). sum, max and min compose this way; the arg-reductions take one dim. Size-1 dims
 * are dropped first (the layout is the same), so the composition depends only on the runs of reduced and
 * kept dims, as a fused reduction's geometry does (ReduceGeom; the CPU reference's fused form sums in
 * this order).
 */
function reduceStorage(b: Backend, op: ReduceOp, x: Storage, shape: number[], dims: number[]): Storage {
  if (shape.includes(1)) {
    const at = (d: number) => shape.slice(0, d).filter((s) => s !== 1).length;
    const [squeezedShape, squeezedDims] = [shape.filter((s) => s !== 1), dims.filter((d) => shape[d] !== 1).map(at)];
    return reduceStorage(b, op, x, squeezedShape, squeezedDims);
  }
  const rank = shape.length;
  let tail = 0;
  while (tail < dims.length && dims[dims.length - 1 - tail] === rank - 1 - tail) tail++;
  if (tail > 0 && tail < dims.length && (op === 'sum' || op === 'max' || op === 'min') && numel(shape) > 0) {
    const innerDims = dims.slice(dims.length - tail);
    const inner = reduceStorage(b, op, x, shape, innerDims);
    const rest = reduceStorage(b, op, inner, keptShape(shape, innerDims), dims.slice(0, dims.length - tail));
    b.free(inner);
    return rest;
  }
  const keptDims = [...Array(rank).keys()].filter((d) => !dims.includes(d));
  const R = numel(dims.map((d) => shape[d]));
  const rows = numel(keptDims.map((d) => shape[d]));
  if (R === 0) return fill(b, rows, 0);
  const order = [...keptDims, ...dims];
  if (order.every((d, i) => d === i)) return b.reduce(rowsOf(op, x, rows, R));
  const st = contiguousStrides(shape);
  const src = gather(
    b,
    x,
    order.map((d) => shape[d]),
    order.map((d) => st[d]),
  );
  const out = b.reduce(rowsOf(op, src, rows, R));
  b.free(src);
  return out;
}

/** The expressions' inputs 0, 1, 2. */
const IN: FusedExpr[] = [0, 1, 2].map((k) => ({ kind: 'input', k }));

/** One elementwise op as the backend's kernel from the IR, each operand broadcast to `shape`. */
function elementwiseOp(b: Backend, expr: FusedExpr, xs: Storage[], shapes: number[][], shape: number[]): Storage {
  const reads = shapes.map((s) => broadcastRead(s, shape));
  return b.elementwise({ expr, inputs: xs, reads, n: numel(shape) });
}

/** n elements, all `value`: the elementwise kernel of one constant. */
const fill = (b: Backend, n: number, value: number): Storage =>
  b.elementwise({ expr: { kind: 'const', value }, inputs: [], reads: [], n });

// ---- the table ----

/** The dtype rule of the rows that move values: input 0's. */
const keep = (x: readonly { dtype: DType }[]): DType => x[0].dtype;

export const RULES: { [P in Primitive]: Rule<P> } = {
  unary: {
    shape: ([x]) => x,
    run: (b, [x], { op, p0, p1 }, shape) =>
      elementwiseOp(b, { kind: 'unary', op, p0, p1, x: IN[0] }, [x], [shape], shape),
    // Each op's derivative is its row's (src/backend/elementwise_table.ts, the formula above it): null for
    // the piecewise-constant ops.
    backward: (g, [x], y, { op, p0, p1 }, apply) => [
      unaryRow(op).grad?.({ g, x, y, p0, p1, un: (o, v, a, b) => un(apply, o, v, a, b) }) ?? null,
    ],
  },

  binary: {
    shape: ([a, b], p) => broadcastShapes(p.op, a, b),
    run: (b, xs, { op }, shape, shapes) =>
      elementwiseOp(b, { kind: 'binary', op, a: IN[0], b: IN[1] }, xs, shapes, shape),
    // Each op's derivative is its row's (src/backend/elementwise_table.ts, the formula above it), each
    // input's gradient summed back to its shape; none for the comparisons.
    backward: (g, [a, b], y, { op }, apply) => {
      const [na, nb] = [a.requiresGrad, b.requiresGrad];
      const grads = binaryRow(op).grad?.({ g, a, b, y, na, nb, un: (o, v, p0, p1) => un(apply, o, v, p0, p1) });
      return grads ? sumBoth(a, b, ...grads) : [null, null];
    },
  },

  ternary: {
    shape: ([c, a, b], p) => broadcastShapes(p.op, c, a, b),
    run: (b, xs, { op }, shape, shapes) =>
      elementwiseOp(b, { kind: 'ternary', op, c: IN[0], a: IN[1], b: IN[2] }, xs, shapes, shape),
    // Each op's derivative is its row's (src/backend/elementwise_table.ts, the formula above it), each
    // input's gradient summed back to its shape.
    backward: (g, [c, a, b], _y, { op }, apply) => {
      const [gc, ga, gb] = ternaryRow(op).grad({
        g,
        c,
        a,
        b,
        nc: c.requiresGrad,
        na: a.requiresGrad,
        nb: b.requiresGrad,
        where: (c, a, b) => apply('ternary', [c, a, b], { op: 'where' }),
      });
      return [gc && sumTo(gc, c.shape), ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
    },
  },

  reduce: {
    shape: ([x], { op, dims, keepdim }) => {
      if (op !== 'sum' && numel(dims.map((d) => x[d])) === 0)
        throw new Error(`${op}: cannot reduce an empty dimension of a tensor of shape ${fmtShape(x)}`);
      return keepdim ? keptShape(x, dims) : x.filter((_, d) => !dims.includes(d));
    },
    run: (b, [x], { op, dims }, _out, [shape]) => reduceStorage(b, op, x, shape, dims),
    // positions are int32; an int32 tensor's max and min are its own values; a sum may leave the exact range
    dtype: ([x], { op }) => (op === 'argmax' || op === 'argmin' ? 'int32' : op === 'sum' ? 'float32' : x.dtype),
    recorded: (p) => p.op === 'sum' || p.op === 'max' || p.op === 'min',
    backward: (g, [x], y, { op, dims }) => {
      const keep = keptShape(x.shape, dims);
      // d sum(x) = g broadcast back over the reduced dims
      if (op === 'sum') return [g.reshape(keep).broadcastTo(x.shape)];
      // d max(x) = g * [x == y] / (number of ties): the gradient is shared evenly among the maxima (min alike)
      const mask = x.eq(y.reshape(keep));
      return [mask.mul(g.reshape(keep)).div(mask.sum(dims, true))];
    },
  },

  reshape: {
    dtype: keep,
    shape: ([x], { shape }) => {
      if (numel(shape) !== numel(x))
        throw new Error(
          `reshape: shape ${fmtShape(shape)} is invalid for a tensor of shape ${fmtShape(x)} (${numel(x)} elements)`,
        );
      return shape;
    },
    run: () => 'view',
    // d reshape(x) = g reshaped back
    backward: (g, [x]) => [g.reshape(x.shape)],
  },

  permute: {
    dtype: keep,
    shape: ([x], { dims }) => dims.map((i) => x[i]),
    run: (b, [x], { dims }, out, [shape]) => {
      const st = contiguousStrides(shape);
      return gather(
        b,
        x,
        out,
        dims.map((i) => st[i]),
      );
    },
    // d permute(x, p) = permute(g, p^-1)
    backward: (g, _x, _y, { dims }) => {
      const inv = new Array<number>(dims.length);
      dims.forEach((v, i) => (inv[v] = i));
      return [g.permute(inv)];
    },
  },

  broadcast: {
    dtype: keep,
    shape: ([x], { shape }) => {
      const out = broadcastShapes('broadcast_to', x, shape);
      if (!sameShape(out, shape))
        throw new Error(`broadcast_to: cannot broadcast ${fmtShape(x)} to ${fmtShape(shape)}`);
      return shape;
    },
    run: (b, [x], { shape }, _out, [xs]) => gather(b, x, shape, broadcastStrides(xs, shape)),
    // d broadcast(x) = g summed over the broadcast dims
    backward: (g, [x]) => [sumTo(g, x.shape)],
  },

  slice: {
    dtype: keep,
    shape: ([x], { dim, len }) => x.map((v, i) => (i === dim ? len : v)),
    run: (b, [x], { dim, start, step }, out, [shape]) => {
      const st = contiguousStrides(shape);
      return gather(
        b,
        x,
        out,
        st.map((v, i) => (i === dim ? v * step : v)),
        start * st[dim],
      );
    },
    // d slice(x) = g scattered into zeros at the sliced positions
    backward: (g, [x], _y, { dim, start, step }, apply) => [
      apply('unslice', [g], { shape: x.shape, dim, start, step }),
    ],
  },

  unslice: {
    shape: (_x, { shape }) => shape,
    run: (b, [x], { dim, start, step }, out, [shape]) => {
      const res = fill(b, numel(out), 0);
      const st = contiguousStrides(out);
      if (numel(shape) > 0)
        b.move({
          kind: 'copy',
          shape,
          src: dense(x, shape),
          dst: { storage: res, strides: st.map((v, i) => (i === dim ? v * step : v)), offset: start * st[dim] },
        });
      return res;
    },
    // unslice is linear and slice is its adjoint: d unslice(x) = slice(g)
    backward: (g, [x], _y, { dim, start, step }, apply) => [
      apply('slice', [g], { dim, start, len: x.shape[dim], step }),
    ],
  },

  concat: {
    // int32 only when every piece is (torch promotes a mix to the float type)
    dtype: (xs) => (xs.every((t) => t.dtype === 'int32') ? 'int32' : 'float32'),
    shape: (xs, { dim }) => {
      for (const t of xs) {
        if (t.length !== xs[0].length || t.some((s, i) => i !== dim && s !== xs[0][i])) {
          throw new Error(`cat: shapes ${xs.map((q) => fmtShape(q)).join(', ')} differ outside dim ${dim}`);
        }
      }
      return xs[0].map((s, i) => (i === dim ? xs.reduce((a, t) => a + t[dim], 0) : s));
    },
    run: (b, xs, { dim }, shape, shapes) => {
      const out = b.alloc(numel(shape));
      const ost = contiguousStrides(shape);
      let off = 0;
      xs.forEach((x, k) => {
        if (numel(shapes[k]) > 0)
          b.move({ kind: 'copy', shape: shapes[k], src: dense(x, shapes[k]), dst: dense(out, shape, off * ost[dim]) });
        off += shapes[k][dim];
      });
      return out;
    },
    // d cat(x_1..x_n) = the consecutive slices of g along dim
    backward: (g, xs, _y, { dim }, apply) => {
      let o = 0;
      return xs.map((t) => {
        const part = t.requiresGrad ? sliceOf(apply, g, dim, o, t.shape[dim]) : null;
        o += t.shape[dim];
        return part;
      });
    },
  },

  pad: {
    dtype: ([x], { value }) => (x.dtype === 'int32' && Number.isInteger(value) ? 'int32' : 'float32'),
    shape: ([x], { before, after }) => x.map((s, d) => s + before[d] + after[d]),
    run: (b, [x], { before, after, mode, value }, _out, [shape]) =>
      b.move({ kind: 'pad', x, shape, before, after, mode, value }),
    // The adjoint of padding, dim by dim (padding is separable), written with slice, concat, pad and add:
    //  constant:  dx = g's interior g[b : b + S]
    //  replicate: dx = interior, plus sum(g[0 : b]) added at x[0] and sum(g[b + S :]) at x[S - 1]
    //  reflect:   dx = interior, plus g[b - c] added at x[c] for c = 1..b (the left border, reversed)
    //             and g[b + S + j] at x[S - 2 - j] for j = 0..a-1 (the right one)
    // (b, a the pads before and after along the dim, S its size). This replaced a dense 0/1 selection
    // matrix P built on the host and a matmul by P^T.
    backward: (g, [x], _y, { before, after, mode }, apply) => {
      let r = g;
      for (let d = x.ndim - 1; d >= 0; d--) {
        const bd = before[d],
          ad = after[d],
          S = x.shape[d];
        if (!bd && !ad) continue;
        let dx = sliceOf(apply, r, d, bd, S);
        if (mode === 'replicate') {
          if (bd) dx = dx.add(placeAt(apply, sliceOf(apply, r, d, 0, bd).sum(d, true), d, 0, S));
          if (ad) dx = dx.add(placeAt(apply, sliceOf(apply, r, d, bd + S, ad).sum(d, true), d, S - 1, S));
        } else if (mode === 'reflect') {
          if (bd) dx = dx.add(placeAt(apply, reversed(apply, sliceOf(apply, r, d, 0, bd), d), d, 1, S));
          if (ad) dx = dx.add(placeAt(apply, reversed(apply, sliceOf(apply, r, d, bd + S, ad), d), d, S - 1 - ad, S));
        }
        r = dx;
      }
      return [r];
    },
  },

  gather: {
    dtype: keep,
    shape: ([x, index], { dim }) => {
      if (index.length !== x.length || index.some((s, d) => d !== dim && s !== x[d])) {
        throw new Error(
          `gather: index of shape ${fmtShape(index)} does not fit input ${fmtShape(x)} along dim ${dim} (same rank, same sizes but along dim)`,
        );
      }
      if (x[dim] === 0 && numel(index) > 0)
        throw new Error(`gather: cannot index dim ${dim} of size 0 of a tensor of shape ${fmtShape(x)}`);
      return index;
    },
    run: (b, [x, index], { dim }, _out, [xs, is]) =>
      b.move({ kind: 'gather', x, index, dims: alongDim(xs, dim, is[dim]) }),
    // d gather(x)[o, k, i] / d x[o, d, i] = [index[o, k, i] == d]: the gradient scattered back, summed.
    backward: (g, [x, index], _y, { dim }, apply) => [apply('scatter_add', [g, index], { dim, shape: x.shape }), null],
  },

  scatter_add: {
    shape: ([src, index], { dim, shape }) => {
      if (!sameShape(src, index) || shape.length !== src.length || shape.some((s, d) => d !== dim && s !== src[d])) {
        throw new Error(
          `scatter_add: src ${fmtShape(src)} and index ${fmtShape(index)} do not fit output ${fmtShape(shape)} along dim ${dim}`,
        );
      }
      return shape;
    },
    run: (b, [src, index], { dim, shape }, _out, [ss]) =>
      b.move({ kind: 'scatter_add', x: src, index, dims: alongDim(shape, dim, ss[dim]) }),
    // Linear in src, and gather is its adjoint.
    backward: (g, [, index], _y, { dim }, apply) => [apply('gather', [g, index], { dim }), null],
  },

  cumsum: {
    shape: ([x]) => x,
    run: (b, [x], { dim, reverse }, _out, [xs]) => b.move({ kind: 'cumsum', x, dims: alongDim(xs, dim, 0), reverse }),
    // y_d = sum_{t <= d} x_t, so dx_t = sum_{d >= t} g_d: the reverse running sum of g.
    backward: (g, _x, _y, { dim, reverse }, apply) => [apply('cumsum', [g], { dim, reverse: !reverse })],
  },

  matmul: {
    shape: ([a, b], { transA: tA, transB: tB }) => {
      const [bA, a0, a1] = a,
        [bB, b0, b1] = b;
      const M = tA ? a1 : a0,
        K = tA ? a0 : a1;
      const K2 = tB ? b1 : b0,
        N = tB ? b0 : b1;
      if (K !== K2) {
        throw new Error(
          `matmul: inner dimensions differ: ${fmtShape(a)}${tA ? '^T' : ''} @ ${fmtShape(b)}${tB ? '^T' : ''} (${K} vs ${K2})`,
        );
      }
      const batch = Math.max(bA, bB);
      if ((bA !== 1 && bA !== batch) || (bB !== 1 && bB !== batch))
        throw new Error(`matmul: batch sizes ${bA} and ${bB} differ`);
      return [batch, M, N];
    },
    run: (be, [a, b], params, shape, xShapes) => {
      if (numel(shape) === 0) return fill(be, 0, 0);
      return be.matmul(a, b, matmulSpec(params, shape, xShapes));
    },
    // C = op(A) op(B):  dop(A) = g op(B)^T,  dop(B) = op(A)^T g; an operand shared by the batch (batch 1)
    // sums its gradient over the batch. The kernel reads either operand transposed: no transpose copies.
    // Only for the operands that require grad (a first layer's input batch gets none).
    backward: (g, [a, b], y, { transA: tA, transB: tB }, apply) => {
      let ga = a.requiresGrad ? (tA ? mm(apply, b, g, tB, true) : mm(apply, g, b, false, !tB)) : null;
      let gb = b.requiresGrad ? (tB ? mm(apply, g, a, true, tA) : mm(apply, a, g, !tA, false)) : null;
      const batch = y.shape[0];
      if (ga && a.shape[0] === 1 && batch > 1) ga = ga.sum(0, true);
      if (gb && b.shape[0] === 1 && batch > 1) gb = gb.sum(0, true);
      return [ga, gb];
    },
  },

  // The three implicit-GEMM kernels of shaders/conv.wgsl. Each is linear in each input, and the other two
  // are its adjoints, so the set is closed under differentiation (the backward of a backward stays in it).
  // Each gradient kernel runs only for an input that requires grad (a first layer's images get none).
  conv2d: {
    shape: (_x, { geom: g }) => [g.n, g.O, g.OH, g.OW],
    run: (b, [x, w], { geom }) => b.conv('conv2d', x, w, geom),
    // y = conv(x, w):  dx = conv_grad_input(g, w),  dw = conv_grad_weight(g, x)
    backward: (g, [x, w], _y, p, apply) => [
      x.requiresGrad ? apply('conv2d_grad_input', [g, w], p) : null,
      w.requiresGrad ? apply('conv2d_grad_weight', [g, x], p) : null,
    ],
  },
  conv2d_grad_input: {
    shape: (_x, { geom: g }) => [g.n, g.C, g.H, g.W],
    run: (b, [dy, w], { geom }) => b.conv('conv2d_grad_input', dy, w, geom),
    // y = conv^T(a, w) (a shaped like conv's output):  da = conv(g, w),  dw = conv_grad_weight(a, g)
    backward: (g, [a, w], _y, p, apply) => [
      a.requiresGrad ? apply('conv2d', [g, w], p) : null,
      w.requiresGrad ? apply('conv2d_grad_weight', [a, g], p) : null,
    ],
  },
  conv2d_grad_weight: {
    shape: (_x, { geom: g }) => [g.O, g.C, g.KH, g.KW],
    run: (b, [dy, x], { geom }) => b.conv('conv2d_grad_weight', dy, x, geom),
    // y = conv_grad_weight(dy, x), read g as a weight:  d dy = conv(x, g),  dx = conv_grad_input(dy, g)
    backward: (g, [dy, x], _y, p, apply) => [
      dy.requiresGrad ? apply('conv2d', [x, g], p) : null,
      x.requiresGrad ? apply('conv2d_grad_input', [dy, g], p) : null,
    ],
  },

  // Sources: no inputs, no gradient. The random draw's counter is taken from the generator by the caller
  // (src/ops/random.ts, through applyPerCall), so a compiled step takes a new one on every call.
  random: { shape: (_x, p) => p.shape, run: (b, _x, p) => b.random(numel(p.shape), p.spec), backward: null },
  fill: {
    shape: (_x, p) => p.shape,
    dtype: (_x, p) => p.dtype ?? 'float32',
    run: (b, _x, p) => fill(b, numel(p.shape), p.value),
    backward: null,
  },
  upload: {
    shape: (_x, p) => p.shape,
    dtype: (_x, p) => p.dtype ?? 'float32',
    run: (b, _x, p) => b.alloc(p.data),
    backward: null,
  },
};

/** The primitives, listed at run time (tests check each kernel-vocabulary op maps to a row). */
export const PRIMITIVES = Object.keys(RULES) as Primitive[];

/** Primitives without tensor inputs take their backend from the params. */
export function sourceBackend(p: object): Backend | undefined {
  return (p as { backend?: Backend }).backend;
}
