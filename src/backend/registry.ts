// The current backend. init() creates one (WebGPU by default, or the CPU reference); tensors are made
// on the current backend unless told otherwise.

import type { Backend } from './backend.ts';
import { CpuBackend } from './cpu/index.ts';
import type { AcquireOptions } from '../device/gpu.ts';

export type BackendName = 'webgpu' | 'cpu';

let current: Backend | null = null;

export interface InitOptions extends AcquireOptions {
  backend?: BackendName;
}

export async function createBackend(opts: InitOptions = {}): Promise<Backend> {
  const name = opts.backend ?? 'webgpu';
  if (name === 'cpu') return new CpuBackend();
  if (name === 'webgpu') {
    const { WebGPUBackend } = await import('./webgpu/index.ts');
    return WebGPUBackend.create(opts);
  }
  throw new Error(`unknown backend '${name as string}': use 'webgpu' or 'cpu'`);
}

/** Creates a backend and makes it current. */
export async function init(opts: InitOptions = {}): Promise<Backend> {
  const b = await createBackend(opts);
  current = b;
  return b;
}

export function setBackend(b: Backend): void {
  current = b;
}

export function getBackend(): Backend {
  if (!current) current = new CpuBackend();
  return current;
}

/** Runs fn with b as the current backend (until the promise settles, for an async fn). */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = current;
  current = b;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    current = prev;
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => (current = prev)) as T;
  current = prev;
  return result;
}
