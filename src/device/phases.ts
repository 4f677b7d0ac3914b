// Where a compiled step's host time goes, by phase (issue 32): a clock the replay path marks at its
// phase boundaries (src/graph/compile.ts, src/graph/program.ts, src/device/context.ts). It is off (null)
// unless a bench sets one, and a mark on a null clock is one optional-chaining test, so the hot path
// pays nothing measurable for it. Each mark charges the time since the previous mark to the phase it
// names; `bench/replay_floor.ts` reads the totals.

/** The phases of a replayed call, in the order they run. */
export type ReplayPhase =
  | 'call' // signature, cache lookup, guards, staleness check (src/graph/compile.ts)
  | 'host' // per-call host work: random counters, step counts, learning rates (Program.run)
  | 'patch' // writing the per-call params into the recording's uniform bytes
  | 'outputs' // the output storages of the call
  | 'upload' // rebinding inputs, the one writeBuffer of the patched uniform bytes
  | 'encode' // the pass: setPipeline, setBindGroup, dispatchWorkgroups
  | 'finish' // the output copies and encoder.finish()
  | 'submit' // queue.submit
  | 'results'; // gradients and result tensors handed back (src/graph/compile.ts)

export class PhaseClock {
  /** Per phase, the time of every call so far (ms), one entry per call that reached it. */
  readonly calls = new Map<ReplayPhase, number[]>();
  private last = 0;
  /** Starts a call: the time until the next mark is that mark's. */
  start(): void {
    this.last = performance.now();
  }
  mark(phase: ReplayPhase): void {
    const t = performance.now();
    let list = this.calls.get(phase);
    if (!list) this.calls.set(phase, (list = []));
    list.push(t - this.last);
    this.last = t;
  }
  /** A phase's total over all calls (ms). */
  total(phase: ReplayPhase): number {
    let s = 0;
    for (const v of this.calls.get(phase) ?? []) s += v;
    return s;
  }
  reset(): void {
    this.calls.clear();
  }
}

/** The clock marks go to, or null (the default: no timing). */
export let phaseClock: PhaseClock | null = null;

/** Sets (or clears, with null) the clock the replay path marks. @internal */
export function setPhaseClock(clock: PhaseClock | null): void {
  phaseClock = clock;
}
