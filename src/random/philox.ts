// Philox4x32-10 counter-based RNG: the CPU reference, bit-identical to shaders/philox.wgsl.
// Source: Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3" (SC'11), and
// Random123's philox.h (philox4x32round, philox4x32bumpkey, PHILOX_M4x32_0/1, PHILOX_W32_0/1).
//
// Layout of a draw (shared with the WGSL kernel): a generator has a 64-bit seed (the key) and a 64-bit
// counter offset measured in blocks of 4 words. Element j of a draw of n values comes from block
// (offset + floor(j / 4)), lane j % 4, with counter = (block_lo, block_hi, 0, 0). So every value depends
// only on (seed, offset + j), not on how a draw is split into dispatches.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product a*b (a, b as u32), with 16-bit limbs as the WGSL does. */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff,
    aHi = a >>> 16,
    bLo = b & 0xffff,
    bHi = b >>> 16;
  const lolo = aLo * bLo,
    lohi = aLo * bHi,
    hilo = aHi * bLo,
    hihi = aHi * bHi;
  const cross = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  return (hihi + (lohi >>> 16) + (hilo >>> 16) + (cross >>> 16)) >>> 0;
}

/** One Philox4x32-10 block: counter (4 words) and key (2 words) in, 4 words out. */
export function philox4x32(ctr: readonly number[], key: readonly number[]): Uint32Array {
  let c0 = ctr[0] >>> 0,
    c1 = ctr[1] >>> 0,
    c2 = ctr[2] >>> 0,
    c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0,
    k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0),
      lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2),
      lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  return Uint32Array.of(c0, c1, c2, c3);
}

/** Uniform in [0, 1): the top 24 bits scaled by 2^-24 (exact in float32). */
export const uniformFromBits = (x: number): number => (x >>> 8) * 5.9604644775390625e-8;

/**
 * Box-Muller on a pair of words: u1 in (0, 1] so log(u1) is finite; the angle 2 pi (u2 - 1/2) lies in
 * [-pi, pi), where WGSL bounds the error of cos and sin.
 * Returns [r cos(2 pi u2), r sin(2 pi u2)] in float32 arithmetic order matching the WGSL.
 */
export function boxMuller(x: number, y: number): [number, number] {
  const f = Math.fround;
  const u1 = f(((x >>> 8) + 1) * 5.9604644775390625e-8);
  const u2 = f((y >>> 8) * 5.9604644775390625e-8);
  const r = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
  const theta = f(6.283185307179586 * f(u2 - 0.5));
  return [f(r * f(Math.cos(theta))), f(r * f(Math.sin(theta)))];
}

/**
 * A seeded stream of Philox draws. Each draw of n values takes ceil(n / 4) blocks from the counter, so
 * the sequence of draws is reproducible from (seed, offset) alone; offset can be saved and restored.
 * Philox4x32-10 is Salmon et al. 2011, "Parallel Random Numbers: As Easy as 1, 2, 3" (SC'11).
 *
 * @example
 * ```ts
 * const g = new Generator(1234);
 * const noise = randn([16, 100], { generator: g });
 * const saved = g.getState();
 * // ... later, draw the same values again:
 * g.setState(saved);
 * ```
 */
export class Generator {
  /** The 64-bit seed (the Philox key). */
  seed: bigint;
  /** The next free counter block: draws so far, in blocks of 4 values. */
  offset = 0;
  constructor(seed: number | bigint = 0) {
    this.seed = BigInt.asUintN(64, BigInt(seed));
  }
  /** Reseeds the generator and rewinds it to offset 0 (torch.Generator.manual_seed); returns it. */
  manualSeed(seed: number | bigint): this {
    this.seed = BigInt.asUintN(64, BigInt(seed));
    this.offset = 0;
    return this;
  }
  /** Reserves the blocks for a draw of n values and returns the starting block. */
  take(n: number): number {
    const start = this.offset;
    this.offset += Math.ceil(n / 4);
    return start;
  }
  /** The state as JSON-safe values (the seed as a decimal string), for checkpoints. */
  getState(): { seed: string; offset: number } {
    return { seed: this.seed.toString(), offset: this.offset };
  }
  /** Restores a state from getState(): the draws after it repeat those that followed it then. */
  setState(s: { seed: string; offset: number }): void {
    this.seed = BigInt(s.seed);
    this.offset = s.offset;
  }
}

/** The global generator used when no explicit Generator is passed (like torch.default_generator). */
export const defaultGenerator = new Generator(0);
/**
 * Reseeds the default generator (torch.manual_seed), so that every random op without a generator of
 * its own repeats its values from here; returns the default generator.
 * @example
 * ```ts
 * manualSeed(0);
 * const a = await randn([3]).toArray();
 * manualSeed(0);
 * const b = await randn([3]).toArray(); // the same values as a
 * ```
 */
export const manualSeed = (seed: number | bigint): Generator => defaultGenerator.manualSeed(seed);
