// npm run bench: our kernels side by side with TensorFlow.js's WebGPU backend, in the same process, on
// the same Dawn instance (so the same adapter and the same Dawn toggles), plus an ALU-peak probe as the
// adapter's ceiling. Prints a table with ratios and writes bench/results.json.
//
// Options: --quick (fewer repetitions), --robust (keep Dawn's robustness checks; by default both
// runtimes run with the 'disable_robustness' toggle, as the two are compared under the same toggles
// either way), --only=<substring> (cases whose name contains it).

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  init,
  randn,
  rand,
  Generator,
  shutdown,
  sync,
  backendInfo,
  aluPeak,
  kernelChoices,
  conv2d,
  conv2dInput,
  conv2dWeight,
  nn,
  F,
  tidy,
  tensor,
  gpuInstance,
  type Tensor,
} from '../src/index.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const robust = args.includes('--robust');
const only = args.find((a) => a.startsWith('--only='))?.slice(7);

const toggles = robust ? [] : ['enable-dawn-features=disable_robustness'];
const gpu = await init({ backend: 'webgpu', dawnFlags: toggles });

// TensorFlow.js's WebGPU backend on the same Dawn instance: navigator.gpu must exist before it loads.
(globalThis as { navigator?: unknown }).navigator = { gpu: gpuInstance(gpu), userAgent: 'node' };
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
// tfjs-core's gradients (needed by the training-step case) ship only as ESM files that Node cannot
// resolve (directory imports); esbuild bundles them, and they register into tfjs's global registry.
{
  const esbuild = await import('esbuild');
  const { createRequire } = await import('node:module');
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const built = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  await import('data:text/javascript;base64,' + Buffer.from(built.outputFiles[0].text).toString('base64'));
}
await tf.setBackend('webgpu');
await tf.ready();

interface Record_ {
  case: string;
  ours: number;
  peer: number | null;
  unit: string;
  ratio: number | null;
  oursMs: number;
  peerMs: number | null;
}
const results: Record_[] = [];

/** Median wall time (ms) of one call of fn, run `reps` times after a warm-up, waiting for the GPU. */
async function timeIt(fn: () => void, wait: () => Promise<void>, reps: number): Promise<number> {
  fn();
  await wait();
  fn();
  await wait();
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await wait();
    times.push((performance.now() - t0) / reps);
  }
  return times.sort((a, b) => a - b)[1];
}

const ourWait = () => sync(gpu);
let tfLast: { dataSync?: unknown; data(): Promise<unknown> } | null = null;
const tfWait = async () => {
  if (tfLast) await tfLast.data();
};

async function bench(
  name: string,
  unit: 'GFLOP/s' | 'GB/s',
  work: number,
  ours: () => Tensor,
  peer: (() => unknown) | null,
  reps: number,
) {
  if (only && !name.includes(only)) return;
  const oursMs = await timeIt(() => ours().dispose(), ourWait, reps);
  await sync(gpu);
  // Again, now that the tuner has measured this shape.
  const oursMs2 = await timeIt(() => ours().dispose(), ourWait, reps);
  const best = Math.min(oursMs, oursMs2);
  let peerMs: number | null = null;
  if (peer) {
    peerMs = await timeIt(
      () => {
        const r = peer() as { dispose(): void; data(): Promise<unknown> };
        if (tfLast) (tfLast as unknown as { dispose(): void }).dispose();
        tfLast = r;
      },
      tfWait,
      reps,
    );
  }
  const rate = (ms: number) => work / (ms / 1e3) / 1e9;
  const rec: Record_ = {
    case: name,
    ours: rate(best),
    peer: peerMs ? rate(peerMs) : null,
    unit,
    ratio: peerMs ? peerMs / best : null,
    oursMs: best,
    peerMs,
  };
  results.push(rec);
  const f = (v: number | null) => (v === null ? '-' : v.toFixed(2));
  console.log(
    `${name.padEnd(34)} ours ${f(rec.ours).padStart(8)} ${unit.padEnd(7)}  tfjs ${f(rec.peer).padStart(8)}  ratio ${f(rec.ratio).padStart(6)}x`,
  );
}

const info = backendInfo(gpu);
console.log(`adapter: ${info.description}; Dawn toggles: ${toggles.join(' ') || '(defaults, robustness on)'}`);
console.log(
  `tfjs-backend-webgpu ${(tf as unknown as { version_core: string }).version_core} on the same Dawn instance\n`,
);

const g = new Generator(123);
const R = quick ? 1 : 2;

// matmul: square sizes, a batched and a skinny shape
for (const n of [256, 512, 1024]) {
  const a = randn([n, n], { generator: g }),
    b = randn([n, n], { generator: g });
  const ta = tf.randomNormal([n, n]),
    tb = tf.randomNormal([n, n]);
  await bench(
    `matmul ${n}x${n}x${n}`,
    'GFLOP/s',
    2 * n ** 3,
    () => a.matmul(b),
    () => tf.matMul(ta, tb),
    n >= 1024 ? R : 3 * R,
  );
}
{
  const [B, n] = [16, 128];
  const a = randn([B, n, n], { generator: g }),
    b = randn([B, n, n], { generator: g });
  const ta = tf.randomNormal([B, n, n]),
    tb = tf.randomNormal([B, n, n]);
  await bench(
    `matmul batched ${B}x${n}x${n}x${n}`,
    'GFLOP/s',
    2 * B * n ** 3,
    () => a.matmul(b),
    () => tf.matMul(ta, tb),
    3 * R,
  );
}
{
  const [M, K, N] = [4096, 512, 16];
  const a = randn([M, K], { generator: g }),
    b = randn([K, N], { generator: g });
  const ta = tf.randomNormal([M, K]),
    tb = tf.randomNormal([K, N]);
  await bench(
    `matmul skinny ${M}x${K}x${N}`,
    'GFLOP/s',
    2 * M * K * N,
    () => a.matmul(b),
    () => tf.matMul(ta, tb),
    3 * R,
  );
}
// elementwise on 4M floats: 2 reads + 1 write
{
  const n = 4 * 1024 * 1024;
  const a = randn([n], { generator: g }),
    b = randn([n], { generator: g });
  const ta = tf.randomNormal([n]),
    tb = tf.randomNormal([n]);
  await bench(
    'add 4M floats',
    'GB/s',
    12 * n,
    () => a.add(b),
    () => tf.add(ta, tb),
    5 * R,
  );
  await bench(
    'sigmoid 4M floats',
    'GB/s',
    8 * n,
    () => a.sigmoid(),
    () => tf.sigmoid(ta),
    5 * R,
  );
  // reduction of 4M floats: rows of 2048
  const a2 = a.reshape([2048, 2048]),
    ta2 = tf.reshape(ta, [2048, 2048]);
  await bench(
    'sum rows 2048x2048',
    'GB/s',
    4 * n,
    () => a2.sum(1),
    () => tf.sum(ta2, 1),
    5 * R,
  );
  await bench(
    'sum all 4M floats',
    'GB/s',
    4 * n,
    () => a.sum(),
    () => tf.sum(ta),
    5 * R,
  );
}

// conv2d of a DCGAN-sized layer: batch 64, 64 -> 128 channels, 4x4 kernel, stride 2, pad 1, 32x32 -> 16x16.
// tfjs runs its native NHWC layout; the work (multiply-adds) is the same.
{
  const [n, C, O, H, k] = [64, 64, 128, 32, 4];
  const OH = H / 2;
  const flops = 2 * n * O * OH * OH * C * k * k;
  const x = randn([n, C, H, H], { generator: g }),
    w = randn([O, C, k, k], { generator: g }).mul(0.05);
  const dy = randn([n, O, OH, OH], { generator: g });
  const tx = tf.randomNormal([n, H, H, C]) as import('@tensorflow/tfjs-core').Tensor4D;
  const tw = tf.randomNormal([k, k, C, O]) as import('@tensorflow/tfjs-core').Tensor4D;
  const tdy = tf.randomNormal([n, OH, OH, O]) as import('@tensorflow/tfjs-core').Tensor4D;
  const reps = quick ? 1 : 2;
  const o = { stride: 2, padding: 1 };
  await bench(
    'conv2d fwd 64x64->128 4x4 s2 32->16',
    'GFLOP/s',
    flops,
    () => conv2d(x, w, null, o),
    () => tf.conv2d(tx, tw, 2, 1),
    reps,
  );
  await bench(
    'conv2d grad input (same layer)',
    'GFLOP/s',
    flops,
    () => conv2dInput(x.shape, w, dy, o),
    () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy: tdy, filter: tw },
          { strides: 2, pad: 1, dataFormat: 'NHWC', inputShape: [n, H, H, C] },
        ),
    reps,
  );
  await bench(
    'conv2d grad weight (same layer)',
    'GFLOP/s',
    flops,
    () => conv2dWeight(x, w.shape, dy, o),
    () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x: tx, dy: tdy },
          { strides: 2, pad: 1, dataFormat: 'NHWC', filterShape: [k, k, C, O] },
        ),
    reps,
  );
}

// One training step of an MLP (784-256-256-10, batch 128, ReLU, cross-entropy, Adam): forward, backward
// and the optimizer update, against tfjs's variableGrads + tf.train.adam.
if (!only || 'mlp train step'.includes(only)) {
  const [B, D, H, C] = [128, 784, 256, 10];
  const model = new nn.Sequential(
    new nn.Linear(D, H, { generator: g }),
    new nn.ReLU(),
    new nn.Linear(H, H, { generator: g }),
    new nn.ReLU(),
    new nn.Linear(H, C, { generator: g }),
  );
  const opt = new nn.Adam(model.parameters(), { lr: 1e-3 });
  const x = rand([B, D], { generator: g });
  const y = rand([B], { generator: g })
    .mul(C)
    .sub(0.5)
    .clamp(0, C - 1);
  const yIdx = await y.toArray();
  const yInt = Array.from(yIdx, Math.round);
  const yt = tensor(Float32Array.from(yInt));
  const ourStep = () =>
    tidy(() => {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.call(x), yt);
      loss.backward();
      opt.step();
      return loss;
    });
  const tfVars = [
    tf.variable(tf.randomUniform([D, H], -0.05, 0.05)),
    tf.variable(tf.zeros([H])),
    tf.variable(tf.randomUniform([H, H], -0.06, 0.06)),
    tf.variable(tf.zeros([H])),
    tf.variable(tf.randomUniform([H, C], -0.06, 0.06)),
    tf.variable(tf.zeros([C])),
  ];
  const tx = tf.randomUniform([B, D]);
  const ty = tf.oneHot(tf.tensor1d(yInt, 'int32'), C);
  const tfOpt = tf.train.adam(1e-3);
  const tfStep = () =>
    tf.tidy(() => {
      const lossFn = () => {
        const h1 = tf.relu(tf.add(tf.matMul(tx, tfVars[0]), tfVars[1]));
        const h2 = tf.relu(tf.add(tf.matMul(h1, tfVars[2]), tfVars[3]));
        return tf.losses.softmaxCrossEntropy(
          ty,
          tf.add(tf.matMul(h2, tfVars[4]), tfVars[5]),
        ) as import('@tensorflow/tfjs-core').Scalar;
      };
      const { value, grads } = tf.variableGrads(lossFn);
      tfOpt.applyGradients(grads as Parameters<typeof tfOpt.applyGradients>[0]);
      return value;
    });
  const flops = 3 * 2 * B * (D * H + H * H + H * C);
  await bench(`mlp train step ${D}-${H}-${H}-${C} b${B}`, 'GFLOP/s', flops, ourStep, tfStep, quick ? 3 : 6);

  // The training loop's finite check (Optimizer.nonFinite): the update kernels flag non-finite gradients
  // and parameters on the way, and the loop reads the flags back with the loss. Steps waited for by
  // reading the loss alone, and by reading loss and flags together; alternating rounds, median ms/step.
  const rounds: Record<'loss' | 'loss+flags', number[]> = { loss: [], 'loss+flags': [] };
  for (let r = 0; r < (quick ? 4 : 10); r++) {
    for (const mode of ['loss', 'loss+flags'] as const) {
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) {
        const loss = ourStep();
        await Promise.all([loss.toArray(), mode === 'loss+flags' ? opt.nonFinite() : null]);
        loss.dispose();
      }
      rounds[mode].push((performance.now() - t0) / 5);
    }
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const [plain, checked] = [med(rounds.loss), med(rounds['loss+flags'])];
  results.push({
    case: 'mlp train step + finite check (ms/step)',
    ours: checked,
    peer: plain,
    unit: 'ms',
    ratio: checked / plain,
    oursMs: checked,
    peerMs: plain,
  });
  console.log(
    `${'mlp step + finite check'.padEnd(34)} ${checked.toFixed(2)} ms/step with the flags read, ${plain.toFixed(2)} without: ${(checked / plain).toFixed(3)}x`,
  );
}

// Compiled against eager training steps of the four models at their CLI defaults (bench/compiled.ts).
if (!only || 'compiled'.includes(only)) {
  const { benchCompiled } = await import('./compiled.ts');
  console.log('\ncompiled (src/graph/compile.ts) against eager training steps, same process and adapter:');
  for (const r of await benchCompiled(gpu as never, { quick })) {
    const ratio = (c: number, e: number) => c / e;
    results.push({
      case: `compiled/eager dispatches per step: ${r.model}`,
      ours: r.dispatches[1],
      peer: r.dispatches[0],
      unit: 'dispatches',
      ratio: ratio(r.dispatches[1], r.dispatches[0]),
      oursMs: 0,
      peerMs: null,
    });
    results.push({
      case: `compiled/eager JS issue time per step: ${r.model}`,
      ours: r.issueMs[1],
      peer: r.issueMs[0],
      unit: 'ms',
      ratio: ratio(r.issueMs[1], r.issueMs[0]),
      oursMs: r.issueMs[1],
      peerMs: r.issueMs[0],
    });
    results.push({
      case: `compiled/eager time in queue.submit per step: ${r.model}`,
      ours: r.submitMs[1],
      peer: r.submitMs[0],
      unit: 'ms',
      ratio: ratio(r.submitMs[1], r.submitMs[0]),
      oursMs: r.submitMs[1],
      peerMs: r.submitMs[0],
    });
    results.push({
      case: `compiled/eager images per second: ${r.model}`,
      ours: r.imagesPerS[1],
      peer: r.imagesPerS[0],
      unit: 'images/s',
      ratio: ratio(r.imagesPerS[1], r.imagesPerS[0]),
      oursMs: 0,
      peerMs: null,
    });
    // The CLI's loop, overlapped (step i + 1 issued before step i's losses are read) against reading each
    // step first, for the compiled step (the CLI's default) and the eager one.
    for (const [k, mode] of (['eager', 'compiled'] as const).entries()) {
      results.push({
        case: `overlapped/read-each images per second (${mode}): ${r.model}`,
        ours: r.overlappedPerS[k],
        peer: r.imagesPerS[k],
        unit: 'images/s',
        ratio: ratio(r.overlappedPerS[k], r.imagesPerS[k]),
        oursMs: 0,
        peerMs: null,
      });
    }
    results.push({
      case: `compiled/eager peak bytes per step: ${r.model}`,
      ours: r.peakBytes[1],
      peer: r.peakBytes[0],
      unit: 'bytes',
      ratio: ratio(r.peakBytes[1], r.peakBytes[0]),
      oursMs: 0,
      peerMs: null,
    });
  }
}

// A replayed step against Dawn's own floor for the same recording (bench/replay_floor.ts): host time per
// step, submit included, and by phase.
if (!only || 'floor'.includes(only)) {
  const { benchReplayFloor } = await import('./replay_floor.ts');
  console.log("\nreplay (src/graph/compile.ts) against Dawn's floor for the same recording, host time per step:");
  for (const r of await benchReplayFloor(gpu as never, { quick })) {
    results.push({
      case: `replay/floor host time per step: ${r.model}`,
      ours: r.replayMs,
      peer: r.floorMs,
      unit: 'ms',
      ratio: r.replayMs / r.floorMs,
      oursMs: r.replayMs,
      peerMs: r.floorMs,
    });
  }
}

// A readback after a long replay: polled (Dawn's way) against slept through (bench/sleep_read.ts).
if (!only || 'sleep'.includes(only)) {
  const { benchSleepRead } = await import('./sleep_read.ts');
  console.log('\nreadback after a replay, slept through against polled, images/s of the compiled step:');
  for (const r of await benchSleepRead(gpu as never, { quick })) {
    results.push({
      case: `slept/polled readback, images per second: ${r.model}`,
      ours: r.imagesPerS[1],
      peer: r.imagesPerS[0],
      unit: 'images/s',
      ratio: r.imagesPerS[1] / r.imagesPerS[0],
      oursMs: 0,
      peerMs: null,
    });
  }
}

// Host time per eager op (bench/dispatch_eager.ts): the JavaScript that issues an eager step and the submit
// of its work, per step and per dispatch, on this adapter (alone, on Dawn's null backend: that file's CLI).
if (!only || 'eager'.includes(only)) {
  const { benchEager } = await import('./dispatch_eager.ts');
  console.log('\neager steps, host time (issue + submit) per step and per dispatch:');
  for (const r of await benchEager(gpu as never, { steps: quick ? 10 : 20, warmup: 5, drain: true })) {
    results.push({
      case: `eager host time per dispatch: ${r.model}`,
      ours: (r.hostMs * 1e3) / r.dispatches,
      peer: null,
      unit: 'us',
      ratio: null,
      oursMs: r.hostMs,
      peerMs: null,
    });
  }
}

// ALU-peak probe: independent multiply-adds in registers, the adapter's ceiling.
if (!only || 'alu'.includes(only)) {
  const probe = (await aluPeak(gpu))!;
  results.push({
    case: 'alu probe (vec4 fma)',
    ours: probe,
    peer: null,
    unit: 'GFLOP/s',
    ratio: null,
    oursMs: 0,
    peerMs: null,
  });
  console.log(`${'alu probe (vec4 fma)'.padEnd(34)} ours ${probe.toFixed(2).padStart(8)} GFLOP/s  (adapter ceiling)`);
  const mm = results.find((r) => r.case === 'matmul 1024x1024x1024');
  if (mm) console.log(`\nmatmul 1024 reaches ${((100 * mm.ours) / probe).toFixed(0)}% of the ALU probe`);
}

console.log('\nkernel variants chosen by measurement (shape class -> ms per variant):');
for (const c of kernelChoices(gpu))
  console.log(
    `  ${c.key.padEnd(60)} ${Object.entries(c.timings)
      .map(([v, ms]) => `${v} ${ms.toFixed(1)}`)
      .join(', ')}  -> ${c.chosen}`,
  );
writeFileSync(
  new URL('./results.json', import.meta.url),
  JSON.stringify({ adapter: info.description, toggles, date: new Date().toISOString(), results }, null, 2),
);
console.log('wrote bench/results.json');
shutdown(gpu);
process.exit(0);
