// Process-level helpers: memory statistics, profiling a block of work, waiting for the device, and
// shutting down so that Node exits.

import { getBackend } from './backend/registry.ts';
import { liveTensorCount } from './tensor.ts';
import type { Backend } from './backend/backend.ts';
import type { KernelStats } from './device/profiler.ts';
import type { WebGPUBackend } from './backend/webgpu/index.ts';

export function memoryStats(backend: Backend = getBackend()) {
  const m = backend.memory();
  return { liveTensors: liveTensorCount(), liveBytes: m.liveBytes, pooledBytes: m.pooledBytes };
}

export const sync = (backend: Backend = getBackend()) => backend.sync();

export function backendInfo(backend: Backend = getBackend()) {
  const gpu = backend.name === 'webgpu' ? (backend as WebGPUBackend) : null;
  return {
    name: backend.name,
    description: backend.description,
    software: gpu ? gpu.ctx.isSoftware : true,
    timestampQuery: gpu ? gpu.ctx.hasTimestamps : false,
  };
}

/**
 * Profiles the GPU kernels run by fn (awaited): returns per-kernel count, total and median time,
 * GFLOP/s and GB/s. On the CPU backend there are no kernels to time and the table is empty.
 */
export async function profile<T>(fn: () => T | Promise<T>, backend: Backend = getBackend()): Promise<{ result: T; kernels: KernelStats[] }> {
  if (backend.name !== 'webgpu') return { result: await fn(), kernels: [] };
  const ctx = (backend as WebGPUBackend).ctx;
  ctx.flush();
  ctx.profiler.start();
  try {
    const result = await fn();
    await ctx.sync();
    return { result, kernels: await ctx.profiler.stop() };
  } catch (e) {
    await ctx.profiler.stop();
    throw e;
  }
}

/**
 * Destroys the backend's device so a Node process can exit. Pending work (and matmul measurements in
 * flight) may be cut short: await sync() first to finish it.
 */
export function shutdown(backend: Backend = getBackend()): void {
  backend.dispose();
}
