// The differences a GPU compiler's FMA contraction can make to compile.test's fused cases, derived from
// their terms. WGSL lets a compiler fuse a * b + c into one fused multiply-add, which skips the
// product's rounding (at most u |a b|); where the sum cancels, that is many ulps of the result, so a
// relative tolerance alone cannot hold. SwiftShader does not contract; test/fma_bounds.test.ts checks
// these bounds against float32 emulations with and without each FMA.

/** The unit roundoff of float32: a rounded result is within u of the exact one, relatively. */
export const U = 2 ** -24;

/**
 * The chain max((leakyRelu(x s + bias, 0.2) - k) * bias, x) / (s + 2), k = 0.25, at one element:
 * x s + bias and 0.2 b - k (leaky ReLU's negative side, then the sub) may each be one FMA. b moves by up
 * to u (|x s| + 2 |b|): the product's rounding skipped, and b's own rounding on each side; t =
 * leakyRelu(b) - k by that times the slope (1 or 0.2), plus u (0.2 |b|, where b < 0, + 2 |t|); the
 * result by t's difference times |bias| / |s + 2| (the max with x passes at most that). To first order
 * in u, doubled for the rest.
 */
export function chainSlack(x: number, s: number, bias: number): number {
  const xs = x * s,
    b = xs + bias,
    t = (b > 0 ? b : 0.2 * b) - 0.25;
  const dt =
    U * ((Math.abs(xs) + 2 * Math.abs(b)) * (b > 0 ? 1 : 0.2) + (b > 0 ? 0 : 0.2 * Math.abs(b)) + 2 * Math.abs(t));
  return (2 * dt * Math.abs(bias)) / Math.abs(s + 2);
}

/**
 * A running average r' = 0.9 r + 0.1 e: r 0.9 + e 0.1 may be one FMA (either product's rounding
 * skipped), so each call moves r by up to u (0.9 |r| + 0.1 e) + 2 u |r'| (the sum's own rounding on each
 * side) more, and earlier calls' differences shrink by 0.9. The bound after several calls is the sum of
 * these over the calls, doubled for the rest.
 */
export const averageStepSlack = (r: number, e: number, next: number): number =>
  U * (0.9 * Math.abs(r) + 0.1 * e + 2 * Math.abs(next));
