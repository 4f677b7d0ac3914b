// Binary ops on vec4s, shared by the contiguous and the broadcasting binary kernels.
// Codes: src/backend/kernels.ts BINARY_OPS (same order).
override OP: u32 = 0u;

fn binop(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let one = vec4<f32>(1.0);
  let zero = vec4<f32>(0.0);
  switch OP {
    case 0u: { return a + b; }
    case 1u: { return a - b; }
    case 2u: { return a * b; }
    case 3u: { return a / b; }
    case 4u: { return pow_torch(a, b); }
    case 5u: { return max(a, b); }
    case 6u: { return min(a, b); }
    case 7u: { return select(zero, one, a == b); }
    case 8u: { return select(zero, one, a != b); }
    case 9u: { return select(zero, one, a < b); }
    case 10u: { return select(zero, one, a <= b); }
    case 11u: { return select(zero, one, a > b); }
    case 12u: { return select(zero, one, a >= b); }
    default: { return a; }
  }
}
