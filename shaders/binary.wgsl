// Binary op on two contiguous inputs of the same shape, 4 values per invocation (vec4 path).
override OP: u32 = 0u;
override WG: u32 = 256u;
struct Params { n4: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i >= params.n4) { return; }
  y[i] = binary_op(OP, a[i], b[i]);
}
