// Binary ops on vec4s, shared by the contiguous and the broadcasting binary kernels and the fused
// elementwise kernels (src/backend/webgpu/fused.ts). Codes: src/backend/kernels.ts BINARY_OPS (same order).

// NaN on the bits (common.wgsl): maximum and minimum propagate it (WGSL's max and min need not), and
// every comparison with a NaN is false but ne, which is true, as IEEE 754 and PyTorch have it.
fn binary_op(op: u32, a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let one = vec4<f32>(1.0);
  let zero = vec4<f32>(0.0);
  let nan = is_nan(a) | is_nan(b);
  switch op {
    case 0u: { return a + b; }
    case 1u: { return a - b; }
    case 2u: { return a * b; }
    case 3u: { return div_ieee(a, b); }
    case 4u: { return pow_torch(a, b); }
    case 5u: { return select(max(a, b), select(b, a, is_nan(a)), nan); }
    case 6u: { return select(min(a, b), select(b, a, is_nan(a)), nan); }
    case 7u: { return select(zero, one, (a == b) & !nan); }
    case 8u: { return select(zero, one, (a != b) | nan); }
    case 9u: { return select(zero, one, (a < b) & !nan); }
    case 10u: { return select(zero, one, (a <= b) & !nan); }
    case 11u: { return select(zero, one, (a > b) & !nan); }
    case 12u: { return select(zero, one, (a >= b) & !nan); }
    default: { return a; }
  }
}
