// The SVG charts (src/io/plot.ts): round ticks that cover the data, a legend entry per series that
// stays inside the picture, per-epoch series drawn with markers (a one-point series shows), and the
// scatter plot's legend naming each point set.
import { describe, expect, it } from 'vitest';
import { lossCurveSvg, niceTicks, scatterSvg } from '../src/io/index.ts';

const attr = (svg: string, tag: string, name: string) =>
  [...svg.matchAll(new RegExp(`<${tag} [^>]*${name}="([-\\d.]+)"`, 'g'))].map((m) => Number(m[1]));

describe('SVG charts', () => {
  it('niceTicks: steps of 1, 2 or 5 times a power of ten, within the range, about the count asked', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(-0.013, 0.021)).toEqual([-0.01, 0, 0.01, 0.02]);
    expect(niceTicks(1e5, 4.2e5)).toEqual([1e5, 2e5, 3e5, 4e5]);
    for (const [lo, hi] of [
      [0.3, 7.9],
      [-512, 3],
      [101, 102.5],
      [1e-6, 3e-6],
    ]) {
      const t = niceTicks(lo, hi);
      expect(t.length).toBeGreaterThanOrEqual(3);
      expect(t.length).toBeLessThanOrEqual(11);
      for (const v of t) expect(v >= lo - 1e-12 && v <= hi + 1e-12, `${v} in [${lo}, ${hi}]`).toBe(true);
      const step = t[1] - t[0];
      const mant = step / 10 ** Math.floor(Math.log10(step));
      expect(
        [1, 2, 5].some((m) => Math.abs(mant - m) < 1e-9),
        `step ${step}`,
      ).toBe(true);
    }
  });

  it('loss curves: labelled ticks on both axes, a legend that fits, markers for per-epoch points (one point too)', () => {
    const perStep = {
      name: 'train loss (per step)',
      points: Array.from({ length: 50 }, (_, i): [number, number] => [i + 1, 100 / (i + 1)]),
    };
    const names = [
      'train rec (per step)',
      'train kl (per step)',
      'a long series name that needs its own row of the legend',
    ];
    const more = names.map((name, k) => ({
      name,
      points: perStep.points.map(([x, y]): [number, number] => [x, y / (k + 2)]),
    }));
    const test = { name: 'test neg_elbo (per epoch)', points: [[50, 3.5]] as [number, number][], markers: true };
    const svg = lossCurveSvg('VAE', [perStep, ...more, test], 640, 400);
    // Tick labels: the y axis from 0 to 100, the x axis past 40.
    const labels = [...svg.matchAll(/<text [^>]*>([-\d.e+]+)<\/text>/g)].map((m) => Number(m[1]));
    expect(labels).toContain(100);
    expect(labels).toContain(40);
    expect(svg).toMatch(/>step<\/text>/);
    expect(svg).toMatch(/rotate\(-90\)[^>]*>loss<\/text>/);
    // Every series in the legend, every text inside the picture (estimated width of its glyphs).
    for (const s of [perStep, ...more, test]) expect(svg).toContain(`>${s.name}</text>`);
    for (const m of svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)<\/text>/g)) {
      const [x, y, text] = [Number(m[1]), Number(m[2]), m[3]];
      expect(y, text).toBeLessThanOrEqual(400);
      if (!/text-anchor="(middle|end)"/.test(m[0])) expect(x + 6.6 * text.length, text).toBeLessThanOrEqual(640);
    }
    // The one-point per-epoch series is a marker inside the plot area.
    const circles = attr(svg, 'circle', 'cx');
    expect(circles.length).toBeGreaterThanOrEqual(2);
    const rect = svg.match(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/)!;
    const [rx, rw] = [Number(rect[1]), Number(rect[3])];
    expect(circles.some((cx) => cx > rx && cx <= rx + rw)).toBe(true);
    // A single point alone still gets axes around it, not a collapsed range.
    const one = lossCurveSvg('one', [{ name: 'x', points: [[1, 2]] }]);
    expect(one).toMatch(/<circle cx="[\d.]+" cy="[\d.]+"/);
    expect(one).not.toMatch(/NaN|Infinity/);
  });

  it("a curve of 300,000 points (a long run's per-step losses) draws (Math.min(...values) overflowed the stack)", () => {
    const points = Array.from({ length: 300_000 }, (_, i) => [i, 100 / (1 + i)] as [number, number]);
    const svg = lossCurveSvg('long', [{ name: 'train', points }]);
    expect(svg).toMatch(/<polyline/);
  });

  it('scatter: axes over the extent and a legend naming each point set', () => {
    const real = Float32Array.of(0, 0, 1, 1, -2, 2);
    const fake = Float32Array.of(0.5, -0.5, 9, 9);
    const svg = scatterSvg(
      'ring',
      [
        { name: 'real', points: real, color: 'blue' },
        { name: 'generated', points: fake, color: 'red' },
      ],
      3,
    );
    expect(svg).toContain('>real</text>');
    expect(svg).toContain('>generated</text>');
    // 3 real points and 1 generated inside [-3, 3]^2 (the point at (9, 9) is outside), plus 2 legend keys.
    expect(attr(svg, 'circle', 'cx').length).toBe(3 + 1 + 2);
    const labels = [...svg.matchAll(/<text [^>]*>([-\d.]+)<\/text>/g)].map((m) => Number(m[1]));
    // Ticks every 2 over [-3, 3], on both axes.
    for (const v of [-2, 0, 2]) expect(labels.filter((l) => l === v).length).toBe(2);
  });
});
