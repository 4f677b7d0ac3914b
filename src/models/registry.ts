// The one table of the models: per model its datasets, default settings, constructor options (with
// their checks), how it is built from a checkpoint's `config`, the part that export writes, and the test
// metrics its evaluation reports. The training CLI (src/cli) and the browser demo (demo/adapters.ts)
// both read it, so a default or a check is written once. Data and drawing stay with the programs
// (files and PNGs in the CLI, canvases in the page); this file is browser-safe and never imports them.

import type { Tensor } from '../tensor.ts';
import { zeros } from '../ops/creation.ts';
import { Generator } from '../random/philox.ts';
import type { Trainable } from './model.ts';
import { MlpVAE, ConvVAE } from './vae.ts';
import { MlpGAN } from './gan.ts';
import { DCGAN } from './dcgan.ts';
import { Classifier } from './classifier.ts';
import { CycleGAN } from './cyclegan.ts';
import { RBM } from './rbm.ts';
import { DBN } from './dbn.ts';

export const MODELS = ['vae', 'gan', 'dcgan', 'cyclegan', 'classifier', 'rbm', 'dbn'] as const;
export type ModelName = (typeof MODELS)[number];
/** 'dilated': CycleGAN's known-correspondence pair, MNIST digits <-> dilated digits (src/data/domains.ts). */
export const DATASETS = ['mnist', 'fashion', 'ring', 'grid', 'moons', 'spiral', 'dilated'] as const;
export type DatasetName = (typeof DATASETS)[number];

/** Constructor options of the models, as a checkpoint stores them (metadata `config`, JSON). */
export interface ModelConfig {
  arch?: 'mlp' | 'conv';
  zDim?: number;
  width?: number;
  lr?: number;
  /** gan, dcgan, cyclegan: the discriminators' learning rate, when not lr. */
  lrD?: number;
  seed?: number;
  /** CycleGAN: residual blocks per generator, cycle-loss weight, identity-loss weight (times lambda). */
  resBlocks?: number;
  lambda?: number;
  identity?: number;
  /** RBM and DBN (its top RBM): Gibbs steps of the negative phase, and CD or persistent CD (an RBM's hidden units are `width`). */
  k?: number;
  chain?: 'cd' | 'pcd';
  /** GAN: the generator's loss (the page offers both; the CLI trains the default non-saturating one). */
  loss?: 'nonsaturating' | 'saturating';
  /** GAN: discriminator steps per generator step. */
  dSteps?: number;
  /** DBN: hidden units of each layer, bottom first (the last is the top RBM's, `--width`). */
  layers?: number[];
}
export type OptionName = keyof ModelConfig;

const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
const nonNegative = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const positive = (v: unknown) => nonNegative(v) && (v as number) > 0;

/** What each option's value must be: the check, and the words an error uses for it. */
export const OPTION_VALUES: Record<OptionName, { ok: (v: unknown) => boolean; want: string }> = {
  arch: { ok: (v) => v === 'mlp' || v === 'conv', want: "'mlp' or 'conv'" },
  zDim: { ok: positiveInt, want: 'a positive integer' },
  width: { ok: positiveInt, want: 'a positive integer' },
  resBlocks: { ok: positiveInt, want: 'a positive integer' },
  lr: { ok: positive, want: 'a positive number' },
  lrD: { ok: positive, want: 'a positive number' },
  seed: { ok: (v) => Number.isSafeInteger(v) && (v as number) >= 0, want: 'an integer of 0 or more' },
  lambda: { ok: nonNegative, want: 'a number of 0 or more' },
  identity: { ok: nonNegative, want: 'a number of 0 or more' },
  k: { ok: positiveInt, want: 'a positive integer' },
  chain: { ok: (v) => v === 'cd' || v === 'pcd', want: "'cd' or 'pcd'" },
  loss: { ok: (v) => v === 'nonsaturating' || v === 'saturating', want: "'nonsaturating' or 'saturating'" },
  dSteps: { ok: positiveInt, want: 'a positive integer' },
  layers: {
    ok: (v) => Array.isArray(v) && v.length >= 2 && v.every(positiveInt),
    want: 'a JSON array of at least 2 positive integers',
  },
};

/**
 * A test metric of a model's evaluation (a key of metrics.jsonl and eval.json). `plot`: 'loss' draws it
 * with the training losses (it is in their unit), 'chart' per epoch on a chart of its own (the first of
 * a model's 'chart' metrics that its evaluation reported: a model reports one set or another by dataset).
 */
export interface MetricSpec {
  key: string;
  /** What it is called on a chart (by default the key with spaces). */
  name?: string;
  /** The chart's axis (by default the name). */
  unit?: string;
  /** Which way is better. */
  better: 'lower' | 'higher';
  plot?: 'loss' | 'chart';
}

/** The deployable part of a model as `export` writes it: example inputs, the function, the graph's names. */
export interface ExportedPart {
  inputs: Tensor[];
  fn: (...xs: Tensor[]) => Tensor;
  inputNames: string[];
  outputNames: string[];
}

export interface ModelSpec {
  readonly id: ModelName;
  /** The model's name in menus and messages. */
  readonly title: string;
  /** The datasets it trains on, the first the default. */
  readonly datasets: readonly DatasetName[];
  /**
   * The settings of a CLI run (the page picks smaller ones for a browser: demo/adapters.ts); `config`
   * holds the constructor options a run records, in the order a checkpoint's `config` lists them.
   */
  readonly defaults: { epochs: number; batch: number; lr: number; config: ModelConfig };
  /** The options its constructor takes: a checkpoint's `config` holds only these. */
  readonly options: readonly OptionName[];
  /** An option of `defaults.config` that this config does not use (the MLP VAE has no width), if any. */
  readonly unused?: (c: ModelConfig) => OptionName[];
  /** The model, its initial weights drawn from a generator seeded by `c.seed` (0 when absent). */
  build(c: ModelConfig): Trainable;
  /** What `export` writes for a batch of n. */
  exported(model: Trainable, n: number): ExportedPart;
  /** Its evaluation's metrics that the plots and the page name; the rest are listed in metrics.jsonl only. */
  readonly metrics: readonly MetricSpec[];
}

const seeded = (c: ModelConfig) => new Generator(c.seed ?? 0);
/**
 * The model whose constructor's options are the config's keys (as most are, so that a checkpoint's
 * config reads as the constructor call; checkConfig keeps out any other key).
 */
const built =
  <O>(Model: new (o: O & { generator: Generator }) => Trainable) =>
  (c: ModelConfig) =>
    new Model({ ...(c as O), generator: seeded(c) });
/** The exported part of a model whose forward is the part: one input of `shape`, one output. */
const forward = (shape: (n: number, model: Trainable) => number[], input: string, output: string) =>
  function exported(model: Trainable, n: number): ExportedPart {
    const m = model as unknown as { forward(x: Tensor): Tensor };
    return { inputs: [zeros(shape(n, model))], fn: (x) => m.forward(x), inputNames: [input], outputNames: [output] };
  };
const images = (n: number) => [n, 1, 28, 28],
  pixels = (n: number) => [n, 784],
  latent = (n: number, m: Trainable) => [n, (m as MlpGAN | DCGAN).zDim];

// Per model; the defaults' comments say where the numbers come from.
export const MODEL_SPECS: { readonly [M in ModelName]: ModelSpec & { id: M } } = {
  vae: {
    id: 'vae',
    title: 'VAE',
    datasets: ['mnist', 'fashion'],
    defaults: { epochs: 3, batch: 128, lr: 1e-3, config: { arch: 'mlp', zDim: 20, width: 16 } },
    options: ['arch', 'zDim', 'width', 'lr', 'seed'],
    unused: (c) => (c.arch === 'conv' ? [] : ['width']),
    // The conv VAE's channels are `hidden`, the config's `width`.
    build: (c) =>
      c.arch === 'conv'
        ? new ConvVAE({ zDim: c.zDim, hidden: c.width, lr: c.lr, generator: seeded(c) })
        : new MlpVAE({ zDim: c.zDim, lr: c.lr, generator: seeded(c) }),
    // Its decoder: z -> images.
    exported: (model, n) => {
      const vae = model as MlpVAE | ConvVAE;
      const decode = (z: Tensor) => vae.decode(z).sigmoid().reshape(images(n));
      return { inputs: [zeros([n, vae.zDim])], fn: decode, inputNames: ['z'], outputNames: ['images'] };
    },
    metrics: [
      { key: 'test_neg_elbo', name: 'test negative ELBO', better: 'lower', plot: 'loss' },
      {
        key: 'test_log_px',
        name: 'test log p(x), importance-weighted',
        unit: 'nats per image',
        better: 'higher',
        plot: 'chart',
      },
    ],
  },
  gan: {
    id: 'gan',
    title: 'GAN (2-D points)',
    // The 2-D sets (src/data/toy2d.ts) have no epochs of their own: one "epoch" is RING_STEPS steps of fresh points.
    datasets: ['ring', 'grid', 'moons', 'spiral'],
    defaults: { epochs: 5, batch: 256, lr: 1e-3, config: {} },
    options: ['loss', 'dSteps', 'lr', 'lrD', 'seed'],
    build: built(MlpGAN),
    // The generator: z -> points.
    exported: forward(latent, 'z', 'points'),
    // Mode coverage on the sets of Gaussians, precision and recall on the curves (src/data/toy2d.ts).
    metrics: [
      { key: 'modes_covered', better: 'higher', plot: 'chart' },
      { key: 'precision', better: 'higher', plot: 'chart' },
      { key: 'recall', better: 'higher' },
    ],
  },
  dcgan: {
    id: 'dcgan',
    title: 'DCGAN',
    datasets: ['mnist', 'fashion'],
    defaults: { epochs: 5, batch: 64, lr: 2e-4, config: { zDim: 64, width: 32 } },
    options: ['zDim', 'width', 'lr', 'lrD', 'seed'],
    build: built(DCGAN),
    exported: forward(latent, 'z', 'images'),
    // The scoring classifier's Frechet distance, and against the untrained generator's (src/models/score.ts).
    metrics: [
      { key: 'fd', better: 'lower', plot: 'chart' },
      { key: 'fd_ratio', better: 'lower' },
    ],
  },
  cyclegan: {
    id: 'cyclegan',
    title: 'CycleGAN',
    // X = MNIST and Y = dilated MNIST ('dilated') or Fashion-MNIST ('fashion'); an epoch is one pass over X.
    datasets: ['dilated', 'fashion'],
    // Batch 4, lr 5e-4 and a small identity loss: the settings of the quality run (npm run quality:cyclegan).
    defaults: { epochs: 1, batch: 4, lr: 5e-4, config: { width: 8, resBlocks: 2, lambda: 10, identity: 0.1 } },
    options: ['width', 'resBlocks', 'lambda', 'identity', 'lr', 'lrD', 'seed'],
    build: built(CycleGAN),
    // G: x -> G(x).
    exported: forward(images, 'x', 'gx'),
    // The translation's L1 error over the identity's where the true translation is known (dilation);
    // else only the cycle's (translationError in src/models/cyclegan.ts).
    metrics: [
      { key: 'l1_ratio', better: 'lower', plot: 'chart' },
      { key: 'cycle_l1', better: 'lower', plot: 'chart' },
    ],
  },
  classifier: {
    id: 'classifier',
    title: 'Classifier',
    datasets: ['mnist', 'fashion'],
    defaults: { epochs: 5, batch: 64, lr: 1e-3, config: { width: 32 } },
    options: ['width', 'lr', 'seed'],
    build: built(Classifier),
    exported: forward(images, 'images', 'logits'),
    metrics: [
      { key: 'test_loss', name: 'test cross-entropy', better: 'lower', plot: 'loss' },
      { key: 'test_accuracy', better: 'higher', plot: 'chart' },
    ],
  },
  rbm: {
    id: 'rbm',
    title: 'RBM (Boltzmann machine)',
    datasets: ['mnist', 'fashion'],
    // Hinton's guide (section 4): mini-batches of 10-100, a weight learning rate near 0.1 (of the batch mean).
    defaults: { epochs: 5, batch: 100, lr: 0.05, config: { width: 500, k: 1, chain: 'cd' } },
    options: ['width', 'k', 'chain', 'lr', 'seed'],
    // Its hidden units are `hidden`, the config's `width`.
    build: (c) => new RBM({ hidden: c.width, k: c.k, chain: c.chain, lr: c.lr, generator: seeded(c) }),
    exported: forward(pixels, 'images', 'hidden'),
    // By AIS (Salakhutdinov & Murray 2008).
    metrics: [{ key: 'test_log_likelihood', better: 'higher', plot: 'chart' }],
  },
  dbn: {
    id: 'dbn',
    title: 'DBN (deep belief network)',
    datasets: ['mnist', 'fashion'],
    // The top RBM of a greedy stack trains as an RBM does.
    defaults: { epochs: 5, batch: 100, lr: 0.05, config: { layers: [500, 500], k: 1, chain: 'cd' } },
    options: ['layers', 'k', 'chain', 'lr', 'seed'],
    build: built(DBN),
    // The top layer's p(h | v).
    exported: forward(pixels, 'images', 'top_hidden'),
    metrics: [{ key: 'test_lower_bound', better: 'higher', plot: 'chart' }],
  },
};

/** Builds a model from its config; the init generator is seeded by config.seed. */
export function buildModel(name: ModelName, c: ModelConfig): Trainable {
  return MODEL_SPECS[name].build(c);
}

/** Each option of the model's defaults that config `c` uses (the MLP VAE has no width): c's value, or the default. */
function filled(name: ModelName, c: ModelConfig): ModelConfig {
  const spec: ModelSpec = MODEL_SPECS[name];
  const unused: string[] = spec.unused?.(c) ?? [];
  const keys = Object.entries(spec.defaults.config).filter(([k]) => !unused.includes(k));
  return Object.fromEntries(keys.map(([k, v]) => [k, c[k as OptionName] ?? v]));
}

/** A CLI run's config: learning rates and seed, then the model's options, in the order checkpoints have always had. */
export function configOf(name: ModelName, given: ModelConfig & { lr: number; seed: number }): ModelConfig {
  const { lr, lrD, seed } = given;
  return { lr, ...(lrD !== undefined ? { lrD } : {}), seed, ...filled(name, given) };
}

/**
 * A config as it was built: the options of the model's defaults that `c` lacks (and uses) added with
 * their values, so a checkpoint says what it trained (the page's configs hold only its menus' options).
 */
export const withDefaults = <C extends object>(name: ModelName, c: C): C => ({ ...c, ...filled(name, c) });

/**
 * Checks a config read from outside (a checkpoint's metadata): a JSON object whose keys are options of
 * this model and whose values fit them. Errors start with `where` (the file) and name the key and value.
 */
export function checkConfig(name: ModelName, c: unknown, where: string): ModelConfig {
  const keys: readonly string[] = MODEL_SPECS[name].options;
  if (typeof c !== 'object' || c === null || Array.isArray(c))
    throw new Error(
      `${where}: metadata config must be a JSON object of the ${name}'s options, got ${JSON.stringify(c)}`,
    );
  for (const [k, v] of Object.entries(c)) {
    if (!keys.includes(k))
      throw new Error(
        `${where}: metadata config has '${k}', which is not an option of the ${name} (${keys.join(', ')})`,
      );
    const { ok, want } = OPTION_VALUES[k as OptionName];
    if (!ok(v)) throw new Error(`${where}: metadata config.${k} must be ${want}, got ${JSON.stringify(v)}`);
  }
  return c as ModelConfig;
}
