// Charts as SVG text (no canvas or font rasterizer needed), browser-safe (src/io/safetensors_file.ts
// writes them to files): loss curves (one line per series against the step, per-epoch series with a
// marker at each point so a one-point series shows) and 2-D scatter plots (the ring GAN's real and
// generated points), both with axes, "nice" ticks (1, 2 or 5 times a power of ten, Heckbert's
// labelling, Graphics Gems 1990), grid lines and a legend laid out in rows under the plot.

/** One line of a loss-curve chart. */
export interface Series {
  /** Its name in the legend. */
  name: string;
  /** [step, value] points. */
  points: [number, number][];
  /** Draw a marker at each point (per-epoch values); lines only by default. */
  markers?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const CHAR_W = 6.6; // average glyph width of 12 px sans-serif, for laying out the legend

/** About `count` round tick values covering [lo, hi] (lo < hi). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const nice = (x: number, round: boolean) => {
    const e = Math.floor(Math.log10(x)),
      f = x / 10 ** e;
    const n = round ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) : f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return n * 10 ** e;
  };
  const step = nice(nice(hi - lo, false) / Math.max(1, count - 1), true);
  const out: number[] = [];
  // Multiples of the step, rounded to 12 digits (0.6, not the 0.6000000000000001 of repeated adds).
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++)
    out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const label = (v: number) => {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(6)));
};

/** The domain of values (padded when all are equal, so a single point sits inside the axes). */
function domain(values: number[]): [number, number] {
  // Loops, not Math.min(...values): a long run's per-step curve would overflow the call stack.
  let lo = Infinity,
    hi = -Infinity;
  for (const v of values) [lo, hi] = [v < lo ? v : lo, v > hi ? v : hi];
  if (lo === hi) [lo, hi] = lo === 0 ? [-1, 1] : [lo - Math.abs(lo) * 0.1, hi + Math.abs(hi) * 0.1];
  return [lo, hi];
}

interface Frame {
  width: number;
  height: number;
  title: string;
  xLabel: string;
  yLabel: string;
  x: [number, number];
  y: [number, number];
  legend: { name: string; color: string; marker: boolean }[];
}

/** Axes, ticks, grid and legend; returns the SVG's opening elements, the scales and the closing ones. */
function frame(f: Frame): { head: string[]; tail: string[]; sx: (x: number) => number; sy: (y: number) => number } {
  const xt = niceTicks(...f.x),
    yt = niceTicks(...f.y);
  const x0 = Math.min(f.x[0], xt[0]),
    x1 = Math.max(f.x[1], xt[xt.length - 1]);
  const y0 = Math.min(f.y[0], yt[0]),
    y1 = Math.max(f.y[1], yt[yt.length - 1]);
  // The legend's rows under the plot: entries side by side while they fit the width.
  const rows: { name: string; color: string; marker: boolean; x: number }[][] = [[]];
  let cx = 0;
  for (const e of f.legend) {
    const w = 24 + CHAR_W * e.name.length + 16;
    if (cx > 0 && cx + w > f.width - 70) {
      rows.push([]);
      cx = 0;
    }
    rows[rows.length - 1].push({ ...e, x: cx });
    cx += w;
  }
  const yTickW = Math.max(...yt.map((v) => label(v).length)) * CHAR_W;
  const m = { l: 28 + yTickW + 8, r: 16, t: 30, b: 44 + 18 * rows.length };
  const W = f.width - m.l - m.r,
    H = f.height - m.t - m.b;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * W;
  const sy = (y: number) => m.t + H - ((y - y0) / (y1 - y0)) * H;
  const head = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="18" font-size="14">${esc(f.title)}</text>`,
    ...xt.map(
      (v) =>
        `<line x1="${sx(v).toFixed(1)}" y1="${m.t}" x2="${sx(v).toFixed(1)}" y2="${m.t + H}" stroke="#eee"/>` +
        `<text x="${sx(v).toFixed(1)}" y="${m.t + H + 15}" text-anchor="middle">${label(v)}</text>`,
    ),
    ...yt.map(
      (v) =>
        `<line x1="${m.l}" y1="${sy(v).toFixed(1)}" x2="${m.l + W}" y2="${sy(v).toFixed(1)}" stroke="#eee"/>` +
        `<text x="${m.l - 5}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${label(v)}</text>`,
    ),
    `<rect x="${m.l}" y="${m.t}" width="${W}" height="${H}" fill="none" stroke="#999"/>`,
    `<text x="${m.l + W / 2}" y="${m.t + H + 32}" text-anchor="middle">${esc(f.xLabel)}</text>`,
    `<text transform="translate(14 ${m.t + H / 2}) rotate(-90)" text-anchor="middle">${esc(f.yLabel)}</text>`,
  ];
  const tail = rows.flatMap((row, r) =>
    row.map((e) => {
      const y = m.t + H + 50 + 18 * r,
        x = m.l + e.x;
      const key = e.marker
        ? `<circle cx="${x + 9}" cy="${y - 4}" r="3.5" fill="${e.color}"/>`
        : `<line x1="${x}" y1="${y - 4}" x2="${x + 18}" y2="${y - 4}" stroke="${e.color}" stroke-width="2"/>`;
      return `${key}<text x="${x + 24}" y="${y}">${esc(e.name)}</text>`;
    }),
  );
  return { head, tail: [...tail, '</svg>'], sx, sy };
}

/**
 * Loss curves as SVG text (browser-safe): one line per series against the step, with axes, round
 * ticks, a grid and a legend; non-finite values are skipped. `width` and `height` are in pixels.
 * @example
 * ```ts
 * const svg = lossCurveSvg('VAE', [{ name: 'train', points: [[0, 180], [100, 120], [200, 105]] }]);
 * ```
 */
export function lossCurveSvg(title: string, series: Series[], width = 720, height = 420): string {
  return curvesSvg(title, series, { width, height });
}

/** How curvesSvg draws: the y axis's label ('loss' by default) and the size in pixels (720 x 420). */
export interface CurvesOptions {
  yLabel?: string;
  width?: number;
  height?: number;
}

/**
 * Curves of any per-step quantity as SVG text (lossCurveSvg's drawing with another y label): e.g. a run's
 * test metrics that are not losses (modes covered, a Frechet ratio), on a chart of their own.
 * @example
 * ```ts
 * const svg = curvesSvg('ring GAN', [{ name: 'modes covered', points: [[100, 3], [200, 8]], markers: true }], { yLabel: 'modes' });
 * ```
 */
export function curvesSvg(title: string, series: Series[], o: CurvesOptions = {}): string {
  const { yLabel = 'loss', width = 720, height = 420 } = o;
  const all = series.flatMap((s) => s.points).filter(([, v]) => Number.isFinite(v));
  if (all.length === 0)
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="10" y="20">${esc(title)}: no data</text></svg>`;
  const legend = series.map((s, i) => ({
    name: s.name,
    color: COLORS[i % COLORS.length],
    marker: !!s.markers || s.points.length === 1,
  }));
  const { head, tail, sx, sy } = frame({
    width,
    height,
    title,
    xLabel: 'step',
    yLabel,
    x: domain(all.map((p) => p[0])),
    y: domain(all.map((p) => p[1])),
    legend,
  });
  const body = series.map((s, i) => {
    const pts = s.points.filter(([, v]) => Number.isFinite(v));
    const color = COLORS[i % COLORS.length];
    const line =
      pts.length > 1
        ? `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`
        : '';
    const dots = legend[i].marker
      ? pts
          .map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${color}"/>`)
          .join('')
      : '';
    return line + dots;
  });
  return [...head, ...body, ...tail].join('\n');
}

/** A scatter plot of named 2-D point sets ([x0, y0, x1, y1, ...] each) over [-extent, extent]^2. */
export function scatterSvg(
  title: string,
  sets: { name: string; points: Float32Array; color: string }[],
  extent = 3,
  size = 520,
): string {
  const legend = sets.map((s) => ({ name: s.name, color: s.color, marker: true }));
  const { head, tail, sx, sy } = frame({
    width: size,
    height: size + 40,
    title,
    xLabel: 'x',
    yLabel: 'y',
    x: [-extent, extent],
    y: [-extent, extent],
    legend,
  });
  const body = sets.map((s) => {
    const dots: string[] = [];
    for (let i = 0; i + 1 < s.points.length; i += 2) {
      const [x, y] = [s.points[i], s.points[i + 1]];
      if (Math.abs(x) <= extent && Math.abs(y) <= extent)
        dots.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="1.6"/>`);
    }
    return `<g fill="${s.color}" fill-opacity="0.6">${dots.join('')}</g>`;
  });
  return [...head, ...body, ...tail].join('\n');
}
