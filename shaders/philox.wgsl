// Philox4x32-10 (Salmon et al., SC'11; Random123 philox.h), bit-identical to src/random/philox.ts.
// WGSL has no 64-bit integers: the high word of the 32x32 product is built from 16-bit limbs.

const PHILOX_M0: u32 = 0xd2511f53u;
const PHILOX_M1: u32 = 0xcd9e8d57u;
const PHILOX_W0: u32 = 0x9e3779b9u;
const PHILOX_W1: u32 = 0xbb67ae85u;

fn mulhi32(a: u32, b: u32) -> u32 {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let lolo = a_lo * b_lo;
  let lohi = a_lo * b_hi;
  let hilo = a_hi * b_lo;
  let hihi = a_hi * b_hi;
  let cross = (lolo >> 16u) + (lohi & 0xffffu) + (hilo & 0xffffu);
  return hihi + (lohi >> 16u) + (hilo >> 16u) + (cross >> 16u);
}

fn philox4x32_10(ctr_in: vec4<u32>, key_in: vec2<u32>) -> vec4<u32> {
  var c = ctr_in;
  var k = key_in;
  for (var round = 0u; round < 10u; round = round + 1u) {
    if (round > 0u) { k = k + vec2<u32>(PHILOX_W0, PHILOX_W1); }
    let hi0 = mulhi32(PHILOX_M0, c.x);
    let lo0 = PHILOX_M0 * c.x;
    let hi1 = mulhi32(PHILOX_M1, c.z);
    let lo1 = PHILOX_M1 * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}

// Uniform in [0, 1): top 24 bits times 2^-24, exact in f32.
fn uniform_from_bits(x: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(x >> vec4<u32>(8u)) * 5.9604644775390625e-8;
}

// Box-Muller on two words; u1 in (0, 1] keeps log finite, and the angle lies in [-pi, pi), the range
// where WGSL bounds the error of cos and sin (2^-11 absolute).
fn box_muller(x: u32, y: u32) -> vec2<f32> {
  let u1 = f32((x >> 8u) + 1u) * 5.9604644775390625e-8;
  let u2 = f32(y >> 8u) * 5.9604644775390625e-8;
  let r = sqrt(-2.0 * log(u1));
  let theta = 6.283185307179586 * (u2 - 0.5);
  return vec2<f32>(r * cos(theta), r * sin(theta));
}
