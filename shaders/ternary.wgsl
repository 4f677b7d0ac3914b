// Three-input elementwise ops with NumPy broadcasting (strides over the output's shape, 0 where an
// input is broadcast). OP 0: where(c, a, b) = c != 0 ? a : b, a NaN condition counting as true (as
// torch.where(c.bool(), a, b); tested on the bits, see common.wgsl).  OP 1: fused multiply-add c*a + b.
override OP: u32 = 0u;
override WG: u32 = 256u;
struct Params {
  n: u32, rank: u32, p0: u32, p1: u32,
  shape: array<vec4<u32>, 2>,
  sc: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<storage, read> c: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg, WG);
  if (idx >= params.n) { return; }
  var rem = idx;
  var oc = 0u;
  var oa = 0u;
  var ob = 0u;
  for (var i = i32(params.rank) - 1; i >= 0; i = i - 1) {
    let d = u32(i);
    let s = params.shape[d / 4u][d % 4u];
    let q = rem % s;
    rem = rem / s;
    oc = oc + q * params.sc[d / 4u][d % 4u];
    oa = oa + q * params.sa[d / 4u][d % 4u];
    ob = ob + q * params.sb[d / 4u][d % 4u];
  }
  if (OP == 0u) {
    let cv = c[oc];
    y[idx] = select(b[ob], a[oa], (cv != 0.0) | is_nan1(cv));
  } else {
    y[idx] = fma(c[oc], a[oa], b[ob]);
  }
}
