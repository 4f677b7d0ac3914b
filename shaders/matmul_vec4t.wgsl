// Register-blocked matmul with vec4 loads for one transposed operand (the layouts of backward passes and
// of linear layers, y = x W^T). Each invocation computes a 4x4 block of C.
//   TRANS_A (A^T B, A stored [K, M], B [K, N]; M, N % 4 == 0): per k one vec4 of A (4 rows) and one
//     of B (4 columns) feed 4 vec4 multiply-adds.
//   else    (A B^T, A [M, K], B stored [N, K]; K % 4 == 0): per 4 k's, 4 vec4 rows of A and of B (B's
//     4x4 block regrouped by k in registers) feed 16 vec4 multiply-adds.
// Out-of-range rows and columns are clamped when loading and skipped when storing. k is accumulated in
// order with fma, so results are bit-identical to the other register and tiled variants.
struct Params { M: u32, N: u32, K: u32, batch: u32, sa: u32, sb: u32, p0: u32, p1: u32 }
override TRANS_A: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
// Bindings and the store mm_store: matmul_vec4t_io.wgsl.
// Workgroup grid: (column tiles of 4*WG_X, row tiles of 4*WG_Y, batch).
// Past the device's maxComputeWorkgroupsPerDimension the host folds the grid into a 1-D one
// (DispatchSpec.flatGroups): each workgroup finds its tile as unflatten(flat_group(...)) (common.wgsl),
// which on an unfolded grid is its workgroup id.

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let tile = unflatten(flat_group(wid, nwg), (N + 4u * WG_X - 1u) / (4u * WG_X), (M + 4u * WG_Y - 1u) / (4u * WG_Y));
  // This invocation's 4x4 block: rows 4 ry.., columns 4 cx...
  let ry = tile.y * WG_Y + lid.y;
  let cx = tile.x * WG_X + lid.x;
  let z = tile.z;
  let row0 = ry * 4u;
  let col0 = cx * 4u;
  if (row0 >= M || col0 >= N || z >= params.batch) { return; }
  let ab = z * params.sa / 4u;
  let bb = z * params.sb / 4u;
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  if (TRANS_A) {
    let M4 = M / 4u;
    let N4 = N / 4u;
    for (var k = 0u; k < K; k = k + 1u) {
      let av = a[ab + k * M4 + ry];
      let bv = b[bb + k * N4 + cx];
      acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
      acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
      acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
      acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
    }
  } else {
    let K4 = K / 4u;
    let r = vec4<u32>(min(row0, M - 1u), min(row0 + 1u, M - 1u), min(row0 + 2u, M - 1u), min(row0 + 3u, M - 1u)) * K4 + ab;
    let q = vec4<u32>(min(col0, N - 1u), min(col0 + 1u, N - 1u), min(col0 + 2u, N - 1u), min(col0 + 3u, N - 1u)) * K4 + bb;
    for (var k = 0u; k < K4; k = k + 1u) {
      let b0 = b[q.x + k];
      let b1 = b[q.y + k];
      let b2 = b[q.z + k];
      let b3 = b[q.w + k];
      // The 4x4 block of B^T, regrouped by k: column vectors over the 4 output columns.
      let bx = vec4<f32>(b0.x, b1.x, b2.x, b3.x);
      let by = vec4<f32>(b0.y, b1.y, b2.y, b3.y);
      let bz = vec4<f32>(b0.z, b1.z, b2.z, b3.z);
      let bw = vec4<f32>(b0.w, b1.w, b2.w, b3.w);
      for (var i = 0u; i < 4u; i = i + 1u) {
        let av = a[r[i] + k];
        acc[i] = fma(vec4<f32>(av.w), bw, fma(vec4<f32>(av.z), bz, fma(vec4<f32>(av.y), by, fma(vec4<f32>(av.x), bx, acc[i]))));
      }
    }
  }
  let cb = z * M * N;
  for (var i = 0u; i < 4u; i = i + 1u) {
    if (row0 + i >= M) { break; }
    for (var j = 0u; j < 4u; j = j + 1u) {
      if (col0 + j < N) { mm_store(cb + (row0 + i) * N + col0 + j, acc[i][j]); }
    }
  }
}
