// Strided copy: for every index of `shape`, y[out_off + idx . out_strides] = x[in_off + idx . in_strides].
// One kernel serves permute/transpose, slice (with step), broadcast_to (stride 0) and concat (writing
// each input into its slab of the output).
override WG: u32 = 256u;
struct Params {
  n: u32, rank: u32, in_off: u32, out_off: u32,
  shape: array<vec4<u32>, 2>,
  si: array<vec4<u32>, 2>,
  so: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg, WG);
  if (idx >= params.n) { return; }
  var rem = idx;
  var oi = params.in_off;
  var oo = params.out_off;
  for (var i = i32(params.rank) - 1; i >= 0; i = i - 1) {
    let d = u32(i);
    let s = params.shape[d / 4u][d % 4u];
    let q = rem % s;
    rem = rem / s;
    oi = oi + q * params.si[d / 4u][d % 4u];
    oo = oo + q * params.so[d / 4u][d % 4u];
  }
  y[oo] = x[oi];
}
