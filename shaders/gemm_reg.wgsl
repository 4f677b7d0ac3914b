// GEMM core, register-blocked: each invocation computes a 4x4 block of C in registers, no workgroup
// memory. Out-of-range rows and columns are clamped for loading (so the k-loop has no branches) and
// skipped when storing. Best on CPU-like adapters (SwiftShader). Operands come through the hooks
// of matmul_common.wgsl or conv.wgsl; row and column address parts are computed once per invocation.
// Workgroup grid: (column tiles, row tiles, batch), tiles of 4*WG_X x 4*WG_Y.
// Past the device's maxComputeWorkgroupsPerDimension the host folds the grid into a 1-D one
// (DispatchSpec.flatGroups): each workgroup finds its tile as unflatten(flat_group(...)) (common.wgsl),
// which on an unfolded grid is its workgroup id.
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let d = mm_dims();
  let M = d.x;
  let N = d.y;
  let tile = unflatten(flat_group(wid, nwg), (N + 4u * WG_X - 1u) / (4u * WG_X), (M + 4u * WG_Y - 1u) / (4u * WG_Y));
  let row0 = (tile.y * WG_Y + lid.y) * 4u;
  let col0 = (tile.x * WG_X + lid.x) * 4u;
  let z = tile.z;
  if (row0 >= M || col0 >= N || z >= d.w) { return; }
  let r = vec4<u32>(min(row0, M - 1u), min(row0 + 1u, M - 1u), min(row0 + 2u, M - 1u), min(row0 + 3u, M - 1u));
  let q = vec4<u32>(min(col0, N - 1u), min(col0 + 1u, N - 1u), min(col0 + 2u, N - 1u), min(col0 + 3u, N - 1u));
  let ra = array<RowInfo, 4>(mm_row(z, r.x), mm_row(z, r.y), mm_row(z, r.z), mm_row(z, r.w));
  let cb = array<ColInfo, 4>(mm_col(z, q.x), mm_col(z, q.y), mm_col(z, q.z), mm_col(z, q.w));
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var ki = mm_k(z, 0u);
  for (var k = 0u; k < d.z; k = k + 1u) {
    let bv = vec4<f32>(mm_read_b(z, ki, cb[0]), mm_read_b(z, ki, cb[1]), mm_read_b(z, ki, cb[2]), mm_read_b(z, ki, cb[3]));
    acc0 = fma(vec4<f32>(mm_read_a(z, ra[0], ki)), bv, acc0);
    acc1 = fma(vec4<f32>(mm_read_a(z, ra[1], ki)), bv, acc1);
    acc2 = fma(vec4<f32>(mm_read_a(z, ra[2], ki)), bv, acc2);
    acc3 = fma(vec4<f32>(mm_read_a(z, ra[3], ki)), bv, acc3);
    ki = mm_k_next(z, ki);
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i = i + 1u) {
    if (row0 + i >= M) { break; }
    for (var j = 0u; j < 4u; j = j + 1u) {
      if (col0 + j < N) { mm_write(z, row0 + i, col0 + j, acc[i][j]); }
    }
  }
}
