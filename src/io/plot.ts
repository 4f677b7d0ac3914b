// Loss curves as an SVG line chart (text, so it needs no canvas or font rasterizer): one polyline per
// series against the step, with min/max labels on the axes. Browser-safe (src/io/safetensors_file.ts writes it to a file).

export interface Series {
  name: string;
  /** [step, value] points. */
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];

export function lossCurveSvg(title: string, series: Series[], width = 640, height = 360): string {
  const all = series.flatMap((s) => s.points).filter(([, v]) => Number.isFinite(v));
  if (all.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="10" y="20">${title}: no data</text></svg>`;
  const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  const m = { l: 60, r: 20, t: 30, b: 40 };
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (width - m.l - m.r);
  const sy = (y: number) => height - m.b - ((y - y0) / (y1 - y0 || 1)) * (height - m.t - m.b);
  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  const lines = series.map((s, i) => {
    const pts = s.points.filter(([, v]) => Number.isFinite(v)).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5" points="${pts}"/>` +
      `<text x="${width - m.r - 150}" y="${m.t + 16 * i + 4}" fill="${COLORS[i % COLORS.length]}">${s.name}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="18" font-size="14">${title}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${width - m.l - m.r}" height="${height - m.t - m.b}" fill="none" stroke="#999"/>`,
    `<text x="${m.l - 6}" y="${sy(y1) + 4}" text-anchor="end">${fmt(y1)}</text>`,
    `<text x="${m.l - 6}" y="${sy(y0) + 4}" text-anchor="end">${fmt(y0)}</text>`,
    `<text x="${sx(x0)}" y="${height - m.b + 16}" text-anchor="middle">${x0}</text>`,
    `<text x="${sx(x1)}" y="${height - m.b + 16}" text-anchor="middle">${x1}</text>`,
    `<text x="${(m.l + width - m.r) / 2}" y="${height - 8}" text-anchor="middle">step</text>`,
    ...lines,
    '</svg>',
  ].join('\n');
}
