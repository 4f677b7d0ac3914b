// Layers with PyTorch's names, parameter names and default initializations.

import { Tensor } from '../tensor.ts';
import { Module } from './module.ts';
import { defaultBias, defaultWeight } from './init.ts';
import { avgPool2d, batchNorm, bce, bceWithLogits, crossEntropy, dropout, dropout2d, elu, l1, mse, type Reduction, gelu, groupNorm, instanceNorm, layerNorm, linear, maxPool2d, silu, softplus, type AvgPool2dOptions, type MaxPool2dOptions, type GeluApproximation, type SoftplusOptions } from '../ops/functional.ts';
import { conv2d, convTranspose2d, type Pair } from '../ops/conv.ts';
import { ones, zeros } from '../ops/creation.ts';
import type { Backend } from '../backend/backend.ts';
import type { Generator } from '../random/philox.ts';

export interface LayerOptions {
  bias?: boolean;
  backend?: Backend;
  generator?: Generator;
}

const pairOf = (v: Pair) => (typeof v === 'number' ? [v, v] : v);

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, o: LayerOptions = {}) {
    super();
    this.weight = this.param('weight', defaultWeight([outFeatures, inFeatures], o));
    this.bias = o.bias === false ? null : this.param('bias', defaultBias(outFeatures, inFeatures, o));
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export interface ConvLayerOptions extends LayerOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, readonly o: ConvLayerOptions = {}) {
    super();
    const [kh, kw] = pairOf(kernelSize);
    this.weight = this.param('weight', defaultWeight([outChannels, inChannels, kh, kw], o));
    this.bias = o.bias === false ? null : this.param('bias', defaultBias(outChannels, inChannels * kh * kw, o));
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.o);
  }
}

export class ConvTranspose2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, readonly o: ConvLayerOptions & { outputPadding?: Pair } = {}) {
    super();
    const [kh, kw] = pairOf(kernelSize);
    // PyTorch's weight is [in, out, kh, kw] and its fan_in is computed from dim 1: out * kh * kw.
    this.weight = this.param('weight', defaultWeight([inChannels, outChannels, kh, kw], o));
    this.bias = o.bias === false ? null : this.param('bias', defaultBias(outChannels, outChannels * kh * kw, o));
  }
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.o);
  }
}

export class BatchNorm2d extends Module {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  constructor(numFeatures: number, readonly o: { eps?: number; momentum?: number; backend?: Backend } = {}) {
    super();
    const b = { backend: o.backend };
    this.weight = this.param('weight', ones([numFeatures], b));
    this.bias = this.param('bias', zeros([numFeatures], b));
    this.runningMean = this.buffer('running_mean', zeros([numFeatures], b));
    this.runningVar = this.buffer('running_var', ones([numFeatures], b));
  }
  forward(x: Tensor): Tensor {
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, this.training, this.o.momentum ?? 0.1, this.o.eps ?? 1e-5);
  }
}

export class InstanceNorm2d extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  /** PyTorch's InstanceNorm2d defaults to affine = false. */
  constructor(numFeatures: number, readonly o: { eps?: number; affine?: boolean; backend?: Backend } = {}) {
    super();
    const b = { backend: o.backend };
    this.weight = o.affine ? this.param('weight', ones([numFeatures], b)) : null;
    this.bias = o.affine ? this.param('bias', zeros([numFeatures], b)) : null;
  }
  forward(x: Tensor): Tensor {
    return instanceNorm(x, this.weight, this.bias, this.o.eps ?? 1e-5);
  }
}

export interface LayerNormOptions { eps?: number; elementwiseAffine?: boolean; backend?: Backend }
/** torch.nn.LayerNorm: weight ones and bias zeros of the normalized shape (unless elementwiseAffine is false). */
export class LayerNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | number[], readonly o: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    const affine = o.elementwiseAffine ?? true;
    this.weight = affine ? this.param('weight', ones(this.normalizedShape, { backend: o.backend })) : null;
    this.bias = affine ? this.param('bias', zeros(this.normalizedShape, { backend: o.backend })) : null;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.o.eps ?? 1e-5);
  }
}

export interface GroupNormOptions { eps?: number; affine?: boolean; backend?: Backend }
/** torch.nn.GroupNorm: per-channel weight ones and bias zeros (unless affine is false). */
export class GroupNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  constructor(readonly numGroups: number, readonly numChannels: number, readonly o: GroupNormOptions = {}) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0) throw new Error(`GroupNorm: ${numChannels} channels do not split into ${numGroups} groups`);
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
  constructor(readonly kernel: number | [number, number], readonly o: MaxPool2dOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernel, this.o);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
}
export class GELU extends Module {
  constructor(readonly approximate: GeluApproximation = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
}
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}
export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }
}
export class Softplus extends Module {
  constructor(readonly o: SoftplusOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softplus(x, this.o);
  }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
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
/** Average pooling over kernel x kernel windows (stride defaults to the kernel size), as torch.nn.AvgPool2d. */
export class AvgPool2d extends Module {
  constructor(readonly kernel: number, readonly o: AvgPool2dOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernel, this.o);
  }
}
export class Dropout extends Module {
  constructor(readonly p = 0.5, readonly generator?: Generator) {
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
  append(m: Module): this {
    this.module(String(this.items.length), m);
    this.items.push(m);
    return this;
  }
  get length(): number {
    return this.items.length;
  }
  /** Module i (negative counts from the end, as Array.at). */
  at(i: number): Module {
    const m = this.items.at(i);
    if (!m) throw new Error(`ModuleList: index ${i} is out of range for ${this.items.length} modules`);
    return m;
  }
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
  set(name: string, m: Module): this {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`ModuleDict: name ${JSON.stringify(name)} must be letters, digits and _ (it becomes part of parameter names)`);
    if (this.items.has(name)) throw new Error(`ModuleDict: ${name} is already set`);
    this.module(name, m);
    this.items.set(name, m);
    return this;
  }
  get(name: string): Module {
    const m = this.items.get(name);
    if (!m) throw new Error(`ModuleDict: no module ${JSON.stringify(name)} (has ${[...this.items.keys()].join(', ') || 'none'})`);
    return m;
  }
  keys(): string[] {
    return [...this.items.keys()];
  }
  forward(): Tensor {
    throw new Error('ModuleDict: a container has no forward; call its modules');
  }
}

/** torch.nn.Dropout2d: each (sample, channel) plane of NCHW zeroed with probability p, the rest scaled by 1/(1-p). */
export class Dropout2d extends Module {
  constructor(readonly p = 0.5, readonly generator?: Generator) {
    super();
  }
  forward(x: Tensor): Tensor {
    return dropout2d(x, this.p, this.training, this.generator);
  }
}

/** The losses as modules (torch.nn.MSELoss and its kin): forward(input, target), with the reduction. */
abstract class LossModule extends Module {
  protected abstract readonly loss: (x: Tensor, target: Tensor, reduction: Reduction) => Tensor;
  constructor(readonly reduction: Reduction = 'mean') {
    super();
  }
  forward(x: Tensor, target: Tensor): Tensor {
    return this.loss(x, target, this.reduction);
  }
}
export class MSELoss extends LossModule {
  protected readonly loss = mse;
}
export class L1Loss extends LossModule {
  protected readonly loss = l1;
}
/** On probabilities. */
export class BCELoss extends LossModule {
  protected readonly loss = bce;
}
export class BCEWithLogitsLoss extends LossModule {
  protected readonly loss = bceWithLogits;
}
/** On logits [N, C] and class labels [N]. */
export class CrossEntropyLoss extends LossModule {
  protected readonly loss = crossEntropy;
}

/** Modules applied in order; children are named "0", "1", ... as in torch.nn.Sequential. */
export class Sequential extends Module {
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

