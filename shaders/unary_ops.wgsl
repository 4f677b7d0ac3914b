// Unary ops on vec4s, shared by the unary kernel and the fused elementwise kernels that
// src/backend/webgpu/fused.ts generates (which call unary_op with constant codes, so each folds to its
// op's straight-line code). Codes: src/backend/kernels.ts UNARY_OPS (same order).

// NaN, Inf and the limits of each function's domain are handled on the bits (common.wgsl), with
// PyTorch's results (test/special_values.test.ts): WGSL leaves log, sqrt and inverseSqrt undefined
// outside their domains and lets the compiler assume finite math.
fn unary_op(op: u32, v: vec4<f32>, p0: f32, p1: f32) -> vec4<f32> {
  let zero = vec4<f32>(0.0);
  let one = vec4<f32>(1.0);
  let nan = is_nan(v);
  let inf = is_inf(v);
  switch op {
    case 0u: { return -v; }
    // exp: NaN stays NaN, Inf past ln(FLT_MAX) = 88.72284, 0 at -Inf.
    case 1u: {
      let r = select(exp(v), inf_of(v, vec4<bool>(false)), (v > vec4<f32>(88.72284)) | (inf & !sign_bit(v)));
      return select(select(r, zero, inf & sign_bit(v)), v, nan);
    }
    // log: -Inf at +-0, NaN below 0 and at NaN, +Inf at +Inf.
    case 2u: {
      let r = select(log(select(v, one, inf)), inf_of(v, vec4<bool>(false)), inf);
      return select(select(r, inf_of(v, vec4<bool>(true)), v == zero), nan_of(v), nan | (v < zero));
    }
    case 3u: { return sqrt_ieee(v); }
    case 4u: { return rsqrt_ieee(v); }
    case 5u: { return abs(v); }
    case 6u: { return select(select(zero, v, v > zero), v, nan); }
    case 7u: { return select(select(v * p0, v, v > zero), v, nan); }
    // sigmoid: exp of a non-positive argument only, so neither branch overflows (exp(-Inf) = 0 makes
    // +-Inf exact); NaN by its bits.
    case 8u: {
      let e = exp(-abs(v));
      return select(select(e / (1.0 + e), 1.0 / (1.0 + e), v >= zero), v, nan);
    }
    // tanh = sign(v) (1 - 2 / (exp(2|v|) + 1)): finite for every |v| (exp overflow gives 1).
    case 9u: { return select(sign(v) * (1.0 - 2.0 / (exp(2.0 * abs(v)) + 1.0)), v, nan); }
    // softplus = max(v, 0) + log1p(exp(-|v|)), stable for large |v| (and exact at +-Inf).
    case 10u: { return select(max(v, zero) + log(1.0 + exp(-abs(v))), v, nan); }
    case 11u: { return select(clamp(v, vec4<f32>(p0), vec4<f32>(p1)), v, nan); }
    case 12u: { return pow_scalar(v, p0); }
    case 13u: { return v * p0 + p1; }
    case 14u: { return div_ieee(one, v); }
    case 15u: { return v * v; }
    // sign: 0 at NaN (torch.sign).
    case 16u: { return select(sign(v), zero, nan); }
    // step = heaviside(v, 0): 1 where v > 0, else 0 (NaN included, as torch.heaviside).
    case 17u: { return select(zero, one, (v > zero) & !nan); }
    case 18u: { return erf4(v); }
    // trunc: toward zero (the float -> int32 cast), keeping -0, +-Inf and NaN (by its bits).
    case 19u: { return select(trunc(v), v, nan | inf); }
    default: { return v; }
  }
}

// erf: below |v| = 0.5 its Maclaurin series to the v^13 term (2/sqrt(pi) sum (-1)^n v^(2n+1) / (n! (2n+1)),
// relative error < 3e-8 there, and exact at +-0 and subnormals); elsewhere 1 - erfc(|v|) with the sign
// of v, erfc by the Chebyshev fit of Numerical Recipes (Press et al., 2nd ed., section 6.2, erfcc:
// fractional error < 1.2e-7 everywhere); +-1 at +-Inf, NaN at NaN (torch.erf).
fn erf4(v: vec4<f32>) -> vec4<f32> {
  let a = abs(v);
  let s = v * v;
  let p = ((((((s * (1.0 / 9360.0) - 1.0 / 1320.0) * s + 1.0 / 216.0) * s - 1.0 / 42.0) * s + 0.1) * s - 1.0 / 3.0) * s + 1.0);
  let near0 = 1.1283791670955126 * v * p;
  let t = 1.0 / (1.0 + 0.5 * a);
  let q = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807
    + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let far = sign(v) * (1.0 - t * exp(q - s));
  return select(select(select(far, near0, a < vec4<f32>(0.5)), sign(v), is_inf(v)), v, is_nan(v));
}

// sqrt: NaN below 0 (-0 gives -0), +Inf at +Inf.
fn sqrt_ieee(v: vec4<f32>) -> vec4<f32> {
  let zero = vec4<f32>(0.0);
  return select(select(sqrt(v), v, is_inf(v) | (v == zero)), nan_of(v), is_nan(v) | (v < zero));
}
// rsqrt: +-Inf at +-0, 0 at +Inf, NaN below 0.
fn rsqrt_ieee(v: vec4<f32>) -> vec4<f32> {
  let zero = vec4<f32>(0.0);
  let r = select(select(inverseSqrt(v), inf_of(v, sign_bit(v)), v == zero), zero, is_inf(v));
  return select(r, nan_of(v), is_nan(v) | (v < zero));
}

// torch.pow(tensor, scalar) takes 0.5 and -0.5 by sqrt and rsqrt (aten's pow_tensor_scalar), which differ
// from pow at -0 and -Inf (sqrt(-Inf) = NaN, pow(-Inf, 0.5) = Inf); the CPU reference does the same. The
// integer exponents 3, -1 and -2 are products here only for accuracy (WGSL's pow is 2^(p log2 |x|));
// on every special value they agree with C's pow, which the CPU reference computes exactly.
fn pow_scalar(v: vec4<f32>, p: f32) -> vec4<f32> {
  if (p == 0.5) { return sqrt_ieee(v); }
  if (p == -0.5) { return rsqrt_ieee(v); }
  if (p == 3.0) { return v * v * v; }
  if (p == -1.0) { return div_ieee(vec4<f32>(1.0), v); }
  if (p == -2.0) { return div_ieee(vec4<f32>(1.0), v * v); }
  return pow_torch(v, vec4<f32>(p));
}

