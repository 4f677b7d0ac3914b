// The functions behind the unary ops' WGSL expressions (src/backend/elementwise_table.ts, one row per op),
// those too long for one expression. The rows generate unary_op, the switch over the op codes that the
// unary kernel and the fused elementwise kernels (src/backend/webgpu/fused.ts) call with constant codes,
// so each call folds to its op's straight-line code; the shader loader appends it to this file.

// NaN, Inf and the limits of each function's domain are handled on the bits (common.wgsl), with
// PyTorch's results (test/special_values.test.ts): WGSL leaves log, sqrt and inverseSqrt undefined
// outside their domains and lets the compiler assume finite math.

// exp: NaN stays NaN, Inf past ln(FLT_MAX) = 88.72284, 0 at -Inf.
fn exp_ieee(v: vec4<f32>) -> vec4<f32> {
  let inf = is_inf(v);
  let r = select(exp(v), inf_of(v, vec4<bool>(false)), (v > vec4<f32>(88.72284)) | (inf & !sign_bit(v)));
  return select(select(r, vec4<f32>(0.0), inf & sign_bit(v)), v, is_nan(v));
}

// log: -Inf at +-0, NaN below 0 and at NaN, +Inf at +Inf.
fn log_ieee(v: vec4<f32>) -> vec4<f32> {
  let zero = vec4<f32>(0.0);
  let inf = is_inf(v);
  let r = select(log(select(v, vec4<f32>(1.0), inf)), inf_of(v, vec4<bool>(false)), inf);
  return select(select(r, inf_of(v, vec4<bool>(true)), v == zero), nan_of(v), is_nan(v) | (v < zero));
}

// expm1 = e^v - 1 without the cancellation of exp(v) - 1 near 0: below |v| = 0.5 its Maclaurin series
// v + v^2/2! + ... + v^9/9! in Horner's form (the next term is below 2^-27 of the sum); elsewhere
// exp(v) - 1, which loses at most a factor e^0.5 / (e^0.5 - 1) = 2.5 of exp's accuracy. -1 at -Inf,
// +Inf at +Inf and past ln(FLT_MAX), NaN at NaN, -0 kept (torch.expm1).
fn expm1_ieee(v: vec4<f32>) -> vec4<f32> {
  let p = v * (1.0 + v * (1.0 / 2.0 + v * (1.0 / 6.0 + v * (1.0 / 24.0 + v * (1.0 / 120.0 + v * (1.0 / 720.0
    + v * (1.0 / 5040.0 + v * (1.0 / 40320.0 + v * (1.0 / 362880.0)))))))));
  let r = select(exp_ieee(v) - 1.0, p, abs(v) < vec4<f32>(0.5));
  let big = (v > vec4<f32>(88.72284)) | (is_inf(v) & !sign_bit(v));
  let r2 = select(select(r, inf_of(v, vec4<bool>(false)), big), vec4<f32>(-1.0), is_inf(v) & sign_bit(v));
  return select(r2, v, is_nan(v));
}

// log1p = log(1 + v) without losing v to the rounding of 1 + v. Near 0 (1 + v within [sqrt(1/2),
// sqrt(2)]) by the series log(1 + v) = 2 atanh(s) = 2 (s + s^3/3 + ... + s^9/9), s = v / (2 + v),
// |s| <= 0.172 (the next term is below 2^-28 of the sum): WGSL's log is only accurate to 2^-21 absolute
// on [0.5, 2], most of the digits of a small result. Elsewhere Goldberg's trick, log(u) * (v / (u - 1))
// with u = 1 + v rounded, the quotient making up for u's rounding (D. Goldberg, "What every computer
// scientist should know about floating-point arithmetic", ACM Computing Surveys 23(1), 1991, Theorem 4).
// -Inf at -1, NaN below -1 and at NaN, +Inf at +Inf, -0 kept (torch.log1p).
fn log1p_ieee(v: vec4<f32>) -> vec4<f32> {
  let u = 1.0 + v;
  let s = v / (2.0 + v);
  let s2 = s * s;
  let series = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))));
  let near = (u > vec4<f32>(0.70710678)) & (u < vec4<f32>(1.41421356));
  let r = select(select(log_ieee(u) * (v / (u - 1.0)), series, near), inf_of(v, vec4<bool>(true)), v == vec4<f32>(-1.0));
  return select(select(r, v, is_inf(v) & !sign_bit(v)), nan_of(v), is_nan(v) | (v < vec4<f32>(-1.0)));
}

// sigmoid: exp of a non-positive argument only, so neither branch overflows (exp(-Inf) = 0 makes +-Inf
// exact); NaN by its bits.
fn sigmoid4(v: vec4<f32>) -> vec4<f32> {
  let e = exp(-abs(v));
  return select(select(e / (1.0 + e), 1.0 / (1.0 + e), v >= vec4<f32>(0.0)), v, is_nan(v));
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

