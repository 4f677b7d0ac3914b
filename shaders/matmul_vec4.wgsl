// Register-blocked matmul with vec4 loads and stores: A [M, K] and B [K, N] row-major, no transposes,
// K and N multiples of 4 (the backend checks). Each invocation: 8 rows x one vec4 of columns, k in
// steps of 4, so one step is 12 vec4 loads for 32 vec4 multiply-adds. (Measured on SwiftShader at
// 1024^3: 8 rows 3.3 GFLOP/s against 2.85 for 4 rows; a 16x4 workgroup was the best shape.)
// Each output accumulates k = 0, 1, 2, ... in order with fma, as gemm_reg and gemm_tiled do, so the
// variants give bit-identical results and the tuner's choice never changes a training trajectory.
struct Params { M: u32, N: u32, K: u32, batch: u32, sa: u32, sb: u32, p0: u32, p1: u32 }
override WG_X: u32 = 16u;
override WG_Y: u32 = 4u;
// Bindings and the store mm_store4: matmul_vec4_io.wgsl.
// Workgroup grid: (column tiles of 4*WG_X, row tiles of 8*WG_Y, batch).
// Past the device's maxComputeWorkgroupsPerDimension the host folds the grid into a 1-D one
// (DispatchSpec.flatGroups): each workgroup finds its tile as unflatten(flat_group(...)) (common.wgsl),
// which on an unfolded grid is its workgroup id.

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let M = params.M;
  let N4 = params.N / 4u;
  let K4 = params.K / 4u;
  let tile = unflatten(flat_group(wid, nwg), (N4 + WG_X - 1u) / WG_X, (M + 8u * WG_Y - 1u) / (8u * WG_Y));
  let row0 = (tile.y * WG_Y + lid.y) * 8u;
  let cv = tile.x * WG_X + lid.x;
  let z = tile.z;
  if (row0 >= M || cv >= N4 || z >= params.batch) { return; }
  let ab = z * params.sa / 4u;
  let bb = z * params.sb / 4u + cv;
  let r0 = ab + min(row0, M - 1u) * K4;
  let r1 = ab + min(row0 + 1u, M - 1u) * K4;
  let r2 = ab + min(row0 + 2u, M - 1u) * K4;
  let r3 = ab + min(row0 + 3u, M - 1u) * K4;
  let r4 = ab + min(row0 + 4u, M - 1u) * K4;
  let r5 = ab + min(row0 + 5u, M - 1u) * K4;
  let r6 = ab + min(row0 + 6u, M - 1u) * K4;
  let r7 = ab + min(row0 + 7u, M - 1u) * K4;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  for (var k = 0u; k < K4; k = k + 1u) {
    let kb = bb + 4u * k * N4;
    let b0 = b[kb];
    let b1 = b[kb + N4];
    let b2 = b[kb + 2u * N4];
    let b3 = b[kb + 3u * N4];
    let a0 = a[r0 + k];
    let a1 = a[r1 + k];
    let a2 = a[r2 + k];
    let a3 = a[r3 + k];
    let a4 = a[r4 + k];
    let a5 = a[r5 + k];
    let a6 = a[r6 + k];
    let a7 = a[r7 + k];
    acc0 = fma(vec4<f32>(a0.w), b3, fma(vec4<f32>(a0.z), b2, fma(vec4<f32>(a0.y), b1, fma(vec4<f32>(a0.x), b0, acc0))));
    acc1 = fma(vec4<f32>(a1.w), b3, fma(vec4<f32>(a1.z), b2, fma(vec4<f32>(a1.y), b1, fma(vec4<f32>(a1.x), b0, acc1))));
    acc2 = fma(vec4<f32>(a2.w), b3, fma(vec4<f32>(a2.z), b2, fma(vec4<f32>(a2.y), b1, fma(vec4<f32>(a2.x), b0, acc2))));
    acc3 = fma(vec4<f32>(a3.w), b3, fma(vec4<f32>(a3.z), b2, fma(vec4<f32>(a3.y), b1, fma(vec4<f32>(a3.x), b0, acc3))));
    acc4 = fma(vec4<f32>(a4.w), b3, fma(vec4<f32>(a4.z), b2, fma(vec4<f32>(a4.y), b1, fma(vec4<f32>(a4.x), b0, acc4))));
    acc5 = fma(vec4<f32>(a5.w), b3, fma(vec4<f32>(a5.z), b2, fma(vec4<f32>(a5.y), b1, fma(vec4<f32>(a5.x), b0, acc5))));
    acc6 = fma(vec4<f32>(a6.w), b3, fma(vec4<f32>(a6.z), b2, fma(vec4<f32>(a6.y), b1, fma(vec4<f32>(a6.x), b0, acc6))));
    acc7 = fma(vec4<f32>(a7.w), b3, fma(vec4<f32>(a7.z), b2, fma(vec4<f32>(a7.y), b1, fma(vec4<f32>(a7.x), b0, acc7))));
  }
  let cb = z * M * N4 + cv;
  mm_store4(cb + row0 * N4, acc0);
  if (row0 + 1u < M) { mm_store4(cb + (row0 + 1u) * N4, acc1); }
  if (row0 + 2u < M) { mm_store4(cb + (row0 + 2u) * N4, acc2); }
  if (row0 + 3u < M) { mm_store4(cb + (row0 + 3u) * N4, acc3); }
  if (row0 + 4u < M) { mm_store4(cb + (row0 + 4u) * N4, acc4); }
  if (row0 + 5u < M) { mm_store4(cb + (row0 + 5u) * N4, acc5); }
  if (row0 + 6u < M) { mm_store4(cb + (row0 + 6u) * N4, acc6); }
  if (row0 + 7u < M) { mm_store4(cb + (row0 + 7u) * N4, acc7); }
}
