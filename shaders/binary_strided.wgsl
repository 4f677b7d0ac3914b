// Binary op with NumPy broadcasting: each input is read through strides over the output's shape
// (stride 0 on a broadcast dimension; the host merges dims first, see collapseDims). Each invocation
// makes 4 consecutive outputs: the index is decomposed (divisions, slow on CPU-like adapters) for the
// first, and the next ones step along the innermost dimension unless they cross a row. No uniform is
// read by a computed index (SwiftShader spills such reads): the rank is a pipeline constant.
override OP: u32 = 0u;
override WG: u32 = 256u;
// The rank (after merging dims) as a pipeline constant: see offsets().
override RANK: u32 = 4u;
struct Params {
  // inner: the innermost dim's size; step: the inputs' strides along it.
  n: u32, inner: u32, step_a: u32, step_b: u32,
  shape: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Innermost dim first; each block reads its uniforms by a constant index and is dropped when RANK is
// smaller (a loop with indexed uniform reads ran 2.5x slower on SwiftShader).
fn offsets(idx: u32) -> vec2<u32> {
  var rem = idx;
  var oa = 0u;
  var ob = 0u;
  if (RANK > 7u) { let s = params.shape[1].w; let c = rem % s; rem = rem / s; oa = oa + c * params.sa[1].w; ob = ob + c * params.sb[1].w; }
  if (RANK > 6u) { let s = params.shape[1].z; let c = rem % s; rem = rem / s; oa = oa + c * params.sa[1].z; ob = ob + c * params.sb[1].z; }
  if (RANK > 5u) { let s = params.shape[1].y; let c = rem % s; rem = rem / s; oa = oa + c * params.sa[1].y; ob = ob + c * params.sb[1].y; }
  if (RANK > 4u) { let s = params.shape[1].x; let c = rem % s; rem = rem / s; oa = oa + c * params.sa[1].x; ob = ob + c * params.sb[1].x; }
  if (RANK > 3u) { let s = params.shape[0].w; let c = rem % s; rem = rem / s; oa = oa + c * params.sa[0].w; ob = ob + c * params.sb[0].w; }
  if (RANK > 2u) { let s = params.shape[0].z; let c = rem % s; rem = rem / s; oa = oa + c * params.sa[0].z; ob = ob + c * params.sb[0].z; }
  if (RANK > 1u) { let s = params.shape[0].y; let c = rem % s; rem = rem / s; oa = oa + c * params.sa[0].y; ob = ob + c * params.sb[0].y; }
  if (RANK > 0u) { let s = params.shape[0].x; let c = rem % s; rem = rem / s; oa = oa + c * params.sa[0].x; ob = ob + c * params.sb[0].x; }
  return vec2<u32>(oa, ob);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let base = flat_index(gid, nwg, WG) * 4u;
  let n = params.n;
  if (base >= n) { return; }
  // The first output's offsets by division, the next ones by a step unless they start a new row.
  let step = vec2<u32>(params.step_a, params.step_b);
  var o = offsets(base);
  var col = base % params.inner;
  var va = vec4<f32>(a[o.x], 0.0, 0.0, 0.0);
  var vb = vec4<f32>(b[o.y], 0.0, 0.0, 0.0);
  if (base + 1u < n) {
    col = col + 1u;
    if (col == params.inner) { col = 0u; o = offsets(base + 1u); } else { o = o + step; }
    va.y = a[o.x];
    vb.y = b[o.y];
  }
  if (base + 2u < n) {
    col = col + 1u;
    if (col == params.inner) { col = 0u; o = offsets(base + 2u); } else { o = o + step; }
    va.z = a[o.x];
    vb.z = b[o.y];
  }
  if (base + 3u < n) {
    col = col + 1u;
    if (col == params.inner) { col = 0u; o = offsets(base + 3u); } else { o = o + step; }
    va.w = a[o.x];
    vb.w = b[o.y];
  }
  let r = binary_op(OP, va, vb);
  y[base] = r.x;
  if (base + 1u < n) { y[base + 1u] = r.y; }
  if (base + 2u < n) { y[base + 2u] = r.z; }
  if (base + 3u < n) { y[base + 3u] = r.w; }
}
