// Elementwise unary ops on contiguous data, 4 values per invocation (vec4 loads and stores).
// OP selects the function at pipeline creation (an override constant), so each op compiles to its own
// straight-line kernel. Codes: src/backend/kernels.ts UNARY_OPS (same order).
// Buffers are allocated in multiples of 16 bytes, so the last vec4 may run past n harmlessly.
override OP: u32 = 0u;
override WG: u32 = 256u;

struct Params { n4: u32, p0: f32, p1: f32, pad: u32 }
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

fn apply(v: vec4<f32>) -> vec4<f32> {
  let zero = vec4<f32>(0.0);
  switch OP {
    case 0u: { return -v; }
    case 1u: { return exp(v); }
    case 2u: { return log(v); }
    case 3u: { return sqrt(v); }
    case 4u: { return inverseSqrt(v); }
    case 5u: { return abs(v); }
    case 6u: { return max(v, zero); }
    case 7u: { return select(v * params.p0, v, v > zero); }
    // sigmoid: exp of a non-positive argument only, so neither branch overflows.
    case 8u: {
      let e = exp(-abs(v));
      return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= zero);
    }
    // tanh = sign(v) (1 - 2 / (exp(2|v|) + 1)): finite for every |v| (exp overflow gives 1).
    case 9u: { return sign(v) * (1.0 - 2.0 / (exp(2.0 * abs(v)) + 1.0)); }
    // softplus = max(v, 0) + log1p(exp(-|v|)), stable for large |v|.
    case 10u: { return max(v, zero) + log(1.0 + exp(-abs(v))); }
    case 11u: { return clamp(v, vec4<f32>(params.p0), vec4<f32>(params.p1)); }
    case 12u: { return pow_torch(v, vec4<f32>(params.p0)); }
    case 13u: { return v * params.p0 + params.p1; }
    case 14u: { return 1.0 / v; }
    case 15u: { return v * v; }
    case 16u: { return sign(v); }
    case 17u: { return select(zero, vec4<f32>(1.0), v > zero); }
    default: { return v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i >= params.n4) { return; }
  y[i] = apply(x[i]);
}
