// GEMM core for small outputs: one 64-invocation workgroup per element of C splits the K sum over its
// invocations (each a contiguous run of k, walked with mm_k_next) and combines the partial sums in a
// tree. For outputs
// too small to fill the adapter: a classifier head, or a conv weight gradient with a long K.
// Workgroup grid: (N, M, batch).
// Past the device's maxComputeWorkgroupsPerDimension the host folds the grid into a 1-D one
// (DispatchSpec.flatGroups): each workgroup finds its element as unflatten(flat_group(...)) (common.wgsl),
// which on an unfolded grid is its workgroup id.
const SPLIT: u32 = 64u;
var<workgroup> part: array<f32, SPLIT>;

@compute @workgroup_size(SPLIT)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let d = mm_dims();
  let e = unflatten(flat_group(wid, nwg), d.y, d.x);
  let col = e.x;
  let row = e.y;
  let z = e.z;
  // Past the last element of a folded grid (uniform in the workgroup, as the barriers need).
  if (z >= d.w) { return; }
  let ri = mm_row(z, row);
  let ci = mm_col(z, col);
  let per = (d.z + SPLIT - 1u) / SPLIT;
  let k0 = min(t * per, d.z);
  let k1 = min(k0 + per, d.z);
  var s = 0.0;
  var ki = mm_k(z, k0);
  for (var k = k0; k < k1; k = k + 1u) {
    s = fma(mm_read_a(z, ri, ki), mm_read_b(z, ki, ci), s);
    ki = mm_k_next(z, ki);
  }
  part[t] = s;
  workgroupBarrier();
  for (var h = SPLIT / 2u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) { mm_write(z, row, col, part[0]); }
}
