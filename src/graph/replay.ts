// A recording's replay (WebGPU): per call, the per-call data of the recorded kernels written in place
// (a draw's Philox counter, an optimizer update's step and learning rate: their uniform words), the ops
// whose per-call data cannot be written so run again over the recording (patch), then every recorded
// dispatch in one submit (src/device/recording.ts), with fresh storages for the outputs. What a replay
// reuses is worked out once, at its first call: the patch plan, where each output comes from, the
// pinned values' storages.

import type { Backend, Recording, Storage } from '../backend/backend.ts';
import { phaseClock } from '../device/phases.ts';
import type { EffectParams } from './effects.ts';
import { runOp } from './interpret.ts';
import type { Graph } from './passes/graph.ts';
import type { Params } from './primitives.ts';
import type { SymbolicStorage } from './trace.ts';

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

export class Replay {
  /**
   * How each op's per-call data reaches the recording, worked out once: a draw's counter and an
   * optimizer update's params written straight into the kernel's uniform words, other per-call ops run
   * again over the recording (patch).
   */
  private readonly patches: Patch[];
  /** Output k comes from the call's input k (a number) or from this recorded storage. */
  private readonly outputSources: (number | Storage)[];
  /** The pinned values: the recording's own storages, the same every call. */
  private readonly pinned: Storage[];

  /** `bound`: every value's recorded storage (and the constants), by value. */
  constructor(
    private readonly graph: Graph,
    private readonly backend: Backend,
    readonly recording: Recording,
    private readonly bound: Map<Storage, Storage>,
    /** This call's per-call params, by op index (the program computes them before each replay). */
    private readonly callParams: unknown[],
  ) {
    this.patches = this.patchPlan();
    this.outputSources = graph.outputs.map((s) => {
      const k = graph.inputs.indexOf(s as SymbolicStorage);
      return k >= 0 ? k : (bound.get(s) ?? s);
    });
    this.pinned = graph.pinned.map((s) => bound.get(s)!);
  }

  /** One replay on `inputs`; `traced`: the call the graph was traced in (its per-call data is the recorded one). */
  run(inputs: Storage[], traced: boolean): { outputs: Storage[]; pinned: Storage[] } {
    const rec = this.recording;
    if (!traced) {
      const { patches, callParams } = this;
      for (let j = 0; j < patches.length; j++) {
        const p = patches[j];
        if (p.kind === 'random') rec.patchRandom(p.op, p.n, (callParams[p.op] as Params['random']).spec);
        else if (p.kind === 'optim') {
          const { spec, check } = callParams[p.op] as EffectParams['optim'];
          rec.patchOptim(p.op, p.n, spec, check);
        } else if (p.kind === 'fusedOptim') {
          const { spec, check } = p.cell.value ?? p.params;
          rec.patchOptim(p.op, p.n, spec, check);
        } else if (p.kind === 'run') rec.patch(p.op, p.run);
      }
    }
    phaseClock?.mark('patch');
    const n = this.graph.outputs.length;
    const out: Storage[] = new Array(n);
    const copies: [Storage, Storage][] = new Array(n);
    for (let k = 0; k < n; k++) {
      out[k] = this.backend.alloc(this.graph.outputs[k].length);
      // An output that is an input is copied from this call's input, not the one recorded.
      const from = this.outputSources[k];
      copies[k] = [typeof from === 'number' ? inputs[from] : from, out[k]];
    }
    phaseClock?.mark('outputs');
    rec.replay(inputs, copies);
    return { outputs: out, pinned: this.pinned };
  }

  /** The patches (see `patches`), in program order. */
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
        plan.push({ kind: 'run', op: i, run: () => void runOp(this.backend, op, this.bound, this.callParams[i]) });
      } else if (op.kind === 'kernel' && op.optim?.cell) {
        // An update in a kernel's store: only its params change, written into the kernel's uniforms.
        const { inputs, cell, params } = op.optim;
        plan.push({ kind: 'fusedOptim', op: i, n: inputs[0].length, cell, params });
      }
    });
    return plan;
  }
}
