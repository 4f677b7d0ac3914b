// ALU-peak probe for the benchmarks: each invocation runs ITERS rounds of 8 independent vec4 multiply-adds
// in registers (64 flops a round, no memory traffic), then stores one value so nothing is optimized away.
override WG: u32 = 64u;
struct Params { iters: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  let s = f32(i) * 1e-7;
  var v0 = vec4<f32>(s); var v1 = v0 + 0.1; var v2 = v0 + 0.2; var v3 = v0 + 0.3;
  var v4 = v0 + 0.4; var v5 = v0 + 0.5; var v6 = v0 + 0.6; var v7 = v0 + 0.7;
  let m = vec4<f32>(0.999);
  let k = vec4<f32>(1e-4);
  for (var it = 0u; it < params.iters; it = it + 1u) {
    v0 = fma(v0, m, k); v1 = fma(v1, m, k); v2 = fma(v2, m, k); v3 = fma(v3, m, k);
    v4 = fma(v4, m, k); v5 = fma(v5, m, k); v6 = fma(v6, m, k); v7 = fma(v7, m, k);
  }
  y[i] = v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7;
}
