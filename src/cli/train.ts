// The training CLI (the project's main job):
//   npm run train -- [train] <vae|gan|dcgan|cyclegan|classifier|rbm|dbn> [--dataset D] [--epochs N] [--batch N]
//        [--lr X] [--lr-d X] [--lower CKPT] [--zdim N] [--arch mlp|conv] [--width N] [--seed N] [--backend webgpu|cpu] [--out DIR]
//        [--resume CKPT [--allow-mismatch]] [--classifier CKPT] [--train-size N] [--steps N] [--max-seconds S]
//        [--eager] [--no-overlap] [--overwrite]
//   npm run train -- eval <model> --ckpt CKPT     the model's test metrics, printed and written as eval.json
//   npm run train -- sample <model> --ckpt CKPT   the model's pictures
//   npm run train -- export <model> --ckpt CKPT [--format onnx] [--out FILE] [--batch N]
//                                                 the deployable part as ONNX (src/io/onnx.ts)
// A run writes metrics.jsonl (per epoch: mean training loss terms, test metrics (the VAE's ELBO and its
// importance-weighted log p(x), --iwae-k), images/s), steps.jsonl
// (per step: the loss terms, the learning rate of each optimizer, images/s), PNG pictures,
// loss.svg and a safetensors checkpoint (written atomically; PyTorch-style names, optimizer state, the
// noise generator's offset and the kernel choices, so --resume continues the same trajectory) to its
// out directory. A NaN or Inf loss, a diverging one (DIVERGED, GROWTH), or a NaN or Inf in any gradient
// or updated parameter (the optimizers' per-step flags, read with the loss) stops the run with a clear
// message naming the step that produced it, and leaves the last good checkpoint in place. The loop reads
// one step behind: step i + 1 is issued before step i's losses and flags are awaited (their readbacks
// enqueued behind step i), so the device's queue never drains between steps; every step is checked in
// order, and all of an epoch's before its evaluation and checkpoint (--no-overlap: each step read
// before the next is issued). --max-seconds stops training after that much
// step time (mid-epoch if need be: the run is then evaluated and checkpointed there, and --resume
// continues from that very step, the epoch's
// partial loss sums included). The out directory is locked for the run (run.lock, the PID inside); each
// epoch's checkpoint is written before its metrics row, so a run killed between the two and resumed
// never repeats a row. A run's stages (resume, warm-up, step, checkpoint, report) are the methods of
// Training, called in order by trainLocked. The options: options.ts (one table; parse() and --help).
// Per-model parts: the registry (src/models/registry.ts: defaults, options, build, exported part,
// metrics) and jobs.ts (data, evaluation, pictures).

import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type cliProgressType from 'cli-progress';
import { optionalPackage, requireOptional } from '../optional.ts';
import {
  init,
  compile,
  Generator,
  sync,
  shutdown,
  backendInfo,
  kernelChoices,
  setKernelChoices,
  type Tensor,
} from '../index.ts';
import { kernelChoiceProblem } from '../runtime.ts';
// The library through its public entry points only, as a user's script would use it.
import {
  saveSafetensors,
  loadSafetensors,
  writeFileAtomic,
  writeLossCurves,
  checkpointTensors,
  restoreCheckpoint,
  fsErrorMessage,
  processAlive,
  removeOrphanTemps,
  exportModuleOnnx,
  curvesSvg,
  type Series,
} from '../io/node.ts';
import { DBN, type RBM, type TrainBatch, type Trainable } from '../models/index.ts';
import type { Optimizer } from '../nn/optim.ts';
import type { AnyModule } from '../nn/module.ts';
import {
  MODEL_SPECS,
  buildModel,
  configOf,
  type ModelName,
  type ModelConfig,
  type DatasetName,
} from '../models/registry.ts';
import { parse, usage, USAGE, UsageError, HelpRequest, FLAG_OF, type Opts } from './options.ts';
import { RBM_AIS, createJob, parseConfig, checkFinite, type Job, type JobOptions } from './jobs.ts';

function jobOptions(o: Opts, config: ModelConfig): JobOptions {
  return {
    model: o.model,
    dataset: o.dataset,
    batch: o.batch,
    seed: o.seed,
    trainSize: o.trainSize,
    classifier: o.classifier,
    config,
    rbm: { betas: o.aisBetas, runs: o.aisRuns, sampleSteps: RBM_AIS.sampleSteps },
    iwaeK: o.iwaeK,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a checkpoint: it must hold this kind of model, finite values only (a diverged run's file is
 * refused, naming the tensor), and valid values in every metadata field the CLI reads (missing fields
 * take their defaults: the demo's files have fewer). Each error names the file and the field.
 */
function readCheckpoint(path: string, model: ModelName) {
  const ckpt = loadSafetensors(path);
  const m = ckpt.metadata;
  if (m.model !== model)
    throw new Error(`${path} holds a ${m.model ?? 'model of unknown kind (no model metadata)'}, not a ${model}`);
  checkFinite(ckpt.tensors, path);
  const bad = (field: string, want: string) =>
    new Error(
      `${path}: metadata ${field} must be ${want}, got ${m[field] === undefined ? 'none' : `'${m[field].slice(0, 80)}'`}`,
    );
  const count = (field: string, min = 0) => {
    const v = m[field];
    if (v !== undefined && !(/^\d+$/.test(v) && Number.isSafeInteger(Number(v)) && Number(v) >= min))
      throw bad(field, `an integer of ${min} or more`);
    return v === undefined ? undefined : Number(v);
  };
  const json = (field: string, ok: (x: unknown) => boolean, want: string): unknown => {
    if (m[field] === undefined) return undefined;
    let x: unknown;
    try {
      x = JSON.parse(m[field]);
    } catch {
      throw bad(field, want);
    }
    if (!ok(x)) throw bad(field, want);
    return x;
  };
  const datasets: readonly string[] = MODEL_SPECS[model].datasets;
  if (m.dataset !== undefined && !datasets.includes(m.dataset))
    throw bad('dataset', `a dataset of the ${model} (${datasets.join(', ')})`);
  const noise = json(
    'noise_generator',
    (x) =>
      isObject(x) &&
      typeof x.seed === 'string' &&
      /^\d{1,20}$/.test(x.seed) &&
      BigInt(x.seed) < 2n ** 64n &&
      Number.isSafeInteger(x.offset) &&
      (x.offset as number) >= 0,
    'a JSON object {"seed": "<unsigned 64-bit integer>", "offset": <integer of 0 or more>}',
  ) as { seed: string; offset: number } | undefined;
  const choices = json(
    'kernel_choices',
    (x) => isObject(x) && Object.values(x).every((v) => typeof v === 'string'),
    'a JSON object of shape class -> kernel variant',
  ) as Record<string, string> | undefined;
  for (const [k, v] of Object.entries(choices ?? {})) {
    const problem = kernelChoiceProblem(k, v);
    if (problem) throw new Error(`${path}: metadata kernel_choices gives '${k}' the variant '${v}', which ${problem}`);
  }
  const state = {
    config: parseConfig(model, m.config, path),
    dataset: m.dataset as DatasetName | undefined,
    batch: count('batch', 1),
    epoch: count('epoch') ?? 0,
    epochStep: count('epoch_step') ?? 0,
    // The loss sums of the steps taken of a mid-epoch stop's epoch (--max-seconds), so that the epoch's
    // train_* averages cover all its steps once resumed.
    epochSums: json(
      'epoch_sums',
      (x) => Array.isArray(x) && x.every((n) => typeof n === 'number' && Number.isFinite(n)),
      'a JSON array of finite numbers (the loss sums of the epoch so far)',
    ) as number[] | undefined,
    noise,
    kernelChoices: choices ?? {},
    // Since 0.4: the run's step count, its steps per epoch (after --steps) and --train-size ('all' where
    // none was given). Older files and the demo's have none: the step is then counted from the epoch.
    step: count('step'),
    stepsPerEpoch: count('steps_per_epoch', 1),
    trainSize: m.train_size === 'all' ? ('all' as const) : count('train_size', 1),
  };
  return { ckpt, state };
}

/** The settings of this run that differ from the checkpoint's (those it records), as "--lr 0.001 -> 0.1". */
function differences(saved: Record<string, unknown>, now: Record<string, unknown>): string[] {
  // By value: the DBN's layers are arrays. A saved D rate with none given now is a difference too: D
  // would train at --lr.
  const show = (v: unknown) =>
    v === undefined ? 'none (D at --lr)' : Array.isArray(v) ? `[${v.join(', ')}]` : String(v);
  const keys = [...Object.keys(now), ...(saved.lrD !== undefined && now.lrD === undefined ? ['lrD'] : [])];
  return keys
    .filter((k) => saved[k] !== undefined && JSON.stringify(saved[k]) !== JSON.stringify(now[k]))
    .map((k) => `${FLAG_OF[k] ?? `config ${k}`} ${show(saved[k])} in the checkpoint, ${show(now[k])} now`);
}

/** A resume's differences of settings: refused, naming each, unless --allow-mismatch (then said). */
function settingsDiffer(o: Opts, diffs: string[]): void {
  if (!diffs.length) return;
  if (!o.allowMismatch)
    throw new Error(
      `--resume ${o.resume}: this run's settings differ from the checkpoint's (${diffs.join('; ')}): ` +
        "rerun with the checkpoint's settings, or add --allow-mismatch to continue with the new ones",
    );
  console.log(`--allow-mismatch: continuing ${o.resume} with other settings (${diffs.join('; ')})`);
}

/** Locks the out directory for this process (run.lock holds its PID); returns the release function. */
function lockOut(dir: string): () => void {
  const path = join(dir, 'run.lock');
  for (;;) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(fsErrorMessage(e, path), { cause: e });
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8').trim();
    } catch {
      continue; // released meanwhile: try again
    }
    const pid = Number(text);
    if (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) {
      throw new Error(
        `${dir} is in use by another run (process ${pid}, which holds ${path}): wait for it to end or choose ` +
          `another --out (if process ${pid} is not a training run, remove ${path})`,
      );
    }
    // Its holder died without releasing it (killed, or the machine went down). Two runs starting at the
    // same moment on one stale lock could both take it over: not guarded, the window is a few microseconds.
    console.log(`taking over the lock ${path}: its process ${text || '(none recorded)'} is no longer running`);
    rmSync(path, { force: true });
  }
  let held = true;
  return () => {
    if (!held) return;
    try {
      rmSync(path, { force: true });
    } catch (e) {
      throw new Error(fsErrorMessage(e, path, 'remove'), { cause: e });
    }
    held = false;
  };
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdir loops forever where mkdir fails with ENOENT
 * under an existing parent (/proc).
 */
function makeDirs(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    return;
  }
  if (dirname(dir) !== dir) makeDirs(dirname(dir));
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** The metrics rows of a run up to `step` (a resumed run drops the rows of steps its checkpoint has not seen). */
function rowsUpTo(path: string, step: number): Record<string, number>[] {
  if (!existsSync(path)) return [];
  const rows: Record<string, number>[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      try {
        const r = JSON.parse(line);
        if (isObject(r) && typeof r.step === 'number') {
          if (r.step <= step) rows.push(r as Record<string, number>);
          return;
        }
      } catch {
        // reported below
      }
      // A line cut short (a full disk) or edited by hand: dropped, with a message.
      console.log(`${path}: dropping line ${i + 1}, which is not a row of step numbers: ${line.slice(0, 60)}`);
    });
  return rows;
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3));
const summary = (r: Record<string, number>) =>
  Object.entries(r)
    .filter(([k]) => !/^(class|mode)_\d/.test(k))
    .map(([k, x]) => `${k} ${fmt(x)}`)
    .join(', ');

/**
 * Divergence, stopped like a NaN: a loss term beyond 1e20, or beyond 1e6 times its first step's
 * magnitude in this process (at least 1). No model here has a legitimate loss anywhere near either (the
 * VAE starts at ~543 nats and falls, GAN and classifier losses stay within ~10x of their start), and Adam
 * squares the gradients in float32, which overflows to Inf at ~1.8e19, so such a run would be NaN soon.
 */
const DIVERGED = 1e20,
  GROWTH = 1e6;

/** A training step issued, its readbacks enqueued behind it, not yet checked. */
interface Issued {
  /** The step's index in its epoch. */
  index: number;
  /** When it was issued (performance.now()). */
  started: number;
  /** Each optimizer's learning rate in the step. */
  lrs: number[];
  terms: Tensor;
  /** The loss terms, and each optimizer's flagged parameters (Optimizer.nonFinite). */
  read: Promise<[Float32Array, string[][]]>;
}

async function train(o: Opts): Promise<void> {
  try {
    makeDirs(o.out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR')
      throw new Error(`--out ${o.out} is not a directory: a file of that name is in the way`, { cause: e });
    if (code === 'ENOENT')
      throw new Error(
        `cannot create ${o.out}: ${dirname(o.out)} takes no new directories (ENOENT: a virtual file system such as /proc?); choose another --out`,
        { cause: e },
      );
    throw new Error(fsErrorMessage(e, o.out, 'create'), { cause: e });
  }
  const release = lockOut(o.out);
  // Killed by Ctrl-C or a TERM signal: no temporary file and no lock is left behind.
  const onSignal = (signal: NodeJS.Signals) => {
    try {
      release();
    } catch (e) {
      console.error((e as Error).message);
    }
    console.error(`\nstopped by ${signal}; the last checkpoint (if any) is intact`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let failed = false;
  try {
    const orphans = removeOrphanTemps(o.out);
    if (orphans.length)
      console.log(`removed ${orphans.join(', ')} from ${o.out}: partial writes of processes that died mid-write`);
    await trainLocked(o);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // A lock that cannot be removed (the file system turned read-only) must not hide the error that
    // stopped the run: that one is reported, and the lock's problem noted after it (a later run takes
    // over a lock whose process is gone).
    try {
      release();
    } catch (e) {
      // eslint-disable-next-line no-unsafe-finally -- thrown only when the run itself succeeded, so it hides no error
      if (!failed) throw e;
      console.error(`(also: ${(e as Error).message}; a later run takes it over, its process being gone)`);
    }
  }
}

/**
 * The trained stack a new DBN goes on (--lower): an RBM or a DBN checkpoint, read as eval reads one, on
 * the run's dataset and the pixels' 784 units.
 */
async function readLower(o: Opts): Promise<{ model: RBM | DBN; layers: number[] }> {
  const path = o.lower!;
  const kind = loadSafetensors(path).metadata.model;
  if (kind !== 'rbm' && kind !== 'dbn')
    throw new Error(
      `--lower ${path} holds a ${kind ?? 'model of unknown kind (no model metadata)'}: a DBN stacks on an rbm or a dbn checkpoint`,
    );
  const { ckpt, state } = readCheckpoint(path, kind);
  if (state.dataset !== undefined && state.dataset !== o.dataset) {
    throw new Error(
      `--lower ${path} was trained on ${state.dataset}, this run trains on ${o.dataset}: stack on a model of the same data (or pass --dataset ${state.dataset})`,
    );
  }
  const model = buildModel(kind, state.config) as RBM | DBN;
  await restoreCheckpoint(ckpt, model, [], path);
  return { model, layers: model instanceof DBN ? [...model.sizes] : [model.hidden] };
}

/**
 * A new run: refuses to replace a previous one unasked (its logs would be truncated now and its
 * checkpoint replaced at the first epoch's end), checks the optional packages (all named at once, not
 * found at the first step or the end), reads --lower and --resume, and builds the model.
 */
async function setUp(o: Opts): Promise<Training> {
  if (!o.resume && !o.overwrite) {
    const previous = ['checkpoint.safetensors', 'metrics.jsonl', 'steps.jsonl'].filter((f) => {
      const p = join(o.out, f);
      return existsSync(p) && statSync(p).isFile() && statSync(p).size > 0;
    });
    if (previous.length) {
      throw new Error(
        `${o.out} holds a previous run (${previous.join(', ')}): continue it with --resume ${join(o.out, 'checkpoint.safetensors')} ` +
          '(and a larger --epochs), choose a new --out, or pass --overwrite to replace it',
      );
    }
  }
  requireOptional('the training CLI', [
    { name: 'cli-progress', for: 'progress bar' },
    { name: 'pngjs', for: 'PNG pictures' },
    ...(o.model === 'cyclegan' || o.dataset === 'mnist' ? [{ name: 'mnist', for: 'MNIST digits' }] : []),
  ]);
  const lower = o.lower ? await readLower(o) : undefined;
  const resumed = o.resume ? readCheckpoint(o.resume, o.model) : undefined;
  // A resumed DBN keeps its checkpoint's layers below the top (the top is --width, checked as any option).
  const lowerLayers = lower?.layers ?? resumed?.state.config.layers?.slice(0, -1);
  // The options no flag sets (the GAN's loss and D steps, CycleGAN's residual blocks and identity
  // weight: the demo's menus set them) continue as the checkpoint has them; before, a resumed demo GAN
  // went back to the defaults without a word.
  const unflagged = Object.entries(resumed?.state.config ?? {}).filter(([k]) => !(k in FLAG_OF));
  const config = {
    ...configOf(o.model, {
      ...o,
      zDim: o.zdim,
      // A DBN's layers: those below (the checkpoint's, or [500] by default) and the top's --width.
      ...(o.model === 'dbn' ? { layers: [...(lowerLayers ?? [500]), o.width ?? 500] } : {}),
    }),
    ...Object.fromEntries(unflagged),
  };
  if (resumed) {
    const s = resumed.state;
    const diffs = differences(
      { ...s.config, batch: s.batch, dataset: s.dataset, trainSize: s.trainSize },
      { ...config, batch: o.batch, dataset: o.dataset, trainSize: o.trainSize ?? 'all' },
    );
    settingsDiffer(o, diffs);
    if (s.epoch >= o.epochs)
      throw new Error(
        `${o.resume} has finished ${s.epoch} epochs, as many as --epochs ${o.epochs} asks: nothing to train (pass a larger --epochs)`,
      );
  }
  const model = buildModel(o.model, config);
  if (lower) {
    await (model as DBN).stackOn(lower.model);
    for (const [, t] of lower.model.stateDict()) t.dispose(); // its PCD chains too
    console.log(
      `stacked a top RBM of ${(model as DBN).top.hidden} hidden units on ${o.lower} (784-${lower.layers.join('-')}): the DBN is 784-${(model as DBN).sizes.join('-')}, and only its top trains`,
    );
  }
  return new Training(o, config, model, resumed);
}

/**
 * A run's stages, in the order trainLocked calls them: resume, warm-up, the steps of each epoch (each
 * step issued, then checked), its checkpoint and its report; the fields are what they share.
 */
class Training {
  readonly job: Job;
  readonly optimizers: Optimizer[];
  /** Each parameter's name, for the messages of the finite checks. */
  readonly paramNames: Map<Tensor, string>;
  readonly names: readonly string[];
  /** Draws every random number of the steps (restored by resume, so a resumed run continues exactly). */
  readonly noise: Generator;
  readonly ckptPath: string;
  readonly metricsPath: string;
  readonly stepsPath: string;
  /** Where training starts: the epoch, its first step, the loss sums carried over from a mid-epoch stop. */
  start: { epoch: number; index: number; sums?: number[] } = { epoch: 0, index: 0 };
  /**
   * The run's step count at the start of epoch 0 as this process counts epochs: 0, unless a resume
   * with --allow-mismatch changed the steps per epoch (the count then goes on from the checkpoint's).
   */
  stepBase = 0;
  trainStep: (b: TrainBatch, g: Generator) => Tensor;
  bar!: cliProgressType.SingleBar;
  /** The per-step curves of loss.svg; resumed, they begin with the log's rows, so the plot covers the whole run. */
  curves: Series[] = [];
  /** Rows of steps.jsonl since the last checkpoint, written just before the next one. */
  pendingSteps: string[] = [];
  /** The loss terms of this process's first step: the scale of the divergence check. */
  firstValues?: number[];
  trainSeconds = 0;
  outOfTime = false;

  constructor(
    readonly o: Opts,
    readonly config: ModelConfig,
    readonly model: Trainable,
    readonly resumed?: ReturnType<typeof readCheckpoint>,
  ) {
    this.job = createJob(jobOptions(o, config), model);
    if (o.steps !== undefined) this.job.perEpoch = Math.min(this.job.perEpoch, o.steps);
    this.optimizers = model.optimizers();
    this.paramNames = new Map([...model.namedParameters()].map(([k, t]) => [t, k]));
    this.names = model.lossNames;
    this.noise = new Generator(o.seed + 1);
    [this.ckptPath, this.metricsPath, this.stepsPath] = ['checkpoint.safetensors', 'metrics.jsonl', 'steps.jsonl'].map(
      (f) => join(o.out, f),
    );
    this.trainStep = (b, g) => model.trainStep(b, g);
  }

  /** The run's step count after `index` steps of `epoch`. */
  globalStep(epoch: number, index: number): number {
    return this.stepBase + epoch * this.job.perEpoch + index;
  }

  /**
   * Resume: the checkpoint's weights, optimizer state, noise offset and kernel choices restored, and
   * where it stopped (a run stopped by --max-seconds mid-epoch records the steps it took of the next epoch).
   */
  async resume({ ckpt, state: s }: ReturnType<typeof readCheckpoint>): Promise<void> {
    const { o, job, names } = this;
    // Steps per epoch (--steps, --batch and --train-size set them) decide where the epoch's steps are and
    // which log rows the checkpoint has seen: a change is a difference of settings like the others.
    if (s.stepsPerEpoch !== undefined && s.stepsPerEpoch !== job.perEpoch)
      settingsDiffer(o, [
        `${s.stepsPerEpoch} steps per epoch in the checkpoint, ${job.perEpoch} now (--steps, --batch and --train-size set them)`,
      ]);
    await restoreCheckpoint(ckpt, this.model, this.optimizers, o.resume);
    let [epoch, index] = [s.epoch, s.epochStep];
    if (index >= job.perEpoch) {
      if (!o.allowMismatch)
        throw new Error(
          `${o.resume}: its epoch_step ${index} is not a step of this run's epochs (0..${job.perEpoch - 1})`,
        );
      // Fewer steps per epoch than the checkpoint's epoch had taken already: that epoch is over.
      [epoch, index] = [epoch + 1, 0];
      if (epoch >= o.epochs)
        throw new Error(
          `${o.resume} stopped at step ${s.epochStep} of epoch ${s.epoch + 1}, past this run's ${job.perEpoch} steps per epoch, so it continues at epoch ${epoch + 1}, which --epochs ${o.epochs} does not reach: pass a larger --epochs`,
        );
      console.log(
        `--allow-mismatch: ${o.resume} stopped at step ${s.epochStep} of epoch ${s.epoch + 1}, past this run's ${job.perEpoch} steps per epoch: continuing at epoch ${epoch + 1}`,
      );
    }
    if (index > 0 && s.epochSums && s.epochSums.length !== names.length) {
      throw new Error(
        `${o.resume}: metadata epoch_sums has ${s.epochSums.length} sums, the ${o.model} has ${names.length} loss terms (${names.join(', ')})`,
      );
    }
    if (index > 0 && !s.epochSums)
      console.log(
        `(${o.resume} has no epoch_sums: epoch ${s.epoch + 1}'s train_* averages cover only the steps after the resume)`,
      );
    if (s.noise) this.noise.setState(s.noise);
    setKernelChoices(s.kernelChoices);
    if (s.step !== undefined) this.stepBase = s.step - (epoch * job.perEpoch + index);
    console.log(`resumed from ${o.resume} at epoch ${epoch}${index ? `, step ${index}` : ''}`);
    this.start = { epoch, index, sums: index > 0 ? s.epochSums : undefined };
  }

  /**
   * Warm-up: training steps on a snapshot of the state, restored afterwards, so the kernel tuner has
   * measured every shape before the first real step (kernel choices are then fixed for the run and
   * saved with the checkpoints for --resume). Again while a step still makes new choices: once a
   * convolution has chosen im2col, its matmuls are new shapes to measure (up to 3 steps). State made
   * by the first step (PCD's chains) is not in a fresh run's snapshot and stays as the warm-up left it:
   * a fresh run's chains begin from the warm-up's (a resumed run's are the checkpoint's, restored).
   */
  async warmUp(): Promise<void> {
    const { model, optimizers, job } = this;
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

  /** Step: issues training step `index` of `epoch` with its readbacks (loss terms, every optimizer's finite check) behind it. */
  issue(epoch: number, index: number): Issued {
    const started = performance.now();
    const lrs = this.optimizers.map((opt) => opt.lr);
    const terms = this.trainStep(this.job.batch(epoch, index), this.noise);
    // Enqueued now, before the next step can overwrite what they read: the values are this step's
    // whenever they are awaited. The update kernels flag every parameter whose gradient or new value
    // is NaN or Inf (Optimizer.nonFinite, which takes the step's tag when called), so a divergence is
    // caught in the weights even while the loss still looks finite.
    const read = Promise.all([terms.toArray(), Promise.all(this.optimizers.map((o) => o.nonFinite(this.paramNames)))]);
    read.catch(() => {}); // awaited by check(), or dropped after an earlier step's error: never unhandled
    return { index, started, lrs, terms, read };
  }

  /** Step, its second half: a step's values, awaited and checked; the errors name the step. */
  async check(epoch: number, s: Issued): Promise<Float32Array> {
    const { names, ckptPath } = this;
    let values: Float32Array, flagged: string[][];
    try {
      [values, flagged] = await s.read;
    } finally {
      s.terms.dispose();
    }
    const lastGood = `the last good checkpoint is ${existsSync(ckptPath) ? ckptPath : 'none yet (no epoch finished)'} (try a lower --lr)`;
    const hit = flagged.flat();
    if (hit.length) {
      this.bar.stop();
      const list = hit.slice(0, 3).join('; ') + (hit.length > 3 ? ` (and ${hit.length - 3} more parameters)` : '');
      throw new Error(`at epoch ${epoch + 1}, step ${s.index + 1} ${list}: stopping; ${lastGood}`);
    }
    const firstValues = (this.firstValues ??= [...values]);
    const limits = firstValues.map((f) => Math.min(DIVERGED, GROWTH * Math.max(1, Math.abs(f))));
    const bad = [...values].findIndex((x, i) => !Number.isFinite(x) || Math.abs(x) > limits[i]);
    if (bad >= 0) {
      this.bar.stop();
      const what = !Number.isFinite(values[bad])
        ? `became ${values[bad]}`
        : `diverged to ${values[bad].toExponential(3)} ` +
          `(${limits[bad] === DIVERGED ? `beyond ${DIVERGED.toExponential(0)}` : `over 1e6 x max(1, |its first step's ${firstValues[bad].toPrecision(3)}|)`})`;
      throw new Error(
        `the ${names[bad]} loss ${what} at epoch ${epoch + 1}, step ${s.index + 1} ` +
          `(${names.map((n, i) => `${n} ${values[i]}`).join(', ')}): stopping; ${lastGood}`,
      );
    }
    return values;
  }

  /**
   * The steps of an epoch from `first`. Step i + 1 is issued before step i's values are awaited
   * (--no-overlap: after), so the queue never drains between steps; each step's values are still
   * checked, in order, and every step issued is checked before the epoch ends (at its last step or a
   * --max-seconds stop): nothing is evaluated or saved before, so a checkpoint follows only steps that
   * were found good. --max-seconds is checked before each issue: no step starts after that much
   * training time. Returns the step after the last, the loss sums (over the steps from sumsFrom) and
   * the seconds taken.
   */
  async epoch(epoch: number, first: number, carried?: number[]) {
    const { o, job, names } = this;
    this.bar.start(job.perEpoch, first, { epoch: epoch + 1, losses: '-', ips: '-' });
    const t0 = performance.now();
    // The resumed epoch continues the sums saved at its mid-epoch stop, so its averages cover every step.
    const sums = carried ? [...carried] : new Array<number>(names.length).fill(0);
    const sumsFrom = carried ? 0 : first;
    // Steps checked (their values read and found good) and steps issued: with the overlap, one ahead.
    let index = first,
      issued = first;
    /** Steps issued and not yet checked, oldest first. */
    const inFlight: Issued[] = [];
    const ahead = o.overlap ? 1 : 0;
    try {
      for (;;) {
        while (issued < job.perEpoch && inFlight.length <= ahead && !this.outOfTime) {
          this.outOfTime =
            o.maxSeconds !== undefined && this.trainSeconds + (performance.now() - t0) / 1e3 >= o.maxSeconds;
          // An epoch's first step always trains (one is begun only with time left).
          if (this.outOfTime && issued > first) break;
          inFlight.push(this.issue(epoch, issued++));
        }
        const s = inFlight.shift();
        if (!s) break;
        const values = await this.check(epoch, s);
        const step = this.globalStep(epoch, s.index + 1);
        values.forEach((x, i) => {
          sums[i] += x;
          this.curves[i].points.push([step, x]);
        });
        // A step's time: from its issue to the next step's (overlapped: the loop's turn, which on the CPU
        // backend, where a step computes as it is issued, is that step's work), or to its values when no
        // step follows it yet.
        const end = inFlight[0]?.started ?? performance.now();
        this.pendingSteps.push(
          JSON.stringify({
            step,
            epoch: epoch + (s.index + 1) / job.perEpoch,
            ...Object.fromEntries(names.map((n, i) => [`train_${n}`, values[i]])),
            ...(s.lrs.length === 1 ? { lr: s.lrs[0] } : Object.fromEntries(s.lrs.map((lr, i) => [`lr_${i}`, lr]))),
            images_per_s: o.batch / ((end - s.started) / 1e3),
          }) + '\n',
        );
        index = s.index + 1;
        const elapsed = (performance.now() - t0) / 1e3;
        this.bar.update(index, {
          losses: names.map((n, i) => `${n} ${fmt(values[i])}`).join(' '),
          ips: (((index - first) * o.batch) / elapsed).toFixed(0),
        });
        // A turn of the event loop, so that Ctrl-C and TERM are handled between steps: on the CPU backend
        // every await resolves at once and a signal would wait for the end of the run.
        await new Promise((r) => setImmediate(r));
      }
    } catch (e) {
      // Stopped at a bad step: the step issued after it is awaited (no readback left in flight) and dropped.
      for (const s of inFlight.splice(0)) {
        await s.read.catch(() => {});
        s.terms.dispose();
      }
      throw e;
    }
    this.bar.stop();
    const seconds = (performance.now() - t0) / 1e3;
    this.trainSeconds += seconds;
    // Out of time at the epoch's end: no next epoch is begun.
    this.outOfTime ||= o.maxSeconds !== undefined && this.trainSeconds >= o.maxSeconds;
    return { index, sums, sumsFrom, seconds };
  }

  /**
   * Checkpoint: the steps' rows, then the checkpoint, then (trainLocked) the epoch's metrics row: killed
   * in between, the resumed run drops the rows of steps after its checkpoint, so it never writes a row
   * twice nor leaves a gap. A mid-epoch stop records its step and loss sums: --resume continues there.
   */
  async checkpoint(epoch: number, { index, sums, sumsFrom }: { index: number; sums: number[]; sumsFrom: number }) {
    const { o } = this;
    const complete = index === this.job.perEpoch;
    appendFileSync(this.stepsPath, this.pendingSteps.join(''));
    this.pendingSteps = [];
    const saved = await checkpointTensors(this.model, this.optimizers);
    saveSafetensors(this.ckptPath, saved.tensors, {
      ...saved.metadata,
      model: o.model,
      config: JSON.stringify(this.config),
      dataset: o.dataset,
      batch: String(o.batch),
      epoch: String(complete ? epoch + 1 : epoch),
      ...(complete
        ? {}
        : { epoch_step: String(index), ...(sumsFrom === 0 ? { epoch_sums: JSON.stringify(sums) } : {}) }),
      noise_generator: JSON.stringify(this.noise.getState()),
      kernel_choices: JSON.stringify(chosenKernels()),
      step: String(this.globalStep(epoch, index)),
      steps_per_epoch: String(this.job.perEpoch),
      train_size: o.trainSize === undefined ? 'all' : String(o.trainSize),
    });
  }

  /**
   * Report: the plots after an epoch, of the registry's metrics (src/models/registry.ts): loss.svg with
   * the test loss on the training losses' axis where the model has one in their unit (a mode count or
   * a Frechet distance is not a loss), and metrics.svg, the headline test metric per epoch on a chart
   * of its own; then the epoch's line.
   */
  report(epoch: number, rows: Record<string, number>[]): void {
    const { o, job } = this;
    const record = rows[rows.length - 1];
    const metrics = MODEL_SPECS[o.model].metrics;
    const tl = metrics.find((m) => m.plot === 'loss');
    const perEpoch: Series[] = tl
      ? [
          {
            name: `${tl.name ?? tl.key} (per epoch)`,
            points: rows.map((r) => [r.step, r[tl.key]] as [number, number]),
            markers: true,
          },
        ]
      : [];
    writeLossCurves(join(o.out, 'loss.svg'), job.title, [...this.curves, ...perEpoch]);
    const mk = metrics.find((m) => m.plot === 'chart' && m.key in record);
    if (mk) {
      const name = mk.name ?? mk.key.replace(/_/g, ' ');
      writeFileAtomic(
        join(o.out, 'metrics.svg'),
        curvesSvg(
          `${job.title.replace(/:.*$/, '')}: ${name} per epoch`,
          [{ name, points: rows.map((r) => [r.step, r[mk.key]] as [number, number]), markers: true }],
          { yLabel: mk.unit ?? name },
        ),
      );
    }
    console.log(`epoch ${epoch + 1}: ${summary(record)}`);
  }
}

/** A run: set up, resume, warm up, then per epoch its steps, evaluation, checkpoint, metrics row and plots. */
async function trainLocked(o: Opts): Promise<void> {
  const t = await setUp(o);
  const { job, names, metricsPath, stepsPath, resumed } = t;
  const cliProgress = optionalPackage<typeof cliProgressType>('cli-progress', "the training CLI's progress bar");
  if (resumed) await t.resume(resumed);
  // Resumed: the rows the checkpoint has seen (none of a step after it), rewritten atomically; the same
  // for the per-step log, whose rows begin the curves.
  const at = t.globalStep(t.start.epoch, t.start.index);
  const rows = resumed ? rowsUpTo(metricsPath, at) : [];
  writeFileAtomic(metricsPath, rows.map((r) => JSON.stringify(r) + '\n').join(''));
  const stepRows = resumed ? rowsUpTo(stepsPath, at) : [];
  writeFileAtomic(stepsPath, stepRows.map((r) => JSON.stringify(r) + '\n').join(''));
  t.curves = names.map((n) => ({
    name: `train ${n} (per step)`,
    points: stepRows
      .filter((r) => Number.isFinite(r[`train_${n}`]))
      .map((r) => [r.step, r[`train_${n}`]] as [number, number]),
  }));
  await t.warmUp();
  const info = backendInfo();
  console.log(
    `training ${o.model} ${JSON.stringify(t.config)} on ${job.data}, batch ${o.batch}, ${o.epochs} epochs, ` +
      `on ${info.name} (${info.description}), ${o.eager ? 'eager' : 'compiled'}${o.overlap ? '' : ', no overlap'}`,
  );
  // The training step, compiled unless --eager (src/graph/compile.ts): the same numbers either way, up to
  // the order in which fused reductions sum on WebGPU (bit for bit on the CPU).
  const compiled = o.eager ? null : compile(t.trainStep);
  if (compiled) t.trainStep = compiled;
  t.bar = new cliProgress.SingleBar(
    {
      format: `epoch {epoch} |{bar}| {value}/{total} steps | {losses} | {ips} img/s | ETA {eta_formatted}`,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
    },
    cliProgress.Presets.shades_classic,
  );
  for (let epoch = t.start.epoch; epoch < o.epochs && !t.outOfTime; epoch++) {
    const first = epoch === t.start.epoch ? t.start.index : 0;
    const r = await t.epoch(epoch, first, epoch === t.start.epoch ? t.start.sums : undefined);
    if (r.index !== job.perEpoch)
      console.log(
        `--max-seconds ${o.maxSeconds}: stopping after ${t.trainSeconds.toFixed(1)} s of training, at step ${r.index} of epoch ${epoch + 1}`,
      );
    const test = await job.evaluate();
    const record: Record<string, number> = {
      epoch: epoch + r.index / job.perEpoch,
      step: t.globalStep(epoch, r.index),
      ...Object.fromEntries(names.map((n, i) => [`train_${n}`, r.sums[i] / (r.index - r.sumsFrom)])),
      ...test,
      images_per_s: ((r.index - first) * o.batch) / r.seconds,
    };
    await t.checkpoint(epoch, r);
    rows.push(record);
    appendFileSync(metricsPath, JSON.stringify(record) + '\n');
    t.report(epoch, rows);
  }
  compiled?.dispose();
  const files = await job.pictures(o.out);
  const charts = ['loss.svg', ...(existsSync(join(o.out, 'metrics.svg')) ? ['metrics.svg'] : [])].map((f) =>
    join(o.out, f),
  );
  console.log(
    `wrote ${[metricsPath, stepsPath, ...charts, t.ckptPath, ...files.map((f) => join(o.out, f))].join(', ')}`,
  );
}

/** The tuner's choices as checkpoints and eval.json store them: shape class -> variant. */
const chosenKernels = (): Record<string, string> =>
  Object.fromEntries(
    kernelChoices()
      .filter((c) => c.chosen)
      .map((c) => [c.key, c.chosen]),
  );

/**
 * The model of a checkpoint, built from the config it stores, with its weights, and the kernel variants
 * the run chose (its last evaluation's included: the checkpoint is written after it), so that eval
 * recomputes the run's scores with the same kernels rather than with what a new timing picks, on the
 * run's dataset and training set.
 */
async function fromCheckpoint(o: Opts) {
  const { ckpt, state } = readCheckpoint(o.ckpt!, o.model);
  const model = buildModel(o.model, state.config);
  await restoreCheckpoint(ckpt, model, [], o.ckpt);
  setKernelChoices(state.kernelChoices);
  const dataset = state.dataset ?? o.dataset;
  // The run's training set too (--train-size is a training option): the RBM's and DBN's AIS start
  // from a base model fitted to it, so eval recomputes the run's own estimate.
  const trainSize = state.trainSize === 'all' ? undefined : state.trainSize;
  return { model, job: createJob(jobOptions({ ...o, dataset, trainSize }, state.config), model), dataset };
}

async function evalCmd(o: Opts): Promise<void> {
  const { job, dataset } = await fromCheckpoint(o);
  const r = await job.evaluate(true);
  const out = { model: o.model, dataset, checkpoint: o.ckpt, ...r, kernel_choices: chosenKernels() };
  console.log(JSON.stringify(out, null, 2));
  makeDirs(o.out);
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify(out, null, 2));
}

async function exportCmd(o: Opts): Promise<void> {
  const { model } = await fromCheckpoint(o);
  const part = MODEL_SPECS[o.model].exported(model, o.exportBatch);
  const bytes = await exportModuleOnnx(model as unknown as AnyModule, part.inputs, {
    fn: part.fn,
    inputNames: part.inputNames,
    outputNames: part.outputNames,
    name: o.model,
  });
  const out = o.exportOut ?? o.ckpt!.replace(/\.safetensors$/, '') + '.onnx';
  // Never the checkpoint it reads, nor another file that is not ONNX, unless --overwrite says so.
  if (!o.overwrite && existsSync(out)) {
    if (realpathSync(out) === realpathSync(o.ckpt!)) {
      throw new Error(
        `export --out ${out} is the checkpoint it exports: choose another --out (by default the checkpoint's path with .onnx), or pass --overwrite to replace it`,
      );
    }
    if (!/\.onnx$/i.test(out))
      throw new Error(
        `export --out ${out} exists and is not an .onnx file: choose another --out, or pass --overwrite to replace it`,
      );
  }
  if (dirname(out) !== '.') makeDirs(dirname(out));
  writeFileAtomic(out, bytes);
  console.log(
    `wrote ${out} (ONNX opset 17, ${(bytes.length / 1024).toFixed(1)} KiB: ${part.inputNames.join(', ')} [${part.inputs.map((t) => t.shape.join('x')).join(', ')}] -> ${part.outputNames.join(', ')})`,
  );
}

async function sampleCmd(o: Opts): Promise<void> {
  const { job } = await fromCheckpoint(o);
  makeDirs(o.out);
  const files = await job.pictures(o.out);
  console.log(`wrote ${files.map((f) => join(o.out, f)).join(', ')}`);
}

async function main(): Promise<number> {
  let o: Opts;
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    if (e instanceof HelpRequest) {
      console.log(usage(e.model));
      return 0;
    }
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
    else if (o.command === 'export') await exportCmd(o);
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
    // A file-system error from anywhere (metrics, pictures, eval.json) names its file and what to do.
    const fsError = (e as NodeJS.ErrnoException)?.code && (e as NodeJS.ErrnoException).path;
    console.error(`error: ${fsError ? fsErrorMessage(e, fsError) : e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
