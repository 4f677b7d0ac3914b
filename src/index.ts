// Public API, with PyTorch's names and argument order where one exists.

export { Tensor, tidy, keep, liveTensorCount } from './tensor.ts';
export { INT32_EXACT, type DType } from './graph/types.ts';
export type { Backend, Storage } from './backend/backend.ts';
export { init, createBackend, getBackend, setBackend, withBackend, type InitOptions, type BackendName } from './backend/registry.ts';
export { CpuBackend } from './backend/cpu/index.ts';
export { tensor, zeros, ones, full, zerosLike, onesLike, fullLike, arange, linspace, eye, type NestedArray, type CreateOptions } from './ops/creation.ts';
export { add, sub, mul, div, pow, where, fma, clamp, leakyRelu, unary, binary, type TensorLike } from './ops/elementwise.ts';
export { sum, mean, max, min, amax, amin, argmax, argmin, gather, indexSelect, cumsum, logsumexp, softmax, logSoftmax } from './ops/reduce.ts';
export { reshape, permute, transpose, slice, concat, concat as cat, stack, pad, broadcastTo, squeeze, unsqueeze, flatten, detach } from './ops/movement.ts';
export { matmul, bmm } from './ops/matmul.ts';
export { conv2d, convTranspose2d, conv2dInput, conv2dWeight, type Conv2dOptions, type ConvTranspose2dOptions, type ConvPadding } from './ops/conv.ts';
export { rand, randn, uniform, normal, bernoulliMask, randomBits, randint, type RandomOptions } from './ops/random.ts';
export { Generator, defaultGenerator, manualSeed } from './random/philox.ts';
export { backward, noGrad, enableGrad, isGradEnabled } from './autograd/engine.ts';
export { compile, type Compiled, type CompileOptions, type CompileStats } from './graph/compile.ts';
export { memoryStats, emptyCache, profile, sync, shutdown, backendInfo, aluPeak, kernelChoices, setKernelChoices, KERNEL_VARIANTS, gpuInstance } from './runtime.ts';
export { formatProfile, type KernelStats } from './device/profiler.ts';
export { gradcheck, type GradcheckResult } from './autograd/gradcheck.ts';
export * as nn from './nn/index.ts';
export * as F from './ops/functional.ts';
export { reparameterize } from './ops/functional.ts';
