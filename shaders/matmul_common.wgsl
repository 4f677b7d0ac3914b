// GEMM hooks for plain matmul: C[b] = op(A[b]) @ op(B[b]), op = optional transpose.
// A is [M, K] (or [K, M] when TRANS_A), B is [K, N] (or [N, K] when TRANS_B), C is [M, N], row-major;
// sa, sb are the batch strides of A and B in floats (0 broadcasts one matrix over the batch).
// The GEMM cores (gemm_reg, gemm_tiled, gemm_splitk) call mm_dims, mm_read_a, mm_read_b, mm_write;
// conv.wgsl defines the same hooks over implicit im2col addressing.
override TRANS_A: bool = false;
override TRANS_B: bool = false;
struct Params { M: u32, N: u32, K: u32, batch: u32, sa: u32, sb: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn mm_dims() -> vec4<u32> { return vec4<u32>(params.M, params.N, params.K, params.batch); }

fn mm_read_a(z: u32, r: u32, k: u32) -> f32 {
  let base = z * params.sa;
  if (TRANS_A) { return a[base + k * params.M + r]; }
  return a[base + r * params.K + k];
}

fn mm_read_b(z: u32, k: u32, col: u32) -> f32 {
  let base = z * params.sb;
  if (TRANS_B) { return b[base + col * params.K + k]; }
  return b[base + k * params.N + col];
}

fn mm_write(z: u32, r: u32, col: u32, v: f32) {
  c[z * params.M * params.N + r * params.N + col] = v;
}
