// Drawing for the demo, all on 2D canvases: WebGPU canvases are not composited in headless screenshots
// on SwiftShader, and everything drawn here is small (image grids, point clouds, loss curves), read back
// from the device once per refresh. Images are drawn at their native resolution and scaled up by CSS
// (image-rendering: pixelated), so a canvas's pixels are exactly the model's output.

import { niceTicks } from '../src/io/index.ts';

/** A canvas to draw on: the page's, or the training worker's stand-in over an OffscreenCanvas (remote.ts). */
export interface Canvas2D {
  width: number;
  height: number;
  getContext(id: '2d'): CanvasRenderingContext2D | null;
}

/** Grayscale images (values in [0, 1], row-major h x w each) as a grid with 1-pixel gaps. */
export function drawImageGrid(
  canvas: Canvas2D,
  pixels: Float32Array,
  o: { n: number; cols: number; h?: number; w?: number; gap?: number },
): void {
  const h = o.h ?? 28,
    w = o.w ?? 28,
    gap = o.gap ?? 1;
  const rows = Math.ceil(o.n / o.cols);
  const W = o.cols * (w + gap) + gap,
    H = rows * (h + gap) + gap;
  if (canvas.width !== W || canvas.height !== H) [canvas.width, canvas.height] = [W, H];
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(W, H);
  img.data.fill(0);
  for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
  // Gaps in a mid gray, so that black digit backgrounds stay apart.
  for (let p = 0; p < W * H; p++) img.data.fill(70, 4 * p, 4 * p + 3);
  for (let k = 0; k < o.n; k++) {
    const x0 = gap + (k % o.cols) * (w + gap),
      y0 = gap + Math.floor(k / o.cols) * (h + gap);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const v = Math.round(255 * Math.min(1, Math.max(0, pixels[k * h * w + i * w + j])));
        const at = 4 * ((y0 + i) * W + x0 + j);
        img.data[at] = img.data[at + 1] = img.data[at + 2] = v;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}

/** Ten distinguishable colours (digit classes, loss terms). */
export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

/** Maps data coordinates in [-range, range]^2 to a square canvas (y up). */
export function planeMapper(canvas: Canvas2D, range: number) {
  const s = canvas.width / (2 * range);
  return {
    toPx: (x: number, y: number): [number, number] => [(x + range) * s, (range - y) * s],
    fromPx: (px: number, py: number): [number, number] => [px / s - range, range - py / s],
  };
}

/** Points (x0, y0, x1, y1, ...) as small squares, one colour or one per point. */
export function drawPoints(
  canvas: Canvas2D,
  pts: Float32Array,
  range: number,
  color: string | ((i: number) => string),
  size = 2,
): void {
  const ctx = canvas.getContext('2d')!;
  const { toPx } = planeMapper(canvas, range);
  for (let i = 0; i < pts.length / 2; i++) {
    const [x, y] = toPx(pts[2 * i], pts[2 * i + 1]);
    ctx.fillStyle = typeof color === 'string' ? color : color(i);
    ctx.fillRect(x - size / 2, y - size / 2, size, size);
  }
}

/** Axes through the origin and a unit grid. */
export function drawAxes(canvas: Canvas2D, range: number): void {
  const ctx = canvas.getContext('2d')!;
  const { toPx } = planeMapper(canvas, range);
  ctx.strokeStyle = '#e4e4e4';
  ctx.lineWidth = 1;
  for (let v = -Math.floor(range); v <= range; v++) {
    const [x] = toPx(v, 0),
      [, y] = toPx(0, v);
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, canvas.height);
    ctx.moveTo(0, y);
    ctx.lineTo(canvas.width, y);
    ctx.stroke();
  }
  ctx.strokeStyle = '#b0b0b0';
  const [ox, oy] = toPx(0, 0);
  ctx.beginPath();
  ctx.moveTo(ox, 0);
  ctx.lineTo(ox, canvas.height);
  ctx.moveTo(0, oy);
  ctx.lineTo(canvas.width, oy);
  ctx.stroke();
}

export interface LossHistory {
  steps: number[];
  /** values[t][i]: loss term i at steps[t]. */
  values: number[][];
}

/** Mean of each bucket of consecutive points, so that long runs draw at most `max` points per curve. */
function downsample(h: LossHistory, term: number, max: number): [number, number][] {
  const n = h.steps.length,
    per = Math.max(1, Math.ceil(n / max));
  const out: [number, number][] = [];
  for (let a = 0; a < n; a += per) {
    let s = 0,
      v = 0,
      c = 0;
    for (let t = a; t < Math.min(n, a + per); t++) {
      if (Number.isFinite(h.values[t][term])) {
        s += h.steps[t];
        v += h.values[t][term];
        c++;
      }
    }
    if (c) out.push([s / c, v / c]);
  }
  return out;
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));

/** Points a live loss history holds at most (twice what a checkpoint keeps, checkpoint.ts HISTORY_POINTS). */
export const LIVE_HISTORY_POINTS = 40_000;

/**
 * Appends points to a live history, thinning it when it reaches LIVE_HISTORY_POINTS (every other point
 * kept, the last always), so a long run's curve stays bounded in memory and in drawing time. The
 * worker (the checkpoint's history) and the page (the chart) both thin this way; the page may miss the
 * points a thinning dropped before it was sent them, which only a chart of 40,000 points could show.
 */
export function appendHistory(h: LossHistory, steps: readonly number[], values: readonly number[][]): void {
  for (let i = 0; i < steps.length; i++) {
    h.steps.push(steps[i]);
    h.values.push(values[i]);
    if (h.steps.length >= LIVE_HISTORY_POINTS) {
      const n = h.steps.length;
      const keep = (_: unknown, j: number) => j % 2 === 0 || j === n - 1;
      const [st, va] = [h.steps.filter(keep), h.values.filter(keep)];
      h.steps.length = h.values.length = 0;
      for (let j = 0; j < st.length; j++) {
        h.steps.push(st[j]);
        h.values.push(va[j]);
      }
    }
  }
}

/** Replaces a history's points by another's (arrays of any length: no argument spreading). */
export function replaceHistory(h: LossHistory, from: LossHistory): void {
  if (from === h) return;
  h.steps.length = h.values.length = 0;
  appendHistory(h, from.steps, from.values);
}

/**
 * An exponential moving average with TensorBoard's debiasing: s_t = a s_(t-1) + (1 - a) v_t from s_0 = 0,
 * divided by 1 - a^t, so the first values are not pulled towards 0 (a constant series stays constant).
 */
export function smoothSeries(values: readonly number[], a: number): number[] {
  let s = 0,
    w = 0;
  return values.map((v) => {
    s = a * s + (1 - a) * v;
    w = a * w + (1 - a);
    return s / w;
  });
}

export interface LossChartOptions {
  /** EMA factor in [0, 1) (0: raw); the raw curve stays behind the smoothed one, lighter. */
  smoothing?: number;
  /** A log y axis, for the terms whose values are all positive (the others stay linear, and say so). */
  log?: boolean;
}

/**
 * One small chart per loss term, side by side, each on its own scale (a VAE's KL is a few nats next to
 * a reconstruction term of a hundred): step on x, the term's value on y, round ticks on both axes with
 * grid lines (niceTicks, as the CLI's loss.svg), its latest value in the title; a single point is a dot.
 * Sets canvas.dataset.scales to each chart's y scale ('log' or 'linear'), for tests and readers.
 */
export function drawLossCharts(
  canvas: HTMLCanvasElement,
  names: readonly string[],
  h: LossHistory,
  o: LossChartOptions = {},
): void {
  const ctx = canvas.getContext('2d')!;
  const W = canvas.width,
    H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.font = '11px system-ui, sans-serif';
  const cw = W / names.length,
    pad = { l: 46, r: 10, t: 16, b: 28 };
  const smoothing = o.smoothing ?? 0;
  const scales: string[] = [];
  names.forEach((name, i) => {
    const x0 = i * cw + pad.l,
      x1 = (i + 1) * cw - pad.r,
      y0 = pad.t,
      y1 = H - pad.b;
    const raw = h.values.map((v) => v[i]);
    const logScale = !!o.log && raw.length > 0 && raw.every((v) => v > 0);
    scales.push(logScale ? 'log' : 'linear');
    // Values as plotted: log10 on a log axis, ticks labelled with the values themselves.
    const tf = (v: number) => (logScale ? Math.log10(v) : v);
    const series = (vals: number[]) =>
      downsample({ steps: h.steps, values: vals.map((v) => [tf(v)]) }, 0, Math.max(2, Math.floor(x1 - x0)));
    const pts = series(raw);
    const smooth = smoothing > 0 ? series(smoothSeries(raw, smoothing)) : null;
    ctx.fillStyle = '#222';
    ctx.textAlign = 'left';
    const last = h.values.at(-1)?.[i];
    const note = o.log && !logScale && raw.length ? ' (linear: values <= 0)' : logScale ? ' (log)' : '';
    ctx.fillText(`${name}${last === undefined ? '' : ` = ${fmt(last)}`}${note}`, x0, 11);
    ctx.strokeStyle = '#ccc';
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    if (pts.length === 0) return;
    let lo = Math.min(...pts.map((p) => p[1])),
      hi = Math.max(...pts.map((p) => p[1]));
    if (hi - lo < 1e-9) {
      lo -= Math.max(0.5, Math.abs(lo) * 0.1);
      hi += Math.max(0.5, Math.abs(hi) * 0.1);
    }
    let s0 = pts[0][0],
      s1 = pts.at(-1)![0];
    if (s1 - s0 < 1) {
      s0 -= 1;
      s1 += 1;
    }
    const X = (s: number) => x0 + ((s - s0) / (s1 - s0)) * (x1 - x0);
    const Y = (v: number) => y1 - ((v - lo) / (hi - lo)) * (y1 - y0);
    ctx.fillStyle = '#666';
    ctx.strokeStyle = '#eee';
    ctx.textAlign = 'right';
    for (const v of niceTicks(lo, hi, 4)) {
      ctx.beginPath();
      ctx.moveTo(x0, Y(v));
      ctx.lineTo(x1, Y(v));
      ctx.stroke();
      ctx.fillText(fmt(logScale ? 10 ** v : v), x0 - 4, Y(v) + 4);
    }
    ctx.textAlign = 'center';
    for (const s of niceTicks(s0, s1, 4)) {
      ctx.beginPath();
      ctx.moveTo(X(s), y0);
      ctx.lineTo(X(s), y1);
      ctx.stroke();
      ctx.fillText(String(s), X(s), y1 + 12);
    }
    ctx.fillText('step', (x0 + x1) / 2, H - 3);
    ctx.textAlign = 'left';
    ctx.strokeStyle = PALETTE[i % PALETTE.length];
    ctx.fillStyle = PALETTE[i % PALETTE.length];
    ctx.lineWidth = 1.5;
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(X(pts[0][0]), Y(pts[0][1]), 3, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      if (smooth) ctx.globalAlpha = 0.3;
      ctx.beginPath();
      pts.forEach(([s, v], k) => (k ? ctx.lineTo(X(s), Y(v)) : ctx.moveTo(X(s), Y(v))));
      ctx.stroke();
      ctx.globalAlpha = 1;
      if (smooth) {
        ctx.lineWidth = 2;
        ctx.beginPath();
        const Yc = (v: number) => Y(Math.min(hi, Math.max(lo, v)));
        smooth.forEach(([s, v], k) => (k ? ctx.lineTo(X(s), Yc(v)) : ctx.moveTo(X(s), Yc(v))));
        ctx.stroke();
      }
    }
    ctx.lineWidth = 1;
  });
  canvas.dataset.scales = scales.join(',');
  canvas.dataset.smoothing = String(smoothing);
}

/**
 * Tick labels at the unit grid's lines of a plane (drawAxes), along its bottom and left edges: beside
 * the axes through the origin they sat on the ring's modes at (+-2, 0) and (0, +-2).
 */
export function drawAxisLabels(canvas: Canvas2D, range: number): void {
  const ctx = canvas.getContext('2d')!;
  const { toPx } = planeMapper(canvas, range);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#777';
  for (let v = -Math.floor(range); v <= range; v++) {
    const [x] = toPx(v, 0),
      [, y] = toPx(0, v);
    ctx.textAlign = 'center';
    if (Math.abs(v) < range) ctx.fillText(String(v), x, canvas.height - 4);
    ctx.textAlign = 'left';
    if (Math.abs(v) < range && v !== 0) ctx.fillText(String(v), 3, y + 4);
  }
}

/** A legend in a plane's top-left corner: a dot of each colour and its name. */
export function drawLegend(canvas: Canvas2D, entries: { name: string; color: string }[]): void {
  const ctx = canvas.getContext('2d')!;
  ctx.font = '12px system-ui, sans-serif';
  const w = 24 + Math.max(...entries.map((e) => ctx.measureText(e.name).width));
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.fillRect(6, 6, w + 8, 8 + 18 * entries.length);
  entries.forEach((e, k) => {
    ctx.fillStyle = e.color;
    ctx.beginPath();
    ctx.arc(18, 19 + 18 * k, 4, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = '#222';
    ctx.textAlign = 'left';
    ctx.fillText(e.name, 28, 23 + 18 * k);
  });
}
