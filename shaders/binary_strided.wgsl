// Binary op with NumPy broadcasting: each input is read through strides over the output's shape
// (stride 0 on a broadcast dimension; the host merges dims first, see collapseDims). Each invocation
// makes 4 consecutive outputs: the index is decomposed (divisions, slow on CPU-like adapters) for the
// first, and the next ones step along the innermost dimension unless they cross a row.
override WG: u32 = 256u;
struct Params {
  n: u32, rank: u32, p0: u32, p1: u32,
  shape: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn offsets(idx: u32) -> vec2<u32> {
  var rem = idx;
  var oa = 0u;
  var ob = 0u;
  for (var i = i32(params.rank) - 1; i >= 0; i = i - 1) {
    let d = u32(i);
    let s = params.shape[d / 4u][d % 4u];
    let c = rem % s;
    rem = rem / s;
    oa = oa + c * params.sa[d / 4u][d % 4u];
    ob = ob + c * params.sb[d / 4u][d % 4u];
  }
  return vec2<u32>(oa, ob);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let base = flat_index(gid, nwg, WG) * 4u;
  if (base >= params.n) { return; }
  var va = vec4<f32>(0.0);
  var vb = vec4<f32>(0.0);
  let cnt = min(4u, params.n - base);
  let last = params.rank - 1u;
  let inner = params.shape[last / 4u][last % 4u];
  let step = vec2<u32>(params.sa[last / 4u][last % 4u], params.sb[last / 4u][last % 4u]);
  var o = offsets(base);
  var col = base % inner;
  for (var j = 0u; j < cnt; j = j + 1u) {
    if (j > 0u) {
      col = col + 1u;
      if (col == inner) {
        col = 0u;
        o = offsets(base + j);
      } else {
        o = o + step;
      }
    }
    va[j] = a[o.x];
    vb[j] = b[o.y];
  }
  let r = binop(va, vb);
  for (var j = 0u; j < cnt; j = j + 1u) { y[base + j] = r[j]; }
}
