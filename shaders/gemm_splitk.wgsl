// GEMM core for small outputs: one 64-invocation workgroup per element of C splits the K sum over its
// invocations (strided, so loads are coalesced) and combines the partial sums in a tree. For outputs
// too small to fill the adapter: a classifier head, or a conv weight gradient with a long K.
// Workgroup grid: (N, M, batch).
const SPLIT: u32 = 64u;
var<workgroup> part: array<f32, SPLIT>;

@compute @workgroup_size(SPLIT)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let d = mm_dims();
  let col = wid.x;
  let row = wid.y;
  let z = wid.z;
  var s = 0.0;
  for (var k = t; k < d.z; k = k + SPLIT) {
    s = fma(mm_read_a(z, row, k), mm_read_b(z, k, col), s);
  }
  part[t] = s;
  workgroupBarrier();
  for (var h = SPLIT / 2u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) { mm_write(z, row, col, part[0]); }
}
