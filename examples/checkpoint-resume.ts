// Save a training run's checkpoint, load it into a fresh process's objects, and continue: the resumed
// run must be the uninterrupted run, step for step.
//
// What a run's state is: the model's weights, the optimizer's state (Adam's moments m and v and its step
// counts, which its bias correction reads), the random stream's position (here the Generator drawing
// the input noise of each step), the learning-rate schedule's step, and on WebGPU the kernel variants
// the matmul tuner chose (kernelChoices(): split-K sums in another order than the other variants, so a
// resumed process fixes the same ones with setKernelChoices(), as the CLI's --resume does).
// checkpointTensors() (from 'wgpu-gen/io') gives the first two as named arrays under PyTorch-style
// names (0.weight, ..., optim.0.weight.m, ...) with the step counts in the metadata; the rest goes in
// the metadata too.
// saveSafetensors() writes the file atomically; loadSafetensors() reads it back (each tensor's CRC-32
// checked) and restoreCheckpoint() loads it, strict (every name, every shape) and all or nothing.
//
// Run: npx tsx examples/checkpoint-resume.ts [directory]        (WGPU_BACKEND=cpu for the CPU backend)
// The checkpoint goes into the directory given, or a new temporary one that is removed at the end.
import {
  init,
  nn,
  F,
  randn,
  tidy,
  noGrad,
  manualSeed,
  Generator,
  kernelChoices,
  setKernelChoices,
  shutdown,
  backendInfo,
} from 'wgpu-gen';
import { checkpointTensors, restoreCheckpoint, saveSafetensors, loadSafetensors } from 'wgpu-gen/io';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TOTAL = 20,
  SPLIT = 10,
  BATCH = 64;

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
console.log('backend:', backendInfo().name);

// A regression task: 256 inputs and the outputs of a random "teacher" network.
const dataNoise = new Generator(1);
const X = randn([256, 8], { generator: dataNoise });
const teacher = new nn.Sequential(new nn.Linear(8, 16), new nn.Tanh(), new nn.Linear(16, 1));
const Y = noGrad(() => teacher.call(X));

/** Everything a run holds: its model, optimizer, schedule and random stream. */
function newRun(initSeed: number, noiseSeed: number) {
  manualSeed(initSeed); // the layers' initial weights come from the default generator
  const model = new nn.Sequential(new nn.Linear(8, 32), new nn.ReLU(), new nn.Linear(32, 1));
  const opt = new nn.Adam(model.parameters(), { lr: 1e-2 });
  const sched = new nn.StepLR(opt, { stepSize: 8, gamma: 0.5 });
  return { model, opt, sched, noise: new Generator(noiseSeed) };
}
type Run = ReturnType<typeof newRun>;

/** Training steps from..to-1; returns each step's loss. */
async function train(run: Run, from: number, to: number): Promise<number[]> {
  const losses: number[] = [];
  for (let step = from; step < to; step++) {
    const loss = tidy(() => {
      const rows = (step % 4) * BATCH; // the step's batch: a function of the step alone
      const x = X.slice(0, rows, rows + BATCH),
        y = Y.slice(0, rows, rows + BATCH);
      const noisy = x.add(randn(x.shape, { generator: run.noise }).mul(0.05)); // input-noise augmentation
      run.opt.zeroGrad();
      const l = F.mse(run.model.call(noisy), y);
      l.backward();
      run.opt.step();
      return l;
    });
    run.sched.step();
    losses.push(await loss.item());
    loss.dispose();
  }
  return losses;
}

/** Every weight of a model, concatenated (to compare two runs). */
async function weights(model: nn.Module): Promise<number[]> {
  const out: number[] = [];
  for (const t of model.parameters()) out.push(...(await t.toArray()));
  return out;
}

// Run A: TOTAL steps without a break.
const a = newRun(42, 7);
const lossesA = await train(a, 0, TOTAL);
const weightsA = await weights(a.model);

// Run B: the same start, SPLIT steps, then a checkpoint.
const b = newRun(42, 7);
const lossesB = await train(b, 0, SPLIT);
const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'wgpu-gen-checkpoint-'));
const path = join(dir, 'checkpoint.safetensors');
const { tensors, metadata } = await checkpointTensors(b.model, [b.opt]);
saveSafetensors(path, tensors, {
  ...metadata, // optimizer step counts
  step: String(SPLIT),
  noise: JSON.stringify(b.noise.getState()), // the random stream's seed and offset
  scheduler_t: String(b.sched.t), // the schedule's step (PyTorch's last_epoch)
  kernel_choices: JSON.stringify(
    Object.fromEntries(
      kernelChoices()
        .filter((k) => k.chosen)
        .map((k) => [k.key, k.chosen]),
    ),
  ),
});
console.log(`saved ${path}: ${tensors.size} tensors (${[...tensors.keys()].slice(0, 6).join(', ')}, ...)`);

// Run C, as a new process would: new objects with other initial weights and another noise seed; the
// checkpoint restores all of it.
const c = newRun(1234, 99);
const ckpt = loadSafetensors(path);
await restoreCheckpoint(ckpt, c.model, [c.opt], path); // weights, Adam's m and v, its step counts
c.noise.setState(JSON.parse(ckpt.metadata.noise));
setKernelChoices(JSON.parse(ckpt.metadata.kernel_choices)); // (none on the CPU backend)
// A scheduler's state is its step count; its rates are closed forms of it, so stepping a fresh one
// there sets the optimizer's learning rate as the checkpointed run had it.
for (let t = 0; t < Number(ckpt.metadata.scheduler_t); t++) c.sched.step();
const start = Number(ckpt.metadata.step);
console.log(
  `resumed at step ${start}: Adam step ${c.opt.stepCount}, learning rate ${c.sched.lastLr}, noise offset ${c.noise.offset}`,
);
const lossesC = await train(c, start, TOTAL);
const weightsC = await weights(c.model);
if (!process.argv[2]) rmSync(dir, { recursive: true });

console.log('step  uninterrupted    interrupted+resumed');
for (let s = 0; s < TOTAL; s += 2) {
  const resumed = s < SPLIT ? lossesB[s] : lossesC[s - SPLIT];
  console.log(
    `${String(s).padStart(4)}  ${lossesA[s].toFixed(6).padStart(13)}  ${resumed.toFixed(6).padStart(13)}${s === SPLIT ? '  <- resumed here' : ''}`,
  );
}
const diff = (p: number[], q: number[]) => p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i])), 0);
const lossDiff = diff(lossesA, [...lossesB, ...lossesC]),
  weightDiff = diff(weightsA, weightsC);
console.log(`largest difference from the uninterrupted run: loss ${lossDiff}, weights ${weightDiff}`);

// What must hold, so that a broken runtime fails this example: the same ops on the same values give
// the same bits, so the resumed run is the uninterrupted one exactly.
if (lossDiff !== 0 || weightDiff !== 0)
  throw new Error(`the resumed run differs from the uninterrupted one (loss by ${lossDiff}, weights by ${weightDiff})`);
if (!(lossesA[TOTAL - 1] < lossesA[0] / 2))
  throw new Error(`the loss did not fall: ${lossesA[0]} -> ${lossesA[TOTAL - 1]}`);

shutdown(); // releases the device, so that Node exits
