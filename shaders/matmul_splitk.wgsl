// Small-output matmul: one 64-invocation workgroup per element of C splits the K sum over its
// invocations (strided, so loads are coalesced) and combines the partial sums in a tree. For outputs
// too small to fill the adapter (e.g. a 10-class head, or a conv weight gradient with a long K).
const WG: u32 = 64u;
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let col = wid.x;
  let row = wid.y;
  let ab = wid.z * params.sa;
  let bb = wid.z * params.sb;
  var s = 0.0;
  for (var k = t; k < params.K; k = k + WG) {
    s = fma(a[a_index(ab, row, k)], b[b_index(bb, k, col)], s);
  }
  part[t] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) { c[wid.z * params.M * params.N + row * params.N + col] = part[0]; }
}
