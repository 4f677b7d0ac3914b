// Shared declarations of the matmul variants: C[b] = op(A[b]) @ op(B[b]), op = optional transpose.
// A is [M, K] (or [K, M] when TRANS_A), B is [K, N] (or [N, K] when TRANS_B), C is [M, N], row-major;
// sa, sb are the batch strides of A and B in floats (0 broadcasts one matrix over the batch).
override TRANS_A: bool = false;
override TRANS_B: bool = false;
struct Params { M: u32, N: u32, K: u32, batch: u32, sa: u32, sb: u32, p0: u32, p1: u32 }
@group(0) @binding(3) var<uniform> params: Params;

fn a_index(base: u32, r: u32, k: u32) -> u32 {
  if (TRANS_A) { return base + k * params.M + r; }
  return base + r * params.K + k;
}
fn b_index(base: u32, k: u32, c: u32) -> u32 {
  if (TRANS_B) { return base + c * params.K + k; }
  return base + k * params.N + c;
}
