// Elementwise unary ops on contiguous data, 4 values per invocation (vec4 loads and stores).
// OP selects the op of unary_op (generated from src/backend/elementwise_table.ts's rows: OP is a row's
// position, unaryCode) at pipeline creation (an override constant), so each op compiles to its own
// straight-line kernel.
// Buffers are allocated in multiples of 16 bytes, so the last vec4 may run past n harmlessly.
override OP: u32 = 0u;
override WG: u32 = 256u;

struct Params { n4: u32, p0: f32, p1: f32, pad: u32 }
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i >= params.n4) { return; }
  y[i] = unary_op(OP, x[i], params.p0, params.p1);
}
