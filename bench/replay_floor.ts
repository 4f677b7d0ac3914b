// A compiled step's replay against Dawn's own floor (issue 32): for each of the four models at their CLI
// defaults, the host time a replay takes to issue one step (from the call until its submit returns),
// next to the host time of encoding and submitting the very same recording in a tight loop: its own
// pipelines, bind groups and workgroup counts, one compute pass, the same output copies, one submit.
// What is left between the two is the replay's own work, broken down by phase (src/device/phases.ts) in
// calls of their own (the phase marks cost a little, and the headline calls make none).
// Both are timed the same way: the GPU awaited between steps, an empty pass submitted before each timed
// region (on SwiftShader the first pass after the queue drains costs milliseconds, for both), the two
// alternating by round. Part of `npm run bench`; alone:
//   npx tsx bench/replay_floor.ts [--quick] [--only=<model>]
import { performance } from 'node:perf_hooks';
import { compile, Generator, sync, type Tensor } from '../src/index.ts';
import { PhaseClock, setPhaseClock, type ReplayPhase } from '../src/device/phases.ts';
import type { Recording } from '../src/device/recording.ts';
import type { TrainBatch } from '../src/models/model.ts';
import type { WebGPUBackend } from '../src/backend/webgpu/index.ts';
import { SETUPS } from './compiled.ts';
import { median, runAlone } from './common.ts';

export interface FloorRow {
  model: string;
  dispatches: number;
  /** Median host ms of one step, submit included: the replay, and Dawn's floor for the same recording. */
  replayMs: number;
  floorMs: number;
  /** The same without the time inside queue.submit (Dawn's translation of the commands, the same work for both). */
  replayIssueMs: number;
  floorIssueMs: number;
  /** Per phase, the median host ms of a replayed step (medians: a collection lands in one call's phase). */
  phases: Partial<Record<ReplayPhase, number>>;
}

export async function benchReplayFloor(
  gpu: WebGPUBackend,
  opts: { quick?: boolean; only?: string; warm?: number } = {},
): Promise<FloorRow[]> {
  const rows: FloorRow[] = [];
  const ctx = gpu.ctx;
  const device = ctx.device;
  for (const [name, make] of Object.entries(SETUPS)) {
    if (opts.only && !name.toLowerCase().includes(opts.only.toLowerCase())) continue;
    const { model, batch } = make(gpu);
    const noise = new Generator(9);
    const step = compile((bt: TrainBatch, g: Generator): Tensor => model.trainStep(bt, g));
    for (let i = 0; i < 3; i++) {
      model.trainStep(batch, noise).dispose();
      await gpu.sync();
    }
    // The recording and its output copies, as the replay hands them to the context.
    let rec: Recording | null = null;
    let copies: [GPUBuffer, GPUBuffer, number][] = [];
    const replayFn = ctx.replay.bind(ctx);
    ctx.replay = (r, inputs, out) => {
      rec = r;
      copies = out;
      replayFn(r, inputs, out);
    };
    for (let i = 0; i < 4; i++) step(batch, noise).dispose();
    await gpu.sync();
    ctx.replay = replayFn;
    if (!rec) throw new Error(`${name}: the compiled step did not replay`);
    const ds = (rec as Recording).dispatches;
    // The floor copies into buffers of its own, made once.
    const dsts = copies.map(([, , bytes]) =>
      device.createBuffer({ size: Math.max(4, bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }),
    );
    const floor = () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      let last: GPUComputePipeline | null = null;
      for (let i = 0; i < ds.length; i++) {
        const d = ds[i];
        if (d.pipeline !== last) pass.setPipeline((last = d.pipeline));
        pass.setBindGroup(0, d.bindGroup!);
        pass.dispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2]);
      }
      pass.end();
      for (let k = 0; k < copies.length; k++)
        if (copies[k][2]) enc.copyBufferToBuffer(copies[k][0], 0, dsts[k], 0, copies[k][2]);
      const commands = enc.finish();
      const s0 = performance.now();
      device.queue.submit([commands]);
      floorSubmits.push(performance.now() - s0);
    };
    const floorSubmits: number[] = [];
    // Both warmed first, untimed, so that V8 has optimized them: a training run's steady state. A replay's
    // first hundred or so calls run in V8's lower tiers, where its host work (the per-call closures, the
    // uniform words) takes 2-5x as long (measured: the VAE's host and patch phases 9 and 8 us in the first
    // 60 calls, 3 and 1.4 us over 2,000). Until `warm` calls, or `warmMs` on an adapter that runs them.
    const warm = opts.warm ?? 400,
      warmMs = opts.quick ? 3000 : 15000;
    const w0 = performance.now();
    let warmed = 0;
    for (; warmed < warm && performance.now() - w0 < warmMs; warmed++) {
      if (warmed % 4 === 3) setPhaseClock(new PhaseClock());
      step(batch, noise).dispose();
      setPhaseClock(null);
      floor();
      if (warmed % 8 === 7) await gpu.sync();
    }
    floorSubmits.length = 0;
    const idle = async () => {
      await sync(gpu);
      const enc = device.createCommandEncoder({ label: 'bench idle pass' });
      enc.beginComputePass().end();
      device.queue.submit([enc.finish()]);
    };
    const rounds = opts.quick ? 3 : 6,
      per = opts.quick ? 4 : 8;
    const clock = new PhaseClock();
    /** Every timed call's ms, submit included. */
    const calls: [number[], number[]] = [[], []];
    // The time inside the replay's queue.submit, taken as the floor takes its own.
    const replaySubmits: number[] = [];
    const submit = device.queue.submit;
    const timedSubmit = function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
      const s0 = performance.now();
      submit.call(this, buffers);
      replaySubmits.push(performance.now() - s0);
      return undefined;
    } as GPUQueue['submit'];
    const before = { ...step.stats };
    for (let r = 0; r < rounds; r++) {
      // 0: the replay as a user calls it; 1: the floor; 2: the replay with its phases timed (their marks
      // cost a little, so these calls give the breakdown only).
      for (const which of [0, 1, 2] as const) {
        for (let i = 0; i < per; i++) {
          await idle();
          if (which === 0) {
            device.queue.submit = timedSubmit;
            const s0 = performance.now();
            const l = step(batch, noise);
            calls[0].push(performance.now() - s0);
            device.queue.submit = submit;
            l.dispose();
          } else if (which === 2) {
            setPhaseClock(clock);
            step(batch, noise).dispose();
            setPhaseClock(null);
          } else {
            const s0 = performance.now();
            floor();
            calls[1].push(performance.now() - s0);
          }
        }
      }
    }
    await gpu.sync();
    for (const d of dsts) d.destroy();
    if (step.stats.traces !== before.traces || step.stats.rerecords !== before.rerecords)
      console.log(
        `  (${name}: of ${rounds * per} timed calls, ${step.stats.traces - before.traces} traced and ${step.stats.rerecords - before.rerecords} recorded again)`,
      );
    if (replaySubmits.length !== calls[0].length) throw new Error(`${name}: a timed replay submitted more than once`);
    const phases: FloorRow['phases'] = {};
    for (const [p, ms] of clock.calls) phases[p] = median(ms);
    const row: FloorRow = {
      model: name,
      dispatches: ds.length,
      replayMs: median(calls[0]),
      floorMs: median(calls[1]),
      replayIssueMs: median(calls[0].map((ms, i) => ms - replaySubmits[i])),
      floorIssueMs: median(calls[1].map((ms, i) => ms - floorSubmits[i])),
      phases,
    };
    step.dispose();
    rows.push(row);
    const us = (ms: number) => (ms * 1e3).toFixed(1);
    const side = (a: number, b: number) =>
      `replay ${a.toFixed(3)} ms (${us(a / row.dispatches)} us/dispatch), floor ${b.toFixed(3)} ms ` +
      `(${us(b / row.dispatches)} us/dispatch): ${(a / b).toFixed(2)}x`;
    console.log(
      `${name.padEnd(28)} ${String(row.dispatches).padStart(4)} dispatches (after ${warmed} untimed calls of each)`,
    );
    console.log(`  with queue.submit:    ${side(row.replayMs, row.floorMs)}`);
    console.log(`  without queue.submit: ${side(row.replayIssueMs, row.floorIssueMs)}`);
    console.log(
      `  replay by phase (us): ${Object.entries(phases)
        .map(([p, ms]) => `${p} ${us(ms)}`)
        .join(', ')}`,
    );
  }
  return rows;
}

await runAlone(import.meta.url, benchReplayFloor);
