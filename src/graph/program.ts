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
import { EFFECTS, type EffectParams } from './effects.ts';
import { RULES, matmulSpec, type Params, type Rule } from './primitives.ts';
import { runPasses, type Graph } from './passes/index.ts';

export type { Graph } from './passes/index.ts';
import {
  isSymbolic,
  type FusedOp,
  type GemmFusedOp,
  type GemmPrimitive,
  type Op,
  type ReduceFusedOp,
  type SymbolicStorage,
} from './trace.ts';

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
        const out = (
          RULES[op.prim].run as (b: Backend, x: Storage[], p: unknown, s: number[], xs: number[][]) => Storage | 'view'
        )(backend, xs, op.params, op.shape, op.xShapes);
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
    for (const op of ops) {
      if (op.kind === 'host') continue;
      for (const x of op.inputs) used.add(x);
      if (op.kind === 'reduce_fused' || op.kind === 'gemm_fused')
        for (const x of op.epilogue?.inputs ?? []) used.add(x);
    }
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
      for (const s of op.inputs) if (isSymbolic(s) && !this.bound.has(s)) last.set(s, i);
      if (op.kind === 'reduce_fused' || op.kind === 'gemm_fused')
        for (const s of op.epilogue?.inputs ?? []) if (isSymbolic(s) && !this.bound.has(s)) last.set(s, i);
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
      const step = op.kind !== 'prim' && op.optim ? [op.optim.params.spec.kind] : [];
      if (op.kind === 'fused')
        return `${at} fused:${[...fusedOps(op.expr), ...step].join('+')} ${shape(op.shape)} (${op.inputs.length} inputs)`;
      if (op.kind === 'reduce_fused') {
        const ops = [...fusedOps(op.expr), op.op, ...(op.epilogue ? fusedOps(op.epilogue.expr) : []), ...step];
        return `${at} fused:${ops.join('+')} ${shape(op.xShape)} over [${op.dims.join(', ')}] -> ${shape(op.shape)}`;
      }
      if (op.kind === 'gemm_fused') {
        const ops = [...fusedOps(op.epilogue!.expr), ...step];
        return `${at} fused:${[op.prim, ...ops].join('+')} ${op.xShapes.map(shape).join(' ')} -> ${shape(op.shape)}`;
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
    const xs = op.inputs.map((s) => (isSymbolic(s) ? env.get(s)! : s));
    if (op.kind === 'fused') {
      const optim = this.optimOf(op);
      if (!optim) return this.backend.elementwise(op.expr, xs, op.reads, op.n);
      if (this.backend.elementwiseOptim) return this.backend.elementwiseOptim(op.expr, xs, op.reads, op.n, optim);
      return this.optimAfter(op, this.backend.elementwise(op.expr, xs, op.reads, op.n));
    }
    if (op.kind === 'reduce_fused' || op.kind === 'gemm_fused') {
      const es = (op.epilogue?.inputs ?? []).map((s) => (isSymbolic(s) ? env.get(s)! : s));
      return op.kind === 'reduce_fused' ? this.reduceFused(op, xs, es) : this.gemmFused(op, xs, es);
    }
    const params = op.perCall && this.callParams[i] !== undefined ? this.callParams[i] : op.params;
    if (op.kind === 'effect') {
      (EFFECTS[op.effect].run as (b: Backend, x: Storage[], p: unknown, sh: number[][]) => void)(
        this.backend,
        xs,
        params,
        op.shapes,
      );
      return null;
    }
    const rule = RULES[op.prim] as Rule<typeof op.prim>;
    const out = (rule.run as (b: Backend, x: Storage[], p: unknown, s: number[], xs: number[][]) => Storage | 'view')(
      this.backend,
      xs,
      params,
      op.shape,
      op.xShapes,
    );
    if (out === 'view') throw new Error(`internal: ${op.prim} made a view in a compiled graph`);
    return out;
  }

  /**
   * A fused reduction: one kernel where the backend has it; otherwise (the CPU twin) the expression by
   * elementwise() then the reduce primitive's own backend call, which is the eager op's arithmetic.
   */
  private reduceFused(op: ReduceFusedOp, xs: Storage[], es: Storage[]): Storage {
    const b = this.backend;
    const epi = op.epilogue;
    if (b.reduceFused)
      return b.reduceFused(
        op.op,
        op.expr,
        xs,
        op.reads,
        op.geom,
        epi ? { expr: epi.expr, inputs: es, reads: epi.reads } : undefined,
        this.optimOf(op),
      );
    const n = numel(op.xShape);
    const bare = op.expr.kind === 'input' && op.reads[0].mod === n;
    const x = bare ? xs[0] : b.elementwise(op.expr, xs, op.reads, n);
    const y = (
      RULES.reduce.run as (b: Backend, x: Storage[], p: Params['reduce'], s: number[], xs: number[][]) => Storage
    )(b, [x], { op: op.op, dims: op.dims, keepdim: true }, op.shape, [op.xShape]);
    if (!bare) b.free(x);
    return this.optimAfter(op, epi ? this.epilogueAfter(y, { ...epi, inputs: es }) : y);
  }

  /**
   * A matmul or convolution with its epilogue: one kernel where the backend has it; otherwise (the CPU
   * twin) the primitive's own backend call, then the epilogue by elementwise().
   */
  private gemmFused(op: GemmFusedOp, [a, b]: Storage[], es: Storage[]): Storage {
    const be = this.backend;
    const epi: FusedEpilogue = { ...op.epilogue!, inputs: es };
    const optim = this.optimOf(op);
    if (numel(op.gemmShape) > 0) {
      if (op.prim === 'matmul' && be.matmulFused)
        return be.matmulFused(a, b, matmulSpec(op.params as Params['matmul'], op.gemmShape, op.xShapes), epi, optim);
      if (op.prim !== 'matmul' && be.convFused)
        return be.convFused(op.prim, a, b, (op.params as Params['conv2d']).geom, epi, optim);
    }
    const rule = RULES[op.prim] as Rule<GemmPrimitive>;
    const y = (rule.run as (b: Backend, x: Storage[], p: unknown, s: number[], xs: number[][]) => Storage)(
      be,
      [a, b],
      op.params,
      op.gemmShape,
      op.xShapes,
    );
    return this.optimAfter(op, this.epilogueAfter(y, epi));
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
      } else if ((op.kind === 'fused' || op.kind === 'reduce_fused' || op.kind === 'gemm_fused') && op.optim?.cell) {
        // An update in a kernel's store: only its params change, written into the kernel's uniforms.
        const { inputs, cell, params } = op.optim;
        plan.push({ kind: 'fusedOptim', op: i, n: inputs[0].length, cell, params });
      }
    });
    return plan;
  }

  /** The optimizer update a fused kernel runs in its store, with this call's params (or the trace's, on the traced call). */
  private optimOf(op: FusedOp | ReduceFusedOp | GemmFusedOp): FusedOptim | undefined {
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
  private optimAfter(op: FusedOp | ReduceFusedOp | GemmFusedOp, g: Storage): Storage {
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
