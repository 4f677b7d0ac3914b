// GEMM core, register-blocked: each invocation computes a 4x4 block of C in registers, no workgroup
// memory. Out-of-range rows and columns are clamped for loading (so the k-loop has no branches) and
// skipped when storing. Best on CPU-like adapters (SwiftShader). Operands come through the hooks
// mm_dims, mm_read_a, mm_read_b, mm_write (matmul_common.wgsl, conv.wgsl).
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = mm_dims();
  let M = d.x;
  let N = d.y;
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  let z = gid.z;
  if (row0 >= M || col0 >= N || z >= d.w) { return; }
  let r = vec4<u32>(min(row0, M - 1u), min(row0 + 1u, M - 1u), min(row0 + 2u, M - 1u), min(row0 + 3u, M - 1u));
  let q = vec4<u32>(min(col0, N - 1u), min(col0 + 1u, N - 1u), min(col0 + 2u, N - 1u), min(col0 + 3u, N - 1u));
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < d.z; k = k + 1u) {
    let bv = vec4<f32>(mm_read_b(z, k, q.x), mm_read_b(z, k, q.y), mm_read_b(z, k, q.z), mm_read_b(z, k, q.w));
    acc0 = fma(vec4<f32>(mm_read_a(z, r.x, k)), bv, acc0);
    acc1 = fma(vec4<f32>(mm_read_a(z, r.y, k)), bv, acc1);
    acc2 = fma(vec4<f32>(mm_read_a(z, r.z, k)), bv, acc2);
    acc3 = fma(vec4<f32>(mm_read_a(z, r.w, k)), bv, acc3);
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i = i + 1u) {
    if (row0 + i >= M) { break; }
    for (var j = 0u; j < 4u; j = j + 1u) {
      if (col0 + j < N) { mm_write(z, row0 + i, col0 + j, acc[i][j]); }
    }
  }
}
