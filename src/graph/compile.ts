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
//             built into a Program (the passes of src/graph/passes/, then src/graph/program.ts:
//             liveness and a recording on WebGPU) and run, so this call returns its values too.
//   later     replayed: the per-call work (random counters, optimizer step counts, learning rates) runs
//             on the host, then the recorded kernels run in one submit; no op-level JavaScript.
// The cache holds at most `maxSignatures` signatures (8 by default), least recently used out first.
//
// What a traced function may not do, with the error it gets: read values back (item(), toArray(): no
// values exist while tracing, so it cannot branch on data either), return a Promise (a compiled function
// is synchronous), or return anything but tensors (in arrays or plain objects). Its non-tensor results
// would be trace-time constants.
//
// What a replay checks (guards, as torch.compile's; a call where one fails is traced again, as another
// variant of its signature, so a step used in train and in eval mode keeps one recording per mode):
//   - every module's `training` flag the trace read (train()/eval() switch Dropout and BatchNorm);
//   - every tensor from before the call that the trace read is still alive (a disposed parameter: the
//     call runs eagerly, and throws as eager mode does), and a module's parameter or buffer is still
//     what its attribute holds (`lin.weight = other` is read as eager mode reads it);
//   - each gradient backward() adds to: present (accumulation without zeroGrad; the gradient from
//     before the call is then an input of the step, read anew each call) or absent, as at the trace;
//   - that the state it updates is still the tensors' (a loadState() that replaced optimizer moments:
//     then the signature starts again from an eager call), and that the kernel variants it recorded
//     are still the tuner's (a measurement that finished after the recording picked another: the graph
//     is recorded again, without a retrace).
// What is baked in at the trace, unchecked (jax.jit's rule): JavaScript values the function closes over
// (a number, a flag of one's own object), the JavaScript control flow they steer, and the result's
// structure. Pass such a value as an argument instead: numbers and strings are part of the signature.
//
// A trace that throws: what a traced function may not do (above) is reported as it is. Any other error
// (the function's own) rolls the trace back (generator counters, optimizer step counts, gradients) and
// runs the call eagerly, so the call throws, and leaves the state, as an eager call does; the
// function's JavaScript has then run twice for that call.
//
// Gradients: after a call, each tensor's .grad is what the eager step leaves there (the last gradient
// the step computed for it). On WebGPU these are tensors over the recording's own buffers, which the next
// call overwrites in place (disposing one frees nothing); on the CPU, each call's new storages.

import { Tensor, borrowedTensor, isTracing, keep, setTracer } from '../tensor.ts';
import { setLeafGradHook } from '../autograd/engine.ts';
import { sameShape } from '../shape.ts';
import { Program, type Graph } from './program.ts';
import { TraceError, Tracer, isSymbolic, stateOwners, type Guard, type SymbolicStorage } from './trace.ts';
import type { Backend, Storage } from '../backend/backend.ts';
import type { DType, StorageHold } from './types.ts';
import { phaseClock } from '../device/phases.ts';

/** compile()'s options. */
export interface CompileOptions {
  /** Input signatures kept (each holds its recording's buffers); default 8. */
  maxSignatures?: number;
}

/** What a compiled function has done so far (`step.stats`), for tests and tuning. */
export interface CompileStats {
  /** Calls run eagerly (a new signature's first call, and calls whose trace failed). */
  eagerCalls: number;
  /** Calls that traced the function (one per signature and guard variant, unless a retrace was needed). */
  traces: number;
  /** Calls that replayed a recorded program. */
  replays: number;
  /** Recordings made again because the tuner changed a kernel choice. */
  rerecords: number;
  /** Calls whose signature had a compiled variant but none whose guards held (then traced again). */
  guardMisses: number;
  /** Guards of the most recently traced variant (each replay checks them first). */
  guards: number;
  /** Kernel dispatches per call of the most recently built signature (ops per call on the CPU). */
  dispatches: number;
  /** Bytes the most recently built signature owns between calls (its buffers). */
  bytes: number;
  /** Signatures (and guard variants) held now, at most maxSignatures. */
  signatures: number;
}

/** What compile() returns: the function itself, with its statistics and a dispose() for its recordings. */
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
  /** What the trace assumed of the state outside its graph; a replay needs every one to hold. */
  guards?: Guard[];
  /** The result's structure with output k at each tensor leaf, and output k's shape. */
  result?: unknown;
  shapes?: number[][];
  dtypes?: DType[];
  /** The gradients the step leaves on tensors: which tensor, of what shape (graph.pinned in order). */
  grads?: { tensor: Tensor; shape: number[] }[];
  /** A recorded program's gradient views as the last call left them on their tensors (by grads index). */
  gradsSet?: (Tensor | null)[];
  /**
   * Leaves whose gradient from before the call the step adds to (gradient accumulation, no zeroGrad):
   * `gradInputs` their .grad storages, inputs after the arguments', and `accumulated` the leaves whose
   * new gradients are outputs after the result's (the same leaves, unless the function dropped one).
   */
  gradInputs?: Tensor[];
  accumulated?: { tensor: Tensor; shape: number[] }[];
}

const OUT = Symbol('output');
interface OutLeaf {
  [OUT]: number;
}

let nextObjectId = 0;
const objectIds = new WeakMap<object, number>();

const debug = () => typeof process !== 'undefined' && process.env?.WGPU_DEBUG === '1';

/**
 * A function of tensors traced once per input signature and replayed after, in the manner of jax.jit
 * and torch.compile: typically a whole training step (forward, backward, optimizer updates). The first
 * call with a new signature (tensor shapes and dtypes, numbers and strings by value, other objects by
 * identity) runs eagerly, the second traces fn into a graph, optimizes it and runs it, later calls
 * replay it: on WebGPU one recorded submit with no op-level JavaScript. Random draws, step counts and
 * learning rates are per-call data, so a compiled run computes what an eager one does. At most
 * `maxSignatures` (8) variants are kept, the least recently used out first.
 *
 * @throws Error (TraceError) when the traced fn reads values back (item(), toArray()), returns a
 * Promise, or returns anything but tensors in arrays or plain objects. Any other error of fn rolls the
 * trace back and reruns the call eagerly, so it throws as an eager call would.
 * @example
 * ```ts
 * const step = compile((x: Tensor, y: Tensor) => tidy(() => {
 *   opt.zeroGrad();
 *   const l = F.crossEntropy(model.call(x), y);
 *   l.backward();
 *   opt.step();
 *   return l;
 * }));
 * for (let i = 0; i < 20; i++) step(x, y).dispose();   // 1st call eager, 2nd traced, then replayed
 * console.log(step.stats.replays);                       // 18
 * step.dispose();                                        // frees the recordings
 * ```
 */
export function compile<A extends unknown[], R>(fn: (...args: A) => R, opts: CompileOptions = {}): Compiled<A, R> {
  const maxSignatures = opts.maxSignatures ?? 8;
  if (!Number.isInteger(maxSignatures) || maxSignatures < 1)
    throw new Error(`compile: maxSignatures must be a positive integer, got ${maxSignatures}`);
  /** Per argument signature, its variants: one per set of guards (a module in train and in eval mode). */
  const cache = new Map<string, Entry[]>();
  const stats: CompileStats = {
    eagerCalls: 0,
    traces: 0,
    replays: 0,
    rerecords: 0,
    guardMisses: 0,
    guards: 0,
    dispatches: 0,
    bytes: 0,
    signatures: 0,
  };

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
    e.graph =
      e.program =
      e.backend =
      e.holds =
      e.guards =
      e.result =
      e.shapes =
      e.dtypes =
      e.grads =
      e.gradsSet =
      e.gradInputs =
      e.accumulated =
        undefined;
  };
  const count = () => {
    let n = 0;
    for (const list of cache.values()) n += list.length;
    return n;
  };
  /** Gradient tensors over a recording's buffers (the next call overwrites them). */
  const borrowed = new WeakSet<Tensor>();
  /** After a call: the gradients on their tensors, as the eager step leaves them. */
  const setGrads = (e: Entry, pinned: Storage[]) => {
    const recorded = e.program!.recorded;
    // One gradient may be left on two tensors (the engine gives both leaves of a + b the same one).
    let made: Map<Storage, Tensor> | null = null;
    const grads = e.grads!;
    const set = (e.gradsSet ??= []);
    for (let k = 0; k < grads.length; k++) {
      const { tensor, shape } = grads[k];
      const g = tensor.grad;
      // Still the view over the recording's storage this call wrote (a replay's usual case).
      if (recorded && g !== null && g === set[k] && !g.isDisposed) continue;
      if (recorded && g && borrowed.has(g) && !g.isDisposed && g.storage === pinned[k]) {
        set[k] = g;
        continue;
      }
      g?.dispose();
      const same = made?.get(pinned[k]);
      // Kept out of any tidy() the call is made in (as eager backward() keeps them).
      if (same) tensor.grad = keep(same.viewAs(shape));
      else if (recorded) tensor.grad = keep(borrowedTensor(e.backend!, pinned[k], shape));
      else tensor.grad = keep(new Tensor(e.backend!, pinned[k], shape));
      if (recorded) borrowed.add(tensor.grad);
      (made ??= new Map()).set(pinned[k], tensor.grad);
      set[k] = recorded ? tensor.grad : null;
    }
  };
  /** Runs the program; `grads`: the accumulated gradients' storages (each leaf's .grad, but at the trace). */
  const finish = (e: Entry, traced: boolean, inputs: Tensor[], grads?: Storage[]): R => {
    const acc = e.accumulated!;
    const storages = uniqueStorages(inputs);
    for (const s of grads ?? gradStoragesOf(e)) storages.push(s);
    const { outputs, pinned } = e.program!.run(storages, traced);
    setGrads(e, pinned);
    const n = e.shapes!.length;
    acc.forEach(({ tensor, shape }, k) => {
      tensor.grad?.dispose();
      tensor.grad = keep(new Tensor(e.backend!, outputs[n + k], shape));
    });
    const r = results(e, outputs);
    phaseClock?.mark('results');
    return r;
  };

  const build = (g: Graph, backend: Backend, inputs: Storage[]): Program => {
    const p = new Program(g, backend, inputs);
    if (debug()) {
      console.error(
        `[wgpu-gen] compiled ${fn.name || 'a function'}: ${p.dispatches} dispatches per call\n${p.describe().join('\n')}`,
      );
    }
    stats.dispatches = p.dispatches;
    stats.bytes = p.bytes;
    return p;
  };

  /** The last call's key, tensors and flattened arguments (see sameLeaves). */
  let last: { key: string; tensors: Tensor[]; leaves: unknown[] } | null = null;
  const call = (...args: A): R => {
    // Inside another compiled function's trace: part of that trace.
    if (isTracing()) return fn(...args);
    phaseClock?.start();
    // The same argument objects as the last call's (a training loop's batch and generator): its key,
    // without building it again.
    const lastKey = last?.key;
    let tensors: Tensor[], key: string;
    if (last && sameLeaves(args, last.leaves)) ({ key, tensors } = last);
    else {
      tensors = [];
      const leaves: unknown[] = [];
      key = signature(args, tensors, leaves);
      last = { key, tensors, leaves };
    }
    let list = cache.get(key);
    // Least recently used first out: the key moves to the end, unless it is the last already.
    if (!list || key !== lastKey) {
      if (list) cache.delete(key);
      cache.set(key, (list ??= []));
    }
    // State replaced since the trace (its tensors all disposed): that variant starts again. (Plain loops
    // here and below: this runs on every replay, where closures made per call showed in the host time.)
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i];
      if (e.state === 'compiled' && anyOrphaned(e.holds!)) {
        drop(e);
        list.splice(i, 1);
      }
    }
    let entry: Entry | undefined;
    for (let i = 0; i < list.length && !entry; i++)
      if (list[i].state === 'compiled' && allHold(list[i].guards!)) entry = list[i];
    if (!entry) {
      const compiled = list.filter((e) => e.state === 'compiled');
      if (compiled.length) {
        stats.guardMisses++;
        if (debug()) {
          const failed = compiled.map((e) => e.guards!.find((g) => !g.holds())!.what);
          console.error(
            `[wgpu-gen] ${fn.name || 'a compiled function'}: traced again, its trace assumed ${failed.join('; or ')}`,
          );
        }
      }
      entry = list.find((e) => e.state !== 'compiled');
      if (!entry) list.push((entry = { state: 'new' }));
      // At most maxSignatures variants in all, the least recently used signature's out first.
      for (const [k, old] of cache) {
        if (count() <= maxSignatures) break;
        for (let i = 0; i < old.length && count() > maxSignatures; i++) {
          if (old[i] === entry) continue;
          drop(old[i]);
          old.splice(i--, 1);
        }
        if (!old.length) cache.delete(k);
      }
    }
    stats.signatures = count();
    if (entry.state === 'new') {
      stats.eagerCalls++;
      const r = fn(...args);
      entry.state = 'warm';
      return r;
    }
    if (entry.state === 'warm') return trace(entry, args, tensors);
    if (entry.program!.stale()) {
      dropGrads(entry);
      entry.gradsSet = undefined;
      entry.program!.dispose();
      entry.program = build(entry.graph!, entry.backend!, [...uniqueStorages(tensors), ...gradStoragesOf(entry)]);
      stats.rerecords++;
    }
    stats.replays++;
    phaseClock?.mark('call');
    return finish(entry, false, tensors);
  };

  const trace = (entry: Entry, args: A, tensors: Tensor[]): R => {
    const tracer = new Tracer<Tensor>();
    const placeholders = tensors.map((t) => t);
    const outputs: Tensor[] = [];
    const grads: { tensor: Tensor; shape: number[]; value: Storage }[] = [];
    // Gradients from before the call that backward() adds to: read anew each call, through placeholders.
    const gradInputs = new Map<Tensor, { old: Tensor; placeholder: Tensor }>();
    let structure: unknown;
    let graph: Graph;
    setLeafGradHook((leafU, gradU) => {
      const leaf = leafU as Tensor,
        grad = gradU as Tensor | null;
      // A gradient the function set itself (zeroGrad, an earlier backward in the call) is the trace's own.
      if (tracer.gradWritten.has(leaf)) return grad;
      const what = leaf.name ?? `tensor #${leaf.id} of shape [${leaf.shape.join(', ')}]`;
      if (!grad) {
        tracer.guard(
          leaf,
          'grad',
          () => leaf.grad === null,
          () => `${what} has no gradient`,
        );
        return null;
      }
      const shape = [...grad.shape];
      tracer.guard(
        leaf,
        'grad',
        () => {
          const g = leaf.grad;
          return g !== null && !g.isDisposed && sameShape(g.shape, shape) && g.backend === grad.backend;
        },
        () => `${what} has a gradient to add to`,
      );
      const placeholder = new Tensor(grad.backend, tracer.value(grad.size), shape, grad.dtype);
      gradInputs.set(leaf, { old: grad, placeholder });
      return placeholder;
    });
    setTracer(tracer);
    try {
      const map = new Map<Tensor, Tensor>();
      // Arguments that share a storage (a tensor and its view) get placeholders that share one too.
      const byStorage = new Map<Storage, Tensor>();
      tensors.forEach((t, k) => {
        const first = byStorage.get(t.storage);
        const ph = first
          ? first.viewAs([...t.shape], t.dtype)
          : new Tensor(t.backend, tracer.value(t.size), [...t.shape], t.dtype);
        if (!first) byStorage.set(t.storage, ph);
        ph.requiresGrad = t.requiresGrad;
        map.set(t, ph);
        placeholders[k] = ph;
      });
      const result = fn(...(substitute(args, map) as A));
      if (result instanceof Promise) {
        result.catch(() => {});
        throw new TraceError(
          'compile: the function returned a Promise; a compiled function must be synchronous (it cannot await readbacks)',
        );
      }
      structure = collectOutputs(result, outputs);
      const accumulated: Tensor[] = [];
      for (const t of tracer.seen) {
        if (!t.grad || !isSymbolic(t.grad.storage)) continue;
        if (gradInputs.has(t)) accumulated.push(t);
        else grads.push({ tensor: t, shape: [...t.grad.shape], value: t.grad.storage });
      }
      for (const t of tensors) {
        if (tracer.externals.has(t.storage)) {
          throw new TraceError(
            `compile: an argument tensor of shape [${t.shape.join(', ')}] is also used directly by the function (as state it closes over); pass it one way only`,
          );
        }
      }
      guardState(tracer);
      graph = {
        ops: tracer.ops,
        inputs: [
          ...uniqueStorages(placeholders),
          ...[...gradInputs.values()].map((g) => g.placeholder.storage),
        ] as SymbolicStorage[],
        outputs: [...outputs.map((t) => t.storage), ...accumulated.map((t) => t.grad!.storage)],
        pinned: grads.map((g) => g.value),
      };
      entry.accumulated = accumulated.map((t) => ({ tensor: t, shape: [...t.grad!.shape] }));
      entry.gradInputs = [...gradInputs.keys()];
    } catch (e) {
      tracer.release();
      setTracer(null);
      setLeafGradHook(null);
      rollBack(tracer);
      for (const t of tracer.created) t.dispose();
      // What a traced function may not do is reported as it is. Any other error (the function's own):
      // the call runs eagerly, so it throws, or not, and leaves the state, exactly as an eager call would.
      if (e instanceof TraceError) throw e;
      stats.eagerCalls++;
      return fn(...args);
    } finally {
      setTracer(null);
      setLeafGradHook(null);
    }
    // What the trace made goes: gradients it left on state, and every traced tensor (the returned ones
    // too: the caller gets new tensors over the program's outputs).
    for (const t of tracer.seen) if (t.grad && isSymbolic(t.grad.storage)) t.grad = null;
    for (const t of tracer.created) t.dispose();
    const holds = [...tracer.externals.values()];
    const backend = tensors[0]?.backend ?? [...tracer.seen][0]?.backend ?? sourceBackend(graph);
    const gradStorages = [...gradInputs.values()].map((g) => g.old.storage);
    let program: Program;
    try {
      if (!backend) throw new Error('compile: the function uses no tensor');
      program = build(graph, backend, [...uniqueStorages(tensors), ...gradStorages]);
    } catch (e) {
      for (const h of holds) h.release();
      rollBack(tracer);
      entry.accumulated = entry.gradInputs = undefined;
      throw e;
    }
    Object.assign(entry, {
      state: 'compiled',
      graph,
      program,
      backend,
      holds,
      guards: tracer.guards,
      result: structure,
      shapes: outputs.map((t) => [...t.shape]),
      dtypes: outputs.map((t) => t.dtype),
      grads: grads.map(({ tensor, shape }) => ({ tensor, shape })),
    });
    stats.traces++;
    stats.guards = tracer.guards.length;
    const r = finish(entry, true, tensors, gradStorages);
    // The gradients added to are replaced, as eager backward() replaces them.
    for (const { old } of gradInputs.values()) old.dispose();
    return r;
  };

  const compiled = call as Compiled<A, R>;
  Object.defineProperty(compiled, 'stats', { get: () => ({ ...stats }) });
  compiled.dispose = () => {
    for (const list of cache.values()) for (const e of list) drop(e);
    cache.clear();
    last = null;
    stats.signatures = 0;
  };
  return compiled;
}

/**
 * The guards on state a trace read (besides the training flags and gradients it guarded as it went):
 * every tensor from before the call that it read is still alive, and a module's parameter or buffer is
 * still the tensor its attribute holds (`lin.weight = other` traces again, as eager mode would read it).
 */
function guardState(tracer: Tracer<Tensor>): void {
  const created = new Set(tracer.created);
  for (const t of tracer.seen) {
    if (created.has(t) || t.isDisposed || isSymbolic(t.storage)) continue;
    const what = t.name ?? `tensor #${t.id} of shape [${t.shape.join(', ')}]`;
    tracer.guard(
      t,
      'alive',
      () => !t.isDisposed,
      () => `${what} is not disposed`,
    );
    const owner = stateOwners.get(t) as Record<string, unknown> | undefined;
    if (!owner) continue;
    const key = Object.keys(owner).find((k) => owner[k] === t);
    if (key !== undefined)
      tracer.guard(
        owner,
        `.${key}`,
        () => owner[key] === t,
        () => `${owner.constructor.name}.${key} is ${what}`,
      );
  }
}

/** After a failed trace: host state (generator counters, step counts) and gradients as before it. */
function rollBack(tracer: Tracer<Tensor>): void {
  for (let i = tracer.undo.length - 1; i >= 0; i--) tracer.undo[i]();
  tracer.undo.length = 0;
  for (const [t, before] of tracer.gradWritten) t.grad = before && !before.isDisposed ? before : null;
}

/** The storages of the gradients a step adds to, in the graph's input order (each leaf's .grad now). */
function anyOrphaned(holds: StorageHold[]): boolean {
  for (let i = 0; i < holds.length; i++) if (holds[i].orphaned) return true;
  return false;
}

function allHold(guards: Guard[]): boolean {
  for (let i = 0; i < guards.length; i++) if (!guards[i].holds()) return false;
  return true;
}

function gradStoragesOf(e: Entry): Storage[] {
  return e.gradInputs!.map((t) => t.grad!.storage);
}

/** The distinct storages of `tensors`, in order (the graph's inputs). */
function uniqueStorages(tensors: Tensor[]): Storage[] {
  // A call has a few argument tensors: a scan is cheaper than a Set, every call.
  const out: Storage[] = [];
  for (let i = 0; i < tensors.length; i++) {
    const s = tensors[i].storage;
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/** A source op's backend (a graph without tensor inputs or state, e.g. one that only draws). */
function sourceBackend(g: Graph): Backend | undefined {
  for (const op of g.ops)
    if (op.kind === 'prim' && 'backend' in (op.params as object)) return (op.params as { backend: Backend }).backend;
  return undefined;
}

/**
 * Whether `args` are, leaf for leaf, what signature() flattened into `leaves`: the same tensors (then of
 * the same shapes, dtypes and storages: a tensor's are fixed) with the same requiresGrad, the same keys
 * of plain objects and lengths of arrays, the same objects and primitive values. Then their key is the
 * same. A disposed tensor never matches (signature() reports it).
 */
function sameLeaves(args: unknown[], leaves: unknown[]): boolean {
  let i = 0;
  const walk = (v: unknown): boolean => {
    if (v instanceof Tensor) return leaves[i++] === v && !v.isDisposed && leaves[i++] === v.requiresGrad;
    if (Array.isArray(v)) {
      if (leaves[i++] !== ARRAY || leaves[i++] !== v.length) return false;
      for (let k = 0; k < v.length; k++) if (!walk(v[k])) return false;
      return true;
    }
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      if (leaves[i++] !== OBJECT) return false;
      for (const k in v) if (leaves[i++] !== k || !walk((v as Record<string, unknown>)[k])) return false;
      return leaves[i++] === OBJECT;
    }
    return leaves[i++] === v;
  };
  if (leaves[i++] !== args.length) return false;
  for (let k = 0; k < args.length; k++) if (!walk(args[k])) return false;
  return i === leaves.length;
}
const ARRAY = Symbol('array'),
  OBJECT = Symbol('object');

/**
 * The cache key of a call's arguments; collects their tensors (each once, in order), and their leaves
 * flattened as sameLeaves() compares them.
 */
function signature(args: unknown[], tensors: Tensor[], leaves: unknown[]): string {
  leaves.push(args.length);
  const parts: string[] = [];
  const seen = new Set<Tensor>();
  const storages = new Map<Storage, number>();
  const walk = (v: unknown): void => {
    if (v instanceof Tensor) {
      if (v.isDisposed)
        throw new Error(`compile: argument tensor #${v.id} of shape [${v.shape.join(', ')}] was disposed`);
      // Which distinct storage it is: aliasing between arguments is part of the signature.
      const k = storages.get(v.storage) ?? storages.size;
      storages.set(v.storage, k);
      parts.push(
        `T${v.backend.name}[${v.shape.join(',')}]${v.dtype === 'int32' ? 'i' : ''}${v.requiresGrad ? 'g' : ''}@${k}`,
      );
      leaves.push(v, v.requiresGrad);
      if (!seen.has(v)) {
        seen.add(v);
        tensors.push(v);
      }
    } else if (Array.isArray(v)) {
      parts.push('[');
      leaves.push(ARRAY, v.length);
      v.forEach(walk);
      parts.push(']');
    } else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      parts.push('{');
      leaves.push(OBJECT);
      for (const k in v) {
        parts.push(k, ':');
        leaves.push(k);
        walk((v as Record<string, unknown>)[k]);
      }
      leaves.push(OBJECT);
      parts.push('}');
    } else if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
      let id = objectIds.get(v);
      if (id === undefined) objectIds.set(v, (id = nextObjectId++));
      parts.push(`#${id}`);
      leaves.push(v);
    } else {
      parts.push(typeof v === 'string' ? JSON.stringify(v) : String(v));
      leaves.push(v);
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
  throw new TraceError(
    `compile: the function returned a ${typeof r} (${String(r).slice(0, 40)}); a compiled function returns tensors ` +
      '(or arrays and plain objects of them): other values would be fixed at trace time',
  );
}

/** The result of a compiled call: the structure with new tensors over the output storages. */
function results(entry: Entry, values: Storage[]): never {
  const r = entry.result;
  // A training step's usual result, one tensor: without the walk below.
  if (r !== null && typeof r === 'object' && OUT in r) {
    const k = (r as OutLeaf)[OUT];
    return new Tensor(entry.backend!, values[k], entry.shapes![k], entry.dtypes![k]) as never;
  }
  const build = (s: unknown): unknown => {
    if (s !== null && typeof s === 'object' && OUT in (s as object)) {
      const k = (s as OutLeaf)[OUT];
      return new Tensor(entry.backend!, values[k], entry.shapes![k], entry.dtypes![k]);
    }
    if (Array.isArray(s)) return s.map(build);
    if (s !== null && typeof s === 'object')
      return Object.fromEntries(Object.entries(s).map(([k, x]) => [k, build(x)]));
    return s;
  };
  return build(entry.result) as never;
}
