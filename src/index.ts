// Public API, with PyTorch's names and argument order where one exists.

/**
 * A WebGPU tensor runtime with PyTorch's names and argument order: {@link Tensor} and the ops, reverse-mode
 * autodiff, {@link nn} (modules, layers, optimizers, schedulers), {@link F}, {@link compile} (a training step
 * traced once and replayed), and the WebGPU and CPU reference backends. The models, checkpoint files and
 * datasets are the subpaths `wgpu-gen/models`, `wgpu-gen/io` and `wgpu-gen/data`.
 *
 * @example
 * ```ts
 * import { init, nn, F, rand, randint, tidy, shutdown } from 'wgpu-gen';
 *
 * await init();                                   // WebGPU (or init({ backend: 'cpu' }))
 * const model = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Linear(32, 10));
 * const opt = new nn.Adam(model.parameters(), { lr: 1e-2 });
 * const x = rand([64, 64]), y = randint(0, 10, [64]);
 * for (let step = 0; step < 40; step++) {
 *   const loss = tidy(() => {
 *     opt.zeroGrad();
 *     const l = F.crossEntropy(model.call(x), y);
 *     l.backward();
 *     opt.step();
 *     return l;
 *   });
 *   if (step % 10 === 0) console.log(step, await loss.item());
 *   loss.dispose();
 * }
 * shutdown();
 * ```
 * @module wgpu-gen
 */

export { Tensor, tidy, keep, liveTensorCount } from './tensor.ts';
export { INT32_EXACT, type DType } from './graph/types.ts';
export type { Backend, Storage } from './backend/backend.ts';
export {
  init,
  createBackend,
  getBackend,
  setBackend,
  withBackend,
  type InitOptions,
  type BackendName,
} from './backend/registry.ts';
export type { AdapterChoice } from './device/gpu.ts';
export { CpuBackend } from './backend/cpu/index.ts';
export {
  tensor,
  zeros,
  ones,
  full,
  zerosLike,
  onesLike,
  fullLike,
  arange,
  linspace,
  eye,
  type NestedArray,
  type CreateOptions,
} from './ops/creation.ts';
export {
  add,
  sub,
  mul,
  div,
  pow,
  where,
  fma,
  clamp,
  leakyRelu,
  unary,
  binary,
  type TensorLike,
} from './ops/elementwise.ts';
export type { Dims } from './tensor.ts';
export {
  sum,
  mean,
  max,
  min,
  amax,
  amin,
  argmax,
  argmin,
  gather,
  indexSelect,
  cumsum,
  logsumexp,
  softmax,
  logSoftmax,
} from './ops/reduce.ts';
export {
  reshape,
  permute,
  transpose,
  slice,
  concat,
  concat as cat,
  stack,
  pad,
  broadcastTo,
  squeeze,
  unsqueeze,
  flatten,
  detach,
} from './ops/movement.ts';
export { matmul, bmm } from './ops/matmul.ts';
export {
  conv2d,
  convTranspose2d,
  conv2dInput,
  conv2dWeight,
  type Conv2dOptions,
  type ConvTranspose2dOptions,
  type ConvPadding,
  type Pair,
} from './ops/conv.ts';
export { rand, randn, uniform, normal, bernoulliMask, randomBits, randint, type RandomOptions } from './ops/random.ts';
export { Generator, defaultGenerator, manualSeed } from './random/philox.ts';
export { backward, noGrad, enableGrad, isGradEnabled } from './autograd/engine.ts';
export { compile, type Compiled, type CompileOptions, type CompileStats } from './graph/compile.ts';
export {
  memoryStats,
  emptyCache,
  profile,
  sync,
  shutdown,
  backendInfo,
  aluPeak,
  kernelChoices,
  setKernelChoices,
  KERNEL_VARIANTS,
  gpuInstance,
} from './runtime.ts';
export { formatProfile, type KernelStats } from './device/profiler.ts';
export { gradcheck, type GradcheckResult } from './autograd/gradcheck.ts';
/**
 * torch.nn for this runtime: {@link nn.Module} and the layers, the losses as modules, initializers
 * ({@link nn.init}), the optimizers (SGD, Adam, AdamW), learning-rate schedulers, gradient clipping and
 * summary().
 *
 * @example
 * ```ts
 * import { nn } from 'wgpu-gen';
 * const model = new nn.Sequential(
 *   new nn.Linear(784, 256), new nn.ReLU(),
 *   new nn.Linear(256, 10),
 * );
 * const opt = new nn.AdamW(model.parameters(), { lr: 1e-3 });
 * ```
 */
export * as nn from './nn/index.ts';
/**
 * torch.nn.functional for this runtime: activations (gelu, silu, elu, softplus), linear, the
 * normalizations, dropout, pooling, interpolation and the losses, as functions of tensors.
 *
 * @example
 * ```ts
 * import { F } from 'wgpu-gen';
 * const h = F.gelu(F.linear(x, w, b));
 * const loss = F.crossEntropy(logits, labels);
 * ```
 */
export * as F from './ops/functional.ts';
export { reparameterize } from './ops/functional.ts';
