// Random tensors from Philox4x32-10 (src/random/philox.ts, shaders/philox.wgsl). A draw reserves
// ceil(n/4) counter blocks from its generator, so results depend only on (seed, offset) and are the
// same on both backends (bit-identical words; uniform exactly, normal to float rounding).

import { applyPerCall, onTraceAbort, type Tensor } from '../tensor.ts';
import { getBackend } from '../backend/registry.ts';
import { philoxWords, type RandomKind } from '../backend/kernels.ts';
import { defaultGenerator, type Generator } from '../random/philox.ts';
import { numel } from '../shape.ts';
import { checkInt32, checkShape, type CreateOptions } from './creation.ts';

/** Options of the random creation functions: those of every creation function, and the generator. */
export interface RandomOptions extends CreateOptions {
  /** The Philox generator to draw from (default: {@link defaultGenerator}, seeded by {@link manualSeed}). */
  generator?: Generator;
}

function draw(
  op: string,
  shape: number[],
  kind: RandomKind,
  scale: number,
  shift: number,
  p: number,
  opts: RandomOptions,
): Tensor {
  const backend = opts.backend ?? getBackend();
  const sh = checkShape(op, shape);
  const gen = opts.generator ?? defaultGenerator;
  const n = numel(sh);
  // The counter is taken from the generator per call: a compiled step repeats this on every call.
  // A trace that fails gives the counter back (as if the call had not happened).
  const t = applyPerCall('random', [], () => {
    const offset = gen.offset;
    onTraceAbort(() => (gen.offset = offset));
    const { key, counter } = philoxWords(gen.seed, gen.take(n));
    return { backend, shape: sh, spec: { kind, key, counter, scale, shift, p } };
  });
  t.requiresGrad = !!opts.requiresGrad;
  return t;
}

/** Uniform on [0, 1) (torch.rand). */
export const rand = (shape: number[], opts: RandomOptions = {}) => draw('rand', shape, 'uniform', 1, 0, 0, opts);
/** Uniform on [low, high). */
export const uniform = (shape: number[], low: number, high: number, opts: RandomOptions = {}) =>
  draw('uniform', shape, 'uniform', high - low, low, 0, opts);
/**
 * Standard normal values by Box-Muller (torch.randn). The same seed gives the same values on both
 * backends.
 * @example
 * ```ts
 * manualSeed(0);
 * const z = randn([64, 20]);                       // from the default generator
 * const g = new Generator(42);
 * const w = randn([3, 3], { generator: g });       // from a generator of its own
 * ```
 */
export const randn = (shape: number[], opts: RandomOptions = {}) => draw('randn', shape, 'normal', 1, 0, 0, opts);
/** Normal with the given mean and std. */
export const normal = (shape: number[], mean: number, std: number, opts: RandomOptions = {}) =>
  draw('normal', shape, 'normal', std, mean, 0, opts);
/** A mask of `scale` where uniform < p, else 0 (dropout with scale 1/p keeps expectations). */
export const bernoulliMask = (shape: number[], p: number, scale = 1, opts: RandomOptions = {}) =>
  draw('bernoulli', shape, 'bernoulli', scale, 0, p, opts);
/**
 * Integers uniform on [low, high) as int32 (torch.randint): floor(low + u (high - low)) for a uniform u,
 * clamped below high (u (high - low) can round up to high - low in float32).
 */
export function randint(low: number, high: number, shape: number[], opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low)
    throw new Error(`randint: need integers low < high, got [${low}, ${high})`);
  checkInt32('randint', low);
  checkInt32('randint', high);
  if (opts.requiresGrad) throw new Error('randint: an int32 tensor cannot require gradients');
  const u = draw('randint', shape, 'uniform', high - low, 0, 0, { ...opts, dtype: undefined });
  const k = u.minimum(high - low - 1).int();
  u.dispose();
  if (low === 0) return k;
  const out = k.add(low).int();
  k.dispose();
  return out;
}
/** The raw 32-bit Philox words (for tests and hashing); read them with `backend.read(t.storage, { as: 'u32' })`. */
export const randomBits = (shape: number[], opts: RandomOptions = {}) =>
  draw('random_bits', shape, 'bits', 1, 0, 0, opts);
