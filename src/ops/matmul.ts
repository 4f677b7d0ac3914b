// matmul with PyTorch's semantics and the batched bmm, as functions: the Tensor methods of src/tensor.ts
// (the matmul primitive reads either operand transposed, so its gradients need no transpose copies).

import type { Tensor } from '../tensor.ts';

/**
 * Batched product of 3-D operands: op(a)[b] @ op(b)[b], op = transpose when tA/tB. a's batch is 1 or
 * `batch`, likewise b's (1 means the matrix is shared by the whole batch).
 */
export const bmm = (a: Tensor, b: Tensor, tA = false, tB = false): Tensor => a.bmm(b, tA, tB);
/**
 * The matrix product with PyTorch's semantics (torch.matmul): 1-D operands are vectors and batch dims
 * broadcast; [..., M, K] @ [..., K, N] gives [..., M, N]. See {@link Tensor.matmul}.
 * @example
 * ```ts
 * const y = matmul(x, w.t()); // [B, in] @ [in, out] = [B, out]
 * ```
 */
export const matmul = (a: Tensor, b: Tensor): Tensor => a.matmul(b);
