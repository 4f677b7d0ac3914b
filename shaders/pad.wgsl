// Constant, reflection or replication padding of a contiguous tensor (PyTorch's F.pad modes).
// MODE 0: constant value, 1: reflect (edge not repeated), 2: replicate.
override MODE: u32 = 0u;
override WG: u32 = 256u;
struct Params {
  n: u32, rank: u32, value: f32, pad: u32,
  out_shape: array<vec4<u32>, 2>,
  in_shape: array<vec4<u32>, 2>,
  before: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg, WG);
  if (idx >= params.n) { return; }
  var rem = idx;
  var src = 0u;
  var stride = 1u;
  var inside = true;
  for (var i = i32(params.rank) - 1; i >= 0; i = i - 1) {
    let d = u32(i);
    let so = params.out_shape[d / 4u][d % 4u];
    let size = i32(params.in_shape[d / 4u][d % 4u]);
    var c = i32(rem % so) - i32(params.before[d / 4u][d % 4u]);
    rem = rem / so;
    if (c < 0 || c >= size) {
      if (MODE == 0u) { inside = false; }
      else if (MODE == 1u) { c = select(c, -c, c < 0); c = select(c, 2 * (size - 1) - c, c >= size); }
      else { c = clamp(c, 0, size - 1); }
    }
    src = src + u32(c) * stride;
    stride = stride * u32(size);
  }
  y[idx] = select(params.value, x[src], inside);
}
