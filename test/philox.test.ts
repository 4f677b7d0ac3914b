import { describe, expect, it } from 'vitest';
import { Generator, rand, randn, randomBits, type Backend } from '../src/index.ts';
import { philox4x32 } from '../src/random/philox.ts';
import { cpu, forEachBackend, getGpu } from './helpers.ts';

// Random123's known-answer vectors for philox4x32_10 (kat_vectors): counter, key -> output.
const KAT: [number[], number[], number[]][] = [
  [
    [0, 0, 0, 0],
    [0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

async function bitsOn(b: Backend, counter: number[], key: number[], n = 4): Promise<Uint32Array> {
  const s = b.random(n, {
    kind: 'bits',
    key: key as [number, number],
    counter: counter as [number, number, number, number],
    scale: 1,
    shift: 0,
    p: 0,
  });
  const out = await b.read(s, { as: 'u32' });
  b.free(s);
  return out;
}

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors in TypeScript', () => {
    for (const [ctr, key, want] of KAT) expect([...philox4x32(ctr, key)]).toEqual(want);
  });

  forEachBackend((name, backend) => {
    it(`matches the Random123 known-answer vectors bit for bit on ${name}`, async () => {
      const b = await backend();
      for (const [ctr, key, want] of KAT) expect([...(await bitsOn(b, ctr, key))]).toEqual(want);
    });
  });

  it('gives bit-identical words on both backends, with the 64-bit counter carry', async () => {
    const gpu = await getGpu();
    // Start 3 blocks below 2^32 so the low counter word wraps inside the draw.
    const ctr = [0xfffffffd, 7, 0, 0],
      key = [0x12345678, 0x9abcdef0];
    const [a, b] = [await bitsOn(cpu, ctr, key, 1001), await bitsOn(gpu, ctr, key, 1001)];
    expect(b).toEqual(a);
    // Block 3 of the draw is counter (0, 8): carried.
    expect([...a.slice(12, 16)]).toEqual([...philox4x32([0, 8, 0, 0], key)]);
  });

  it('draws the same values however a stream is split into draws', async () => {
    const gpu = await getGpu();
    const whole = await rand([64], { backend: gpu, generator: new Generator(42) }).toArray();
    const g = new Generator(42);
    const parts = [rand([24], { backend: gpu, generator: g }), rand([40], { backend: gpu, generator: g })];
    const joined = new Float32Array([...(await parts[0].toArray()), ...(await parts[1].toArray())]);
    expect(joined).toEqual(whole);
    expect(g.offset).toBe(16);
  });

  it('gives identical uniforms and near-identical normals on both backends', async () => {
    const gpu = await getGpu();
    const u1 = await rand([999], { backend: cpu, generator: new Generator(7) }).toArray();
    const u2 = await rand([999], { backend: gpu, generator: new Generator(7) }).toArray();
    expect(u2).toEqual(u1);
    const n1 = await randn([999], { backend: cpu, generator: new Generator(7) }).toArray();
    const n2 = await randn([999], { backend: gpu, generator: new Generator(7) }).toArray();
    // WGSL allows cos/sin an absolute error of 2^-11 and log 3 ulp: so normals agree to ~|z| 2^-11.
    for (let i = 0; i < n1.length; i++) expect(Math.abs(n1[i] - n2[i])).toBeLessThan(1e-5 + 2 ** -11 * Math.abs(n1[i]));
  });

  it('has the moments of U[0,1) and N(0,1) on the GPU', async () => {
    const gpu = await getGpu();
    const n = 1 << 20;
    const u = await rand([n], { backend: gpu, generator: new Generator(1) }).toArray();
    const z = await randn([n], { backend: gpu, generator: new Generator(2) }).toArray();
    const moments = (x: Float32Array) => {
      let m = 0,
        v = 0,
        k = 0;
      for (const t of x) m += t;
      m /= x.length;
      for (const t of x) {
        v += (t - m) ** 2;
        k += (t - m) ** 4;
      }
      return { mean: m, var: v / x.length, kurt: k / x.length / (v / x.length) ** 2 };
    };
    const mu = moments(u),
      mz = moments(z);
    // Standard errors at n = 2^20: mean of U ~ 2.8e-4, var of U ~ 8e-5, mean of N ~ 1e-3, var of N ~ 1.4e-3.
    expect(Math.abs(mu.mean - 0.5)).toBeLessThan(5 * 2.8e-4);
    expect(Math.abs(mu.var - 1 / 12)).toBeLessThan(5 * 8e-5);
    expect(u.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(0);
    expect(u.reduce((a, b) => Math.max(a, b))).toBeLessThan(1);
    expect(Math.abs(mz.mean)).toBeLessThan(5e-3);
    expect(Math.abs(mz.var - 1)).toBeLessThan(7e-3);
    expect(Math.abs(mz.kurt - 3)).toBeLessThan(0.05);
    // Words are uniform over all 32 bits: each bit is set about half the time.
    const bits = await gpu.read(randomBits([n], { backend: gpu, generator: new Generator(3) }).storage, { as: 'u32' });
    for (const bit of [0, 13, 31]) {
      let c = 0;
      for (const w of bits) c += (w >>> bit) & 1;
      expect(Math.abs(c / n - 0.5)).toBeLessThan((5 * 0.5) / Math.sqrt(n));
    }
  });
});
