// Parameter initialization from Philox, with PyTorch's formulas (torch.nn.init) and PyTorch's defaults
// per layer (see layers.ts): fan_in/fan_out of a weight [out, in, *kernel] count in * kernel and out * kernel.

import { Tensor } from '../tensor.ts';
import { uniform, normal, type RandomOptions } from '../ops/random.ts';
import { full } from '../ops/creation.ts';

/**
 * The fan-in and fan-out of a weight of `shape` [out, in, ...kernel] as torch.nn.init computes them:
 * in * kernel and out * kernel (the product of the kernel dims).
 * @throws Error for a shape of fewer than 2 dims.
 */
export function fans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in/out need a tensor of at least 2 dims, got [${shape.join(', ')}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** Gain of a nonlinearity (torch.nn.init.calculate_gain). */
export function gain(nonlinearity: 'linear' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid', a = 0.01): number {
  switch (nonlinearity) {
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + a * a));
    case 'tanh':
      return 5 / 3;
    default:
      return 1;
  }
}

/**
 * Options of kaimingUniform and kaimingNormal (torch.nn.init.kaiming_*'s keyword arguments), and those of
 * every random creation function.
 */
export interface KaimingOptions extends RandomOptions {
  /** The negative slope of the leaky ReLU that follows (default 0). */
  a?: number;
  /** 'fan_in' (default) keeps the forward pass's variance, 'fan_out' the backward pass's. */
  mode?: 'fan_in' | 'fan_out';
  /** The nonlinearity whose gain scales the bound (default 'leaky_relu', which with a = 0 is ReLU's). */
  nonlinearity?: 'relu' | 'leaky_relu' | 'linear';
}

/** U(-b, b) with b = gain * sqrt(3 / fan) (He et al. 2015). */
export function kaimingUniform(shape: number[], o: KaimingOptions = {}): Tensor {
  const f = fans(shape)[o.mode === 'fan_out' ? 'fanOut' : 'fanIn'];
  const bound = gain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) * Math.sqrt(3 / f);
  return uniform(shape, -bound, bound, o);
}
/**
 * N(0, std^2) with std = gain / sqrt(fan) (He et al. 2015, "Delving Deep into Rectifiers", section 2.2;
 * torch.nn.init.kaiming_normal_), returned as a new tensor of `shape`.
 * @example
 * ```ts
 * const w = nn.init.kaimingNormal([256, 784], { nonlinearity: 'relu' });
 * ```
 */
export function kaimingNormal(shape: number[], o: KaimingOptions = {}): Tensor {
  const f = fans(shape)[o.mode === 'fan_out' ? 'fanOut' : 'fanIn'];
  return normal(shape, 0, gain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(f), o);
}
/** U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010). */
export function xavierUniform(shape: number[], g = 1, o: RandomOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(shape);
  const bound = g * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(shape, -bound, bound, o);
}
/**
 * N(0, std^2) with std = g * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010;
 * torch.nn.init.xavier_normal_), returned as a new tensor of `shape`.
 */
export function xavierNormal(shape: number[], g = 1, o: RandomOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(shape);
  return normal(shape, 0, g * Math.sqrt(2 / (fanIn + fanOut)), o);
}

/** PyTorch's default for Linear/Conv weights: kaiming_uniform(a = sqrt(5)), i.e. U(+-1/sqrt(fan_in)). */
export const defaultWeight = (shape: number[], o: RandomOptions = {}) =>
  kaimingUniform(shape, { ...o, a: Math.sqrt(5) });
/** PyTorch's default bias: U(+-1/sqrt(fan_in)). */
export function defaultBias(n: number, fanIn: number, o: RandomOptions = {}): Tensor {
  const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform([n], -b, b, o);
}
/** A tensor of `shape` filled with `v` (torch.nn.init.constant_, returning a new tensor). */
export const constant = (shape: number[], v: number, o: RandomOptions = {}) => full(shape, v, o);
