// The training CLI (the project's main job):
//   npm run train -- [train] <vae|gan|dcgan|cyclegan|classifier> [--dataset D] [--epochs N] [--batch N]
//        [--lr X] [--zdim N] [--arch mlp|conv] [--width N] [--seed N] [--backend webgpu|cpu] [--out DIR]
//        [--resume CKPT] [--classifier CKPT] [--train-size N] [--steps N] [--max-seconds S]
//   npm run train -- eval <model> --ckpt CKPT     the model's test metrics, printed and written as eval.json
//   npm run train -- sample <model> --ckpt CKPT   the model's pictures
// A run writes metrics.jsonl (per epoch: mean training loss terms, test metrics, images/s), PNG pictures,
// loss.svg and a safetensors checkpoint (written atomically; PyTorch-style names, optimizer state, the
// noise generator's offset and the kernel choices, so --resume continues the same trajectory) to its
// out directory. A NaN or Inf loss stops the run with a clear message and leaves the last good
// checkpoint in place. --max-seconds stops training after that much step time (mid-epoch if need be: the
// run is then evaluated and checkpointed there, and --resume continues from that very step). Per-model parts (data, evaluation, pictures) are in jobs.ts.

import { parseArgs } from 'node:util';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { init, Generator, sync, shutdown, backendInfo, kernelChoices, setKernelChoices } from '../index.ts';
import { saveSafetensors, loadSafetensors } from '../io/safetensors_file.ts';
import { checkpointTensors, restoreCheckpoint } from '../io/checkpoint.ts';
import { writeLossCurves, type Series } from '../io/plot.ts';
import { MODELS, DATASETS, MODEL_DEFAULTS, RING_STEPS, buildModel, createJob, modelConfig, type JobOptions, type ModelName, type ModelConfig } from './jobs.ts';

const COMMANDS = ['train', 'eval', 'sample'] as const;
const READY_MODELS: ModelName[] = [...MODELS];
const BACKENDS = ['webgpu', 'cpu'] as const;
const ARCHS = ['mlp', 'conv'] as const;

class UsageError extends Error {}

function choice<T extends string>(name: string, value: string, valid: readonly T[]): T {
  if (!valid.includes(value as T)) throw new UsageError(`unknown ${name} '${value}': choose one of ${valid.join(', ')}`);
  return value as T;
}

function num(name: string, v: string | undefined, dflt: number, integer = false, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n <= min) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} greater than ${min}, got '${v}'`);
  }
  return n;
}

function parse(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        dataset: { type: 'string' }, epochs: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
        zdim: { type: 'string' }, arch: { type: 'string' }, width: { type: 'string' }, lambda: { type: 'string' }, seed: { type: 'string' },
        backend: { type: 'string' }, out: { type: 'string' }, resume: { type: 'string' }, ckpt: { type: 'string' },
        classifier: { type: 'string' }, 'train-size': { type: 'string' }, steps: { type: 'string' },
        'max-seconds': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help || positionals.length === 0) throw new UsageError('');
  // `npm run train -- vae` is short for `train vae`.
  const explicit = (COMMANDS as readonly string[]).includes(positionals[0]);
  const [cmdRaw, modelRaw, ...rest] = explicit ? positionals : ['train', ...positionals];
  const command = choice('command', cmdRaw, COMMANDS);
  if (!modelRaw) throw new UsageError(`missing model: choose one of ${MODELS.join(', ')}`);
  const model = choice('model', modelRaw, MODELS);
  if (!READY_MODELS.includes(model)) throw new UsageError(`model '${model}' is not available yet: the trainable models are ${READY_MODELS.join(', ')}`);
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const d = MODEL_DEFAULTS[model];
  const dataset = choice('dataset', v.dataset ?? d.datasets[0], DATASETS);
  if (!d.datasets.includes(dataset)) throw new UsageError(`model '${model}' does not train on '${dataset}': choose one of ${d.datasets.join(', ')}`);
  const opts = {
    command, model, dataset,
    epochs: num('epochs', v.epochs, d.epochs, true),
    batch: num('batch', v.batch, d.batch, true),
    lr: num('lr', v.lr, d.lr),
    zdim: v.zdim === undefined ? undefined : num('zdim', v.zdim, 0, true),
    arch: choice('arch', v.arch ?? 'mlp', ARCHS),
    width: v.width === undefined ? undefined : num('width', v.width, 0, true),
    lambda: v.lambda === undefined ? undefined : num('lambda', v.lambda, 0, false, -1e-9),
    seed: v.seed === undefined ? 0 : num('seed', v.seed, 0, true, -1),
    backend: choice('backend', v.backend ?? 'webgpu', BACKENDS),
    out: v.out ?? `runs/${model}-${dataset}`,
    resume: v.resume,
    ckpt: v.ckpt,
    classifier: v.classifier,
    trainSize: v['train-size'] === undefined ? undefined : num('train-size', v['train-size'], 0, true),
    steps: v.steps === undefined ? undefined : num('steps', v.steps, 0, true),
    maxSeconds: v['max-seconds'] === undefined ? undefined : num('max-seconds', v['max-seconds'], 0),
  };
  if (command !== 'train' && !opts.ckpt) throw new UsageError(`${command} needs --ckpt <checkpoint.safetensors>`);
  return opts;
}
type Opts = ReturnType<typeof parse>;

const USAGE = `usage: npm run train -- [train|eval|sample] <${MODELS.join('|')}> [options]
  --dataset D      vae, dcgan, classifier: mnist|fashion (mnist); gan: ring;
                   cyclegan: dilated|fashion (MNIST <-> dilated MNIST, or <-> Fashion-MNIST)
  --epochs N       (vae 3, gan 5 x ${RING_STEPS} steps, dcgan 5, classifier 5, cyclegan 1)
  --batch N        (vae 128, gan 256, dcgan 64, classifier 64, cyclegan 4)
  --lr X           Adam learning rate (vae 1e-3, gan 1e-3, dcgan 2e-4, classifier 1e-3, cyclegan 5e-4)
  --zdim N         latent size (vae 20, dcgan 64)     --arch mlp|conv   VAE architecture (mlp)
  --width N        channels of the first conv (conv vae 16, dcgan 32, classifier 32, cyclegan 8)
  --lambda X       CycleGAN's cycle-consistency weight (10)
  --seed N (0)     --backend ${BACKENDS.join('|')} (webgpu)     --out DIR (runs/<model>-<dataset>)
  --resume CKPT    continue a run from its checkpoint          --ckpt CKPT   for eval and sample
  --classifier CKPT  the scoring classifier of the DCGAN (runs/classifier-<dataset>/checkpoint.safetensors)
  --train-size N   train on the first N training images only (quick runs and tests)
  --steps N        at most N steps per epoch (quick runs and tests)
  --max-seconds S  stop training after S seconds of steps, mid-epoch if need be (evaluated and
                   checkpointed there; --resume continues from that step)`;

function jobOptions(o: Opts, config: ModelConfig): JobOptions {
  return { model: o.model, dataset: o.dataset, batch: o.batch, seed: o.seed, trainSize: o.trainSize, classifier: o.classifier, config };
}

/** Reads a checkpoint and checks that it holds this kind of model. */
function readCheckpoint(path: string, model: ModelName) {
  const ckpt = loadSafetensors(path);
  const kind = ckpt.metadata.model;
  if (kind !== model) throw new Error(`${path} holds a ${kind ?? 'model of unknown kind'}, not a ${model}`);
  return ckpt;
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3));
const summary = (r: Record<string, number>) => Object.entries(r).filter(([k]) => !/^(class|mode)_\d/.test(k)).map(([k, x]) => `${k} ${fmt(x)}`).join(', ');

async function train(o: Opts): Promise<void> {
  mkdirSync(o.out, { recursive: true });
  const config = modelConfig(o.model, o);
  const model = buildModel(o.model, config);
  const job = createJob(jobOptions(o, config), model);
  if (o.steps !== undefined) job.perEpoch = Math.min(job.perEpoch, o.steps);
  const optimizers = model.optimizers();
  const noise = new Generator(o.seed + 1);
  let startEpoch = 0, startIndex = 0;
  const ckptPath = join(o.out, 'checkpoint.safetensors');
  if (o.resume) {
    const ckpt = readCheckpoint(o.resume, o.model);
    await restoreCheckpoint(ckpt, model, optimizers, o.resume);
    startEpoch = Number(ckpt.metadata.epoch ?? 0);
    // A run stopped by --max-seconds mid-epoch records the steps it took of the next epoch.
    startIndex = Number(ckpt.metadata.epoch_step ?? 0);
    if (!Number.isInteger(startIndex) || startIndex < 0 || startIndex >= job.perEpoch) {
      throw new Error(`${o.resume}: its epoch_step ${ckpt.metadata.epoch_step} is not a step of this run's epochs (0..${job.perEpoch - 1})`);
    }
    noise.setState(JSON.parse(ckpt.metadata.noise_generator ?? '{"seed":"0","offset":0}'));
    setKernelChoices(JSON.parse(ckpt.metadata.kernel_choices ?? '{}'));
    console.log(`resumed from ${o.resume} at epoch ${startEpoch}${startIndex ? `, step ${startIndex}` : ''}`);
  } else {
    writeFileSync(join(o.out, 'metrics.jsonl'), '');
  }
  // Warm-up: training steps on a snapshot of the state, restored afterwards, so the kernel tuner has
  // measured every shape before the first real step (kernel choices are then fixed for the run and saved
  // with the checkpoints for --resume). Again while a step still makes new choices: once a convolution
  // has chosen im2col, its matmuls are new shapes to measure (up to 3 steps).
  {
    const saved = await checkpointTensors(model, optimizers);
    for (let i = 0, known = -1; i < 3 && kernelChoices().length !== known; i++) {
      known = kernelChoices().length;
      model.trainStep(job.batch(0, 0), new Generator(0)).dispose();
      await sync();
    }
    await restoreCheckpoint(saved, model, optimizers);
    model.zeroGrad();
    await job.warmup?.();
    await sync();
  }
  const info = backendInfo();
  console.log(`training ${o.model} ${JSON.stringify(config)} on ${job.data}, batch ${o.batch}, ${o.epochs} epochs, ` +
    `on ${info.name} (${info.description})`);
  const names = model.lossNames;
  const curves: Series[] = [...names.map((n) => ({ name: `train ${n} (per step)`, points: [] as [number, number][] }))];
  const rows: Record<string, number>[] = [];
  if (o.resume && existsSync(join(o.out, 'metrics.jsonl'))) {
    for (const line of readFileSync(join(o.out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean)) {
      const r = JSON.parse(line);
      if (r.epoch <= startEpoch + startIndex / job.perEpoch) rows.push(r);
    }
  }
  const bar = new cliProgress.SingleBar({
    format: `epoch {epoch} |{bar}| {value}/{total} steps | {losses} | {ips} img/s | ETA {eta_formatted}`,
    hideCursor: true, noTTYOutput: true, notTTYSchedule: 5000,
  }, cliProgress.Presets.shades_classic);
  let trainSeconds = 0, outOfTime = false;
  for (let epoch = startEpoch; epoch < o.epochs && !outOfTime; epoch++) {
    const first = epoch === startEpoch ? startIndex : 0;
    bar.start(job.perEpoch, first, { epoch: epoch + 1, losses: '-', ips: '-' });
    const t0 = performance.now();
    const sums = new Array(names.length).fill(0);
    let index = first;
    while (index < job.perEpoch && !outOfTime) {
      const terms = model.trainStep(job.batch(epoch, index), noise);
      // One readback per step for all loss terms (each readback waits for the queue).
      const values = await terms.toArray();
      terms.dispose();
      const bad = [...values].findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) {
        bar.stop();
        throw new Error(`the ${names[bad]} loss became ${values[bad]} at epoch ${epoch + 1}, step ${index + 1} ` +
          `(${names.map((n, i) => `${n} ${values[i]}`).join(', ')}): stopping; ` +
          `the last good checkpoint is ${existsSync(ckptPath) ? ckptPath : 'none yet (no epoch finished)'} (try a lower --lr)`);
      }
      const step = epoch * job.perEpoch + index + 1;
      values.forEach((x, i) => { sums[i] += x; curves[i].points.push([step, x]); });
      index++;
      const elapsed = (performance.now() - t0) / 1e3;
      bar.update(index, { losses: names.map((n, i) => `${n} ${fmt(values[i])}`).join(' '), ips: (((index - first) * o.batch) / elapsed).toFixed(0) });
      outOfTime = o.maxSeconds !== undefined && trainSeconds + elapsed >= o.maxSeconds;
    }
    bar.stop();
    const seconds = (performance.now() - t0) / 1e3;
    trainSeconds += seconds;
    const steps = index - first;
    const complete = index === job.perEpoch;
    if (!complete) console.log(`--max-seconds ${o.maxSeconds}: stopping after ${trainSeconds.toFixed(1)} s of training, at step ${index} of epoch ${epoch + 1}`);
    const test = await job.evaluate();
    const record: Record<string, number> = {
      epoch: epoch + index / job.perEpoch, step: epoch * job.perEpoch + index,
      ...Object.fromEntries(names.map((n, i) => [`train_${n}`, sums[i] / steps])),
      ...test, images_per_s: (steps * o.batch) / seconds,
    };
    rows.push(record);
    appendFileSync(join(o.out, 'metrics.jsonl'), JSON.stringify(record) + '\n');
    const headline = Object.keys(test)[0];
    const perEpoch: Series[] = headline ? [{ name: `test ${headline} (per epoch)`, points: rows.map((r) => [r.step, r[headline]] as [number, number]) }] : [];
    writeLossCurves(join(o.out, 'loss.svg'), job.title, [...curves, ...perEpoch]);
    console.log(`epoch ${epoch + 1}: ${summary(record)}`);
    const saved = await checkpointTensors(model, optimizers);
    saveSafetensors(ckptPath, saved.tensors, {
      ...saved.metadata, model: o.model, config: JSON.stringify(config), dataset: o.dataset,
      epoch: String(complete ? epoch + 1 : epoch), ...(complete ? {} : { epoch_step: String(index) }),
      noise_generator: JSON.stringify(noise.getState()),
      kernel_choices: JSON.stringify(Object.fromEntries(kernelChoices().map((c) => [c.key, c.chosen]))),
    });
  }
  const files = await job.pictures(o.out);
  console.log(`wrote ${[join(o.out, 'metrics.jsonl'), join(o.out, 'loss.svg'), ckptPath, ...files.map((f) => join(o.out, f))].join(', ')}`);
}

/** The model of a checkpoint, built from the config it stores, with its weights. */
async function fromCheckpoint(o: Opts) {
  const ckpt = readCheckpoint(o.ckpt!, o.model);
  const config = JSON.parse(ckpt.metadata.config ?? '{}') as ModelConfig;
  const model = buildModel(o.model, config);
  await restoreCheckpoint(ckpt, model, [], o.ckpt);
  const dataset = (ckpt.metadata.dataset ?? o.dataset) as Opts['dataset'];
  return { model, job: createJob(jobOptions({ ...o, dataset }, config), model), dataset };
}

async function evalCmd(o: Opts): Promise<void> {
  const { job, dataset } = await fromCheckpoint(o);
  const r = await job.evaluate(true);
  const out = { model: o.model, dataset, checkpoint: o.ckpt, ...r };
  console.log(JSON.stringify(out, null, 2));
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify(out, null, 2));
}

async function sampleCmd(o: Opts): Promise<void> {
  const { job } = await fromCheckpoint(o);
  mkdirSync(o.out, { recursive: true });
  const files = await job.pictures(o.out);
  console.log(`wrote ${files.map((f) => join(o.out, f)).join(', ')}`);
}

async function main(): Promise<number> {
  let o: Opts;
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message ? `error: ${e.message}\n${USAGE}` : USAGE);
      return 2;
    }
    throw e;
  }
  await init({ backend: o.backend });
  try {
    if (o.command === 'train') await train(o);
    else if (o.command === 'eval') await evalCmd(o);
    else await sampleCmd(o);
  } finally {
    await sync();
    shutdown();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
