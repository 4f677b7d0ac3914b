// Movement ops: reshape (a view), permute/transpose, slice, concat, pad, broadcast_to, and their
// gradients. All but reshape copy through the strided-copy kernel, so every tensor stays contiguous.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/engine.ts';
import type { PadMode } from '../backend/kernels.ts';
import { broadcastShapes, broadcastStrides, contiguousStrides, fmtShape, normDim, numel, sameShape } from '../shape.ts';
import { sumTo } from './reduce.ts';
import { tensor } from './creation.ts';
import { matmul } from './matmul.ts';

export function reshape(x: Tensor, shape: number[]): Tensor {
  const known = shape.filter((s) => s !== -1);
  if (shape.length - known.length > 1) throw new Error(`reshape: more than one -1 in ${fmtShape(shape)}`);
  const rest = numel(known);
  const full = shape.map((s) => (s === -1 ? (rest === 0 ? 0 : x.size / rest) : s));
  if (numel(full) !== x.size || full.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new Error(`reshape: shape ${fmtShape(shape)} is invalid for a tensor of shape ${fmtShape(x.shape)} (${x.size} elements)`);
  }
  if (sameShape(full, x.shape)) return x;
  const y = x.viewAs(full);
  return record('reshape', [x], y, (g) => [g.reshape(x.shape)]);
}

/** Copies x read through `strides` (in x's storage, from `offset`) into a new contiguous tensor of `shape`. */
function gather(x: Tensor, shape: number[], strides: number[], offset = 0): Tensor {
  const out = x.backend.empty(numel(shape));
  if (numel(shape) > 0) x.backend.copyStrided(x.storage, out, shape, strides, offset, contiguousStrides(shape), 0);
  return new Tensor(x.backend, out, shape);
}

export function permute(x: Tensor, dims: number[]): Tensor {
  if (dims.length !== x.ndim) throw new Error(`permute: ${dims.length} dims given for a tensor of rank ${x.ndim}`);
  const d = dims.map((v) => normDim('permute', v, x.ndim));
  if (new Set(d).size !== d.length) throw new Error(`permute: dims [${dims.join(', ')}] are not a permutation`);
  if (d.every((v, i) => v === i)) return x;
  const st = contiguousStrides(x.shape);
  const y = gather(x, d.map((i) => x.shape[i]), d.map((i) => st[i]));
  const inv = new Array<number>(d.length);
  d.forEach((v, i) => (inv[v] = i));
  return record('permute', [x], y, (g) => [permute(g, inv)]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const perm = [...Array(x.ndim).keys()];
  const a = normDim('transpose', dim0, x.ndim), b = normDim('transpose', dim1, x.ndim);
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return permute(x, perm);
}

export function broadcastTo(x: Tensor, shape: number[]): Tensor {
  const out = broadcastShapes('broadcast_to', x.shape, shape);
  if (!sameShape(out, shape)) throw new Error(`broadcast_to: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  if (sameShape(x.shape, shape)) return x;
  const y = gather(x, shape, broadcastStrides(x.shape, shape));
  return record('broadcast_to', [x], y, (g) => [sumTo(g, x.shape)]);
}

/** x[start:end:step] along dim (negative start/end count from the end, as in Python). */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  const d = normDim('slice', dim, x.ndim);
  const size = x.shape[d];
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${step}`);
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  const s = clampIdx(start), e = clampIdx(end ?? size);
  const len = Math.max(0, Math.ceil((e - s) / step));
  const shape = x.shape.map((v, i) => (i === d ? len : v));
  const st = contiguousStrides(x.shape);
  const y = gather(x, shape, st.map((v, i) => (i === d ? v * step : v)), s * st[d]);
  return record('slice', [x], y, (g) => {
    // d slice: g scattered into zeros at the sliced positions.
    const out = x.backend.fill(x.size, 0);
    if (g.size > 0) x.backend.copyStrided(g.storage, out, shape, contiguousStrides(shape), 0, st.map((v, i) => (i === d ? v * step : v)), s * st[d]);
    return [new Tensor(x.backend, out, x.shape)];
  });
}

export function concat(xs: Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error('cat: expected a non-empty list of tensors');
  const d = normDim('cat', dim, xs[0].ndim);
  for (const t of xs) {
    if (t.ndim !== xs[0].ndim || t.shape.some((s, i) => i !== d && s !== xs[0].shape[i])) {
      throw new Error(`cat: shapes ${xs.map((q) => fmtShape(q.shape)).join(', ')} differ outside dim ${d}`);
    }
    if (t.backend !== xs[0].backend) throw new Error('cat: tensors live on different backends');
  }
  const shape = xs[0].shape.map((s, i) => (i === d ? xs.reduce((a, t) => a + t.shape[d], 0) : s));
  const backend = xs[0].backend;
  const out = backend.empty(numel(shape));
  const ost = contiguousStrides(shape);
  let off = 0;
  for (const t of xs) {
    if (t.size > 0) backend.copyStrided(t.storage, out, t.shape, contiguousStrides(t.shape), 0, ost, off * ost[d]);
    off += t.shape[d];
  }
  const y = new Tensor(backend, out, shape);
  return record('cat', xs, y, (g) => {
    let o = 0;
    return xs.map((t) => {
      const part = slice(g, d, o, o + t.shape[d]);
      o += t.shape[d];
      return part;
    });
  });
}

export function stack(xs: Tensor[], dim = 0): Tensor {
  const d = dim < 0 ? dim + xs[0].ndim + 1 : dim;
  return concat(xs.map((t) => unsqueeze(t, d)), d);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim('unsqueeze', dim, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((s) => s !== 1));
  const d = normDim('squeeze', dim, x.ndim);
  return x.shape[d] === 1 ? reshape(x, x.shape.filter((_, i) => i !== d)) : x;
}
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim('flatten', startDim, x.ndim), e = normDim('flatten', endDim, x.ndim);
  return reshape(x, [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/**
 * Pads the last dims like torch.nn.functional.pad: `pads` = [last_before, last_after, prev_before, ...].
 * Modes: constant (value), reflect (edge not repeated; pad < size), replicate.
 */
export function pad(x: Tensor, pads: number[], mode: PadMode = 'constant', value = 0): Tensor {
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim) {
    throw new Error(`pad: ${pads.length} pad values do not fit a tensor of rank ${x.ndim} (need pairs, at most 2 per dim)`);
  }
  if (!['constant', 'reflect', 'replicate'].includes(mode)) throw new Error(`pad: unknown mode '${mode}' (constant, reflect, replicate)`);
  const before = x.shape.map(() => 0), after = x.shape.map(() => 0);
  for (let i = 0; i < pads.length / 2; i++) {
    const d = x.ndim - 1 - i;
    before[d] = pads[2 * i];
    after[d] = pads[2 * i + 1];
    if (before[d] < 0 || after[d] < 0 || !Number.isInteger(before[d]) || !Number.isInteger(after[d])) {
      throw new Error(`pad: negative or fractional padding [${pads.join(', ')}] is not supported`);
    }
    if (mode === 'reflect' && (before[d] >= x.shape[d] || after[d] >= x.shape[d])) {
      throw new Error(`pad: reflect padding ${Math.max(before[d], after[d])} must be less than the size ${x.shape[d]} of dim ${d}`);
    }
    if (mode === 'replicate' && x.shape[d] === 0 && before[d] + after[d] > 0) throw new Error(`pad: cannot replicate-pad an empty dim ${d}`);
  }
  const outShape = x.shape.map((s, d) => s + before[d] + after[d]);
  const y = new Tensor(x.backend, x.backend.pad(x.storage, x.shape, before, after, mode, value), outShape);
  return record(`pad_${mode}`, [x], y, (g) => {
    if (mode === 'constant') {
      // d pad_constant = the centre of g
      let r = g;
      for (let d = 0; d < x.ndim; d++) if (before[d] || after[d]) r = slice(r, d, before[d], before[d] + x.shape[d]);
      return [r];
    }
    // Reflect/replicate along one dim is y = P x with P a 0/1 selection matrix, so dx = P^T g,
    // applied dim by dim (padding is separable).
    let r = g;
    for (let d = x.ndim - 1; d >= 0; d--) {
      if (!before[d] && !after[d]) continue;
      const S = x.shape[d], So = S + before[d] + after[d];
      const P = new Float32Array(So * S);
      for (let o = 0; o < So; o++) {
        let c = o - before[d];
        if (mode === 'reflect') c = c < 0 ? -c : c >= S ? 2 * (S - 1) - c : c;
        else c = Math.min(Math.max(c, 0), S - 1);
        P[o * S + c] = 1;
      }
      const Pt = tensor(P, [So, S], { backend: x.backend });
      const moved = transpose(r, d, -1);
      r = transpose(matmul(moved, Pt), d, -1);
    }
    return [r];
  });
}

/** A tensor sharing x's storage, cut from the graph (torch.Tensor.detach). */
export function detach(x: Tensor): Tensor {
  return x.viewAs(x.shape);
}
