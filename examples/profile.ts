// Profile a training step: which WebGPU kernels it runs, how often, for how long, at what GFLOP/s.
//
// profile(fn) runs fn and returns its result with the kernels it ran: per kernel the count, the total and
// median time, GFLOP/s and GB/s (from timestamp queries where the adapter has them; otherwise each
// dispatch is submitted alone and timed between completion callbacks: coarser). formatProfile() prints
// them as a table. The step is profiled twice: eagerly (one kernel per op) and compiled (compile():
// the trace's elementwise chains fused into `fused:...` kernels, all of a step in one submit).
// On the CPU backend there are no kernels: the tables are empty, and the example says so.
//
// Run: npx tsx examples/profile.ts        (WGPU_BACKEND=cpu for the CPU backend)
import {
  init,
  nn,
  F,
  rand,
  randint,
  tidy,
  compile,
  profile,
  formatProfile,
  sync,
  shutdown,
  backendInfo,
  type KernelStats,
  type Tensor,
} from 'wgpu-gen';

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
const info = backendInfo();
console.log(`backend: ${info.name} (${info.description}; timestamp queries: ${info.timestampQuery})`);

// A small convolutional classifier of 28 x 28 images, and a batch of stand-in data.
const model = new nn.Sequential(
  new nn.Conv2d(1, 8, 3, { padding: 1 }),
  new nn.ReLU(),
  new nn.MaxPool2d(2), // [16, 8, 14, 14]
  new nn.Conv2d(8, 16, 3, { padding: 1 }),
  new nn.ReLU(),
  new nn.MaxPool2d(2), // [16, 16, 7, 7]
  new nn.Flatten(),
  new nn.Linear(16 * 7 * 7, 10),
);
const opt = new nn.Adam(model.parameters(), { lr: 1e-3 });
const x = rand([16, 1, 28, 28]),
  y = randint(0, 10, [16]);
const trainStep = (x: Tensor, y: Tensor) =>
  tidy(() => {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.call(x), y);
    loss.backward();
    opt.step();
    return loss;
  });
const compiledStep = compile(trainStep);

/** Profiles `steps` calls of a step (after warm-up calls, so that pipelines and state exist). */
async function profiled(
  step: (x: Tensor, y: Tensor) => Tensor,
  steps: number,
  /** The dispatches the step says its last call made (compile()'s stats), summed over the calls. */
  reportedPerCall: () => number = () => 0,
): Promise<{ kernels: KernelStats[]; loss: number; reported: number }> {
  for (let i = 0; i < 2; i++) step(x, y).dispose(); // warm-up (for compile(): the eager call and the trace)
  await sync();
  // The dispatches the compiled step says each call made, summed per call: the tuner may finish measuring
  // a new shape between two calls, and the next call then records the step again with the faster kernel
  // (stats.rerecords), so one call's count need not be the next one's.
  let reported = 0;
  const { result: losses, kernels } = await profile(() =>
    Array.from({ length: steps }, () => {
      const loss = step(x, y);
      reported += reportedPerCall();
      return loss;
    }),
  );
  const loss = await losses[steps - 1].item();
  for (const l of losses) l.dispose();
  return { kernels, loss, reported };
}

const steps = 3;
/** The step's own kernels: not the `tune:` rows, the matmul tuner's measurements of kernel variants
 * (it times the candidates for a new shape in the background, then keeps the fastest). */
const summary = (rows: KernelStats[]) => {
  const own = rows.filter((r) => !r.kernel.startsWith('tune:'));
  return { dispatches: own.reduce((s, r) => s + r.count, 0), ms: own.reduce((s, r) => s + r.totalMs, 0) };
};

const eager = await profiled(trainStep, steps);
console.log(`\neager: ${steps} steps, the 10 kernels with the most time (of ${eager.kernels.length}):`);
console.log(formatProfile(eager.kernels.slice(0, 10)));
const compiled = await profiled(compiledStep, steps, () => compiledStep.stats.dispatches);
console.log(`\ncompiled: ${steps} replays, the 10 kernels with the most time (of ${compiled.kernels.length}):`);
console.log(formatProfile(compiled.kernels.slice(0, 10)));

const e = summary(eager.kernels),
  c = summary(compiled.kernels);
console.log(
  `\nper step: eager ${e.dispatches / steps} dispatches, ${(e.ms / steps).toFixed(1)} ms of kernel time; ` +
    `compiled ${c.dispatches / steps} dispatches, ${(c.ms / steps).toFixed(1)} ms (step.stats.dispatches: ${compiledStep.stats.dispatches})`,
);
console.log(`last losses: eager ${eager.loss.toFixed(4)}, compiled ${compiled.loss.toFixed(4)}`);

// What must hold, so that a broken runtime fails this example.
if (!Number.isFinite(eager.loss) || !Number.isFinite(compiled.loss)) throw new Error('a loss is not finite');
if (info.name === 'cpu') {
  if (eager.kernels.length || compiled.kernels.length)
    throw new Error('the CPU backend has no kernels to profile, yet the profile has rows');
  console.log('(the CPU backend runs no GPU kernels: its profiles are empty; run with WGPU_BACKEND=webgpu)');
} else {
  for (const r of [...eager.kernels, ...compiled.kernels]) {
    if (!(r.count > 0 && r.totalMs >= 0 && Number.isFinite(r.medianMs) && Number.isFinite(r.gflops)))
      throw new Error(`a bad profile row: ${JSON.stringify(r)}`);
  }
  if (!eager.kernels.some((r) => /conv/.test(r.kernel)))
    throw new Error(`no convolution kernel in the eager profile: ${eager.kernels.map((r) => r.kernel).join(', ')}`);
  if (c.dispatches !== compiled.reported)
    throw new Error(
      `the compiled profile counts ${c.dispatches} dispatches, not the ${compiled.reported} that the step's stats report over ${steps} calls (${compiledStep.stats.rerecords} recordings redone)`,
    );
  if (!(c.dispatches < e.dispatches))
    throw new Error(
      `the compiled step dispatches ${c.dispatches} kernels, no fewer than the eager step's ${e.dispatches}`,
    );
}

shutdown(); // releases the device, so that Node exits
