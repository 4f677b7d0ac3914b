// Shared helpers, prepended by src/device/shaders.ts to the kernels that list it.

// A flat invocation index over a 3-D grid of workgroups: dispatches larger than
// maxComputeWorkgroupsPerDimension are folded over y, then z (GPUContext.grid), and every kernel
// bounds-checks the index.
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
  return gid.x + (gid.y + gid.z * nwg.y) * nwg.x * wg;
}

// Index of a workgroup in a 3-D grid of workgroups (for kernels that give each workgroup one row).
fn flat_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + (wid.y + wid.z * nwg.y) * nwg.x;
}

// The cell (x, y, z) of flat index g in a grid nx wide and ny high. A kernel with a 3-D grid of tiles
// decodes its workgroup's flat_group with it, so the host may fold a grid past the limit as a 1-D one
// (DispatchSpec.flatGroups); on an unfolded grid of nx x ny x nz it gives back the workgroup id.
fn unflatten(g: u32, nx: u32, ny: u32) -> vec3<u32> {
  let r = g / nx;
  return vec3<u32>(g - r * nx, r % ny, r / ny);
}

// ---- NaN and Inf, tested on the bits --------------------------------------------------------------
// WGSL lets a compiler assume finite math (WGSL spec, "Floating Point Evaluation": an implementation may
// assume that overflow, infinities and NaNs are not present at run time), and SwiftShader's LLVM does:
// `x != x` folded to false, so max([1, NaN, 3]) gave 3; log(NaN) gave 89.1 and tanh(NaN) 0. Integer
// operations on bitcast<u32> are exact in every compiler (Tint emits them as SPIR-V OpBitcast and integer
// ops, which carry no fast-math flags), so the special values are recognised and made from their bits.
// Infinite and NaN constants cannot be const-expressions (a shader-creation error), so they are made from
// a run-time value's bits.
const ABS_MASK: u32 = 0x7fffffffu;
const SIGN_MASK: u32 = 0x80000000u;
const EXP_BITS: u32 = 0x7f800000u;

fn is_nan(v: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(v) & vec4<u32>(ABS_MASK)) > vec4<u32>(EXP_BITS); }
fn is_inf(v: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(v) & vec4<u32>(ABS_MASK)) == vec4<u32>(EXP_BITS); }
fn is_nan1(v: f32) -> bool { return (bitcast<u32>(v) & ABS_MASK) > EXP_BITS; }
/** Exponent all ones: NaN or +-Inf. */
fn non_finite1(v: f32) -> bool { return (bitcast<u32>(v) & EXP_BITS) == EXP_BITS; }
fn sign_bit(v: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(v) & vec4<u32>(SIGN_MASK)) != vec4<u32>(0u); }
/** A quiet NaN (made from v's bits: a run-time value). */
fn nan_of(v: vec4<f32>) -> vec4<f32> { return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) | vec4<u32>(0x7fc00000u)); }
/** +Inf, or -Inf where neg. */
fn inf_of(v: vec4<f32>, neg: vec4<bool>) -> vec4<f32> {
  let bits = (bitcast<vec4<u32>>(v) & vec4<u32>(0u)) | vec4<u32>(EXP_BITS);
  return bitcast<vec4<f32>>(select(bits, bits | vec4<u32>(SIGN_MASK), neg));
}

// a / b with IEEE 754's meaning at b = 0 (WGSL leaves division outside [2^-126, 2^126] unspecified):
// +-Inf by the signs, NaN for 0 / 0 and NaN / 0.
fn div_ieee(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let zero_b = (bitcast<vec4<u32>>(b) & vec4<u32>(ABS_MASK)) == vec4<u32>(0u);
  let zero_a = (bitcast<vec4<u32>>(a) & vec4<u32>(ABS_MASK)) == vec4<u32>(0u);
  let by_zero = select(inf_of(a, sign_bit(a) != sign_bit(b)), nan_of(a), zero_a | is_nan(a));
  return select(a / b, by_zero, zero_b);
}

// x^p as C's pow (C11 Annex F.10.4.4), which torch.pow follows: the special cases first (x^0 = 1 and
// 1^p = 1 even for NaN, (-1)^+-Inf = 1, zeros and infinities by the parity of an integer p), then
// sign * 2^(p log2 |x|) (WGSL's pow is undefined for x < 0 and for x = 0).
fn pow_torch(x: vec4<f32>, p: vec4<f32>) -> vec4<f32> {
  let zero = vec4<f32>(0.0);
  let one = vec4<f32>(1.0);
  let ax = abs(x);
  let x_nan = is_nan(x);
  let p_nan = is_nan(p);
  let p_inf = is_inf(p);
  let x_inf = is_inf(x);
  let is_int = (floor(p) == p) & !p_nan & !p_inf;
  let odd = is_int & (abs(p - 2.0 * floor(p * 0.5)) == one);
  let neg = sign_bit(x);
  let p_neg = p < zero;
  // Finite nonzero |x|: 2^(p log2 |x|), saturated where the exponent leaves f32's range.
  let l = p * log2(select(ax, one, (ax == zero) | x_inf | x_nan));
  var r = select(exp2(clamp(l, vec4<f32>(-160.0), vec4<f32>(160.0))), inf_of(x, vec4<bool>(false)), l >= vec4<f32>(128.0));
  r = select(r, zero, l <= vec4<f32>(-150.0));
  r = select(r, -r, neg & odd);
  r = select(r, nan_of(x), neg & !is_int & !p_inf);
  // x = +-0 or +-Inf: 0 or Inf by the sign of p (0^-p = Inf^p), signed when p is an odd integer.
  let zero_x = ax == zero;
  let zi = select(zero, inf_of(x, vec4<bool>(false)), (zero_x & p_neg) | (x_inf & !p_neg));
  r = select(r, select(zi, -zi, neg & odd), zero_x | x_inf);
  // p = +-Inf: |x| < 1 gives 0 for +Inf and Inf for -Inf; |x| > 1 the other way round; |x| = 1 gives 1.
  let pinf = select(select(inf_of(x, vec4<bool>(false)), zero, p_neg), select(zero, inf_of(x, vec4<bool>(false)), p_neg), ax < one);
  r = select(r, select(pinf, one, ax == one), p_inf & !x_nan);
  r = select(r, nan_of(x), x_nan | p_nan);
  return select(r, one, ((p == zero) & !p_nan) | ((x == one) & !x_nan));
}
