// Unpaired image domains for CycleGAN (src/models/cyclegan.ts). The known-correspondence pair: X = MNIST
// digits, Y = grayscale-dilated digits (thicker strokes), built from DISJOINT halves of the training set,
// so no x has its own dilation in Y and the model never sees a pair; the test digits come with their true
// targets dilate3x3(x), which makes the translation measurable. And MNIST <-> Fashion-MNIST, for show
// (no correspondence exists there). Host-side, Node.

import type { ImageSet, Split } from './mnist_split.ts';

/**
 * Grayscale dilation by a 3x3 square: out(i, j) = max over |di|, |dj| <= 1 of in(i + di, j + dj), the
 * neighbourhood clipped at the border (pixels outside the image do not count). `images` holds n images
 * of h x w, row-major.
 */
export function dilate3x3(images: Float32Array, n: number, h = 28, w = 28): Float32Array {
  if (images.length !== n * h * w)
    throw new Error(`dilate3x3: ${images.length} values are not ${n} images of ${h} x ${w}`);
  const out = new Float32Array(images.length);
  for (let k = 0; k < n; k++) {
    const o = k * h * w;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let m = -Infinity;
        for (let a = Math.max(0, i - 1); a <= Math.min(h - 1, i + 1); a++) {
          for (let b = Math.max(0, j - 1); b <= Math.min(w - 1, j + 1); b++) m = Math.max(m, images[o + a * w + b]);
        }
        out[o + i * w + j] = m;
      }
    }
  }
  return out;
}

/** Two unpaired training domains and a test set; `targets` (when the correspondence is known) is the true image of testX in Y. */
export interface Domains {
  x: ImageSet;
  y: ImageSet;
  testX: ImageSet;
  /** The true translation of each testX image (same order), or absent when no correspondence exists. */
  targets?: ImageSet;
  /** A held-out Y set for show (MNIST <-> Fashion). */
  testY?: ImageSet;
}

function range(src: ImageSet, start: number, end: number, images = src.images): ImageSet {
  const d = src.shape[0] * src.shape[1] * src.shape[2];
  return {
    images: images.slice(start * d, end * d),
    labels: src.labels.slice(start, end),
    n: end - start,
    shape: src.shape,
  };
}

function dilated(src: ImageSet): ImageSet {
  const [c, h, w] = src.shape;
  return { ...src, images: dilate3x3(src.images, src.n * c, h, w) };
}

/**
 * Digits -> dilated digits from a split: X = the first half of split.train, Y = dilate3x3 of the second
 * half (disjoint images), testX = split.test with targets = dilate3x3(testX).
 */
export function dilationDomains(split: Split): Domains {
  const half = Math.floor(split.train.n / 2);
  return {
    x: range(split.train, 0, half),
    y: dilated(range(split.train, half, 2 * half)),
    testX: split.test,
    targets: dilated(split.test),
  };
}

/** MNIST -> Fashion-MNIST (no correspondence, for show): X = MNIST train, Y = Fashion train, tests likewise. */
export function mnistFashionDomains(mnist: Split, fashion: Split): Domains {
  return { x: mnist.train, y: fashion.train, testX: mnist.test, testY: fashion.test };
}
