// matmul with PyTorch's semantics (1-D operands, batched with broadcast batch dims) on one batched
// kernel that reads either operand transposed, so gradients need no transpose copies.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/engine.ts';
import { broadcastShapes, fmtShape, numel } from '../shape.ts';
import { broadcastTo, reshape } from './movement.ts';
import { sum } from './reduce.ts';

/**
 * Batched product of 3-D operands: op(a)[b] @ op(b)[b], op = transpose when tA/tB. a's batch is 1 or
 * `batch`, likewise b's (1 means the matrix is shared by the whole batch).
 */
export function bmm(a: Tensor, b: Tensor, tA = false, tB = false): Tensor {
  const [bA, a0, a1] = a.shape, [bB, b0, b1] = b.shape;
  const M = tA ? a1 : a0, K = tA ? a0 : a1;
  const K2 = tB ? b1 : b0, N = tB ? b0 : b1;
  if (K !== K2) {
    throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)}${tA ? '^T' : ''} @ ${fmtShape(b.shape)}${tB ? '^T' : ''} (${K} vs ${K2})`);
  }
  const batch = Math.max(bA, bB);
  if ((bA !== 1 && bA !== batch) || (bB !== 1 && bB !== batch)) throw new Error(`matmul: batch sizes ${bA} and ${bB} differ`);
  if (a.backend !== b.backend) throw new Error('matmul: tensors live on different backends');
  const spec = { batch, M, N, K, transA: tA, transB: tB, strideA: bA === 1 ? 0 : M * K, strideB: bB === 1 ? 0 : K * N };
  const storage = batch * M * N === 0 ? a.backend.fill(batch * M * N, 0) : a.backend.matmul(a.storage, b.storage, spec);
  const y = new Tensor(a.backend, storage, [batch, M, N]);
  return record('matmul', [a, b], y, (g) => {
    // C = op(A) op(B):  dop(A) = g op(B)^T,  dop(B) = op(A)^T g; an operand shared by the batch sums
    // its gradient over the batch.
    let ga = tA ? bmm(b, g, tB, true) : bmm(g, b, false, !tB);
    let gb = tB ? bmm(g, a, true, tA) : bmm(a, g, !tA, false);
    if (bA === 1 && batch > 1) ga = sum(ga, 0, true);
    if (bB === 1 && batch > 1) gb = sum(gb, 0, true);
    return [ga, gb];
  });
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`matmul: both operands need at least 1 dimension, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const A = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const B = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const [M, K] = A.shape.slice(-2), [K2, N] = B.shape.slice(-2);
  if (K !== K2) throw new Error(`matmul: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied (${K} vs ${K2})`);
  const batchA = A.shape.slice(0, -2), batchB = B.shape.slice(0, -2);
  const batchShape = broadcastShapes('matmul', batchA, batchB);
  const nb = numel(batchShape);
  let out: Tensor;
  if (numel(batchB) === 1 && batchA.length > 0) {
    // A batched against one matrix: fold the batch into the rows, one plain matmul.
    out = reshape(bmm(reshape(A, [1, numel(batchA) * M, K]), reshape(B, [1, K, N])), [...batchShape, M, N]);
  } else {
    const as3 = (t: Tensor, batch: number[], r: number, c: number) =>
      numel(batch) === 1 ? reshape(t, [1, r, c]) : reshape(broadcastTo(t, [...batchShape, r, c]), [nb, r, c]);
    out = reshape(bmm(as3(A, batchA, M, K), as3(B, batchB, K, N)), [...batchShape, M, N]);
  }
  if (a.ndim === 1 && b.ndim === 1) return reshape(out, []);
  if (a.ndim === 1) return reshape(out, [...batchShape, N]);
  if (b.ndim === 1) return reshape(out, [...batchShape, M]);
  return out;
}
