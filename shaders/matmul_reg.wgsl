// Register-blocked matmul: each invocation computes a 4x4 block of C in registers, no workgroup memory.
// Out-of-range rows and columns are clamped for loading (so the k-loop has no branches) and skipped
// when storing. Best on CPU-like adapters (SwiftShader); any shape, either operand transposed.
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  if (row0 >= M || col0 >= N || gid.z >= params.batch) { return; }
  let ab = gid.z * params.sa;
  let bb = gid.z * params.sb;
  let r = vec4<u32>(min(row0, M - 1u), min(row0 + 1u, M - 1u), min(row0 + 2u, M - 1u), min(row0 + 3u, M - 1u));
  let q = vec4<u32>(min(col0, N - 1u), min(col0 + 1u, N - 1u), min(col0 + 2u, N - 1u), min(col0 + 3u, N - 1u));
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < params.K; k = k + 1u) {
    let bv = vec4<f32>(b[b_index(bb, k, q.x)], b[b_index(bb, k, q.y)], b[b_index(bb, k, q.z)], b[b_index(bb, k, q.w)]);
    acc0 = fma(vec4<f32>(a[a_index(ab, r.x, k)]), bv, acc0);
    acc1 = fma(vec4<f32>(a[a_index(ab, r.y, k)]), bv, acc1);
    acc2 = fma(vec4<f32>(a[a_index(ab, r.z, k)]), bv, acc2);
    acc3 = fma(vec4<f32>(a[a_index(ab, r.w, k)]), bv, acc3);
  }
  let cb = gid.z * M * N;
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i = i + 1u) {
    if (row0 + i >= M) { break; }
    for (var j = 0u; j < 4u; j = j + 1u) {
      if (col0 + j < N) { c[cb + (row0 + i) * N + col0 + j] = acc[i][j]; }
    }
  }
}
