// GEMM core, workgroup-memory tiled (the classic GPU design, cf. tfjs-backend-webgpu's
// matmul_packed_webgpu.ts): an 8x8 workgroup computes a 32x32 tile of C, each invocation 4x4 of it; A
// and B tiles of depth TK are staged in workgroup memory, zero-padded at the edges. Operands come
// through the hooks of matmul_common.wgsl or conv.wgsl. Workgroup grid: (column tiles, row tiles, batch).
// Past the device's maxComputeWorkgroupsPerDimension the host folds the grid into a 1-D one
// (DispatchSpec.flatGroups): each workgroup finds its tile as unflatten(flat_group(...)) (common.wgsl),
// which on an unfolded grid is its workgroup id.
const TM: u32 = 32u;
const TK: u32 = 16u;

var<workgroup> As: array<array<f32, TM>, TK>;
var<workgroup> Bs: array<array<f32, TM>, TK>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let d = mm_dims();
  let M = d.x;
  let N = d.y;
  let K = d.z;
  let tile = unflatten(flat_group(wid, nwg), (N + TM - 1u) / TM, (M + TM - 1u) / TM);
  let z = tile.z;
  // A workgroup past the last tile of a folded grid (the same for all its invocations: the barriers
  // below stay in uniform control flow).
  if (z >= d.w) { return; }
  let rowBase = tile.y * TM;
  let colBase = tile.x * TM;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var kt = 0u; kt < K; kt = kt + TK) {
    for (var l = 0u; l < (TM * TK) / 64u; l = l + 1u) {
      let e = t + l * 64u;
      let ar = e / TK;
      let ak = e % TK;
      let gr = rowBase + ar;
      let gk = kt + ak;
      As[ak][ar] = select(0.0, mm_read_a(z, mm_row(z, min(gr, M - 1u)), mm_k(z, min(gk, K - 1u))), gr < M && gk < K);
      let bk = e / TM;
      let bc = e % TM;
      let gk2 = kt + bk;
      let gc = colBase + bc;
      Bs[bk][bc] = select(0.0, mm_read_b(z, mm_k(z, min(gk2, K - 1u)), mm_col(z, min(gc, N - 1u))), gk2 < K && gc < N);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk = kk + 1u) {
      let bv = vec4<f32>(Bs[kk][lid.x * 4u], Bs[kk][lid.x * 4u + 1u], Bs[kk][lid.x * 4u + 2u], Bs[kk][lid.x * 4u + 3u]);
      acc0 = fma(vec4<f32>(As[kk][lid.y * 4u]), bv, acc0);
      acc1 = fma(vec4<f32>(As[kk][lid.y * 4u + 1u]), bv, acc1);
      acc2 = fma(vec4<f32>(As[kk][lid.y * 4u + 2u]), bv, acc2);
      acc3 = fma(vec4<f32>(As[kk][lid.y * 4u + 3u]), bv, acc3);
    }
    workgroupBarrier();
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let row0 = rowBase + lid.y * 4u;
  let col0 = colBase + lid.x * 4u;
  for (var i = 0u; i < 4u; i = i + 1u) {
    if (row0 + i >= M) { break; }
    for (var j = 0u; j < 4u; j = j + 1u) {
      if (col0 + j < N) { mm_write(z, row0 + i, col0 + j, acc[i][j]); }
    }
  }
}
