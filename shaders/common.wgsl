// Shared helpers, prepended by src/device/shaders.ts to the kernels that list it.

// A flat invocation index over a 2-D grid of workgroups: dispatches larger than
// maxComputeWorkgroupsPerDimension are split over y, and every kernel bounds-checks the index.
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg;
}

// Index of a workgroup in a 2-D grid of workgroups (for kernels that give each workgroup one row).
fn flat_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// x^p with PyTorch's meaning for negative bases when p is an integer (WGSL's pow is undefined there).
fn pow_torch(x: vec4<f32>, p: vec4<f32>) -> vec4<f32> {
  // 0^p for p < 0 is +inf (1 / 0 at run time: WGSL cannot spell an infinite constant).
  let r = select(pow(abs(x), p), 1.0 / abs(x), (x == vec4<f32>(0.0)) & (p < vec4<f32>(0.0)));
  let is_int = floor(p) == p;
  let odd = is_int & (abs(p - 2.0 * floor(p * 0.5)) == vec4<f32>(1.0));
  let neg = x < vec4<f32>(0.0);
  let signed = select(r, -r, neg & odd);
  // Negative base, fractional exponent: WGSL's own pow (NaN on every adapter we know of).
  return select(signed, pow(x, p), neg & !is_int);
}
