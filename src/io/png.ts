// PNG image grids of [0, 1] images (encoded with pngjs, an optional package loaded on first use). Node only.
import { writeFileSync } from 'node:fs';
import type { PNG as PNGType } from 'pngjs';
import { optionalPackage } from '../optional.ts';

const pngjs = () => optionalPackage<{ PNG: typeof PNGType }>('pngjs', 'writing PNG pictures');

/** Writes rows x cols grayscale images of h x w (values in [0, 1], row-major) as one PNG, 1-pixel gaps. */
export function writeImageGrid(
  path: string,
  images: Float32Array,
  count: number,
  h: number,
  w: number,
  cols: number,
  scale = 2,
): void {
  const rows = Math.ceil(count / cols);
  const W = cols * (w + 1) * scale + scale,
    H = rows * (h + 1) * scale + scale;
  const png = new (pngjs().PNG)({ width: W, height: H });
  png.data.fill(40);
  for (let i = 0; i < W * H; i++) png.data[4 * i + 3] = 255;
  for (let k = 0; k < count; k++) {
    const r0 = Math.floor(k / cols) * (h + 1) * scale + scale,
      c0 = (k % cols) * (w + 1) * scale + scale;
    for (let y = 0; y < h * scale; y++) {
      for (let x = 0; x < w * scale; x++) {
        const v = images[k * h * w + Math.floor(y / scale) * w + Math.floor(x / scale)];
        const g = Math.round(255 * Math.min(1, Math.max(0, v)));
        const o = 4 * ((r0 + y) * W + c0 + x);
        png.data[o] = png.data[o + 1] = png.data[o + 2] = g;
      }
    }
  }
  writeFileSync(path, pngjs().PNG.sync.write(png));
}

/**
 * A scatter plot of 2-D point sets as a PNG (size x size pixels over [-extent, extent]^2), each set in
 * its RGB colour, drawn in order (later sets on top), with faint axes.
 */
export function writeScatter(
  path: string,
  sets: { points: Float32Array; color: [number, number, number] }[],
  extent = 3,
  size = 480,
): void {
  const png = new (pngjs().PNG)({ width: size, height: size });
  png.data.fill(255);
  const put = (x: number, y: number, [r, g, b]: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    const o = 4 * (y * size + x);
    png.data[o] = r;
    png.data[o + 1] = g;
    png.data[o + 2] = b;
  };
  for (let i = 0; i < size; i++) {
    put(i, size >> 1, [220, 220, 220]);
    put(size >> 1, i, [220, 220, 220]);
  }
  const px = (v: number) => Math.round(((v + extent) / (2 * extent)) * (size - 1));
  for (const { points, color } of sets) {
    for (let i = 0; i < points.length / 2; i++) {
      const x = px(points[2 * i]),
        y = size - 1 - px(points[2 * i + 1]);
      put(x, y, color);
      put(x + 1, y, color);
      put(x, y + 1, color);
      put(x + 1, y + 1, color);
    }
  }
  writeFileSync(path, pngjs().PNG.sync.write(png));
}
