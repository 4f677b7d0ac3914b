// PNG image grids of [0, 1] images (encoded with pngjs). Node only.
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

/** Writes rows x cols grayscale images of h x w (values in [0, 1], row-major) as one PNG, 1-pixel gaps. */
export function writeImageGrid(path: string, images: Float32Array, count: number, h: number, w: number, cols: number, scale = 2): void {
  const rows = Math.ceil(count / cols);
  const W = cols * (w + 1) * scale + scale, H = rows * (h + 1) * scale + scale;
  const png = new PNG({ width: W, height: H });
  png.data.fill(40);
  for (let i = 0; i < W * H; i++) png.data[4 * i + 3] = 255;
  for (let k = 0; k < count; k++) {
    const r0 = Math.floor(k / cols) * (h + 1) * scale + scale, c0 = (k % cols) * (w + 1) * scale + scale;
    for (let y = 0; y < h * scale; y++) {
      for (let x = 0; x < w * scale; x++) {
        const v = images[k * h * w + Math.floor(y / scale) * w + Math.floor(x / scale)];
        const g = Math.round(255 * Math.min(1, Math.max(0, v)));
        const o = 4 * ((r0 + y) * W + c0 + x);
        png.data[o] = png.data[o + 1] = png.data[o + 2] = g;
      }
    }
  }
  writeFileSync(path, PNG.sync.write(png));
}
