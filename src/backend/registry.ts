// The current backend. init() creates one (WebGPU by default, or the CPU reference); tensors are made
// on the current backend unless told otherwise.

import type { Backend } from './backend.ts';
import { CpuBackend } from './cpu/index.ts';
import type { AcquireOptions } from '../device/gpu.ts';

/** The backends init() can make: 'webgpu' (the default) or 'cpu', the naive reference. */
export type BackendName = 'webgpu' | 'cpu';

let current: Backend | null = null;

/**
 * init()'s and createBackend()'s options: which backend, and for WebGPU which adapter (in Node: a real
 * GPU or SwiftShader) with Dawn's flags.
 */
export interface InitOptions extends AcquireOptions {
  /** 'webgpu' or 'cpu' (default: WGPU_BACKEND in Node when set, else 'webgpu'). */
  backend?: BackendName;
}

/**
 * The backend init() makes when told none: WGPU_BACKEND in Node (webgpu or cpu: a script's backend
 * chosen from outside, as the docs' examples are run on both), else WebGPU.
 */
function defaultBackend(): BackendName {
  const env = typeof process !== 'undefined' ? process.env?.WGPU_BACKEND : undefined;
  if (env === undefined || env === '') return 'webgpu';
  if (env !== 'webgpu' && env !== 'cpu') throw new Error(`WGPU_BACKEND=${env}: use webgpu or cpu`);
  return env;
}

/**
 * Creates a backend without making it current (init() does both): a second device, or the CPU
 * reference beside WebGPU, whose tensors are made with the `backend` option.
 * @throws Error for an unknown backend name, or when WebGPU is unavailable (in Node: the optional
 * `webgpu` package is missing, or no adapter is found).
 */
export async function createBackend(opts: InitOptions = {}): Promise<Backend> {
  const name = opts.backend ?? defaultBackend();
  if (name === 'cpu') return new CpuBackend();
  if (name === 'webgpu') {
    const { WebGPUBackend } = await import('./webgpu/index.ts');
    return WebGPUBackend.create(opts);
  }
  throw new Error(`unknown backend '${name as string}': use 'webgpu' or 'cpu'`);
}

/**
 * Creates a backend and makes it current: call it once before making tensors. WebGPU by default (in
 * Node through Dawn, the optional `webgpu` package, on a real GPU or SwiftShader), or the CPU reference
 * with `{ backend: 'cpu' }`.
 * @throws Error as createBackend().
 * @example
 * ```ts
 * import { init, shutdown } from 'wgpu-gen';
 * const backend = await init();                 // WebGPU
 * console.log(backend.description);
 * // ... train ...
 * shutdown();                                   // lets Node exit
 *
 * await init({ backend: 'cpu' });               // or the CPU reference
 * ```
 */
export async function init(opts: InitOptions = {}): Promise<Backend> {
  const b = await createBackend(opts);
  current = b;
  return b;
}

/** Makes `b` (from init() or createBackend()) the current backend, where tensors are made unless told otherwise. */
export function setBackend(b: Backend): void {
  current = b;
}

/**
 * The current backend. Before any init() it is the CPU reference, said once on stderr: a script that
 * forgot `await init()` would otherwise run on the CPU without a word (and far slower than it should).
 */
export function getBackend(): Backend {
  if (!current) {
    current = new CpuBackend();
    console.warn(
      '[wgpu-gen] no init() before the first tensor: using the CPU reference backend. ' +
        "Call `await init()` first for WebGPU, or `await init({ backend: 'cpu' })` to choose the CPU (and silence this).",
    );
  }
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

/**
 * The error of op `op` whose operands `names` (e.g. 'input 0', 'input 2') live on backends a and b: of
 * two kinds, or two instances of one kind (a tensor from before init() or createBackend() made a new
 * device). Only on the error path.
 */
export function mixedBackendsError(op: string, a: Backend, b: Backend, names: [string, string]): Error {
  const fix =
    'a tensor cannot move between them: make it again on the current backend, e.g. tensor(await t.toArray(), t.shape)';
  if (a.name !== b.name)
    return new Error(`${op}: ${names[0]} is on the ${a.name} backend and ${names[1]} on the ${b.name} backend; ${fix}`);
  const old = current === a ? names[1] : current === b ? names[0] : null;
  const which = old
    ? `${old} is from a previous ${a.name} device or backend instance, made before init() or createBackend() made the current one`
    : `neither is the current backend (init() or createBackend() made another since)`;
  return new Error(
    `${op}: ${names[0]} and ${names[1]} are on two different ${a.name} backend instances: ${which}; ${fix}`,
  );
}
