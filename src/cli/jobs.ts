// What the training CLI knows per model beyond the registry (src/models/registry.ts: defaults, options,
// build, export, metrics): where its batches come from, how it is evaluated (numbers computed, never
// stored) and which pictures a run leaves. The loop itself (src/cli/train.ts) is the same for all.

import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { tidy, noGrad, tensor, randn, zeros, keep, stack, Generator, type Tensor } from '../index.ts';
import { realStats, scoreGenerator, type FeatureStats, type GeneratorScores } from '../models/score.ts';
// The library through its public entry points, as a user's script would use it.
import {
  type VAE,
  MlpGAN,
  RING_STEPS,
  DCGAN,
  Classifier,
  CycleGAN,
  translationError,
  RBM,
  DBN,
  bernoulli,
  type Trainable,
  type TrainBatch,
} from '../models/index.ts';
import { buildModel, checkConfig, type DatasetName, type ModelConfig, type ModelName } from '../models/registry.ts';
import {
  loadMnist,
  loadFashionMnist,
  Batches,
  dilationDomains,
  mnistFashionDomains,
  toyBatch,
  toyScore,
  describeToy,
  type ImageSet,
  type Split,
  type ToyDataset,
} from '../data/index.ts';
import {
  loadSafetensors,
  writeFileAtomic,
  scatterSvg,
  restoreCheckpoint,
  writeImageGrid,
  writeScatter,
  type NamedArray,
} from '../io/node.ts';

export { RING_STEPS };
/** What a run was asked for (from the command line), used to build a model and its data. */
export interface JobOptions {
  model: ModelName;
  dataset: DatasetName;
  batch: number;
  seed: number;
  trainSize?: number;
  classifier?: string;
  /** Constructor options of the model (also stored in checkpoints as `config`). */
  config: ModelConfig;
  /** The RBM's evaluation and samples: AIS betas and runs, Gibbs steps of the samples (tests make them small). */
  rbm?: { betas: number; runs: number; sampleSteps: number };
  /** The VAE's importance samples per image for log p(x), every epoch and in eval (default IWAE_K). */
  iwaeK?: number;
}

/**
 * Importance samples per test image of the VAE's log p(x) estimate: few in each epoch's metrics (they
 * cost k decoder passes over the test set, where the ELBO costs one), and Burda et al.'s 5,000 in the
 * eval command.
 */
export const IWAE_K = { epoch: 10, eval: 5000 } as const;

export interface Job {
  model: Trainable;
  perEpoch: number;
  /** Human-readable data description for the start line. */
  data: string;
  batch(epoch: number, index: number): TrainBatch;
  /**
   * Test metrics; the first key is the headline number of the per-epoch loss curve. `strict` (the eval
   * command): a missing scoring model is an error rather than a skipped score.
   */
  evaluate(strict?: boolean): Promise<Record<string, number>>;
  /** Runs the evaluation's kernels on a small slice, so the tuner has measured their shapes before step 1. */
  warmup?(): Promise<void>;
  /** Writes the run's pictures into `out`; returns their file names. */
  pictures(out: string): Promise<string[]>;
  /** A short title for the loss-curve plot. */
  title: string;
}

/**
 * A checkpoint's `config` metadata (absent: the defaults), checked: a JSON object whose keys are options of
 * this model and whose values fit them. Errors name the file and the key.
 */
export function parseConfig(model: ModelName, text: string | undefined, path: string): ModelConfig {
  if (text === undefined) return {};
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: metadata config is not JSON (${(e as Error).message}): '${text.slice(0, 80)}'`, {
      cause: e,
    });
  }
  // The text itself in the message: the value of a config that is not an object is what went wrong.
  if (typeof c !== 'object' || c === null || Array.isArray(c))
    throw new Error(
      `${path}: metadata config must be a JSON object of the ${model}'s options, got '${text.slice(0, 80)}'`,
    );
  return checkConfig(model, c, path);
}

/** Refuses a checkpoint holding NaN or Inf (written by a run that diverged), naming the tensor. */
export function checkFinite(tensors: Map<string, NamedArray>, path: string): void {
  for (const [name, t] of tensors) {
    const i = t.data.findIndex((x) => !Number.isFinite(x));
    if (i >= 0)
      throw new Error(
        `${path}: tensor ${name} holds ${t.data[i]} (element ${i} of ${t.data.length}): the run that wrote it diverged; use an earlier checkpoint`,
      );
  }
}

export function loadImages(name: DatasetName, trainSize?: number): Split {
  const data = name === 'fashion' ? loadFashionMnist() : loadMnist();
  // Checked before the first step: an empty split would train on nothing or report null metrics.
  for (const [part, set] of Object.entries({ training: data.train, test: data.test })) {
    if (set.n === 0)
      throw new Error(
        `the ${name === 'fashion' ? 'Fashion-MNIST' : 'MNIST'} ${part} set holds no images: check the dataset's files (FASHION_MNIST_DIR for Fashion-MNIST)`,
      );
  }
  if (trainSize !== undefined) {
    const n = Math.min(trainSize, data.train.n);
    data.train = {
      ...data.train,
      n,
      images: data.train.images.subarray(0, n * 784),
      labels: data.train.labels.subarray(0, n),
    };
  }
  return data;
}

const describeSplit = (name: string, d: Split) => `${name}: ${d.train.n} train / ${d.test.n} test images`;

/** The values of the tensor fn makes, computed without a graph; every tensor made on the way is freed. */
async function values(fn: () => Tensor): Promise<Float32Array> {
  const t = noGrad(() => tidy(fn));
  try {
    return await t.toArray();
  } finally {
    t.dispose();
  }
}

/** Runs fn over a set in chunks of `chunk` images (tensors [m, 1, 28, 28]) under noGrad. */
async function chunks(
  set: ImageSet,
  chunk: number,
  fn: (x: Tensor, start: number, m: number) => Promise<void>,
): Promise<void> {
  for (let start = 0; start < set.n; start += chunk) {
    const m = Math.min(chunk, set.n - start);
    const x = tensor(set.images.subarray(start * 784, (start + m) * 784), [m, 1, 28, 28]);
    await noGrad(() => fn(x, start, m));
    x.dispose();
    await turn();
  }
}

/**
 * A turn of the event loop, so that Ctrl-C and TERM are handled inside long evaluations: on the CPU
 * backend every await resolves at once (a microtask), and a signal would wait for the loop's end.
 */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Each model's job (its model is the one buildModel makes for o.model). */
const JOBS: Record<ModelName, (o: JobOptions, model: never) => Job> = {
  vae: vaeJob,
  gan: ganJob,
  dcgan: dcganJob,
  classifier: classifierJob,
  cyclegan: cycleganJob,
  rbm: rbmJob,
  dbn: dbnJob,
};

export const createJob = (o: JobOptions, model: Trainable): Job => JOBS[o.model](o, model as never);

/** Writes a grid of `count` 28 x 28 images, `cols` to a row, as out/file; returns file. */
function grid(out: string, file: string, images: Float32Array, count = 64, cols = 8): string {
  writeImageGrid(join(out, file), images, count, 28, 28, cols);
  return file;
}

/** The parts of an image model's job that say what it trains on: the model, its batches, the data's line. */
function imageJob(o: JobOptions, model: Job['model'], data: Split, note = '') {
  const b = new Batches(data.train, o.batch, o.seed);
  return {
    model,
    data: describeSplit(o.dataset, data) + note,
    perEpoch: b.perEpoch,
    batch: (e: number, i: number) => {
      const { images, labels } = b.load(e, i);
      return { x: images, labels };
    },
  };
}

// ---- VAE -------------------------------------------------------------------------------------------

/** Test negative ELBO in nats per image over every test image (chunks of 100, one z per image, fixed seed). */
export async function vaeTestElbo(vae: VAE, set: ImageSet): Promise<{ neg_elbo: number; rec: number; kl: number }> {
  const gen = new Generator(12345);
  let rec = 0,
    kl = 0;
  await chunks(set, 100, async (x, _, m) => {
    const t = tidy(() => vae.elbo(x, gen));
    rec += (await t.rec.item()) * m;
    kl += (await t.kl.item()) * m;
    for (const v of Object.values(t)) v.dispose();
  });
  return { neg_elbo: (rec + kl) / set.n, rec: rec / set.n, kl: kl / set.n };
}

/**
 * The mean over the test images of the importance-weighted log p(x) estimate with k samples each
 * (VAE.logLikelihood; nats per image; fixed seed), 100 images at a time, at most 2,000 decoder rows per pass.
 */
export async function vaeTestLogPx(vae: VAE, set: ImageSet, k: number): Promise<number> {
  const gen = new Generator(54321);
  let total = 0;
  await chunks(set, 100, async (x, _, m) => {
    const inner = Math.max(1, Math.floor(2000 / m));
    // The k samples in parts of about 10,000 decoded images (whole inner chunks, so the draws are those
    // of one call; on the CPU backend, whose ops run synchronously, a few seconds), with a turn of the
    // event loop between parts (a large k stays interruptible), combined exactly:
    // log (1/k sum_j k_j exp(l_j)) = logsumexp_j(l_j + log k_j) - log k, l_j each part's estimate.
    const PART = inner * Math.max(1, Math.floor(10_000 / m / inner));
    let acc: Tensor | null = null;
    const parts = k > PART;
    for (let done = 0; done < k; done += PART) {
      const kj = Math.min(PART, k - done);
      const l = tidy(() =>
        parts ? vae.logLikelihood(x, kj, gen, inner).add(Math.log(kj)) : vae.logLikelihood(x, kj, gen, inner),
      );
      if (acc) {
        const next = tidy(() => stack([acc!, l]).logsumexp(0));
        acc.dispose();
        l.dispose();
        acc = next;
      } else acc = l;
      await turn();
    }
    const s = tidy(() => (parts ? acc!.sub(Math.log(k)) : acc!).sum());
    acc!.dispose();
    total += await s.item();
    s.dispose();
  });
  return total / set.n;
}

function vaeJob(o: JobOptions, vae: VAE): Job {
  const data = loadImages(o.dataset, o.trainSize);
  return {
    ...imageJob(o, vae, data),
    title: `VAE (${o.config.arch}, z=${vae.zDim}) on ${o.dataset}: negative ELBO (nats per image)`,
    evaluate: async (strict) => {
      const r = await vaeTestElbo(vae, data.test);
      const k = o.iwaeK ?? (strict ? IWAE_K.eval : IWAE_K.epoch);
      return {
        test_neg_elbo: r.neg_elbo,
        test_rec: r.rec,
        test_kl: r.kl,
        test_log_px: await vaeTestLogPx(vae, data.test, k),
        iwae_k: k,
      };
    },
    warmup: async () => void (await vaeTestElbo(vae, { ...data.test, n: Math.min(100, data.test.n) })),
    pictures: (out) => vaePictures(vae, data.test, out),
  };
}

async function vaePictures(vae: VAE, test: ImageSet, out: string): Promise<string[]> {
  const samples = await values(() => vae.decode(randn([64, vae.zDim], { generator: new Generator(777) })).sigmoid());
  const files = [grid(out, 'samples.png', samples)];
  const r = await values(() => vae.forward(tensor(test.images.subarray(0, 32 * 784), [32, 784])));
  // Rows alternate: 8 test digits, then their reconstructions.
  const both = new Float32Array(64 * 784);
  for (let i = 0; i < 4; i++) {
    both.set(test.images.subarray(i * 8 * 784, (i + 1) * 8 * 784), i * 16 * 784);
    both.set(r.subarray(i * 8 * 784, (i + 1) * 8 * 784), (i * 16 + 8) * 784);
  }
  files.push(grid(out, 'reconstructions.png', both));
  if (vae.zDim === 2) {
    // Kingma-Welling's manifold figure: decoder means on a 20x20 grid of Gaussian quantiles.
    const k = 20;
    writeImageGrid(join(out, 'manifold.png'), await values(() => vae.manifold(k)), k * k, 28, 28, k, 1);
    files.push('manifold.png');
  }
  return files;
}

// ---- GAN on the ring -------------------------------------------------------------------------------

function ganJob(o: JobOptions, gan: MlpGAN): Job {
  const real = keep(zeros([o.batch, 2]));
  const kind = o.dataset as ToyDataset;
  return {
    model: gan,
    perEpoch: RING_STEPS,
    data: `${describeToy(kind)}: fresh points every step, ${RING_STEPS} steps per epoch`,
    title: `GAN on the ${kind === 'ring' ? '8-Gaussian ring' : kind}: losses`,
    batch: (e, i) => {
      real.backend.write(real.storage, toyBatch(kind, o.batch, o.seed, (e * RING_STEPS + i) * o.batch));
      return { x: real };
    },
    evaluate: async (): Promise<Record<string, number>> => {
      const pts = await values(() => gan.sample(10000, new Generator(9)));
      const r = toyScore(kind, pts);
      if (r.kind === 'curve') return { precision: r.precision, recall: r.recall };
      return {
        modes_covered: r.covered,
        high_quality: r.highQuality,
        ...Object.fromEntries(r.perMode.map((c, k) => [`mode_${k}`, c])),
      };
    },
    pictures: async (out) => {
      const pts = await values(() => gan.sample(2000, new Generator(9)));
      const real = toyBatch(kind, 2000, 77, 0);
      writeScatter(join(out, 'samples.png'), [
        { points: real, color: [60, 120, 220] },
        { points: pts, color: [230, 80, 30] },
      ]);
      // The same points with axes and a legend saying which colour is which.
      writeFileAtomic(
        join(out, 'scatter.svg'),
        scatterSvg(`${kind} GAN: 2,000 real and 2,000 generated points`, [
          { name: `real (${describeToy(kind)})`, points: real, color: 'rgb(60,120,220)' },
          { name: 'generated', points: pts, color: 'rgb(230,80,30)' },
        ]),
      );
      return ['samples.png', 'scatter.svg'];
    },
  };
}

// ---- Classifier ------------------------------------------------------------------------------------

export async function classifierAccuracy(clf: Classifier, set: ImageSet): Promise<{ accuracy: number; loss: number }> {
  let correct = 0,
    loss = 0;
  clf.eval();
  await chunks(set, 500, async (x, start, m) => {
    const out = tidy(() => {
      const logits = clf.forward(x);
      return { logits, pred: logits.argmax(1), lse: logits.logsumexp(1) };
    });
    const [pred, lse, l] = [await out.pred.toArray(), await out.lse.toArray(), await out.logits.toArray()];
    for (const t of Object.values(out)) t.dispose();
    for (let i = 0; i < m; i++) {
      const y = set.labels[start + i];
      if (pred[i] === y) correct++;
      loss += lse[i] - l[i * 10 + y];
    }
  });
  clf.train();
  return { accuracy: correct / set.n, loss: loss / set.n };
}

function classifierJob(o: JobOptions, clf: Classifier): Job {
  const data = loadImages(o.dataset, o.trainSize);
  return {
    ...imageJob(o, clf, data),
    title: `CNN classifier on ${o.dataset}: cross-entropy`,
    evaluate: async () => {
      const r = await classifierAccuracy(clf, data.test);
      return { test_loss: r.loss, test_accuracy: r.accuracy };
    },
    pictures: async () => [],
  };
}

// ---- RBM -------------------------------------------------------------------------------------------

/** The AIS settings of the CLI's evaluation (Salakhutdinov & Murray 2008 use 14,500 betas and 100 runs). */
export const RBM_AIS = { betas: 2000, runs: 100, sampleSteps: 1000 };

/**
 * log Z of an RBM (or a DBN's top RBM) by AIS from the base-rate model of visible means `mean`: its
 * visible biases are their smoothed log-odds (a fixed seed).
 */
async function aisLogZ(model: RBM | DBN, mean: Float32Array, ais: { betas: number; runs: number }) {
  const baseBias = tensor(
    mean.map((p) => Math.log((p + 0.05) / (1.05 - p))),
    [mean.length],
  );
  try {
    return await model.aisLogZ({ betas: ais.betas, runs: ais.runs, baseBias, generator: new Generator(4321) });
  } finally {
    baseBias.dispose();
  }
}

/**
 * Test log-likelihood of an RBM on the test images binarized by sampling (a fixed seed), with log Z by
 * AIS from a base-rate model whose visible biases are the training images' smoothed log-odds (the
 * paper's choice: the base model is then close to the data's marginals, which lowers AIS's variance).
 */
export async function rbmTestLogLikelihood(
  rbm: RBM,
  data: Split,
  ais: { betas: number; runs: number } = RBM_AIS,
): Promise<Record<string, number>> {
  const V = 784,
    n = data.train.n,
    mean = new Float32Array(V);
  for (let r = 0; r < n; r++) for (let i = 0; i < V; i++) mean[i] += data.train.images[r * V + i] / n;
  const z = await aisLogZ(rbm, mean, ais);
  const gen = new Generator(1234);
  let sum = 0;
  await chunks(data.test, 100, async (x, _, m) => {
    const v = tidy(() => bernoulli(x.reshape([m, V]), gen));
    sum += (await rbm.logLikelihood(v, z.logZ)) * m;
    v.dispose();
  });
  return {
    test_log_likelihood: sum / data.test.n,
    log_z: z.logZ,
    ais_log_w_std: z.logWStd,
    ais_betas: z.betas,
    ais_runs: z.runs,
  };
}

function rbmJob(o: JobOptions, rbm: RBM): Job {
  const data = loadImages(o.dataset, o.trainSize);
  return {
    ...imageJob(o, rbm, data, ' (binarized by sampling each step)'),
    title: `RBM (${rbm.hidden} hidden, ${rbm.chain === 'pcd' ? 'PCD' : 'CD'}-${rbm.k}) on ${o.dataset}: reconstruction error`,
    evaluate: () => rbmTestLogLikelihood(rbm, data, o.rbm ?? RBM_AIS),
    pictures: async (out) => {
      // The first 64 hidden units' weights as 28 x 28 filters (each scaled to [0, 1]), and 64 Gibbs chains from noise.
      const count = Math.min(64, rbm.hidden);
      return [
        grid(out, 'filters.png', await rbm.filters(count), count),
        grid(out, 'samples.png', await values(() => rbm.sample(64, (o.rbm ?? RBM_AIS).sampleSteps, new Generator(99)))),
      ];
    },
  };
}

/** Images per test chunk and recognition draws per image of the DBN's lower bound. */
const DBN_BOUND = { chunk: 100, samples: 10 } as const;

/**
 * A DBN's variational lower bound on the test log-likelihood (DBN.lowerBound; Salakhutdinov & Murray
 * 2008, section 4), the test images binarized by sampling (a fixed seed), with the top RBM's log Z by
 * AIS from a base-rate model on the mean of the training images' recognition probabilities below the
 * top (smoothed log-odds, as for the RBM).
 */
export async function dbnTestLowerBound(
  dbn: DBN,
  data: Split,
  ais: { betas: number; runs: number } = RBM_AIS,
): Promise<Record<string, number>> {
  const top = dbn.top,
    V = top.visible,
    mean = new Float32Array(V);
  await chunks(data.train, 500, async (x, _, m) => {
    const q = await values(() => {
      let h = x.reshape([m, 784]);
      for (let l = 0; l < dbn.sizes.length - 1; l++) h = dbn.layer(l).hiddenProb(h);
      return h.mean(0);
    });
    for (let i = 0; i < V; i++) mean[i] += (q[i] * m) / data.train.n;
  });
  const z = await aisLogZ(dbn, mean, ais);
  const binarize = new Generator(1234),
    draws = new Generator(5678);
  let sum = 0;
  await chunks(data.test, DBN_BOUND.chunk, async (x, _, m) => {
    const b = await values(() =>
      dbn.lowerBound(bernoulli(x.reshape([m, 784]), binarize), z.logZ, DBN_BOUND.samples, draws).sum(),
    );
    sum += b[0];
  });
  return {
    test_lower_bound: sum / data.test.n,
    log_z_top: z.logZ,
    ais_log_w_std: z.logWStd,
    ais_betas: z.betas,
    ais_runs: z.runs,
    bound_samples: DBN_BOUND.samples,
    layers: dbn.sizes.length,
  };
}

function dbnJob(o: JobOptions, dbn: DBN): Job {
  const data = loadImages(o.dataset, o.trainSize);
  return {
    ...imageJob(o, dbn, data, ' (binarized by sampling each step)'),
    title: `DBN (784-${dbn.sizes.join('-')}, top ${dbn.top.chain === 'pcd' ? 'PCD' : 'CD'}-${dbn.top.k}) on ${o.dataset}: the top RBM's reconstruction error`,
    evaluate: () => dbnTestLowerBound(dbn, data, o.rbm ?? RBM_AIS),
    pictures: async (out) => {
      // Top-down samples: Gibbs chains in the top RBM from noise, then one pass down the directed layers.
      return [
        grid(out, 'samples.png', await values(() => dbn.sample(64, (o.rbm ?? RBM_AIS).sampleSteps, new Generator(99)))),
      ];
    },
  };
}

// ---- DCGAN -----------------------------------------------------------------------------------------

/**
 * The scoring classifier's file, checked before any model is built: it is there, holds a classifier,
 * of the run's dataset. Returns the file's contents (loadClassifier builds the model from them).
 */
function checkClassifierFile(path: string, dataset: DatasetName): ReturnType<typeof loadSafetensors> {
  if (!existsSync(path)) {
    throw new Error(
      `the DCGAN's scores need the classifier checkpoint ${path}: train it first with ` +
        '`npm run train -- classifier` (or pass --classifier PATH)',
    );
  }
  const ckpt = loadSafetensors(path);
  const { metadata } = ckpt;
  if (metadata.model !== 'classifier')
    throw new Error(
      `--classifier ${path} holds a ${metadata.model ?? 'model of unknown kind (no model metadata)'}, not a classifier: train one with npm run train -- classifier --dataset ${dataset}`,
    );
  if (metadata.dataset !== undefined && metadata.dataset !== dataset) {
    throw new Error(
      `--classifier ${path} was trained on ${metadata.dataset}, this run is on ${dataset}: its scores would judge the wrong images`,
    );
  }
  return ckpt;
}

/** Loads the scoring classifier of a dataset (trained by `npm run train -- classifier`). */
export async function loadClassifier(path: string, dataset: DatasetName): Promise<Classifier> {
  const ckpt = checkClassifierFile(path, dataset);
  checkFinite(ckpt.tensors, path);
  const clf = new Classifier(parseConfig('classifier', ckpt.metadata.config, path));
  await restoreCheckpoint(ckpt, clf, [], path);
  return clf.eval();
}

function dcganJob(o: JobOptions, g: DCGAN): Job {
  const data = loadImages(o.dataset, o.trainSize);
  const clfPath = o.classifier ?? `runs/classifier-${o.dataset}/checkpoint.safetensors`;
  // A --classifier that cannot score is an error now, before the first step, not after an epoch.
  if (o.classifier !== undefined || existsSync(clfPath)) checkClassifierFile(clfPath, o.dataset);
  let scoring: Promise<{ clf: Classifier; real: FeatureStats; untrained: GeneratorScores }> | null = null;
  return {
    ...imageJob(o, g, data),
    title: `DCGAN on ${o.dataset}: losses`,
    evaluate: async (strict) => {
      if (!existsSync(clfPath) && !strict) {
        console.log(
          `(no scores: ${clfPath} is missing; train it with npm run train -- classifier --dataset ${o.dataset})`,
        );
        return {};
      }
      // The untrained generator of the same config and seed is the baseline of the Frechet distance.
      scoring ??= (async () => {
        const clf = await loadClassifier(clfPath, o.dataset);
        const real = await realStats(clf, data.test);
        const fresh = buildModel('dcgan', o.config) as DCGAN;
        const untrained = await scoreGenerator(fresh, clf, real);
        return { clf, real, untrained };
      })();
      const { clf, real, untrained } = await scoring;
      const s = await scoreGenerator(g, clf, real);
      return {
        fd: s.fd,
        fd_untrained: untrained.fd,
        fd_ratio: s.fd / untrained.fd,
        min_class_fraction: s.min_class_fraction,
        mean_top_prob: s.mean_top_prob,
        untrained_mean_top_prob: untrained.mean_top_prob,
        ...Object.fromEntries(s.class_fractions.map((f, k) => [`class_${k}`, f])),
      };
    },
    pictures: async (out) => {
      const wasTraining = g.training;
      g.eval();
      const x = await values(() => g.sample(64, new Generator(777)));
      g.train(wasTraining);
      return [grid(out, 'samples.png', x)];
    },
  };
}

// ---- CycleGAN --------------------------------------------------------------------------------------

function cycleganJob(o: JobOptions, g: CycleGAN): Job {
  const mnist = loadImages('mnist', o.trainSize);
  const dom =
    o.dataset === 'fashion' ? mnistFashionDomains(mnist, loadImages('fashion', o.trainSize)) : dilationDomains(mnist);
  // Two independent shuffles: the domains are unpaired.
  const bx = new Batches(dom.x, o.batch, o.seed),
    by = new Batches(dom.y, o.batch, o.seed + 7919);
  const yName = o.dataset === 'fashion' ? 'Fashion-MNIST' : 'dilated MNIST';
  return {
    model: g,
    perEpoch: bx.perEpoch,
    data: `MNIST (${dom.x.n} images) <-> ${yName} (${dom.y.n} other images), unpaired; ${dom.testX.n} test digits`,
    title: `CycleGAN MNIST <-> ${yName}: losses`,
    batch: (e, i) => {
      // Y's epochs advance at their own pace when the domains differ in size.
      const j = e * bx.perEpoch + i;
      return { x: bx.load(e, i).images, y: by.load(Math.floor(j / by.perEpoch), j % by.perEpoch).images };
    },
    evaluate: async (): Promise<Record<string, number>> => {
      if (dom.targets) {
        const r = await translationError(g, dom.testX, dom.targets);
        return { l1_ratio: r.ratio, l1: r.l1, baseline_l1: r.baselineL1, cycle_l1: r.cycleL1 };
      }
      // No correspondence (MNIST <-> Fashion): only the cycle error is measurable.
      const r = await translationError(g, dom.testX, dom.testX);
      return { cycle_l1: r.cycleL1 };
    },
    pictures: async (out) => {
      // Rows of 8: x, G(x), F(G(x)) (and the true target when known); then y, F(y), G(F(y)).
      const x = tensor(dom.testX.images.subarray(0, 8 * 784), [8, 1, 28, 28]);
      const testY = dom.testY ?? dom.targets!;
      const y = tensor(testY.images.subarray(dom.testY ? 0 : 8 * 784, dom.testY ? 8 * 784 : 16 * 784), [8, 1, 28, 28]);
      const rows: Float32Array[] = [dom.testX.images.slice(0, 8 * 784)];
      await noGrad(async () => {
        const { gx, fgx } = tidy(() => g.translate(x));
        rows.push(await gx.toArray(), await fgx.toArray());
        if (dom.targets) rows.push(dom.targets.images.slice(0, 8 * 784));
        const { fy, gfy } = tidy(() => g.translateBack(y));
        rows.push(await y.toArray(), await fy.toArray(), await gfy.toArray());
        for (const t of [gx, fgx, fy, gfy]) t.dispose();
      });
      x.dispose();
      y.dispose();
      const all = new Float32Array(rows.length * 8 * 784);
      rows.forEach((r, i) => all.set(r, i * 8 * 784));
      writeImageGrid(join(out, 'translations.png'), all, rows.length * 8, 28, 28, 8);
      return ['translations.png'];
    },
  };
}
