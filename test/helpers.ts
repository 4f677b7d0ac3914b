// Test helpers: the two backends (the WebGPU one on whatever adapter Dawn gives: SwiftShader in CI,
// never skipped) and forEachBackend, which declares a suite's tests once on each; seeded random inputs
// (randomData for tensors, randomInput for gradcheck); and comparison with the CPU reference. Shared by
// the Node and the Chromium runs (vitest.browser.config.ts), so nothing here imports a Node module.

import { afterAll, expect } from 'vitest';
import { CpuBackend, tensor, type Backend, type Tensor } from '../src/index.ts';
import { WebGPUBackend } from '../src/backend/webgpu/index.ts';

let gpu: Promise<WebGPUBackend> | null = null;

/** The WebGPU backend of this test file (one device per file). Fails, never skips, without an adapter. */
export function getGpu(): Promise<WebGPUBackend> {
  if (!gpu) {
    gpu = WebGPUBackend.create({ quiet: true });
    afterAll(async () => (await gpu!).dispose());
  }
  return gpu;
}

export const cpu = new CpuBackend();

/** The backends every suite runs on: the CPU reference and this file's WebGPU device. */
export const BACKENDS = ['cpu', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** The backend of that name: `cpu`, or getGpu()'s device (an error, never a skip, without an adapter). */
export function backendOf(name: BackendName): Promise<Backend> {
  return name === 'cpu' ? Promise.resolve(cpu) : getGpu();
}

/**
 * Declares tests once per backend: `fn` runs while the file is collected, with the backend's name (for
 * the test titles) and a getter to await inside the tests, so the WebGPU device is made by the first test
 * that needs it, not at collection.
 */
export function forEachBackend(fn: (name: BackendName, backend: () => Promise<Backend>) => void): void {
  for (const name of BACKENDS) fn(name, () => backendOf(name));
}

/** A small deterministic PRNG for test inputs (mulberry32); the seed is printed on failure by name. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fresh inputs each run; the seed goes into test names via this constant so failures reproduce. */
export const RUN_SEED = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** `n` uniform values in [lo, hi) from `seed` and RUN_SEED (a plain loop: some inputs have 16M elements). */
export function randomData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed ^ RUN_SEED),
    out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/**
 * A gradcheck input: `shape` and its uniform values in [lo, hi) in float64, from `seed` alone: the same
 * every run (a gradcheck's finite differences meet the kinks of relu, abs and max at fixed places); pass
 * `seed ^ RUN_SEED` for fresh values each run, as randomData's.
 */
export function randomInput(shape: number[], seed: number, lo = -1, hi = 1): { shape: number[]; data: number[] } {
  const r = rng(seed);
  return { shape, data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * r()) };
}

/** The same data as a tensor on each backend. */
export function pair(shape: number[], seed: number, gpuB: Backend, lo = -1, hi = 1): [Tensor, Tensor] {
  const data = randomData(
    shape.reduce((a, b) => a * b, 1),
    seed,
    lo,
    hi,
  );
  return [tensor(data, shape, { backend: cpu }), tensor(data, shape, { backend: gpuB })];
}

/** Asserts two tensors match elementwise within atol + rtol * |expected| (NaN matches NaN). */
export async function expectClose(
  actual: Tensor,
  expected: Tensor,
  atol = 1e-5,
  rtol = 1e-4,
  what = '',
): Promise<void> {
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  const a = await actual.toArray(),
    e = await expected.toArray();
  let worst = -1,
    worstErr = 0;
  for (let i = 0; i < e.length; i++) {
    if (Number.isNaN(e[i]) && Number.isNaN(a[i])) continue;
    if (e[i] === a[i]) continue;
    const err = Math.abs(a[i] - e[i]) - (atol + rtol * Math.abs(e[i]));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = Number.isNaN(err) ? Infinity : err;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${what} mismatch at flat index ${worst}: got ${a[worst]}, expected ${e[worst]} (atol ${atol}, rtol ${rtol}, seed ${RUN_SEED})`,
    );
  }
}
