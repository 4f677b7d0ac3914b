// Layers with PyTorch's names, parameter names and default initializations.

import { Tensor } from '../tensor.ts';
import { Module } from './module.ts';
import { defaultBias, defaultWeight } from './init.ts';
import {
  avgPool2d,
  interpolate,
  type InterpolateOptions,
  batchNorm,
  bce,
  bceWithLogits,
  crossEntropy,
  nllLoss,
  dropout,
  dropout2d,
  elu,
  l1,
  mse,
  type Reduction,
  gelu,
  groupNorm,
  instanceNorm,
  layerNorm,
  linear,
  maxPool2d,
  silu,
  softplus,
  type AvgPool2dOptions,
  type MaxPool2dOptions,
  type BCEOptions,
  type BCEWithLogitsOptions,
  type CrossEntropyOptions,
  type NLLOptions,
  type GeluApproximation,
  type SoftplusOptions,
} from '../ops/functional.ts';
import { conv2d, convTranspose2d, groupsOf, type Conv2dOptions, type Pair } from '../ops/conv.ts';
import { ones, tensor, zeros } from '../ops/creation.ts';
import { randn } from '../ops/random.ts';
import { noGrad } from '../autograd/engine.ts';
import type { Backend } from '../backend/backend.ts';
import type { Generator } from '../random/philox.ts';

/** Options of the layers with weights (Linear, and the convolutions through ConvLayerOptions). */
export interface LayerOptions {
  /** Whether the layer adds a learnable bias (default true). */
  bias?: boolean;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
  /** The generator the initial weights are drawn from (default: the global one, see manualSeed). */
  generator?: Generator;
}

const pairOf = (v: Pair) => (typeof v === 'number' ? [v, v] : v);

/**
 * A layer's sizes must be positive integers (torch allows 0 with a warning, then fails on the first
 * call with a message about shapes the user never wrote): refused where the layer is made, by name.
 */
function checkSizes(layer: string, sizes: Record<string, number | number[]>): void {
  for (const [name, v] of Object.entries(sizes)) {
    for (const x of Array.isArray(v) ? v : [v]) {
      if (!(Number.isInteger(x) && x > 0))
        throw new Error(
          `${layer}: ${name} must be a positive integer, got ${Array.isArray(v) ? `[${v.join(', ')}]` : v}`,
        );
    }
  }
}

/** A norm layer's input: `rank` dims (any >= 2 when null) with numFeatures channels in dim 1. */
function checkChannels(layer: string, numFeatures: number, x: Tensor, rank: number | null = 4): void {
  const shape = `[${x.shape.join(', ')}]`;
  if (rank !== null ? x.ndim !== rank : x.ndim < 2) {
    throw new Error(
      `${layer}(num_features=${numFeatures}): expected a ${rank ?? '>= 2'}-D input [N, C${rank === 4 ? ', H, W' : ', ...'}], got shape ${shape}`,
    );
  }
  if (x.shape[1] !== numFeatures) {
    throw new Error(
      `${layer}(num_features=${numFeatures}): input of shape ${shape} has ${x.shape[1]} channels (dim 1), expected ${numFeatures}`,
    );
  }
}

/**
 * A fully connected layer (torch.nn.Linear): y = x W^T + b over the last dim, x [..., inFeatures] to
 * [..., outFeatures]. weight [outFeatures, inFeatures] and bias [outFeatures] start uniform on
 * +-1/sqrt(inFeatures), as in PyTorch.
 * @throws Error when a size is not a positive integer.
 * @example
 * ```ts
 * const fc = new nn.Linear(784, 128);
 * const y = fc.call(x);                                // [N, 784] -> [N, 128]
 * const noBias = new nn.Linear(128, 10, { bias: false });
 * ```
 */
export class Linear extends Module {
  /** The weight [outFeatures, inFeatures] (PyTorch's layout). */
  weight: Tensor;
  /** The bias [outFeatures], or null with `bias: false`. */
  bias: Tensor | null;
  /**
   * @param inFeatures - Size of each input's last dim.
   * @param outFeatures - Size of each output's last dim.
   * @param o - bias (default true), backend, generator.
   */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: LayerOptions = {},
  ) {
    super();
    checkSizes('Linear', { inFeatures, outFeatures });
    this.weight = this.param('weight', defaultWeight([outFeatures, inFeatures], o));
    this.bias = o.bias === false ? null : this.param('bias', defaultBias(outFeatures, inFeatures, o));
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/**
 * Conv2d's options (ConvTranspose2d's too, with its own padding and outputPadding): torch's keyword
 * arguments, F.conv2d's and the layer's.
 */
export interface ConvLayerOptions extends LayerOptions, Conv2dOptions {}

/**
 * A 2-D convolution layer (torch.nn.Conv2d) over NCHW input: [N, inChannels, H, W] to [N, outChannels,
 * OH, OW] (see {@link conv2d} for the output size). weight [outChannels, inChannels / groups, kh, kw] and
 * bias [outChannels] start as in PyTorch (Kaiming-uniform with a = sqrt(5)).
 * @throws Error when a size is not a positive integer or the channels do not split into `groups`.
 * @example
 * ```ts
 * const conv = new nn.Conv2d(1, 32, 3, { padding: 1 });
 * conv.call(x).shape;                      // [N, 1, 28, 28] -> [N, 32, 28, 28]
 * const down = new nn.Conv2d(32, 64, 4, { stride: 2, padding: 1 }); // halves H and W
 * ```
 */
export class Conv2d extends Module {
  /** The kernels [outChannels, inChannels / groups, kh, kw]. */
  weight: Tensor;
  /** The bias [outChannels], or null with `bias: false`. */
  bias: Tensor | null;
  /**
   * @param inChannels - Channels of the input (dim 1).
   * @param outChannels - Channels of the output.
   * @param kernelSize - The kernel's height and width (one number for both).
   * @param o - stride, padding, dilation, groups, bias, backend, generator.
   */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Pair,
    readonly o: ConvLayerOptions = {},
  ) {
    super();
    const [kh, kw] = pairOf(kernelSize),
      g = o.groups ?? 1;
    checkSizes('Conv2d', { inChannels, outChannels, kernelSize: [kh, kw], groups: g });
    groupsOf('Conv2d', g, inChannels, outChannels);
    this.weight = this.param('weight', defaultWeight([outChannels, inChannels / g, kh, kw], o));
    this.bias = o.bias === false ? null : this.param('bias', defaultBias(outChannels, (inChannels / g) * kh * kw, o));
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.o);
  }
}

/**
 * A transposed 2-D convolution layer (torch.nn.ConvTranspose2d), the upsampling layer of decoders and
 * generators: [N, inChannels, H, W] to [N, outChannels, (H - 1) stride - 2 padding + dilation (k - 1) +
 * outputPadding + 1, ...]. weight [inChannels, outChannels / groups, kh, kw] (PyTorch's layout).
 * @example
 * ```ts
 * const up = new nn.ConvTranspose2d(64, 32, 4, { stride: 2, padding: 1 });
 * up.call(z).shape;                       // [N, 64, 7, 7] -> [N, 32, 14, 14]
 * ```
 */
export class ConvTranspose2d extends Module {
  /** The kernels [inChannels, outChannels / groups, kh, kw] (PyTorch's layout for transposed convolutions). */
  weight: Tensor;
  /** The bias [outChannels], or null with `bias: false`. */
  bias: Tensor | null;
  /**
   * @param inChannels - Channels of the input (dim 1).
   * @param outChannels - Channels of the output.
   * @param kernelSize - The kernel's height and width (one number for both).
   * @param o - stride, padding, outputPadding, dilation, groups, bias, backend, generator.
   */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Pair,
    readonly o: Omit<ConvLayerOptions, 'padding'> & { padding?: Pair; outputPadding?: Pair } = {},
  ) {
    super();
    const [kh, kw] = pairOf(kernelSize),
      g = o.groups ?? 1;
    checkSizes('ConvTranspose2d', { inChannels, outChannels, kernelSize: [kh, kw], groups: g });
    groupsOf('ConvTranspose2d', g, inChannels, outChannels);
    // PyTorch's weight is [in, out / groups, kh, kw] and its fan_in is computed from dim 1: out / groups * kh * kw.
    this.weight = this.param('weight', defaultWeight([inChannels, outChannels / g, kh, kw], o));
    this.bias = o.bias === false ? null : this.param('bias', defaultBias(outChannels, (outChannels / g) * kh * kw, o));
  }
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.o);
  }
}

/**
 * Batch normalization over NCHW input (torch.nn.BatchNorm2d): each channel normalized by the batch's
 * mean and variance in training mode (updating running_mean and running_var with `momentum`, default
 * 0.1), by the running statistics in eval mode, then scaled by weight and shifted by bias. `eps`
 * defaults to 1e-5.
 * @throws Error (at forward) when the input is not 4-D with numFeatures channels.
 * @example
 * ```ts
 * const bn = new nn.BatchNorm2d(32);
 * bn.call(h);          // training: batch statistics
 * bn.eval();
 * bn.call(h);          // inference: running statistics
 * ```
 */
export class BatchNorm2d extends Module {
  /** The per-channel scale [numFeatures], starting at 1. */
  weight: Tensor;
  /** The per-channel shift [numFeatures], starting at 0. */
  bias: Tensor;
  /** The running mean [numFeatures] (the buffer running_mean), used in eval mode. */
  runningMean: Tensor;
  /** The running (unbiased) variance [numFeatures] (the buffer running_var), used in eval mode. */
  runningVar: Tensor;
  /** torch's num_features: the channels (dim 1) of every input. */
  readonly numFeatures: number;
  /**
   * @param numFeatures - The channels (dim 1) of every input.
   * @param o - eps (1e-5), momentum of the running statistics (0.1), backend.
   */
  constructor(
    numFeatures: number,
    readonly o: { eps?: number; momentum?: number; backend?: Backend } = {},
  ) {
    super();
    checkSizes('BatchNorm2d', { numFeatures });
    this.numFeatures = numFeatures;
    const b = { backend: o.backend };
    this.weight = this.param('weight', ones([numFeatures], b));
    this.bias = this.param('bias', zeros([numFeatures], b));
    this.runningMean = this.buffer('running_mean', zeros([numFeatures], b));
    this.runningVar = this.buffer('running_var', ones([numFeatures], b));
  }
  forward(x: Tensor): Tensor {
    checkChannels('BatchNorm2d', this.numFeatures, x);
    return batchNorm(
      x,
      this.runningMean,
      this.runningVar,
      this.weight,
      this.bias,
      this.training,
      this.o.momentum ?? 0.1,
      this.o.eps ?? 1e-5,
    );
  }
}

/**
 * Instance normalization (torch.nn.InstanceNorm2d): each (sample, channel) plane of NCHW input
 * normalized over its pixels; no affine weight and bias unless `affine` (PyTorch's default is false too),
 * and no running statistics. `eps` defaults to 1e-5.
 */
export class InstanceNorm2d extends Module {
  /** The per-channel scale [numFeatures] when affine, else null. */
  weight: Tensor | null;
  /** The per-channel shift [numFeatures] when affine, else null. */
  bias: Tensor | null;
  /** torch's num_features: the channels (dim 1) of every input when affine. */
  readonly numFeatures: number;
  /**
   * @param numFeatures - The channels (dim 1) of every input.
   * @param o - eps (1e-5), affine (false), backend.
   */
  constructor(
    numFeatures: number,
    readonly o: { eps?: number; affine?: boolean; backend?: Backend } = {},
  ) {
    super();
    checkSizes('InstanceNorm2d', { numFeatures });
    this.numFeatures = numFeatures;
    const b = { backend: o.backend };
    this.weight = o.affine ? this.param('weight', ones([numFeatures], b)) : null;
    this.bias = o.affine ? this.param('bias', zeros([numFeatures], b)) : null;
  }
  forward(x: Tensor): Tensor {
    // Without affine parameters torch takes any channel count; the 4-D input is still required.
    checkChannels('InstanceNorm2d', this.weight ? this.numFeatures : x.shape[1], x);
    return instanceNorm(x, this.weight, this.bias, this.o.eps ?? 1e-5);
  }
}

/** LayerNorm's options (torch's keyword arguments). */
export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learnable weight and bias of the normalized shape (default true). */
  elementwiseAffine?: boolean;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
}
/** torch.nn.LayerNorm: weight ones and bias zeros of the normalized shape (unless elementwiseAffine is false). */
export class LayerNorm extends Module {
  /** The scale of the normalized shape (ones at first), or null without elementwiseAffine. */
  weight: Tensor | null;
  /** The shift of the normalized shape (zeros at first), or null without elementwiseAffine. */
  bias: Tensor | null;
  /** The trailing dims normalized over (torch's normalized_shape). */
  readonly normalizedShape: number[];
  /**
   * @param normalizedShape - The trailing dims to normalize over (one number for the last dim).
   * @param o - eps (1e-5), elementwiseAffine (true), backend.
   */
  constructor(
    normalizedShape: number | number[],
    readonly o: LayerNormOptions = {},
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    checkSizes('LayerNorm', { normalizedShape: this.normalizedShape });
    const affine = o.elementwiseAffine ?? true;
    this.weight = affine ? this.param('weight', ones(this.normalizedShape, { backend: o.backend })) : null;
    this.bias = affine ? this.param('bias', zeros(this.normalizedShape, { backend: o.backend })) : null;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.o.eps ?? 1e-5);
  }
}

/** GroupNorm's options (torch's keyword arguments). */
export interface GroupNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learnable per-channel weight and bias (default true). */
  affine?: boolean;
  /** The backend to make the parameters on (default: the current one). */
  backend?: Backend;
}
/** torch.nn.GroupNorm: per-channel weight ones and bias zeros (unless affine is false). */
export class GroupNorm extends Module {
  /** The per-channel scale [numChannels] (ones at first), or null without affine. */
  weight: Tensor | null;
  /** The per-channel shift [numChannels] (zeros at first), or null without affine. */
  bias: Tensor | null;
  /**
   * @param numGroups - Groups the channels split into (it must divide numChannels).
   * @param numChannels - The channels (dim 1) of every input.
   * @param o - eps (1e-5), affine (true), backend.
   */
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly o: GroupNormOptions = {},
  ) {
    super();
    checkSizes('GroupNorm', { numGroups, numChannels });
    if (numChannels % numGroups !== 0)
      throw new Error(`GroupNorm: ${numChannels} channels do not split into ${numGroups} groups`);
    const affine = o.affine ?? true;
    this.weight = affine ? this.param('weight', ones([numChannels], { backend: o.backend })) : null;
    this.bias = affine ? this.param('bias', zeros([numChannels], { backend: o.backend })) : null;
  }
  forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.o.eps ?? 1e-5);
  }
}

/** torch.nn.MaxPool2d (F.maxPool2d). */
export class MaxPool2d extends Module {
  constructor(
    readonly kernel: number | [number, number],
    readonly o: MaxPool2dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernel, this.o);
  }
}

/** max(x, 0) as a module (torch.nn.ReLU). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}
/** x where x > 0, else negativeSlope * x (torch.nn.LeakyReLU; default slope 0.01). */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
}
/**
 * The Gaussian error linear unit x * Phi(x) (torch.nn.GELU): exact by erf, or by the tanh approximation
 * with `approximate = 'tanh'`.
 */
export class GELU extends Module {
  constructor(readonly approximate: GeluApproximation = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
}
/** x * sigmoid(x) (torch.nn.SiLU, "swish"). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}
/** x where x > 0, else alpha (e^x - 1) (torch.nn.ELU; alpha defaults to 1). */
export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }
}
/** log(1 + exp(beta x)) / beta, reverting to x where beta x > threshold (torch.nn.Softplus; defaults 1 and 20). */
export class Softplus extends Module {
  constructor(readonly o: SoftplusOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softplus(x, this.o);
  }
}
/** The hyperbolic tangent as a module (torch.nn.Tanh). */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}
/** 1 / (1 + e^-x) as a module (torch.nn.Sigmoid). */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
/** Flattens every dim after the first (torch.nn.Flatten): [N, C, H, W] to [N, C*H*W]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return x.flatten(1);
  }
}
/** Reshapes dim 1 into `sizes` (torch.nn.Unflatten(1, sizes)): e.g. [n, c*h*w] -> [n, c, h, w]. */
export class Unflatten extends Module {
  constructor(readonly sizes: number[]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.reshape([x.shape[0], ...this.sizes, ...x.shape.slice(2)]);
  }
}
/** torch.nn.Upsample: F.interpolate with fixed options (a size or a scale factor, nearest or bilinear). */
export class Upsample extends Module {
  constructor(readonly o: InterpolateOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return interpolate(x, this.o);
  }
}

/**
 * Average pooling over kernel x kernel windows of NCHW input (stride defaults to the kernel size), as
 * torch.nn.AvgPool2d (F.avgPool2d).
 */
export class AvgPool2d extends Module {
  constructor(
    readonly kernel: number | [number, number],
    readonly o: AvgPool2dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernel, this.o);
  }
}
/**
 * Inverted dropout (torch.nn.Dropout): in training mode each value is zeroed with probability p (default
 * 0.5) and the rest scaled by 1/(1-p); in eval mode the input passes unchanged.
 */
export class Dropout extends Module {
  /**
   * @param p - Probability of zeroing each value (default 0.5).
   * @param generator - The generator the masks are drawn from (default: the global one).
   */
  constructor(
    readonly p = 0.5,
    readonly generator?: Generator,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.generator);
  }
}

/** torch.nn.ModuleList: modules held in order, their parameters named 0., 1., ...; no forward of its own. */
export class ModuleList extends Module implements Iterable<Module> {
  private readonly items: Module[] = [];
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  /** Adds `m` at the end (named by its index); returns the list. */
  append(m: Module): this {
    this.module(String(this.items.length), m);
    this.items.push(m);
    return this;
  }
  /** The number of modules held. */
  get length(): number {
    return this.items.length;
  }
  /** Module i (negative counts from the end, as Array.at). */
  at(i: number): Module {
    const m = this.items.at(i);
    if (!m) throw new Error(`ModuleList: index ${i} is out of range for ${this.items.length} modules`);
    return m;
  }
  /** The modules in order (`for (const m of list)`). */
  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }
  forward(): Tensor {
    throw new Error('ModuleList: a container has no forward; call its modules');
  }
}

/** torch.nn.ModuleDict: modules by name, their parameters named <name>.; no forward of its own. */
export class ModuleDict extends Module {
  private readonly items = new Map<string, Module>();
  constructor(modules: Record<string, Module> = {}) {
    super();
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }
  /**
   * Adds `m` under `name` (letters, digits and _); returns the dict.
   * @throws Error for an invalid name or one already set.
   */
  set(name: string, m: Module): this {
    if (!/^[A-Za-z0-9_]+$/.test(name))
      throw new Error(
        `ModuleDict: name ${JSON.stringify(name)} must be letters, digits and _ (it becomes part of parameter names)`,
      );
    if (this.items.has(name)) throw new Error(`ModuleDict: ${name} is already set`);
    this.module(name, m);
    this.items.set(name, m);
    return this;
  }
  /**
   * The module set under `name`.
   * @throws Error when there is none.
   */
  get(name: string): Module {
    const m = this.items.get(name);
    if (!m)
      throw new Error(
        `ModuleDict: no module ${JSON.stringify(name)} (has ${[...this.items.keys()].join(', ') || 'none'})`,
      );
    return m;
  }
  /** The names, in the order they were set. */
  keys(): string[] {
    return [...this.items.keys()];
  }
  forward(): Tensor {
    throw new Error('ModuleDict: a container has no forward; call its modules');
  }
}

/**
 * torch.nn.Dropout2d: each (sample, channel) plane of NCHW zeroed with probability p (default 0.5), the
 * rest scaled by 1/(1-p); the constructor is Dropout's.
 */
export class Dropout2d extends Dropout {
  forward(x: Tensor): Tensor {
    return dropout2d(x, this.p, this.training, this.generator);
  }
}

/** The losses as modules (torch.nn.MSELoss and its kin): forward(input, target), with the reduction. */
abstract class LossModule<O extends { reduction?: Reduction } = { reduction?: Reduction }> extends Module {
  /** The loss function the module applies. @internal */
  protected abstract readonly loss: (x: Tensor, target: Tensor, options: O) => Tensor;
  /** The loss's options (the reduction alone, or torch's keyword arguments as an object). */
  readonly options: O;
  constructor(options: Reduction | O = 'mean') {
    super();
    this.options = (typeof options === 'string' ? { reduction: options } : { ...options }) as O;
  }
  /** The reduction the loss applies ('mean' unless set). */
  get reduction(): Reduction {
    return this.options.reduction ?? 'mean';
  }
  forward(x: Tensor, target: Tensor): Tensor {
    return this.loss(x, target, this.options);
  }
}
/**
 * Mean squared error (torch.nn.MSELoss): forward(input, target) averages (x - target)^2; input and
 * target broadcast. The constructor takes the reduction ('mean', 'sum' or 'none').
 * @example
 * ```ts
 * const mse = new nn.MSELoss();
 * const loss = mse.call(pred, target);
 * ```
 */
export class MSELoss extends LossModule {
  /** @internal */
  protected readonly loss = (x: Tensor, t: Tensor, o: { reduction?: Reduction }) => mse(x, t, o.reduction);
}
/**
 * Mean absolute error (torch.nn.L1Loss): forward(input, target) averages |x - target|; input and target
 * broadcast. The constructor takes the reduction ('mean', 'sum' or 'none').
 */
export class L1Loss extends LossModule {
  /** @internal */
  protected readonly loss = (x: Tensor, t: Tensor, o: { reduction?: Reduction }) => l1(x, t, o.reduction);
}
/** On probabilities; `weight` rescales each element. */
export class BCELoss extends LossModule<BCEOptions> {
  /** @internal */
  protected readonly loss = bce;
}
/** On logits; `weight` per element, `posWeight` per class for the positive term. */
export class BCEWithLogitsLoss extends LossModule<BCEWithLogitsOptions> {
  /** @internal */
  protected readonly loss = bceWithLogits;
}
/** On logits [N, C, d...] and class labels [N, d...] or probabilities; weight, ignoreIndex, labelSmoothing. */
export class CrossEntropyLoss extends LossModule<CrossEntropyOptions> {
  /** @internal */
  protected readonly loss = crossEntropy;
}
/** On log-probabilities [N, C, d...] and class labels [N, d...]; weight, ignoreIndex. */
export class NLLLoss extends LossModule<NLLOptions> {
  /** @internal */
  protected readonly loss = nllLoss;
}

/** Embedding's options. */
export interface EmbeddingOptions {
  /** This index's row starts at zero and gets no gradient (torch's padding_idx); negative counts from the end. */
  paddingIdx?: number;
  /** The backend to make the table on (default: the current one). */
  backend?: Backend;
  /** The generator the table is drawn from (default: the global one). */
  generator?: Generator;
}

/**
 * A lookup table (torch.nn.Embedding): indices of any shape (int32, or floats holding integers) give their rows of
 * `weight` [numEmbeddings, embeddingDim], drawn from N(0, 1) as in PyTorch; the output is
 * [...indices, embeddingDim]. An index out of range gives NaN rows (gather's rule).
 */
export class Embedding extends Module {
  /** The table [numEmbeddings, embeddingDim], drawn from N(0, 1). */
  weight: Tensor;
  /** The padding row's index (made non-negative), or null. */
  readonly paddingIdx: number | null;
  /**
   * @param numEmbeddings - Rows of the table: indices run from 0 to numEmbeddings - 1.
   * @param embeddingDim - Size of each row.
   * @param o - paddingIdx, backend, generator.
   */
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    o: EmbeddingOptions = {},
  ) {
    super();
    if (!(Number.isInteger(numEmbeddings) && numEmbeddings > 0 && Number.isInteger(embeddingDim) && embeddingDim > 0)) {
      throw new Error(
        `Embedding: numEmbeddings and embeddingDim must be positive integers, got ${numEmbeddings} and ${embeddingDim}`,
      );
    }
    const p = o.paddingIdx;
    if (p !== undefined && !(Number.isInteger(p) && p >= -numEmbeddings && p < numEmbeddings)) {
      throw new Error(`Embedding: paddingIdx ${p} is not an index of ${numEmbeddings} embeddings`);
    }
    this.paddingIdx = p === undefined ? null : p < 0 ? p + numEmbeddings : p;
    const w = randn([numEmbeddings, embeddingDim], { backend: o.backend, generator: o.generator });
    const pad = this.paddingIdx;
    this.weight = this.param(
      'weight',
      pad === null
        ? w
        : noGrad(() => {
            const mask = tensor(
              Array.from({ length: numEmbeddings }, (_, i) => (i === pad ? 0 : 1)),
              [numEmbeddings, 1],
              { backend: w.backend },
            );
            const zeroed = w.where(mask, 0);
            w.dispose();
            mask.dispose();
            return zeroed;
          }),
    );
  }
  forward(indices: Tensor): Tensor {
    const flat = indices.reshape([indices.size]);
    let rows = this.weight.indexSelect(0, flat);
    if (this.paddingIdx !== null) {
      // The padding row's output as it is, with no gradient to it.
      const pad = flat.eq(this.paddingIdx).reshape([indices.size, 1]);
      rows = rows.detach().where(pad, rows);
    }
    return rows.reshape([...indices.shape, this.embeddingDim]);
  }
}

/**
 * Modules applied in order, each to the previous one's output; children are named "0", "1", ... as in
 * torch.nn.Sequential (so parameters are `0.weight`, `2.bias`, ...).
 *
 * @example
 * ```ts
 * const encoder = new nn.Sequential(
 *   new nn.Conv2d(1, 32, 4, { stride: 2, padding: 1 }), new nn.ReLU(),   // 28 -> 14
 *   new nn.Conv2d(32, 64, 4, { stride: 2, padding: 1 }), new nn.ReLU(),  // 14 -> 7
 *   new nn.Flatten(),
 *   new nn.Linear(64 * 7 * 7, 20),
 * );
 * encoder.call(x).shape; // [N, 20]
 * ```
 */
export class Sequential extends Module {
  /** The modules, in the order they are applied. */
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.module(String(i), m));
  }
  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, m) => m.call(h), x);
  }
}
