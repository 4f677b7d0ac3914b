// test/fma.ts's bounds, checked where SwiftShader cannot check them: compile.test's fused cases computed
// in float32 (Math.fround after each rounded op) as eager mode runs them, and with each multiply-add a
// GPU compiler may contract done as one FMA (one rounding of the exact a * b + c; in float64 first, whose
// double rounding differs from a true FMA only on ties, far below these bounds). Every difference must lie
// within 2e-6 of the result plus the derived slack; and the slack must be needed (2e-6 alone fails) but
// not loose everywhere (most elements are held to 2e-6 alone).
import { describe, expect, it } from 'vitest';
import { randomData, RUN_SEED } from './helpers.ts';
import { averageStepSlack, chainSlack } from './fma.ts';

const fr = Math.fround;

describe("test/fma.ts's bounds on an FMA's difference hold in float32 emulation (TEST_SEED=" + RUN_SEED + ')', () => {
  it('the fused chain max((leakyRelu(x s + bias) - k) bias, x) / (s + 2): 2,000 fresh inputs, each FMA way', () => {
    const p = fr(0.2),
      k = 0.25;
    let worst = 0,
      needed = 0,
      loose = 0,
      elements = 0;
    for (let run = 0; run < 2000; run++) {
      const x = randomData(105, 62 + 3 * run),
        s = randomData(5, 63 + 3 * run),
        bias = randomData(7, 64 + 3 * run);
      for (let i = 0; i < 105; i++) {
        const [c, j] = [Math.floor(i / 7) % 5, i % 7];
        const value = (fma1: boolean, fma2: boolean) => {
          const b = fma1 ? fr(x[i] * s[c] + bias[j]) : fr(fr(x[i] * s[c]) + bias[j]);
          const t = b > 0 ? fr(b - k) : fma2 ? fr(p * b - k) : fr(fr(p * b) - k);
          return fr(Math.max(fr(t * bias[j]), x[i]) / fr(s[c] + 2));
        };
        const want = value(false, false),
          slack = chainSlack(x[i], s[c], bias[j]);
        elements++;
        if (slack > 2e-6 * Math.abs(want)) loose++;
        for (const [f1, f2] of [
          [true, false],
          [false, true],
          [true, true],
        ] as const) {
          const d = Math.abs(value(f1, f2) - want);
          if (d > 2e-6 * Math.abs(want)) needed++;
          worst = Math.max(worst, d / (2e-6 * Math.abs(want) + slack + 1e-30));
        }
      }
    }
    expect(worst, 'the largest difference as a fraction of the bound').toBeLessThanOrEqual(1);
    expect(needed, 'differences past 2e-6 relative alone').toBeGreaterThan(0);
    expect(loose / elements, 'elements whose slack exceeds 2e-6 relative').toBeLessThan(0.1);
  });

  it("the running average r' = 0.9 r + 0.1 exp(a), 4 calls: 5,000 fresh inputs, either product fused", () => {
    const [p9, p1] = [fr(0.9), fr(0.1)];
    let worst = 0,
      needed = 0;
    for (let run = 0; run < 5000; run++) {
      const a = randomData(10, 65 + 2 * run),
        r0 = randomData(10, 67 + 2 * run);
      for (let i = 0; i < 10; i++) {
        const e = fr(Math.exp(a[i])),
          t = fr(e * p1);
        for (const way of ['r', 'e'] as const) {
          let [eager, fused, bound] = [r0[i], r0[i], 0];
          for (let call = 0; call < 4; call++) {
            const before = eager;
            eager = fr(fr(eager * p9) + t);
            fused = way === 'r' ? fr(fused * p9 + t) : fr(p1 * e + fr(fused * p9));
            bound += averageStepSlack(before, e, eager);
            const d = Math.abs(fused - eager);
            if (d > 2e-6 * Math.abs(eager)) needed++;
            worst = Math.max(worst, d / (2e-6 * Math.abs(eager) + 2 * bound));
          }
        }
      }
    }
    expect(worst, 'the largest difference as a fraction of the bound').toBeLessThanOrEqual(1);
    expect(needed, 'differences past 2e-6 relative alone').toBeGreaterThan(0);
  });
});
