// Host time per eager op (issue 32): each model of bench/compiled.ts's SETUPS (the four models at their CLI
// defaults) trained eagerly on a WebGPU device, per step the JavaScript that issues the step (trainStep
// until it returns) and the submit of its work (ctx.flush()), per dispatch the same divided by the
// dispatches the step made. By default on Dawn's null backend (every WebGPU call validated, nothing
// executed: the host's costs, ours and Dawn's, without SwiftShader's threads on the same cores);
// --swiftshader on the real adapter (an empty pass submitted and awaited before each timed step, so the
// threads that finish the last step do not slow the one timed). Medians of single steps.
//
// --phases adds a breakdown by phase from a second, instrumented run (each wrapped call timed with
// performance.now(), which inflates the total; per phase the median over steps, so the phases need not add
// up to the instrumented step's median exactly): the WebGPU calls of the eager dispatch path
// (createBindGroup, the pass's setPipeline / setBindGroup / dispatchWorkgroups), the context's own work
// around them (ctx.dispatch less those calls: pipeline lookup, limit checks, the bind-group cache, the
// uniform block), the buffer pool, the submits, and the rest: the runtime and the backend's own JS (shape
// rules, tensors, the tape, tidy, the backward walk, uniform packing: the step less ctx.dispatch and the
// pool).
//   npx tsx bench/dispatch_eager.ts [--swiftshader] [--phases] [--quick] [--only=<model>] [--warmup=<steps>]
import { init, shutdown, sync, Generator } from '../src/index.ts';
import type { WebGPUBackend } from '../src/backend/webgpu/index.ts';
import { SETUPS } from './compiled.ts';
import { median } from './common.ts';

export interface EagerRow {
  model: string;
  dispatches: number;
  /** Medians over single steps, ms: trainStep's issue, the flush that submits it, and the two together. */
  issueMs: number;
  flushMs: number;
  hostMs: number;
  /** ms per step by phase (the instrumented run), when asked for. */
  phases?: Record<string, number>;
}

/** Times each wrapped method's calls into `acc` while `on()` (the method's own name unless `tag`). */
function timeCalls(obj: Record<string, unknown>, names: string[], acc: Record<string, number>, on: () => boolean) {
  for (const name of names) {
    const f = obj[name] as (...a: unknown[]) => unknown;
    obj[name] = function (this: unknown, ...a: unknown[]) {
      if (!on()) return f.apply(this, a);
      const t = performance.now();
      try {
        return f.apply(this, a);
      } finally {
        acc[name] = (acc[name] ?? 0) + performance.now() - t;
      }
    };
  }
}

export async function benchEager(
  gpu: WebGPUBackend,
  opts: { steps?: number; warmup?: number; phases?: boolean; only?: string; drain?: boolean } = {},
): Promise<EagerRow[]> {
  const steps = opts.steps ?? 60,
    warmup = opts.warmup ?? 10;
  const ctx = gpu.ctx;
  const rows: EagerRow[] = [];
  for (const [name, setup] of Object.entries(SETUPS)) {
    if (opts.only && !name.toLowerCase().includes(opts.only.toLowerCase())) continue;
    const { model, batch } = setup(gpu);
    const noise = new Generator(7);
    let dispatches = 0;
    const dispatch = ctx.dispatch;
    ctx.dispatch = function (this: typeof ctx, spec) {
      dispatches++;
      return dispatch.call(this, spec);
    };
    const run = async (n: number, each?: (timed: boolean) => void, skip = warmup) => {
      const issue: number[] = [],
        flush: number[] = [],
        host: number[] = [];
      let count = 0;
      for (let i = 0; i < n; i++) {
        await sync();
        if (opts.drain) {
          // SwiftShader keeps the cores busy for a while after the queue drains: an empty pass first.
          const enc = ctx.device.createCommandEncoder();
          enc.beginComputePass().end();
          ctx.device.queue.submit([enc.finish()]);
          await ctx.device.queue.onSubmittedWorkDone();
        }
        const timed = i >= skip;
        each?.(timed);
        const d0 = dispatches;
        const t0 = performance.now();
        const out = model.trainStep(batch as never, noise);
        const t1 = performance.now();
        ctx.flush();
        const t2 = performance.now();
        each?.(false);
        (out as { dispose?: () => void }).dispose?.();
        if (timed) {
          issue.push(t1 - t0);
          flush.push(t2 - t1);
          host.push(t2 - t0);
          count = dispatches - d0;
        }
      }
      return { issue, flush, host, count };
    };
    const r = await run(warmup + steps);
    const row: EagerRow = {
      model: name,
      dispatches: r.count,
      issueMs: median(r.issue),
      flushMs: median(r.flush),
      hostMs: median(r.host),
    };
    if (opts.phases) {
      const acc: Record<string, number> = {};
      let on = false;
      const isOn = () => on;
      const dev = ctx.device as unknown as Record<string, unknown>;
      const saved = { createBindGroup: dev.createBindGroup, createCommandEncoder: dev.createCommandEncoder };
      timeCalls(dev, ['createBindGroup'], acc, isOn);
      const makeEncoder = dev.createCommandEncoder as (d?: unknown) => Record<string, unknown>;
      dev.createCommandEncoder = function (this: unknown, d?: unknown) {
        const enc = makeEncoder.call(this, d);
        const begin = enc.beginComputePass as (d?: unknown) => Record<string, unknown>;
        enc.beginComputePass = (d2?: unknown) => {
          const pass = begin.call(enc, d2);
          timeCalls(pass, ['setPipeline', 'setBindGroup', 'dispatchWorkgroups'], acc, isOn);
          return pass;
        };
        return enc;
      };
      const c = ctx as unknown as Record<string, unknown>;
      const p = ctx.pool as unknown as Record<string, unknown>;
      const savedCtx = { dispatch: c.dispatch, flush: c.flush };
      const savedPool = { acquire: p.acquire, release: p.release };
      timeCalls(c, ['dispatch', 'flush'], acc, isOn);
      timeCalls(p, ['acquire', 'release'], acc, isOn);
      const n = Math.max(10, steps >> 1);
      // Per step, each phase's time; the breakdown is their medians (a GC pause lands in one step).
      const perStep: Record<string, number>[] = [];
      const t = { t0: 0 };
      // More warm-up than the timed run: the wrappers change the objects' shapes, and the JIT recompiles.
      await run(
        3 * warmup + n,
        (timed) => {
          if (timed) {
            for (const k in acc) delete acc[k];
            on = true;
            t.t0 = performance.now();
          } else if (on) {
            on = false;
            perStep.push({ ...acc, step: performance.now() - t.t0 });
          }
        },
        3 * warmup,
      );
      Object.assign(dev, saved);
      Object.assign(c, savedCtx);
      Object.assign(p, savedPool);
      const per = (k: string) => median(perStep.map((a) => a[k] ?? 0));
      const wgpu = ['createBindGroup', 'setPipeline', 'setBindGroup', 'dispatchWorkgroups'];
      const inWgpu = wgpu.reduce((s, k) => s + per(k), 0);
      const poolMs = per('acquire') + per('release');
      row.phases = {
        'runtime and backend JS': per('step') - per('dispatch') - per('flush') - poolMs,
        'ctx.dispatch own JS': per('dispatch') - inWgpu,
        ...Object.fromEntries(wgpu.map((k) => [k, per(k)])),
        'pool acquire/release': poolMs,
        'flush (submit)': per('flush'),
        'instrumented step': per('step'),
      };
    }
    ctx.dispatch = dispatch;
    rows.push(row);
    const us = (ms: number) => ((ms * 1e3) / row.dispatches).toFixed(1);
    console.log(
      `${name.padEnd(28)} ${String(row.dispatches).padStart(5)} dispatches: host ${row.hostMs.toFixed(3)} ms/step ` +
        `(${us(row.hostMs)} us/dispatch) = issue ${row.issueMs.toFixed(3)} (${us(row.issueMs)}) + submit ${row.flushMs.toFixed(3)} (${us(row.flushMs)})`,
    );
    if (row.phases)
      console.log(
        `  by phase, us/dispatch: ${Object.entries(row.phases)
          .map(([k, v]) => `${k} ${us(v)}`)
          .join(', ')}`,
      );
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const swiftshader = args.includes('--swiftshader');
  // On the null backend the tuner's measurements are noise: its choices (and the dispatch counts) would
  // change from run to run, so the GEMMs are pinned to one variant there (as WGPU_MATMUL=reg does).
  if (!swiftshader) process.env.WGPU_MATMUL ??= 'reg';
  const gpu = (await init({
    backend: 'webgpu',
    quiet: true,
    dawnFlags: [...(swiftshader ? [] : ['backend=null']), 'enable-dawn-features=disable_robustness'],
  } as never)) as WebGPUBackend;
  const quick = args.includes('--quick');
  console.log(`eager host time per step and per dispatch, ${swiftshader ? 'SwiftShader' : "Dawn's null backend"}:`);
  await benchEager(gpu, {
    steps: quick ? 20 : swiftshader ? 30 : 60,
    // Untimed steps first, so that V8 has optimized the eager path (a training run's steady state): on the
    // null backend, where steps are cheap, 100 (measured: 10 left the VAE's per-dispatch time 2-3x its
    // figure after 200, for the code before issue 32 and after it alike).
    warmup: Number(args.find((a) => a.startsWith('--warmup='))?.slice(9) ?? (quick ? 5 : swiftshader ? 10 : 100)),
    phases: args.includes('--phases'),
    only: args.find((a) => a.startsWith('--only='))?.slice(7),
    drain: swiftshader,
  });
  shutdown(gpu);
  process.exit(0);
}
