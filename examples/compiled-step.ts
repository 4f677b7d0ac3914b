// A compiled training step: compile(fn) runs fn's first call eagerly, traces the second into one graph
// (forward, backward and the optimizer's updates) and replays that graph on every later call (on WebGPU:
// one submit of recorded, fused kernels, no op-level JavaScript). It computes what the eager step
// computes: this example trains two copies of one model side by side, one eagerly and one compiled, and
// checks that their losses and weights agree at every step, dropout's random masks included (random
// draws and Adam's step count are per-call data of the replay, never constants baked into the trace).
//
// Run: npx tsx examples/compiled-step.ts        (WGPU_BACKEND=cpu for the CPU reference backend)
import { init, nn, F, compile, randn, tidy, noGrad, Generator, shutdown, backendInfo, type Tensor } from 'wgpu-gen';

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
const backend = backendInfo().name;
console.log('backend:', backend);

/** An MLP classifier whose dropout draws its masks from its own seeded generator. */
const makeModel = (dropoutSeed: number) =>
  new nn.Sequential(
    new nn.Linear(16, 64),
    new nn.ReLU(),
    new nn.Dropout(0.2, new Generator(dropoutSeed)),
    new nn.Linear(64, 64),
    new nn.ReLU(),
    new nn.Linear(64, 4),
  );

/** One training step of a model: zero the gradients, the loss, backward, Adam's update. */
const makeStep = (model: nn.Sequential, opt: nn.Adam) => (x: Tensor, y: Tensor) =>
  tidy(() => {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.call(x), y);
    loss.backward();
    opt.step();
    return loss; // tidy() frees the step's other tensors; the loss is kept
  });

// Two copies of one model: the same initial weights, the same dropout seed.
const eagerModel = makeModel(5),
  compiledModel = makeModel(5);
await compiledModel.loadStateDict(eagerModel.stateDict());
const eagerStep = makeStep(eagerModel, new nn.Adam(eagerModel.parameters(), { lr: 3e-3 }));
const compiledStep = compile(makeStep(compiledModel, new nn.Adam(compiledModel.parameters(), { lr: 3e-3 })));

// Data: 256 random inputs labelled by a random "teacher" network (a task the student can learn).
const data = new Generator(1);
const x = randn([256, 16], { generator: data });
const teacher = new nn.Linear(16, 4);
const y = noGrad(() => teacher.call(x).argmax(1)); // int32 class indices

const steps = 40;
// Bit for bit on the CPU reference (the replay runs the same ops in the same order); on WebGPU the
// fused kernels of a compiled step may sum in another order: float32 rounding, within 1e-5.
const tolerance = backend === 'cpu' ? 0 : 1e-5,
  weightTolerance = backend === 'cpu' ? 0 : 1e-4;
let worst = 0,
  firstLoss = NaN,
  lastLoss = NaN,
  eagerMs = 0,
  compiledMs = 0;
for (let i = 0; i < steps; i++) {
  let t = performance.now();
  const le = eagerStep(x, y);
  const a = await le.item(); // waits for the device: the step's whole time
  if (i >= 5) eagerMs += performance.now() - t;
  t = performance.now();
  const lc = compiledStep(x, y); // call 1: eager, call 2: traced and run, then replayed
  const b = await lc.item();
  if (i >= 5) compiledMs += performance.now() - t;
  le.dispose();
  lc.dispose();
  worst = Math.max(worst, Math.abs(a - b) / Math.max(1, Math.abs(a)));
  if (i === 0) firstLoss = a;
  lastLoss = a;
  if (i % 10 === 0 || i === steps - 1)
    console.log(`step ${String(i).padStart(2)}  eager loss ${a.toFixed(6)}  compiled loss ${b.toFixed(6)}`);
}

// The weights after 40 steps, compared one by one.
const we = eagerModel.stateDict(),
  wc = compiledModel.stateDict();
let worstWeight = 0;
for (const [name, t] of we) {
  const [p, q] = [await t.toArray(), await wc.get(name)!.toArray()];
  for (let i = 0; i < p.length; i++) worstWeight = Math.max(worstWeight, Math.abs(p[i] - q[i]));
}

const { eagerCalls, traces, replays, guards, dispatches, bytes } = compiledStep.stats;
console.log('step.stats:', { eagerCalls, traces, replays, guards, dispatches, bytes });
console.log(
  `each replay: ${dispatches} ${backend === 'webgpu' ? 'kernel dispatches in one submit' : 'ops of the graph, run in order'}, after checking ${guards} guards`,
);
console.log(`largest difference: loss ${worst.toExponential(2)} (relative), weights ${worstWeight.toExponential(2)}`);
const per = (ms: number) => (ms / (steps - 5)).toFixed(2);
console.log(
  `ms per step (steps 5-${steps - 1}, with a readback each): eager ${per(eagerMs)}, compiled ${per(compiledMs)}`,
);

// What must hold, so that a broken runtime fails this example.
if (eagerCalls !== 1 || traces !== 1 || replays !== steps - 2)
  throw new Error(`expected 1 eager call, 1 trace, ${steps - 2} replays: ${JSON.stringify(compiledStep.stats)}`);
if (!(worst <= tolerance))
  throw new Error(`the compiled step's loss differs from the eager one's by ${worst} (allowed ${tolerance})`);
if (!(worstWeight <= weightTolerance))
  throw new Error(`the compiled step's weights differ from the eager one's by ${worstWeight}`);
if (!(lastLoss < firstLoss / 2)) throw new Error(`the loss did not fall: ${firstLoss} -> ${lastLoss}`);

compiledStep.dispose(); // frees the recording's buffers
shutdown(); // releases the device, so that Node exits
