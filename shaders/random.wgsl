// Philox draws: invocation i makes block (offset + i) -> 4 outputs, as in src/random/philox.ts.
// DIST 0: raw u32 bits, 1: uniform [0,1) * scale + shift, 2: normal * scale + shift,
// 3: Bernoulli mask (uniform < p0) * scale, for dropout.
override DIST: u32 = 0u;
override WG: u32 = 256u;
struct Params { nblocks: u32, seed_lo: u32, seed_hi: u32, off_lo: u32, off_hi: u32, scale: f32, shift: f32, p0: f32 }
@group(0) @binding(0) var<storage, read_write> y: array<vec4<u32>>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i >= params.nblocks) { return; }
  let lo = params.off_lo + i;
  let carry = select(0u, 1u, lo < i);
  let w = philox4x32_10(vec4<u32>(lo, params.off_hi + carry, 0u, 0u), vec2<u32>(params.seed_lo, params.seed_hi));
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
