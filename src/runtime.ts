// Process-level helpers: memory statistics and emptyCache(), profiling a block of work, waiting for the
// device, and shutting down so that Node exits.

import { getBackend } from './backend/registry.ts';
import { liveTensorCount } from './tensor.ts';
import type { Backend } from './backend/backend.ts';
import type { KernelStats } from './device/profiler.ts';
import { MATMUL_VARIANTS, CONV_VARIANTS } from './backend/webgpu/tuner.ts';

/**
 * Memory in use: live tensors (on every backend), and the bytes of the backend's live storages and of
 * the free buffers its pool keeps for reuse (WebGPU; see emptyCache()).
 * @example
 * ```ts
 * const { liveTensors, liveBytes, pooledBytes } = memoryStats();
 * ```
 */
export function memoryStats(backend: Backend = getBackend()) {
  const m = backend.memory();
  return { liveTensors: liveTensorCount(), liveBytes: m.liveBytes, pooledBytes: m.pooledBytes };
}

/**
 * Waits until the device has finished the work queued so far (a no-op on the CPU): for timing, and
 * before shutdown(). It also reports, once, an error the device raised meanwhile (an allocation it
 * could not make).
 */
export const sync = (backend: Backend = getBackend()) => backend.sync();

/**
 * Frees the buffers the WebGPU pool keeps for reuse (live tensors stay), like torch.cuda.empty_cache();
 * returns the bytes freed (0 on the CPU backend, which pools nothing).
 */
export function emptyCache(backend: Backend = getBackend()): number {
  return backend.gpu?.ctx.emptyCache() ?? 0;
}

/**
 * The backend in words: its name, the device's description, whether it is a software rasterizer
 * (SwiftShader, or the CPU reference) and whether the adapter has timestamp queries (profile()'s
 * kernel times).
 */
export function backendInfo(backend: Backend = getBackend()) {
  const ctx = backend.gpu?.ctx;
  return {
    name: backend.name,
    description: backend.description,
    software: ctx ? ctx.isSoftware : true,
    timestampQuery: ctx ? ctx.hasTimestamps : false,
  };
}

/**
 * Profiles the GPU kernels run by fn (awaited): returns per-kernel count, total and median time,
 * GFLOP/s and GB/s, from timestamp queries where the adapter has them (cpuTiming: true forces the
 * fallback: one submit per dispatch, timed between onSubmittedWorkDone callbacks). On the CPU backend
 * there are no kernels to time and the table is empty.
 */
export async function profile<T>(
  fn: () => T | Promise<T>,
  backend: Backend = getBackend(),
  opts: { cpuTiming?: boolean } = {},
): Promise<{ result: T; kernels: KernelStats[] }> {
  const ctx = backend.gpu?.ctx;
  if (!ctx) return { result: await fn(), kernels: [] };
  ctx.flush();
  ctx.profiler.start(opts);
  try {
    const result = await fn();
    await ctx.sync();
    return { result, kernels: await ctx.profiler.stop() };
  } catch (e) {
    // fn's error (or the device's) is the one to report; the timings are moot then.
    await ctx.profiler.stop().catch(() => undefined);
    // Dawn rejects pending work with a bare AbortError when the device is destroyed under it.
    if (e instanceof Error && e.name === 'AbortError') {
      throw new Error(
        'profile: the device was destroyed (shutdown()) before the profiled work finished: await profile(...) before shutdown()',
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * Destroys the backend's device so a Node process can exit. Pending work (and matmul measurements in
 * flight) may be cut short: await sync() first to finish it. What is cut short leaves no unhandled
 * rejection: a profile() in progress rejects with an error saying the device was destroyed, and the
 * readbacks of a finished one (or of a background measurement) are dropped quietly.
 */
export function shutdown(backend: Backend = getBackend()): void {
  backend.dispose();
}

/**
 * The adapter's arithmetic ceiling in GFLOP/s: shaders/alu_probe.wgsl, independent vec4 multiply-adds
 * in registers with no memory traffic, timed over a large dispatch. Null on the CPU backend.
 */
export async function aluPeak(
  backend: Backend = getBackend(),
  opts: { iters?: number; groups?: number } = {},
): Promise<number | null> {
  const ctx = backend.gpu?.ctx;
  if (!ctx) return null;
  const iters = opts.iters ?? 2048,
    groups = opts.groups ?? 1024,
    wg = 64;
  const out = ctx.pool.acquire(groups * wg * 16, 'alu probe');
  const uniforms = new Uint32Array([iters, 0, 0, 0]).buffer;
  const run = () =>
    ctx.dispatch({
      kernel: 'alu_probe',
      buffers: [out],
      uniforms,
      workgroups: [groups],
      flops: groups * wg * iters * 64,
    });
  await ctx.timeGpu(run); // warm-up: pipeline creation
  let best = Infinity;
  for (let i = 0; i < 3; i++) best = Math.min(best, await ctx.timeGpu(run));
  ctx.pool.release(out);
  return (groups * wg * iters * 64) / (best / 1e3) / 1e9;
}

/**
 * The tuner's shape classes: those it measured (ms per variant, and the one chosen) and those fixed by
 * setKernelChoices (no timings), so that a resumed run's checkpoint saves the choices it resumed with
 * as well as the ones it made (before, it saved only the latter, and a second resume measured again).
 */
export function kernelChoices(
  backend: Backend = getBackend(),
): { key: string; timings: Record<string, number>; chosen: string }[] {
  const t = backend.gpu?.tuner;
  if (!t) return [];
  const keys = new Set([...t.timings.keys(), ...t.choices.keys()]);
  return [...keys].map((key) => ({
    key,
    timings: (t.timings.get(key) ?? {}) as Record<string, number>,
    chosen: t.choices.get(key) ?? '',
  }));
}

/** The navigator.gpu object (Dawn's instance in Node) the backend's device came from, to share with a peer runtime. */
export function gpuInstance(backend: Backend = getBackend()): GPU | null {
  return backend.gpu?.ctx.gpu ?? null;
}

/** The names of the GEMM and convolution kernel variants the tuner chooses among (setKernelChoices takes them). */
export const KERNEL_VARIANTS: readonly string[] = [...new Set<string>([...MATMUL_VARIANTS, ...CONV_VARIANTS])];

/**
 * What is wrong with choosing `variant` for the tuner's shape class `key`, as the end of a sentence
 * about the choice ("is not a kernel variant (...)"), or null where it may be chosen. A class's key ends
 * with the variants its shapes allow (`mm:...:vec4+reg+tiled`; vec4 needs sizes of multiples of 4): a
 * choice outside them would run a kernel on shapes it does not handle.
 */
export function kernelChoiceProblem(key: string, variant: string): string | null {
  if (!KERNEL_VARIANTS.includes(variant)) return `is not a kernel variant (${KERNEL_VARIANTS.join(', ')})`;
  const allowed = key.split(':').at(-1)!.split('+');
  const listed = key.includes(':') && allowed.every((v) => KERNEL_VARIANTS.includes(v));
  return listed && !allowed.includes(variant) ? `is not one its shape class allows (${allowed.join(', ')})` : null;
}

/**
 * Fixes the tuner's choices (shape class -> variant), e.g. those saved with a checkpoint, so that a
 * resumed run uses the same kernels as the run it continues (split-K sums in another order than the
 * other variants, which agree bit for bit).
 */
export function setKernelChoices(choices: Record<string, string>, backend: Backend = getBackend()): void {
  // Checked on every backend: an unknown name would otherwise reach the dispatch as a silent fallback.
  for (const [k, v] of Object.entries(choices)) {
    const problem = kernelChoiceProblem(k, v);
    if (problem) throw new Error(`kernel choice '${v}' for ${k} ${problem}`);
  }
  const t = backend.gpu?.tuner;
  if (!t) return;
  for (const [k, v] of Object.entries(choices)) t.choices.set(k, v as never);
}
