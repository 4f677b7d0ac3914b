// compile(fn): a function of tensors traced once per input signature and replayed after, in the manner
// of jax.jit and torch.compile, e.g. a whole training step (forward, backward, optimizer updates):
//   const step = compile((batch, noise) => model.trainStep(batch, noise));
//
// Calls with a new signature (tensor shapes, and the identity of every non-tensor object argument, such
// as a Generator; numbers and strings by value) go through three states, as TinyJit's
// (tinygrad/engine/jit.py, which captures on the second call):
//   1st call  eager: fn runs as written. State made lazily on a first step (optimizer moments, finite
//             flags) then exists before the trace, and kernel measurements start.
//   2nd call  traced: fn runs once with the one dispatch point recording (src/graph/trace.ts) into a
//             graph over the call's input tensors and the state it reads and writes; the graph is
//             built into a Program (src/graph/program.ts: dead code, constants, liveness, then a
//             recording on WebGPU) and run, so this call returns its values too.
//   later     replayed: the per-call work (random counters, optimizer step counts, learning rates) runs
//             on the host, then the recorded kernels run in one submit; no op-level JavaScript.
// The cache holds at most `maxSignatures` signatures (8 by default), least recently used out first.
//
// What a traced function may not do, with the error it gets: read values back (item(), toArray(): no
// values exist while tracing, so it cannot branch on data either), return a Promise (a compiled function
// is synchronous), or return anything but tensors (in arrays or plain objects). Its non-tensor results
// would be trace-time constants.
//
// What a replay checks: that the state it updates is still the tensors' (a loadState() that replaced
// optimizer moments, a disposed parameter: then the signature starts again from an eager call), and
// that the kernel variants it recorded are still the tuner's (a measurement that finished after the
// recording picked another: the graph is recorded again, without a retrace).
//
// Gradients: after a call, each tensor's .grad is what the eager step leaves there (the last gradient
// the step computed for it). On WebGPU these are tensors over the recording's own buffers, which the next
// call overwrites in place (disposing one frees nothing); on the CPU, each call's new storages.

import { Tensor, borrowedTensor, isTracing, setTracer } from '../tensor.ts';
import { Program, type Graph } from './program.ts';
import { Tracer, isSymbolic, type SymbolicStorage } from './trace.ts';
import type { Backend, Storage } from '../backend/backend.ts';
import type { DType, StorageHold } from './types.ts';

export interface CompileOptions {
  /** Input signatures kept (each holds its recording's buffers); default 8. */
  maxSignatures?: number;
}

export interface CompileStats {
  eagerCalls: number;
  traces: number;
  replays: number;
  /** Recordings made again because the tuner changed a kernel choice. */
  rerecords: number;
  /** Kernel dispatches per call of the most recently built signature (ops per call on the CPU). */
  dispatches: number;
  /** Bytes the most recently built signature owns between calls (its buffers). */
  bytes: number;
  signatures: number;
}

export type Compiled<A extends unknown[], R> = ((...args: A) => R) & {
  readonly stats: CompileStats;
  /** Frees every signature's program (the next call starts again from an eager call). */
  dispose(): void;
};

interface Entry {
  /** new: the next call runs eagerly; warm: the next call traces; compiled: calls replay. */
  state: 'new' | 'warm' | 'compiled';
  graph?: Graph;
  program?: Program;
  backend?: Backend;
  holds?: StorageHold[];
  /** The result's structure with output k at each tensor leaf, and output k's shape. */
  result?: unknown;
  shapes?: number[][];
  dtypes?: DType[];
  /** The gradients the step leaves on tensors: which tensor, of what shape (graph.pinned in order). */
  grads?: { tensor: Tensor; shape: number[] }[];
}

const OUT = Symbol('output');
interface OutLeaf { [OUT]: number }

let nextObjectId = 0;
const objectIds = new WeakMap<object, number>();

export function compile<A extends unknown[], R>(fn: (...args: A) => R, opts: CompileOptions = {}): Compiled<A, R> {
  const maxSignatures = opts.maxSignatures ?? 8;
  if (!Number.isInteger(maxSignatures) || maxSignatures < 1) throw new Error(`compile: maxSignatures must be a positive integer, got ${maxSignatures}`);
  const cache = new Map<string, Entry>();
  const stats: CompileStats = { eagerCalls: 0, traces: 0, replays: 0, rerecords: 0, dispatches: 0, bytes: 0, signatures: 0 };

  /** A program's borrowed gradients go with it (their buffers return to the pool). */
  const dropGrads = (e: Entry) => {
    if (!e.program?.recorded) return;
    for (const { tensor } of e.grads ?? []) {
      if (tensor.grad && borrowed.has(tensor.grad)) {
        tensor.grad.dispose();
        tensor.grad = null;
      }
    }
  };
  const drop = (e: Entry) => {
    dropGrads(e);
    e.program?.dispose();
    for (const h of e.holds ?? []) h.release();
    e.state = 'new';
    e.graph = e.program = e.backend = e.holds = e.result = e.shapes = e.dtypes = e.grads = undefined;
  };
  /** Gradient tensors over a recording's buffers (the next call overwrites them). */
  const borrowed = new WeakSet<Tensor>();
  /** After a call: the gradients on their tensors, as the eager step leaves them. */
  const setGrads = (e: Entry, pinned: Storage[]) => {
    const recorded = e.program!.recorded;
    // One gradient may be left on two tensors (the engine gives both leaves of a + b the same one).
    const made = new Map<Storage, Tensor>();
    e.grads!.forEach(({ tensor, shape }, k) => {
      if (recorded && tensor.grad && borrowed.has(tensor.grad) && tensor.grad.storage === pinned[k]) return;
      tensor.grad?.dispose();
      const same = made.get(pinned[k]);
      if (same) tensor.grad = same.viewAs(shape);
      else if (recorded) tensor.grad = borrowedTensor(e.backend!, pinned[k], shape);
      else tensor.grad = new Tensor(e.backend!, pinned[k], shape);
      if (recorded) borrowed.add(tensor.grad);
      made.set(pinned[k], tensor.grad);
    });
  };
  const finish = (e: Entry, traced: boolean, inputs: Tensor[]): R => {
    const { outputs, pinned } = e.program!.run(uniqueStorages(inputs), traced);
    setGrads(e, pinned);
    return results(e, outputs);
  };

  const build = (g: Graph, backend: Backend, inputs: Tensor[]): Program => {
    const p = new Program(g, backend, uniqueStorages(inputs));
    if (typeof process !== 'undefined' && process.env?.WGPU_DEBUG === '1') {
      console.error(`[wgpu-gen] compiled ${fn.name || 'a function'}: ${p.dispatches} dispatches per call\n${p.describe().join('\n')}`);
    }
    stats.dispatches = p.dispatches;
    stats.bytes = p.bytes;
    return p;
  };

  const call = (...args: A): R => {
    // Inside another compiled function's trace: part of that trace.
    if (isTracing()) return fn(...args);
    const tensors: Tensor[] = [];
    const key = signature(args, tensors);
    let entry = cache.get(key);
    if (entry) {
      cache.delete(key);
      cache.set(key, entry);
    } else {
      cache.set(key, (entry = { state: 'new' }));
      while (cache.size > maxSignatures) {
        const [k, old] = cache.entries().next().value as [string, Entry];
        drop(old);
        cache.delete(k);
      }
    }
    stats.signatures = cache.size;
    // State replaced since the trace (its tensors all disposed): start again.
    if (entry.state === 'compiled' && entry.holds!.some((h) => h.orphaned)) drop(entry);
    if (entry.state === 'new') {
      stats.eagerCalls++;
      const r = fn(...args);
      entry.state = 'warm';
      return r;
    }
    if (entry.state === 'warm') return trace(entry, args, tensors);
    if (entry.program!.stale()) {
      dropGrads(entry);
      entry.program!.dispose();
      entry.program = build(entry.graph!, entry.backend!, tensors);
      stats.rerecords++;
    }
    stats.replays++;
    return finish(entry, false, tensors);
  };

  const trace = (entry: Entry, args: A, tensors: Tensor[]): R => {
    const tracer = new Tracer<Tensor>();
    const placeholders = tensors.map((t) => t);
    const outputs: Tensor[] = [];
    const grads: { tensor: Tensor; shape: number[]; value: Storage }[] = [];
    let structure: unknown;
    let graph: Graph;
    setTracer(tracer);
    try {
      const map = new Map<Tensor, Tensor>();
      // Arguments that share a storage (a tensor and its view) get placeholders that share one too.
      const byStorage = new Map<Storage, Tensor>();
      tensors.forEach((t, k) => {
        const first = byStorage.get(t.storage);
        const ph = first ? first.viewAs([...t.shape], t.dtype) : new Tensor(t.backend, tracer.value(t.size), [...t.shape], t.dtype);
        if (!first) byStorage.set(t.storage, ph);
        ph.requiresGrad = t.requiresGrad;
        map.set(t, ph);
        placeholders[k] = ph;
      });
      const result = fn(...(substitute(args, map) as A));
      if (result instanceof Promise) {
        result.catch(() => {});
        throw new Error('compile: the function returned a Promise; a compiled function must be synchronous (it cannot await readbacks)');
      }
      structure = collectOutputs(result, outputs);
      for (const t of tracer.seen) if (t.grad && isSymbolic(t.grad.storage)) grads.push({ tensor: t, shape: [...t.grad.shape], value: t.grad.storage });
      for (const t of tensors) {
        if (tracer.externals.has(t.storage)) {
          throw new Error(`compile: an argument tensor of shape [${t.shape.join(', ')}] is also used directly by the function (as state it closes over); pass it one way only`);
        }
      }
      graph = {
        ops: tracer.ops, inputs: uniqueStorages(placeholders) as SymbolicStorage[], outputs: outputs.map((t) => t.storage),
        pinned: grads.map((g) => g.value),
      };
    } catch (e) {
      tracer.release();
      throw e;
    } finally {
      setTracer(null);
      // What the trace made goes: gradients it left on state, and every traced tensor (the returned ones
      // too: the caller gets new tensors over the program's outputs).
      for (const t of tracer.seen) if (t.grad && isSymbolic(t.grad.storage)) t.grad = null;
      for (const t of tracer.created) t.dispose();
    }
    const holds = [...tracer.externals.values()];
    const backend = tensors[0]?.backend ?? [...tracer.seen][0]?.backend ?? sourceBackend(graph);
    let program: Program;
    try {
      if (!backend) throw new Error('compile: the function uses no tensor');
      program = build(graph, backend, tensors);
    } catch (e) {
      for (const h of holds) h.release();
      throw e;
    }
    Object.assign(entry, {
      state: 'compiled', graph, program, backend, holds, result: structure, shapes: outputs.map((t) => [...t.shape]), dtypes: outputs.map((t) => t.dtype),
      grads: grads.map(({ tensor, shape }) => ({ tensor, shape })),
    });
    stats.traces++;
    return finish(entry, true, tensors);
  };

  const compiled = call as Compiled<A, R>;
  Object.defineProperty(compiled, 'stats', { get: () => ({ ...stats }) });
  compiled.dispose = () => {
    for (const e of cache.values()) drop(e);
    cache.clear();
    stats.signatures = 0;
  };
  return compiled;
}

/** The distinct storages of `tensors`, in order (the graph's inputs). */
function uniqueStorages(tensors: Tensor[]): Storage[] {
  return [...new Set(tensors.map((t) => t.storage))];
}

/** A source op's backend (a graph without tensor inputs or state, e.g. one that only draws). */
function sourceBackend(g: Graph): Backend | undefined {
  for (const op of g.ops) if (op.kind === 'prim' && 'backend' in (op.params as object)) return (op.params as { backend: Backend }).backend;
  return undefined;
}

/** The cache key of a call's arguments; collects their tensors (each once, in order). */
function signature(args: unknown[], tensors: Tensor[]): string {
  const parts: string[] = [];
  const seen = new Set<Tensor>();
  const storages = new Map<Storage, number>();
  const walk = (v: unknown): void => {
    if (v instanceof Tensor) {
      if (v.isDisposed) throw new Error(`compile: argument tensor #${v.id} of shape [${v.shape.join(', ')}] was disposed`);
      // Which distinct storage it is: aliasing between arguments is part of the signature.
      const k = storages.get(v.storage) ?? storages.size;
      storages.set(v.storage, k);
      parts.push(`T${v.backend.name}[${v.shape.join(',')}]${v.dtype === 'int32' ? 'i' : ''}${v.requiresGrad ? 'g' : ''}@${k}`);
      if (!seen.has(v)) {
        seen.add(v);
        tensors.push(v);
      }
    } else if (Array.isArray(v)) {
      parts.push('[');
      v.forEach(walk);
      parts.push(']');
    } else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      parts.push('{');
      for (const [k, x] of Object.entries(v)) {
        parts.push(k, ':');
        walk(x);
      }
      parts.push('}');
    } else if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
      let id = objectIds.get(v);
      if (id === undefined) objectIds.set(v, (id = nextObjectId++));
      parts.push(`#${id}`);
    } else {
      parts.push(typeof v === 'string' ? JSON.stringify(v) : String(v));
    }
    parts.push(',');
  };
  args.forEach(walk);
  return parts.join('');
}

/** The arguments with each tensor replaced by its placeholder (arrays and plain objects rebuilt). */
function substitute(v: unknown, map: Map<Tensor, Tensor>): unknown {
  if (v instanceof Tensor) return map.get(v)!;
  if (Array.isArray(v)) return v.map((x) => substitute(x, map));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, map)]));
  }
  return v;
}

/** The result's structure with an output leaf per tensor (appended to `outputs`); anything else throws. */
function collectOutputs(r: unknown, outputs: Tensor[]): unknown {
  if (r instanceof Tensor) {
    outputs.push(r);
    return { [OUT]: outputs.length - 1 } satisfies OutLeaf;
  }
  if (r === undefined || r === null) return r;
  if (Array.isArray(r)) return r.map((x) => collectOutputs(x, outputs));
  if (typeof r === 'object' && Object.getPrototypeOf(r) === Object.prototype) {
    return Object.fromEntries(Object.entries(r).map(([k, x]) => [k, collectOutputs(x, outputs)]));
  }
  throw new Error(`compile: the function returned a ${typeof r} (${String(r).slice(0, 40)}); a compiled function returns tensors ` +
    '(or arrays and plain objects of them): other values would be fixed at trace time');
}

/** The result of a compiled call: the structure with new tensors over the output storages. */
function results(entry: Entry, values: Storage[]): never {
  const build = (s: unknown): unknown => {
    if (s !== null && typeof s === 'object' && OUT in (s as object)) {
      const k = (s as OutLeaf)[OUT];
      return new Tensor(entry.backend!, values[k], entry.shapes![k], entry.dtypes![k]);
    }
    if (Array.isArray(s)) return s.map(build);
    if (s !== null && typeof s === 'object') return Object.fromEntries(Object.entries(s).map(([k, x]) => [k, build(x)]));
    return s;
  };
  return build(entry.result) as never;
}
