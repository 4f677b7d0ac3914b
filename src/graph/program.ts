// A traced graph (src/graph/trace.ts) made runnable on one backend: the passes that run on it, then
// either a recording (WebGPU, by backend.gpu.recorder: the kernels are recorded once and replayed on
// every call, see src/device/recording.ts) or, on a backend without a recorder (the CPU reference), an
// interpreter that runs the graph op by op on every call with the primitives' own backend calls (the
// graph's CPU twin).
//
// The passes are src/graph/passes/ (index.ts lists them in the order they run), the interpreter of one
// op src/graph/interpret.ts, the replay of a recording src/graph/replay.ts; this file builds a program
// from them and runs its calls. Liveness: each value is freed right after its last use, so the
// recording's buffers are reused in last-use order (its buffers are the step's memory plan).
//
// A call: the per-call phase first (host ops and per-call params, in trace order: an optimizer's step
// count, a generator's counter), then the run: a replay with the patched uniforms, or the interpreter.

import type { Backend, Recording, Storage } from '../backend/backend.ts';
import { fusedOps, rowOps } from '../backend/kernels.ts';
import { phaseClock } from '../device/phases.ts';
import { EFFECTS, type EffectParams } from './effects.ts';
import { runOp, runPrimitive } from './interpret.ts';
import { runPasses, type Graph } from './passes/index.ts';
import { readsOf } from './passes/graph.ts';
import { Replay } from './replay.ts';
import { isSymbolic, type SymbolicStorage } from './trace.ts';

export type { Graph } from './passes/index.ts';

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
  /** The recording's replay (WebGPU), or null: the interpreter runs every call. */
  private replay: Replay | null = null;
  /** Per-call params of this call, by op index. */
  private readonly callParams: unknown[];
  /** The ops with per-call host work (host ops, perCall params), in program order: a call runs only these. */
  private readonly perCallOps: number[] = [];
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
    const recorder = backend.gpu?.recorder;
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
        this.replay = new Replay(this.graph, backend, this.recording, this.bound, this.callParams);
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
        if (core.kind === 'rows')
          return `${at} fused:rows:${[...new Set(rowOps(core.stages, prologue!.expr, core.spill))].join('+')} ${shape(core.xShape)}, ${core.stages.length} sums over [${core.dims.join(', ')}]`;
        const ops = [
          ...(core.kind === 'gemm' ? [core.prim] : []),
          ...(prologue ? fusedOps(prologue.expr) : []),
          ...(core.kind === 'reduce' ? [core.op] : []),
          ...(epilogue ? fusedOps(epilogue.expr) : []),
          ...(optim ? [optim.params.spec.kind] : []),
          ...(op.assign ? ['assign'] : []),
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
    if (this.replay) {
      phaseClock?.mark('host');
      return this.replay.run(inputs, traced);
    }
    const b = this.backend;
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
      const copy = b.alloc(v.length);
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
      const out = runOp(b, op, env, this.callParams[i]);
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

  private disposeConstants(): void {
    for (const s of this.constants) this.backend.free(s);
    this.constants.length = 0;
  }

  dispose(): void {
    this.recording?.dispose();
    this.recording = null;
    this.replay = null;
    this.disposeConstants();
  }
}
