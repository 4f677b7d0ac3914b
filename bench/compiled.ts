// Compiled against eager training steps (src/graph/compile.ts), each model at its CLI defaults, in the
// same process on the same adapter: per step the dispatches (from the profiler), the JS time to issue
// the step (until its work is submitted, and apart from it the time inside queue.submit, which is the
// driver's: Dawn translates the step's commands to Vulkan there, per dispatch; the GPU awaited between steps, outside the timed region, and an
// empty compute pass submitted before each timed step: on SwiftShader the first pass after the queue
// drains costs 4-12 ms, the same for both modes, which would otherwise be counted as the step's), images
// per second in a CLI-like loop (every step's losses read back) in two loops side by side, each step read
// before the next is issued, and overlapped as the CLI's loop is (step i + 1 issued before step i's
// readback is awaited, so the queue never drains between steps; src/cli/train.ts), and the peak bytes
// the step allocates above the state that lives between steps (eager: the pool's high-water mark over a
// step; compiled: the recording's buffers plus what a replay allocates). Part of `npm run bench`; alone:
//   npx tsx bench/compiled.ts [--quick] [--only=<model>]
import { performance } from 'node:perf_hooks';
import { compile, Generator, profile, sync, tensor, type Tensor } from '../src/index.ts';
import { MlpVAE } from '../src/models/vae.ts';
import { MlpGAN, ringBatch } from '../src/models/gan.ts';
import { DCGAN } from '../src/models/dcgan.ts';
import { CycleGAN } from '../src/models/cyclegan.ts';
import type { Trainable, TrainBatch } from '../src/models/model.ts';
import type { WebGPUBackend } from '../src/backend/webgpu/index.ts';
import { median, runAlone } from './common.ts';

export interface CompiledRow {
  model: string;
  batch: number;
  dispatches: [number, number];
  issueMs: [number, number];
  /** Time inside queue.submit calls during the timed step (Dawn's command translation, the driver's). */
  submitMs: [number, number];
  /** Images per second, each step's losses read back before the next step is issued. */
  imagesPerS: [number, number];
  /** Images per second, the next step issued before the last one's losses are awaited (the CLI's loop). */
  overlappedPerS: [number, number];
  peakBytes: [number, number];
}

const noiseData = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => (((i + seed) * 2654435761) >>> 0) / 2 ** 32);

/** The four models of the issue at their CLI defaults (src/models/registry.ts MODEL_SPECS), on synthetic data. */
export const SETUPS: Record<string, (b: WebGPUBackend) => { model: Trainable; batch: TrainBatch; n: number }> = {
  'VAE (MLP, batch 128)': (b) => ({
    model: new MlpVAE({ zDim: 20, generator: new Generator(1), backend: b }),
    batch: { x: tensor(noiseData(128 * 784, 1), [128, 784], { backend: b }) },
    n: 128,
  }),
  'ring GAN (batch 256)': (b) => ({
    model: new MlpGAN({ generator: new Generator(2) }),
    batch: { x: tensor(ringBatch(256, 3, 0), [256, 2], { backend: b }) },
    n: 256,
  }),
  'DCGAN (width 16, batch 64)': (b) => ({
    model: new DCGAN({ width: 16, generator: new Generator(3), backend: b }),
    batch: { x: tensor(noiseData(64 * 784, 3), [64, 784], { backend: b }) },
    n: 64,
  }),
  'CycleGAN (width 8, batch 4)': (b) => ({
    model: new CycleGAN({ width: 8, generator: new Generator(4), backend: b }),
    batch: {
      x: tensor(noiseData(4 * 784, 4), [4, 1, 28, 28], { backend: b }),
      y: tensor(noiseData(4 * 784, 5), [4, 1, 28, 28], { backend: b }),
    },
    n: 4,
  }),
};

export async function benchCompiled(
  gpu: WebGPUBackend,
  opts: { quick?: boolean; only?: string } = {},
): Promise<CompiledRow[]> {
  const rows: CompiledRow[] = [];
  const pool = gpu.ctx.pool;
  for (const [name, make] of Object.entries(SETUPS)) {
    if (opts.only && !name.toLowerCase().includes(opts.only.toLowerCase())) continue;
    const { model, batch, n } = make(gpu);
    const noise = new Generator(9);
    const eager = (bt: TrainBatch, g: Generator): Tensor => model.trainStep(bt, g);
    const compiled = compile(eager);
    const steps = { eager, compiled };
    // Warm-up: the tuner measures every shape with eager steps, then the compiled step traces.
    for (let i = 0; i < 3; i++) {
      eager(batch, noise).dispose();
      await gpu.sync();
    }
    for (let i = 0; i < 3; i++) compiled(batch, noise).dispose();
    await gpu.sync();
    if (compiled.stats.rerecords)
      console.log(`  (${name}: re-recorded ${compiled.stats.rerecords}x after kernel measurements)`);
    const row: CompiledRow = {
      model: name,
      batch: n,
      dispatches: [0, 0],
      issueMs: [0, 0],
      submitMs: [0, 0],
      imagesPerS: [0, 0],
      overlappedPerS: [0, 0],
      peakBytes: [0, 0],
    };
    for (const [k, which] of (['eager', 'compiled'] as const).entries()) {
      const step = steps[which];
      const { kernels } = await profile(() => step(batch, noise).dispose(), gpu);
      row.dispatches[k] = kernels.reduce((s, r) => s + r.count, 0);
      // Peak bytes above what lives between steps.
      await sync(gpu);
      const before = pool.liveBytes;
      pool.peakBytes = before;
      step(batch, noise).dispose();
      await sync(gpu);
      row.peakBytes[k] = pool.peakBytes - before + (which === 'compiled' ? compiled.stats.bytes : 0);
    }
    // Issue time and images per second, the two modes alternating by round (a drifting machine slows both),
    // and within a round the two loops of images per second, over the same number of steps (`loop`: each
    // ends by draining the queue, as an epoch's end does, so the overlap's gain grows with the steps).
    const rounds = opts.quick ? 2 : 4,
      per = opts.quick ? 3 : 6,
      loop = opts.quick ? 6 : 12;
    const issue: [number[], number[]] = [[], []],
      submit: [number[], number[]] = [[], []],
      ips: [number[], number[]] = [[], []],
      over: [number[], number[]] = [[], []];
    // The time inside queue.submit, counted apart (the idle pass's submit is outside the timed region).
    const queue = gpu.ctx.device.queue;
    const submitFn = queue.submit.bind(queue);
    let inSubmit = 0;
    queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
      const t0 = performance.now();
      submitFn(buffers);
      inSubmit += performance.now() - t0;
    };
    for (let r = 0; r < rounds; r++) {
      for (const [k, which] of (['eager', 'compiled'] as const).entries()) {
        const step = steps[which];
        let t = 0,
          ts = 0;
        for (let i = 0; i < per; i++) {
          await sync(gpu);
          const enc = gpu.ctx.device.createCommandEncoder({ label: 'bench idle pass' });
          enc.beginComputePass().end();
          gpu.ctx.device.queue.submit([enc.finish()]);
          inSubmit = 0;
          const s0 = performance.now();
          const l = step(batch, noise);
          gpu.ctx.flush();
          const all = performance.now() - s0;
          t += all - inSubmit;
          ts += inSubmit;
          await l.toArray();
          l.dispose();
        }
        issue[k].push(t / per);
        submit[k].push(ts / per);
        // images/s over a CLI-like loop: step, read the losses, next step (no extra syncs); and over the
        // same number of steps overlapped: step i + 1 issued before step i's readback (enqueued behind
        // step i) is awaited. Which of the two goes first alternates by round.
        for (const overlap of r % 2 ? [true, false] : [false, true]) {
          await sync(gpu);
          const t1 = performance.now();
          let prev: { l: Tensor; read: Promise<Float32Array> } | null = null;
          for (let i = 0; i < loop; i++) {
            const l = step(batch, noise);
            const read = l.toArray();
            if (!overlap) await read;
            if (prev) {
              await prev.read;
              prev.l.dispose();
            }
            prev = { l, read };
          }
          await prev!.read;
          prev!.l.dispose();
          (overlap ? over : ips)[k].push((loop * n) / ((performance.now() - t1) / 1e3));
        }
      }
    }
    queue.submit = submitFn;
    row.issueMs = [median(issue[0]), median(issue[1])];
    row.submitMs = [median(submit[0]), median(submit[1])];
    row.imagesPerS = [median(ips[0]), median(ips[1])];
    row.overlappedPerS = [median(over[0]), median(over[1])];
    if (process.env.BENCH_DEBUG) console.log(compiled.stats);
    compiled.dispose();
    rows.push(row);
    const f = (v: number, d = 1) => v.toFixed(d);
    console.log(
      `${name.padEnd(28)} dispatches ${row.dispatches[0]} -> ${row.dispatches[1]} (${f(row.dispatches[1] / row.dispatches[0], 2)}x); ` +
        `issue ${f(row.issueMs[0], 2)} -> ${f(row.issueMs[1], 2)} ms (${f((100 * row.issueMs[1]) / row.issueMs[0], 1)}%), ` +
        `and in queue.submit ${f(row.submitMs[0], 2)} -> ${f(row.submitMs[1], 2)} ms; ` +
        `images/s ${f(row.imagesPerS[0])} -> ${f(row.imagesPerS[1])} (${f(row.imagesPerS[1] / row.imagesPerS[0], 2)}x), ` +
        `overlapped ${f(row.overlappedPerS[0])} -> ${f(row.overlappedPerS[1])} ` +
        `(overlap ${f(row.overlappedPerS[0] / row.imagesPerS[0], 2)}x eager, ${f(row.overlappedPerS[1] / row.imagesPerS[1], 2)}x compiled); ` +
        `peak MiB ${f(row.peakBytes[0] / 2 ** 20, 2)} -> ${f(row.peakBytes[1] / 2 ** 20, 2)}`,
    );
  }
  return rows;
}

await runAlone(import.meta.url, benchCompiled);
