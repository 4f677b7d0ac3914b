// Indexing along one dim of a tensor viewed as [O, D, I] (dims before, the dim, dims after), with an
// index tensor of shape [O, K, I] holding positions 0..D-1 as floats (this runtime's index dtype).
// MODE 0 gather (torch.gather):      y[o, k, i] = x[o, index[o, k, i], i]             (y: [O, K, I])
//        an index that is not an integer in [0, D) gives NaN (a poison the finite check sees), not a
//        read out of bounds.
// MODE 1 scatter-add (its adjoint):  y[o, d, i] = sum over k of src[o, k, i] where index[o, k, i] == d
//        (y: [O, D, I]), summed in k order by one invocation per output element, so the sum is
//        deterministic and needs no float atomics (WGSL has none).
override MODE: u32 = 0u;
override WG: u32 = 256u;
struct Params { n: u32, O: u32, D: u32, I: u32, K: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg, WG);
  if (idx >= params.n) { return; }
  let I = params.I;
  let i = idx % I;
  if (MODE == 0u) {
    let ok = idx / I;
    let o = ok / params.K;
    let p = index[idx];
    // NaN and +-Inf recognised from their bits (common.wgsl: the compiler may assume finite math).
    let valid = !non_finite1(p) && p >= 0.0 && p < f32(params.D) && p == floor(p);
    let src = (o * params.D + u32(select(0.0, p, valid))) * I + i;
    let v = x[src];
    y[idx] = select(nan_of(vec4<f32>(v)).x, v, valid);
  } else {
    let od = idx / I;
    let d = f32(od % params.D);
    let o = od / params.D;
    var acc = 0.0;
    for (var k = 0u; k < params.K; k = k + 1u) {
      let at = (o * params.K + k) * I + i;
      let p = index[at];
      if (!non_finite1(p) && p == d) { acc = acc + x[at]; }
    }
    y[idx] = acc;
  }
}
