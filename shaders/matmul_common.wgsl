// GEMM hooks for plain matmul: C[b] = op(A[b]) @ op(B[b]), op = optional transpose.
// A is [M, K] (or [K, M] when TRANS_A), B is [K, N] (or [N, K] when TRANS_B), C is [M, N], row-major;
// sa, sb are the batch strides of A and B in floats (0 broadcasts one matrix over the batch).
// The hooks the GEMM cores (gemm_reg, gemm_tiled, gemm_splitk) call: mm_dims; mm_row, mm_col, mm_k,
// which precompute what a row, a column or a k index contributes to addresses (the cores call them once
// per row/column per invocation and once per k step, so index arithmetic stays out of the inner loads);
// mm_k_next, which steps k by one without the divisions of mm_k; mm_read_a, mm_read_b, mm_write. conv.wgsl defines the same hooks over implicit im2col addressing.
// mm_write stores through mm_store of matmul_io.wgsl (the bindings), which a compiled graph's fused
// matmul replaces by one that applies an epilogue (src/backend/webgpu/fused.ts, epilogueIo).
override TRANS_A: bool = false;
override TRANS_B: bool = false;
struct Params { M: u32, N: u32, K: u32, batch: u32, sa: u32, sb: u32, p0: u32, p1: u32 }

fn mm_dims() -> vec4<u32> { return vec4<u32>(params.M, params.N, params.K, params.batch); }

struct RowInfo { a: u32 }
struct ColInfo { b: u32 }
struct KInfo { a: u32, b: u32 }

// Offsets: A[r, k] = a[row.a + k.a], B[k, c] = b[k.b + col.b].
fn mm_row(z: u32, r: u32) -> RowInfo {
  if (TRANS_A) { return RowInfo(z * params.sa + r); }
  return RowInfo(z * params.sa + r * params.K);
}
fn mm_col(z: u32, c: u32) -> ColInfo {
  if (TRANS_B) { return ColInfo(z * params.sb + c * params.K); }
  return ColInfo(z * params.sb + c);
}
fn mm_k(z: u32, k: u32) -> KInfo {
  return KInfo(select(k, k * params.M, TRANS_A), select(k * params.N, k, TRANS_B));
}
// The next k (the register-blocked and split-K cores walk k in order: no division per step).
fn mm_k_next(z: u32, k: KInfo) -> KInfo {
  return KInfo(k.a + select(1u, params.M, TRANS_A), k.b + select(params.N, 1u, TRANS_B));
}
fn mm_read_a(z: u32, row: RowInfo, k: KInfo) -> f32 { return a[row.a + k.a]; }
fn mm_read_b(z: u32, k: KInfo, col: ColInfo) -> f32 { return b[k.b + col.b]; }
fn mm_write(z: u32, r: u32, col: u32, v: f32) {
  mm_store(z * params.M * params.N + r * params.N + col, v);
}
