// Shape arithmetic shared by the tensor layer and the backends: element counts, row-major strides and
// NumPy broadcasting.

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function contiguousStrides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d] = acc;
    acc *= shape[d];
  }
  return st;
}

/** NumPy broadcasting of two shapes; throws naming the op and both shapes when they do not broadcast. */
export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d !== 1 && dim !== 1 && d !== dim) {
        throw new Error(
          `${op}: shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')} cannot be broadcast together`,
        );
      }
      if (d !== 1) dim = d;
    }
    out.push(dim);
  }
  return out;
}

/** Strides that read a contiguous tensor of `shape` over the (broadcast) output shape `out`. */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const st = contiguousStrides(shape);
  const pad = out.length - shape.length;
  return out.map((_, i) => (i < pad || shape[i - pad] === 1 ? 0 : st[i - pad]));
}

export const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** Normalizes a possibly negative dimension index, with a clear error naming the op. */
export function normDim(op: string, dim: number, rank: number): number {
  const d = dim < 0 ? dim + rank : dim;
  if (!Number.isInteger(d) || d < 0 || d >= Math.max(rank, 1)) {
    throw new Error(`${op}: dim ${dim} is out of range for a tensor of rank ${rank}`);
  }
  return d;
}

export const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Merges adjacent dimensions that every operand walks as one (stride[d] = stride[d+1] * shape[d+1] for
 * all stride lists, which includes two broadcast dims of stride 0), and drops size-1 dims: a batch-norm
 * broadcast [n, c, h, w] with strides [0, 1, 0, 0] becomes [n, c, h*w]. Same elements, same order, fewer
 * index divisions per element in the strided kernels.
 */
export function collapseDims(
  shape: readonly number[],
  ...strides: (readonly number[])[]
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}
