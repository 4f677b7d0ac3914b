// A traced graph (src/graph/trace.ts) made runnable on one backend: the passes that run on it, then
// either a recording (WebGPU: the kernels are recorded once and replayed on every call, see
// src/device/recording.ts) or, on a backend without a recorder (the CPU reference), an interpreter that
// runs the graph op by op on every call with the primitives' own backend calls (the graph's CPU twin).
//
// The passes are src/graph/passes/ (index.ts lists them in the order they run); this file is what runs
// their result. Liveness: each value is freed right after its last use, so the recording's buffers are
// reused in last-use order (its buffers are the step's memory plan).
//
// A call: the per-call phase first (host ops and per-call params, in trace order: an optimizer's step
// count, a generator's counter), then the run: a replay with the patched uniforms, or the interpreter.

import type { Backend, Recording, Storage } from '../backend/backend.ts';
import { fusedOps, withAcc, type FusedEpilogue, type FusedOptim } from '../backend/kernels.ts';
import { phaseClock } from '../device/phases.ts';
import { numel } from '../shape.ts';
import { EFFECTS, type EffectName, type EffectParams } from './effects.ts';
import { RULES, matmulSpec, type Params, type Primitive } from './primitives.ts';
import { runPasses, type Graph } from './passes/index.ts';
import { headInputs, readsOf } from './passes/graph.ts';
import { isSymbolic, type KernelExpr, type KernelOp, type Op, type SymbolicStorage } from './trace.ts';

export type { Graph } from './passes/index.ts';

/** Primitive `prim`'s backend call (its rule's run), typed by the primitive. */
function runPrimitive<P extends Primitive>(
  b: Backend,
  prim: P,
  xs: Storage[],
  params: Params[P],
  shape: number[],
  xShapes: number[][],
): Storage | 'view' {
  return RULES[prim].run(b, xs, params, shape, xShapes);
}

/** A primitive's value in a compiled graph, where a view (a reshape's) cannot occur: the passes saw none. */
function primValue<P extends Primitive>(
  b: Backend,
  prim: P,
  xs: Storage[],
  params: Params[P],
  shape: number[],
  xShapes: number[][],
): Storage {
  const out = runPrimitive(b, prim, xs, params, shape, xShapes);
  if (out === 'view') throw new Error(`internal: ${prim} made a view in a compiled graph`);
  return out;
}

/** An effect's backend call, typed by the effect. */
function runEffect<E extends EffectName>(
  b: Backend,
  effect: E,
  xs: Storage[],
  params: EffectParams[E],
  shapes: number[][],
) {
  EFFECTS[effect].run(b, xs, params, shapes);
}

/** One op's per-call refresh of a recording (Program.patchPlan). */
type Patch =
  | { kind: 'random' | 'optim'; op: number; n: number }
  | {
      kind: 'fusedOptim';
      op: number;
      n: number;
      cell: { value: EffectParams['optim'] | undefined };
      params: EffectParams['optim'];
    }
  | { kind: 'run'; op: number; run: () => void };

export class Program {
  /** Kernel dispatches per call (WebGPU), or ops run per call (CPU). */
  readonly dispatches: number;
  private readonly graph: Graph;
  /** Values bound for the whole program: the constants, and on WebGPU every value's recorded storage. */
  private readonly bound = new Map<Storage, Storage>();
  private readonly constants: Storage[] = [];
  private readonly constantBytes: number;
  /** freeAfter[i]: the values whose last use is op i. */
  private readonly freeAfter: SymbolicStorage[][];
  private recording: Recording | null = null;
  /** Per-call params of this call, by op index. */
  private readonly callParams: unknown[];
  /** The ops with per-call host work (host ops, perCall params), in program order: a call runs only these. */
  private readonly perCallOps: number[] = [];
  /**
   * How a replay refreshes each op's per-call data in the recording, worked out once: a draw's counter
   * and an optimizer update's params written straight into the kernel's uniform words, other per-call
   * ops run again over the recording (patch).
   */
  private patches: Patch[] = [];
  /** A recording's output k comes from the call's input k (a number) or from this recorded storage. */
  private outputSources: (number | Storage)[] | null = null;
  /** A recording's pinned values: its own storages, the same every call. */
  private pinnedStorages: Storage[] | null = null;

  /** `inputs`: the storages of the call the program is built in (a recording binds them; see run()). */
  constructor(
    graph: Graph,
    private readonly backend: Backend,
    inputs: Storage[],
  ) {
    const made: Storage[] = [];
    const live0 = backend.memory().liveBytes;
    let passed: ReturnType<typeof runPasses>;
    try {
      passed = runPasses(graph, (op, xs) => {
        const out = runPrimitive(backend, op.prim, xs, op.params, op.shape, op.xShapes);
        if (out === 'view') return null;
        made.push(out);
        return out;
      });
    } catch (e) {
      for (const c of made) backend.free(c);
      throw e;
    }
    this.graph = passed.graph;
    const ops = this.graph.ops;
    // The constants the program reads stay bound for its life; the folding's intermediate values go.
    const used = new Set<Storage>([...this.graph.outputs, ...this.graph.pinned]);
    for (const op of ops) if (op.kind !== 'host') for (const x of readsOf(op)) used.add(x);
    for (const [v, c] of passed.constants) {
      if (used.has(v)) {
        this.bound.set(v, c);
        this.constants.push(c);
      } else {
        backend.free(c);
      }
    }
    this.constantBytes = backend.memory().liveBytes - live0;
    this.callParams = new Array(ops.length);
    ops.forEach((op, i) => {
      if (op.kind === 'host' || ((op.kind === 'prim' || op.kind === 'effect') && op.perCall)) this.perCallOps.push(i);
    });
    // Liveness: the last op that reads each value; outputs and constants live for the whole program.
    const last = new Map<SymbolicStorage, number>();
    ops.forEach((op, i) => {
      if (op.kind === 'host') return;
      for (const s of readsOf(op)) if (isSymbolic(s) && !this.bound.has(s)) last.set(s, i);
      if (op.kind !== 'effect' && !last.has(op.out)) last.set(op.out, i);
    });
    for (const s of [...this.graph.outputs, ...this.graph.pinned]) if (isSymbolic(s)) last.delete(s);
    this.freeAfter = ops.map(() => []);
    for (const [s, i] of last) this.freeAfter[i].push(s);
    const recorder = backend.recorder;
    if (recorder) {
      recorder.begin();
      try {
        const env = new Map(this.bound);
        this.graph.inputs.forEach((s, k) => {
          env.set(s, inputs[k]);
          this.bound.set(s, inputs[k]);
        });
        // Every value's recorded storage stays bound (a patch re-runs an op over the same storages).
        this.interpret(env, (i) => recorder.op(i), this.bound);
        this.recording = recorder.end(inputs);
        this.patches = this.patchPlan();
      } catch (e) {
        recorder.abort();
        this.disposeConstants();
        throw e;
      }
      this.dispatches = this.recording.dispatches;
    } else {
      this.dispatches = ops.filter((op) => op.kind !== 'host').length;
    }
  }

  /** One line per op of the program as it runs (WGPU_DEBUG=1 prints it when a step is compiled). */
  describe(): string[] {
    const shape = (sh: number[]) => `[${sh.join(', ')}]`;
    return this.graph.ops.map((op, i) => {
      const at = String(i).padStart(4);
      if (op.kind === 'host') return `${at} host`;
      if (op.kind === 'effect' && op.effect === 'assign_fused') {
        return `${at} assign_fused:${fusedOps((op.params as EffectParams['assign_fused']).expr).join('+')} ${shape(op.shapes[0])} (${op.inputs.length - 1} inputs)`;
      }
      if (op.kind === 'effect') return `${at} ${op.effect} ${op.shapes.map(shape).join(' ')}`;
      if (op.kind === 'kernel') {
        // The kernel's ops in the order they run: prologue, core, epilogue, update.
        const { core, prologue, epilogue, optim } = op;
        const ops = [
          ...(core.kind === 'gemm' ? [core.prim] : []),
          ...(prologue ? fusedOps(prologue.expr) : []),
          ...(core.kind === 'reduce' ? [core.op] : []),
          ...(epilogue ? fusedOps(epilogue.expr) : []),
          ...(optim ? [optim.params.spec.kind] : []),
        ].join('+');
        if (core.kind === 'none') return `${at} fused:${ops} ${shape(op.shape)} (${prologue!.inputs.length} inputs)`;
        if (core.kind === 'reduce')
          return `${at} fused:${ops} ${shape(core.xShape)} over [${core.dims.join(', ')}] -> ${shape(op.shape)}`;
        return `${at} fused:${ops} ${core.xShapes.map(shape).join(' ')} -> ${shape(op.shape)}`;
      }
      const p = op.params as { op?: string };
      return `${at} ${op.prim}${p.op ? `:${p.op}` : ''} ${op.xShapes.map(shape).join(' ')} -> ${shape(op.shape)}`;
    });
  }

  /** Bytes the program owns between calls: its constants, and on WebGPU its recording's buffers. */
  get bytes(): number {
    return (this.recording?.bytes ?? 0) + this.constantBytes;
  }

  /** Whether a kernel choice made while recording has been measured otherwise since (then rebuild). */
  stale(): boolean {
    return this.recording?.stale() ?? false;
  }

  /** Whether the pinned values live in the program's own storages (a recording), the same every call. */
  get recorded(): boolean {
    return this.recording !== null;
  }

  /**
   * One call on `inputs` (the call's input storages, in graph order). `traced`: this call is the one the
   * graph was traced in, whose per-call work already ran. Returns new storages holding the outputs, and
   * the storages of the pinned values (the recording's own, or this call's, handed over).
   */
  run(inputs: Storage[], traced: boolean): { outputs: Storage[]; pinned: Storage[] } {
    const { ops, outputs } = this.graph;
    if (!traced) {
      const per = this.perCallOps;
      for (let j = 0; j < per.length; j++) {
        const i = per[j],
          op = ops[i];
        if (op.kind === 'host') op.run();
        else if (op.kind === 'prim' || op.kind === 'effect') this.callParams[i] = op.perCall!();
      }
    }
    const b = this.backend;
    const rec = this.recording;
    if (rec) {
      phaseClock?.mark('host');
      if (!traced) {
        const patches = this.patches;
        for (let j = 0; j < patches.length; j++) {
          const p = patches[j];
          if (p.kind === 'random') rec.patchRandom(p.op, p.n, (this.callParams[p.op] as Params['random']).spec);
          else if (p.kind === 'optim') {
            const { spec, check } = this.callParams[p.op] as EffectParams['optim'];
            rec.patchOptim(p.op, p.n, spec, check);
          } else if (p.kind === 'fusedOptim') {
            const { spec, check } = p.cell.value ?? p.params;
            rec.patchOptim(p.op, p.n, spec, check);
          } else if (p.kind === 'run') rec.patch(p.op, p.run);
        }
      }
      phaseClock?.mark('patch');
      const out: Storage[] = new Array(outputs.length);
      const copies: [Storage, Storage][] = new Array(outputs.length);
      this.outputSources ??= outputs.map((s) => {
        const k = this.graph.inputs.indexOf(s as SymbolicStorage);
        return k >= 0 ? k : (this.bound.get(s) ?? s);
      });
      for (let k = 0; k < outputs.length; k++) {
        out[k] = b.empty(outputs[k].length);
        // An output that is an input is copied from this call's input, not the one recorded.
        const from = this.outputSources[k];
        copies[k] = [typeof from === 'number' ? inputs[from] : from, out[k]];
      }
      phaseClock?.mark('outputs');
      rec.replay(inputs, copies);
      this.pinnedStorages ??= this.graph.pinned.map((s) => this.bound.get(s)!);
      return { outputs: out, pinned: this.pinnedStorages };
    }
    const env = new Map(this.bound);
    this.graph.inputs.forEach((s, k) => env.set(s, inputs[k]));
    this.interpret(env);
    // Each output in a storage of its own: a value computed by this call is handed over; an input, a
    // constant, state or a value returned twice is copied.
    const given = new Set<Storage>([...inputs, ...this.constants]);
    const pinned = this.graph.pinned.map((s) => env.get(s)!);
    for (const p of pinned) given.add(p);
    const out = outputs.map((s) => {
      const v = env.get(s) ?? s;
      if (isSymbolic(s) && !given.has(v)) {
        given.add(v);
        return v;
      }
      const copy = b.empty(v.length);
      EFFECTS.assign.run(b, [copy, v], {}, [[v.length]]);
      return copy;
    });
    return { outputs: out, pinned };
  }

  /**
   * Runs every op once over `env` (value -> storage), freeing each value after its last use; `record`
   * (while recording) also keeps every value's storage. The call's inputs belong to the caller and are
   * never freed.
   */
  private interpret(env: Map<Storage, Storage>, onOp?: (i: number) => void, record?: Map<Storage, Storage>): void {
    const ops = this.graph.ops;
    const b = this.backend;
    const callers = new Set<Storage>(this.graph.inputs);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op.kind === 'host') continue;
      onOp?.(i);
      const out = this.runOp(op, i, env);
      if (op.kind !== 'effect') {
        env.set(op.out, out!);
        record?.set(op.out, out!);
      }
      for (const s of this.freeAfter[i]) {
        const st = env.get(s);
        if (st && !callers.has(s)) b.free(st);
        env.delete(s);
      }
    }
  }

  /** Op i's backend call, with this call's params where it has per-call ones. */
  private runOp(op: Exclude<Op, { kind: 'host' }>, i: number, env: Map<Storage, Storage>): Storage | null {
    const value = (s: Storage) => (isSymbolic(s) ? env.get(s)! : s);
    if (op.kind === 'kernel') {
      const bind = (e: KernelExpr | null): KernelExpr | null => e && { ...e, inputs: e.inputs.map(value) };
      return this.runKernel(op, bind(op.prologue), bind(op.epilogue), headInputs(op).map(value));
    }
    const xs = op.inputs.map(value);
    // This call's params, where the op has per-call ones (run() computed them for op i).
    const perCall = op.perCall && this.callParams[i] !== undefined;
    if (op.kind === 'effect') {
      runEffect(this.backend, op.effect, xs, perCall ? (this.callParams[i] as typeof op.params) : op.params, op.shapes);
      return null;
    }
    const params = perCall ? (this.callParams[i] as typeof op.params) : op.params;
    return primValue(this.backend, op.prim, xs, params, op.shape, op.xShapes);
  }

  /**
   * A fused kernel on this call's storages (`pro` and `epi` with their inputs bound, `head` the core's
   * operands or the prologue's inputs): one kernel where the backend has one for its core; otherwise
   * (the CPU twin) the eager ops' own backend calls in order: the prologue by elementwise(), the core's
   * primitive, the epilogue by elementwise(), the update by the optimizer step's own call.
   */
  private runKernel(op: KernelOp, pro: KernelExpr | null, epi: KernelExpr | null, head: Storage[]): Storage {
    const b = this.backend;
    const { core } = op;
    const optim = this.optimOf(op);
    if (core.kind === 'none') {
      const { expr, inputs, reads } = pro!;
      if (!optim) return b.elementwise(expr, inputs, reads, core.n);
      if (b.elementwiseOptim) return b.elementwiseOptim(expr, inputs, reads, core.n, optim);
      return this.optimAfter(op, b.elementwise(expr, inputs, reads, core.n));
    }
    let y: Storage;
    if (core.kind === 'reduce') {
      const { expr, inputs, reads } = pro!;
      if (b.reduceFused) return b.reduceFused(core.op, expr, inputs, reads, core.geom, epi ?? undefined, optim);
      const n = numel(core.xShape);
      const bare = expr.kind === 'input' && reads[0].mod === n;
      const x = bare ? inputs[0] : b.elementwise(expr, inputs, reads, n);
      y = primValue(b, 'reduce', [x], { op: core.op, dims: core.dims, keepdim: true }, op.shape, [core.xShape]);
      if (!bare) b.free(x);
    } else {
      const [x, w] = head;
      if (numel(core.gemmShape) > 0) {
        if (core.prim === 'matmul' && b.matmulFused)
          return b.matmulFused(
            x,
            w,
            matmulSpec(core.params as Params['matmul'], core.gemmShape, core.xShapes),
            epi!,
            optim,
          );
        if (core.prim !== 'matmul' && b.convFused)
          return b.convFused(core.prim, x, w, (core.params as Params['conv2d']).geom, epi!, optim);
      }
      y = primValue(b, core.prim, [x, w], core.params, core.gemmShape, core.xShapes);
    }
    return this.optimAfter(op, epi ? this.epilogueAfter(y, epi) : y);
  }

  /** The replay's patches (see `patches`), in program order. */
  private patchPlan(): Patch[] {
    const plan: Patch[] = [];
    this.graph.ops.forEach((op, i) => {
      // A draw's counter and an unfused optimizer step's params are their kernel's whole uniform block;
      // other per-call ops run their backend calls again over the recording.
      if (op.kind === 'prim' && op.prim === 'random' && op.perCall) {
        if (op.out.length) plan.push({ kind: 'random', op: i, n: op.out.length });
      } else if (op.kind === 'effect' && op.effect === 'optim' && op.perCall) {
        plan.push({ kind: 'optim', op: i, n: op.inputs[0].length });
      } else if ((op.kind === 'prim' || op.kind === 'effect') && op.perCall) {
        plan.push({ kind: 'run', op: i, run: () => void this.runOp(op, i, this.bound) });
      } else if (op.kind === 'kernel' && op.optim?.cell) {
        // An update in a kernel's store: only its params change, written into the kernel's uniforms.
        const { inputs, cell, params } = op.optim;
        plan.push({ kind: 'fusedOptim', op: i, n: inputs[0].length, cell, params });
      }
    });
    return plan;
  }

  /** The optimizer update a fused kernel runs in its store, with this call's params (or the trace's, on the traced call). */
  private optimOf(op: KernelOp): FusedOptim | undefined {
    const o = op.optim;
    if (!o) return undefined;
    const p = o.cell?.value ?? o.params;
    const [param, , s1, s2, flags] = o.inputs;
    return { param, s1, s2, spec: p.spec, ...(p.check ? { check: { flags, ...p.check } } : {}) };
  }

  /**
   * Where the backend has no kernel with the update in its store (the CPU twin): the step's own backend
   * call, on the gradient `g` just computed (eager mode's numbers). Returns g.
   */
  private optimAfter(op: KernelOp, g: Storage): Storage {
    const o = op.optim;
    if (o) {
      const [param, , s1, s2, flags] = o.inputs;
      EFFECTS.optim.run(
        this.backend,
        [param, g, s1, s2, flags],
        o.cell?.value ?? o.params,
        o.inputs.map((x) => [x.length]),
      );
    }
    return g;
  }

  /** The epilogue with the values y (freed) as one more input, read element for element. */
  private epilogueAfter(y: Storage, epi: FusedEpilogue): Storage {
    const r = this.backend.elementwise(
      withAcc(epi.expr, epi.inputs.length),
      [...epi.inputs, y],
      [...epi.reads, { div: 1, mod: y.length }],
      y.length,
    );
    this.backend.free(y);
    return r;
  }

  private disposeConstants(): void {
    for (const s of this.constants) this.backend.free(s);
    this.constants.length = 0;
  }

  dispose(): void {
    this.recording?.dispose();
    this.recording = null;
    this.disposeConstants();
  }
}
