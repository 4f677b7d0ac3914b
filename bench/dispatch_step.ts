// JS-side issue time of one MLP VAE (batch 128) training step on the WebGPU backend: the time from
// trainStep's start until it returns, the GPU not awaited inside the timed region (it is awaited
// between steps), median over STEPS - 10 steps (default 50) after 10 warm-up steps. Measures eager dispatch overhead
// (src/graph/apply.ts), not kernel time. Run: npx tsx bench/dispatch_step.ts
import { init, tensor, sync, Generator, shutdown } from '../src/index.ts';
import { MlpVAE } from '../src/models/vae.ts';

const backend = await init({ quiet: true } as never);
const model = new MlpVAE({ zDim: 20, generator: new Generator(1n) } as never);
const data = new Float32Array(128 * 784).map((_, i) => ((i * 2654435761) >>> 0) / 2 ** 32);
const x = tensor(data, [128, 784], { backend });
const noise = new Generator(2n);
const times: number[] = [];
const STEPS = Number(process.env.STEPS ?? 60);
for (let i = 0; i < STEPS; i++) {
  await sync();
  const t0 = performance.now();
  const out = model.trainStep({ x } as never, noise);
  const t1 = performance.now();
  await out.toArray();
  out.dispose();
  if (i >= 10) times.push(t1 - t0);
}
times.sort((a, b) => a - b);
const q = (f: number) => times[Math.floor(f * (times.length - 1))].toFixed(3);
console.log(
  `backend ${backend.name} (${backend.description}); median issue time ${q(0.5)} ms, p10 ${q(0.1)}, p90 ${q(0.9)} over ${times.length} steps`,
);
await shutdown();
