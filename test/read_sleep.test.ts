// A readback right after a long replay sleeps most of the replay's known GPU time before it asks Dawn to
// map (src/device/context.ts read(): Dawn in Node polls its device on every turn of the event loop while
// a map is pending, a core kept busy). What is checked: the values are the replay's; the sleep happens
// only when the recording's measured latency is over the threshold and nothing but readback copies
// followed the replay; each readback updates the latency; readSleep = false polls as before.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compile, tensor, type Tensor } from '../src/index.ts';
import type { Recording } from '../src/device/recording.ts';
import { getGpu, randomData } from './helpers.ts';

describe('read(): sleeping through a long replay instead of polling', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sleeps after a replay known to be long, never after other work, and reads the right values', async () => {
    const gpu = await getGpu();
    const ctx = gpu.ctx;
    const x = tensor(randomData(64, 7), [8, 8], { backend: gpu });
    const f = (a: Tensor) => a.mul(a).sum(1);
    const step = compile(f);
    let rec: Recording | null = null;
    const replay = ctx.replay.bind(ctx);
    vi.spyOn(ctx, 'replay').mockImplementation((r, inputs, out) => {
      rec = r;
      replay(r, inputs, out);
    });
    for (let i = 0; i < 3; i++) step(x).dispose();
    await gpu.sync();
    expect(rec).not.toBeNull();
    const want = await f(x).toArray();
    const sleeps: number[] = [];
    let askedAt = 0;
    const timeout = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      sleeps.push(ms ?? 0);
      askedAt = performance.now();
      return timeout(fn, ms);
    }) as typeof setTimeout);

    // A short replay (a GPU's): no sleep. Its latency is measured by the read.
    const r = rec as unknown as Recording;
    r.latencyMs = 0;
    let y = step(x);
    expect(await y.toArray()).toEqual(want);
    y.dispose();
    expect(sleeps).toEqual([]);
    expect(r.latencyMs).toBeGreaterThan(0);

    // Known to take 300 ms: the read sleeps 0.8 of it less the time since the replay was submitted, then
    // reads the same values. The bounds come from the clock around the step, not from a guess at how
    // fast this machine is: a stall between the step and the read shortens the sleep by as much.
    r.latencyMs = 300;
    const t0 = performance.now();
    y = step(x);
    expect(await y.toArray()).toEqual(want);
    const t1 = performance.now();
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeLessThanOrEqual(240);
    expect(sleeps[0], `asked ${(askedAt - t0).toFixed(1)} ms after the step`).toBeGreaterThanOrEqual(
      240 - (askedAt - t0) - 0.01,
    );
    // The measurement pulls the estimate toward what it took: 0.7 of 300 plus 0.3 of a time at least
    // the sleep and at most the whole step and read.
    expect(r.latencyMs).toBeGreaterThanOrEqual(210 + 0.3 * sleeps[0]);
    expect(r.latencyMs).toBeLessThanOrEqual(210 + 0.3 * (t1 - t0));
    const z = y.add(1);
    y.dispose();
    sleeps.length = 0;
    r.latencyMs = 300;

    // Work after the replay (an eager op, z above, submitted by its read): no sleep.
    expect(await z.toArray()).toEqual(want.map((v) => Math.fround(v + 1)));
    expect(sleeps).toEqual([]);
    z.dispose();

    // readSleep off: polled, as Dawn does.
    ctx.readSleep = false;
    y = step(x);
    expect(await y.toArray()).toEqual(want);
    expect(sleeps).toEqual([]);
    ctx.readSleep = true;
    y.dispose();
    step.dispose();
    x.dispose();
  });
});
