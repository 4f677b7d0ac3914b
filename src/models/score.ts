// Scores of a DCGAN's digits by a classifier, as the CLI's eval and the demo page report them: the
// Frechet distance between Gaussians fitted to the classifier's feature layer on generated and on real
// test images (the FID of Heusel et al., 2017, with a digit classifier in place of Inception, as
// frechet.ts computes it), the fraction of samples in each class (mode coverage) and the mean top-class
// probability (how digit-like the samples are to the classifier). Browser-safe: the page trains its
// own classifier, the CLI loads one from a checkpoint.

import { tidy, type Tensor } from '../tensor.ts';
import { tensor } from '../ops/creation.ts';
import { noGrad } from '../autograd/engine.ts';
import { Generator } from '../random/philox.ts';
import { gaussianStats, frechetDistance } from './frechet.ts';
import type { Classifier } from './classifier.ts';
import type { DCGAN } from './dcgan.ts';

/** A Gaussian fitted to classifier features (gaussianStats's mean and covariance), as realStats() returns it. */
export type FeatureStats = ReturnType<typeof gaussianStats>;

/** scoreGenerator()'s scores of a generator's samples. */
export interface GeneratorScores {
  /** Frechet distance of classifier features: generated vs real test images. */
  fd: number;
  /** Fraction of generated samples the classifier puts in each class. */
  class_fractions: number[];
  /** The smallest of class_fractions (0 when a class is never generated: a dropped mode). */
  min_class_fraction: number;
  /** Mean over samples of the classifier's top-class probability. */
  mean_top_prob: number;
}

/** Classifier features [n, d] and class probabilities [n, classes] of images produced 100 at a time. */
async function features(
  clf: Classifier,
  n: number,
  images: (start: number, m: number) => Tensor,
): Promise<{ feats: Float32Array; probs: Float32Array; d: number }> {
  const parts: Float32Array[] = [],
    probs: Float32Array[] = [];
  let d = 0;
  for (let start = 0; start < n; start += 100) {
    const m = Math.min(100, n - start);
    await noGrad(async () => {
      const f = tidy(() => clf.features(images(start, m)));
      const p = tidy(() => clf.head.call(f).softmax(1));
      d = f.shape[1];
      parts.push(await f.toArray());
      probs.push(await p.toArray());
      f.dispose();
      p.dispose();
    });
  }
  const cat = (xs: Float32Array[]) => {
    const o = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
    let at = 0;
    for (const x of xs) {
      o.set(x, at);
      at += x.length;
    }
    return o;
  };
  return { feats: cat(parts), probs: cat(probs), d };
}

/** Real-data feature statistics of the first n (1,000) images [n * 784] in [0, 1] of a test set. */
export async function realStats(
  clf: Classifier,
  set: { images: Float32Array; n: number },
  n = 1000,
): Promise<FeatureStats> {
  const m = Math.min(n, set.n);
  const { feats, d } = await features(clf, m, (s, k) =>
    tensor(set.images.subarray(s * 784, (s + k) * 784), [k, 1, 28, 28]),
  );
  return gaussianStats(feats, m, d);
}

/** Scores n (1,000) samples of a DCGAN's generator (eval mode: batch norm on its running averages). */
export async function scoreGenerator(
  g: DCGAN,
  clf: Classifier,
  real: FeatureStats,
  n = 1000,
  seed = 4242,
): Promise<GeneratorScores> {
  const gen = new Generator(seed);
  const wasTraining = g.training;
  g.eval();
  let out;
  try {
    out = await features(clf, n, (_, m) => g.sample(m, gen));
  } finally {
    g.train(wasTraining);
  }
  const { feats, probs, d } = out;
  const classes = probs.length / n;
  const counts = new Array(classes).fill(0);
  let top = 0;
  for (let i = 0; i < n; i++) {
    let k = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + k]) k = c;
    counts[k]++;
    top += probs[i * classes + k];
  }
  const fractions = counts.map((c) => c / n);
  return {
    fd: frechetDistance(gaussianStats(feats, n, d), real),
    class_fractions: fractions,
    min_class_fraction: Math.min(...fractions),
    mean_top_prob: top / n,
  };
}
