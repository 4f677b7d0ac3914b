// Philox draws: invocation i makes the block at counter (c0 + i, c1 + carry, c2, c3) -> 4 outputs, as in
// src/random/philox.ts (c0, c1: the generator's 64-bit block offset; c2, c3: zero, or a KAT's words).
// DIST 0: raw u32 bits, 1: uniform [0,1) * scale + shift, 2: normal * scale + shift,
// 3: Bernoulli mask (uniform < p0) * scale, for dropout.
override DIST: u32 = 0u;
override WG: u32 = 256u;
struct Params { ctr: vec4<u32>, key: vec2<u32>, nblocks: u32, scale: f32, shift: f32, p0: f32 }
@group(0) @binding(0) var<storage, read_write> y: array<vec4<u32>>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i >= params.nblocks) { return; }
  let lo = params.ctr.x + i;
  let carry = select(0u, 1u, lo < i);
  let w = philox4x32_10(vec4<u32>(lo, params.ctr.y + carry, params.ctr.z, params.ctr.w), params.key);
  switch DIST {
    case 0u: { y[i] = w; }
    case 1u: { y[i] = bitcast<vec4<u32>>(uniform_from_bits(w) * params.scale + params.shift); }
    case 2u: {
      let z = vec4<f32>(box_muller(w.x, w.y), box_muller(w.z, w.w));
      y[i] = bitcast<vec4<u32>>(z * params.scale + params.shift);
    }
    default: {
      let keep = uniform_from_bits(w) < vec4<f32>(params.p0);
      y[i] = bitcast<vec4<u32>>(select(vec4<f32>(0.0), vec4<f32>(params.scale), keep));
    }
  }
}
