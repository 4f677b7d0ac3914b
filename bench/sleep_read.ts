// A readback after a long replay, waited for by polling (Dawn's way in Node: its device polled on every
// turn of the event loop, a core kept busy) against sleeping most of the replay's known GPU time first
// (src/device/context.ts read()): images/s of each model's compiled step in a CLI-like loop (step, read
// the losses), the two ways alternating by round in one process. On SwiftShader the polling core is one
// the kernels need. Part of `npm run bench`; alone:
//   npx tsx bench/sleep_read.ts [--quick] [--only=<model>]
import { performance } from 'node:perf_hooks';
import { compile, Generator, type Tensor } from '../src/index.ts';
import type { TrainBatch } from '../src/models/model.ts';
import type { WebGPUBackend } from '../src/backend/webgpu/index.ts';
import { SETUPS } from './compiled.ts';
import { median, runAlone } from './common.ts';

export interface SleepRow {
  model: string;
  /** images/s: polled, slept. */
  imagesPerS: [number, number];
}

export async function benchSleepRead(
  gpu: WebGPUBackend,
  opts: { quick?: boolean; only?: string } = {},
): Promise<SleepRow[]> {
  const rows: SleepRow[] = [];
  for (const [name, make] of Object.entries(SETUPS)) {
    if (opts.only && !name.toLowerCase().includes(opts.only.toLowerCase())) continue;
    const { model, batch, n } = make(gpu);
    const noise = new Generator(9);
    const step = compile((bt: TrainBatch, g: Generator): Tensor => model.trainStep(bt, g));
    for (let i = 0; i < 3; i++) {
      model.trainStep(batch, noise).dispose();
      await gpu.sync();
    }
    for (let i = 0; i < 4; i++) await step(batch, noise).toArray();
    const rounds = opts.quick ? 3 : 5,
      per = opts.quick ? 4 : 8;
    const ips: [number[], number[]] = [[], []];
    const sleeps = gpu.ctx.readSleep;
    for (let r = 0; r < rounds; r++) {
      for (const k of [0, 1] as const) {
        gpu.ctx.readSleep = k === 1;
        await gpu.sync();
        const t0 = performance.now();
        for (let i = 0; i < per; i++) {
          const l = step(batch, noise);
          await l.toArray();
          l.dispose();
        }
        ips[k].push((per * n) / ((performance.now() - t0) / 1e3));
      }
    }
    gpu.ctx.readSleep = sleeps;
    step.dispose();
    const row: SleepRow = { model: name, imagesPerS: [median(ips[0]), median(ips[1])] };
    rows.push(row);
    console.log(
      `${name.padEnd(28)} images/s polled ${row.imagesPerS[0].toFixed(1)}, slept ${row.imagesPerS[1].toFixed(1)} ` +
        `(${(row.imagesPerS[1] / row.imagesPerS[0]).toFixed(2)}x)`,
    );
  }
  return rows;
}

await runAlone(import.meta.url, benchSleepRead);
