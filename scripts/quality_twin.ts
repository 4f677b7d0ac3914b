// A quality run and its PyTorch twin (issue 29): runs the project's training command (timed), then trains
// the same model in PyTorch (python/wgpu_gen.py fit) from the same initial weights on the same training
// data (same layout, optimizer and its hyper-parameters, loss, batch, epochs and steps; PyTorch's own
// random numbers for the shuffle and the noise), and scores the twin's weights with the project's own
// scorer: the job's evaluate() of src/cli/jobs.ts, the code that wrote the run's metrics rows, on the
// twin's weights loaded back into the project's model (the checkpoints share parameter names). Writes
// <out>/wall.json (the run's wall time) and <out>/twin.json (both sides' figures and wall times), and
// prints them side by side. Per model a TwinSpec says what the twin trains on and how the two are judged:
//   vae: the run's training split (shuffled each epoch); its test -ELBO and IWAE log p(x), k of the run;
//   gan: the very points the run drew (the 2-D sets are a stream of fresh points, toyBatch's Philox
//        counters (epoch * RING_STEPS + step) * batch onward), read once in the run's order; mode coverage
//        of 10,000 samples of G (jobs.ts: modes within 0.06 of a centre, 100 samples each);
//   dcgan: the run's training split; the Frechet distance of 1,000 samples in the scoring classifier's
//        features, its ratio to the untrained generator's, the class fractions (jobs.ts dcganJob);
//   classifier: the run's training split and labels; test loss and accuracy (jobs.ts classifierJob);
//   cyclegan: the run's two domains (the dilation pair), its own unpaired batches; the translation error
//        of G on the test digits against their dilations, its ratio to L1(x, dilate(x)), the cycle error
//        (jobs.ts cycleganJob);
//   rbm: the run's training split; the AIS test log-likelihood with RBM_AIS (2,000 betas x 100 runs),
//        computed here for both sides (the run's own per-epoch rows may use a cheaper AIS, its
//        --ais-betas, as quality:rbm does to fit the 40 minutes).
//   npx tsx scripts/quality_twin.ts [--twin-only] -- tsx src/cli/train.ts vae --epochs 30 ... --out runs/x
// --twin-only: the run in --out is already there (its wall time from its wall.json, if any): only the twin.
// --ais-betas N, --ais-runs N: the RBM's scoring AIS, both sides (default RBM_AIS; the tests make it small).
// --fit-only: only the twin's training, as soon as the run has written its first checkpoint (its config
// and batch; the epochs are the command's): run beside a long run, the later twin step reuses it. The
// twin's training is kept in <out>/twin/fit.json, keyed by the hashes of the initial weights, the
// training data, python/wgpu_gen.py and the settings; a later step with the same key reuses it (and its
// train_s). The initial weights are rebuilt from the run's checkpoint config (registry.ts buildModel: the
// seed's Philox draws, the very weights the run started from) and written with the training data as
// safetensors under <out>/twin/ for the Python side.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init, shutdown } from '../src/index.ts';
import {
  checkpointTensors,
  loadSafetensors,
  restoreCheckpoint,
  saveSafetensors,
  type NamedArray,
} from '../src/io/node.ts';
import { createJob, loadImages, parseConfig, RBM_AIS, RING_STEPS, type JobOptions } from '../src/cli/jobs.ts';
import { dilationDomains, toyBatch, type ToyDataset } from '../src/data/index.ts';
import { buildModel, type DatasetName, type ModelConfig, type ModelName } from '../src/models/registry.ts';

/** Each quality script's time budget (issue 29: every quality script within 40 minutes). */
export const BUDGET_S = 40 * 60;

/** A side's figures: the scorer's numbers by key. */
export type Figures = Record<string, number>;

/** What twin.json holds (the figures' keys are those of the model's metrics rows). */
export interface TwinReport {
  settings: {
    model: string;
    config: Record<string, unknown>;
    dataset: string;
    /** Examples the twin trains on (the 2-D sets: every point the run drew). */
    train_images: number;
    batch: number;
    epochs: number;
    steps_per_epoch: number;
    /** The VAE's importance samples per test image. */
    iwae_k?: number;
    /** The RBM's AIS of both sides' scores. */
    ais?: { betas: number; runs: number };
  };
  /** The run's figures (its last metrics row, or its checkpoint scored here), its train_* means, its wall time. */
  project: {
    wall_s: number | null;
    /** Seconds this script spent scoring the run's checkpoint (the rows whose spec rescores it). */
    score_s?: number;
    [figure: string]: number | null | undefined;
  };
  twin: {
    wall_s: number;
    train_s: number;
    score_s: number;
    trained_by: string;
    seed: number;
    train_losses: number[];
    [figure: string]: number | string | number[];
  };
  /** Per figure, how much worse the project is than its twin (positive: worse; see the spec's target). */
  gap: Record<string, number>;
}

/** A figure of one side of a report (NaN where it has none). */
export function figure(side: TwinReport['project'] | TwinReport['twin'], key: string): number {
  const v = side[key];
  return typeof v === 'number' ? v : NaN;
}

/** The run as its checkpoint and metrics rows describe it. */
interface Run {
  model: ModelName;
  config: ModelConfig;
  dataset: DatasetName;
  batch: number;
  epochs: number;
  flags: Map<string, string>;
  last: Figures;
}

/** How one model's twin is trained and judged. */
interface TwinSpec {
  /** The twin's training data (tensors by name, one row per example) and fit's extra flags. */
  trainingSet(r: Run): { tensors: Map<string, NamedArray>; examples: number; stepsPerEpoch: number; fitArgs: string[] };
  /** The job options of the scorer (both sides), past the run's own. */
  scoring(r: Run, o: TwinOptions): Partial<JobOptions>;
  /** Whether the run's checkpoint is scored here too (its metrics rows used a cheaper evaluation). */
  rescore: boolean;
  /** The figures printed side by side: label, key, how to write the value. */
  lines(t: TwinReport): [string, string, (v: number) => string][];
  /** How much worse the project is, per figure (positive: worse). */
  gap(p: Figures, t: Figures): Record<string, number>;
  /** The issue's target, in words. */
  target: string;
  /**
   * The run's train_* key that the twin's first objective's loss matches (default: the run's first
   * train_* key), or null where none does (the CycleGAN's twin runs the whole G loss first).
   */
  firstLoss?: string | null;
}

const f2 = (v: number) => v.toFixed(2);
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * The run's training split as fit's `x` ([n, 784] in [0, 1], its --train-size included), and with
 * `labels` its class labels ([n], as floats).
 */
function imageSet(r: Run, labels = false) {
  const data = loadImages(r.dataset, r.flags.has('train-size') ? Number(r.flags.get('train-size')) : undefined);
  const tensors = new Map([['x', { shape: [data.train.n, 784], data: data.train.images }]]);
  if (labels) tensors.set('labels', { shape: [data.train.n], data: Float32Array.from(data.train.labels) });
  return { tensors, examples: data.train.n, stepsPerEpoch: Math.floor(data.train.n / r.batch), fitArgs: [] };
}

export const TWIN_SPECS: Partial<Record<ModelName, TwinSpec>> = {
  vae: {
    trainingSet: imageSet,
    // The run's k (its last row's iwae_k): the figures are those its last epoch wrote.
    scoring: (r) => ({ iwaeK: r.last.iwae_k }),
    rescore: false,
    lines: (t) => [
      ['test -ELBO (nats)', 'test_neg_elbo', f2],
      ['  rec', 'test_rec', f2],
      ['  KL', 'test_kl', f2],
      [`IWAE log p(x), k = ${t.settings.iwae_k}`, 'test_log_px', f2],
    ],
    gap: (p, t) => ({ neg_elbo: p.test_neg_elbo - t.test_neg_elbo, log_px: t.test_log_px - p.test_log_px }),
    target: '-ELBO and IWAE each within 1 nat of the twin',
  },
  gan: {
    // The run's whole stream of points: its batch (e, i) is toyBatch(kind, batch, seed, (e * RING_STEPS + i) * batch),
    // and toyBatch's point j is Philox block offset + j, so the stream is one toyBatch from offset 0.
    trainingSet: (r) => {
      const n = r.epochs * RING_STEPS * r.batch;
      return {
        tensors: new Map([['x', { shape: [n, 2], data: toyBatch(r.dataset as ToyDataset, n, r.config.seed ?? 0, 0) }]]),
        examples: n,
        stepsPerEpoch: RING_STEPS,
        fitArgs: ['--in-order'],
      };
    },
    scoring: () => ({}),
    rescore: false,
    lines: () => [
      ['modes covered (of 8)', 'modes_covered', (v) => String(v)],
      ['samples within 0.06', 'high_quality', pct],
    ],
    gap: (p, t) => ({ modes: t.modes_covered - p.modes_covered, high_quality: t.high_quality - p.high_quality }),
    target: "modes covered at least the twin's",
  },
  dcgan: {
    trainingSet: imageSet,
    // The run's scoring classifier (its --classifier, else the job's default path): the Frechet distance
    // in its features against the test images, the untrained generator of the same seed as baseline.
    scoring: () => ({}),
    rescore: false,
    lines: () => [
      ['Frechet distance', 'fd', (v) => v.toFixed(1)],
      ['  ratio to untrained', 'fd_ratio', (v) => v.toFixed(3)],
      ['smallest class', 'min_class_fraction', pct],
      ['mean top-class probability', 'mean_top_prob', (v) => v.toFixed(3)],
    ],
    gap: (p, t) => ({ fd_ratio_x: p.fd_ratio / t.fd_ratio, min_class: t.min_class_fraction - p.min_class_fraction }),
    target: "Frechet ratio at most 1.15x the twin's (fd_ratio_x <= 1.15), every class >= 2%",
  },
  classifier: {
    // DCGAN's scorer: the run's training split with its labels, cross-entropy, Adam (its lr, betas
    // (0.9, 0.999)); test loss and accuracy on the test split (jobs.ts classifierJob). The issue names
    // no target for it: the twin's accuracy is the reference, within half a point.
    trainingSet: (r) => imageSet(r, true),
    scoring: () => ({}),
    rescore: false,
    lines: () => [
      ['test accuracy', 'test_accuracy', pct],
      ['test loss', 'test_loss', (v) => v.toFixed(4)],
    ],
    gap: (p, t) => ({ accuracy_points: 100 * (t.test_accuracy - p.test_accuracy) }),
    target: "test accuracy within 0.5 points of the twin's (accuracy_points <= 0.5)",
  },
  cyclegan: {
    // The run's two domains (the dilation pair: X the training split's first half, Y its second half
    // dilated; jobs.ts cycleganJob), as fit's x and y of [n, 1, 28, 28]: the twin draws its own
    // unpaired batches (one permutation of the rows pairs X image i with Y image i, both unrelated;
    // the run shuffles each domain on its own), floor(n / batch) steps an epoch, as the run's.
    trainingSet: (r) => {
      if (r.dataset === 'fashion')
        throw new Error('quality: a CycleGAN twin on the dilation pair only (not MNIST <-> Fashion)');
      const dom = dilationDomains(
        loadImages('mnist', r.flags.has('train-size') ? Number(r.flags.get('train-size')) : undefined),
      );
      const n = Math.min(dom.x.n, dom.y.n);
      return {
        tensors: new Map([
          ['x', { shape: [n, 1, 28, 28], data: dom.x.images.subarray(0, n * 784) }],
          ['y', { shape: [n, 1, 28, 28], data: dom.y.images.subarray(0, n * 784) }],
        ]),
        examples: n,
        stepsPerEpoch: Math.floor(dom.x.n / r.batch),
        fitArgs: [],
      };
    },
    scoring: () => ({}),
    rescore: false,
    lines: () => [
      ['L1(G(x), dilate(x))', 'l1', (v) => v.toFixed(4)],
      ['  ratio to L1(x, dilate(x))', 'l1_ratio', (v) => v.toFixed(3)],
      ['cycle L1', 'cycle_l1', (v) => v.toFixed(4)],
    ],
    gap: (p, t) => ({ l1_ratio_x: p.l1_ratio / t.l1_ratio }),
    target: "translation ratio at most 1.15x the twin's (l1_ratio_x <= 1.15)",
    firstLoss: null,
  },
  rbm: {
    trainingSet: imageSet,
    scoring: (_, o) => ({ rbm: { ...RBM_AIS, ...o.ais } }),
    rescore: true,
    lines: (t) => [
      [`AIS test log-lik. (${t.settings.ais?.betas} x ${t.settings.ais?.runs})`, 'test_log_likelihood', f2],
      ['  log Z', 'log_z', f2],
      ['  AIS log-weight std', 'ais_log_w_std', f2],
    ],
    gap: (p, t) => ({ log_likelihood: t.test_log_likelihood - p.test_log_likelihood }),
    target: 'AIS test log-likelihood within 3 nats of the twin',
  },
};

/** twinOf's options. */
export interface TwinOptions {
  /** Only the twin's training (see --fit-only). */
  fitOnly?: boolean;
  /** The RBM's scoring AIS, both sides (default RBM_AIS; the tests make it small). */
  ais?: { betas?: number; runs?: number };
}

/** A finished twin training (<out>/twin/fit.json). */
interface FitRecord {
  key: string;
  train_s: number;
  command: string;
}

/** The `--name value` flags of a command line (as scripts/quality_check.ts reads a script's). */
function flagsOf(words: string[]): Map<string, string> {
  const f = new Map<string, string>();
  for (let i = 0; i < words.length; i++)
    if (words[i].startsWith('--') && i + 1 < words.length && !words[i + 1].startsWith('--'))
      f.set(words[i].slice(2), words[i + 1]);
  return f;
}

const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;

/** Runs the project's command, timed; writes <out>/wall.json. */
function runProject(command: string[], out: string): number {
  for (const f of ['wall.json', 'twin.json']) rmSync(join(out, f), { force: true });
  console.log(`quality: the project's run: ${command.join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(command[0], command.slice(1), { stdio: 'inherit' });
  const wall = (performance.now() - t0) / 1e3;
  if (r.error) throw new Error(`quality: cannot run '${command[0]}': ${r.error.message}`);
  if (r.status !== 0) throw new Error(`quality: the project's run failed (exit ${r.status ?? r.signal})`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'wall.json'), JSON.stringify({ wall_s: wall, command: command.join(' ') }, null, 2) + '\n');
  console.log(`quality: the project's run took ${wall.toFixed(1)} s (${minutes(wall)})`);
  return wall;
}

/** The twin of the run in `out` (made by `command`): trained in PyTorch, scored by the project's scorer. */
export async function twinOf(
  command: string[],
  out: string,
  projectWall: number | null,
  o: TwinOptions = {},
): Promise<TwinReport | null> {
  const flags = flagsOf(command);
  for (const f of ['steps', 'max-seconds', 'resume'])
    if (flags.has(f))
      throw new Error(`quality: the twin trains whole epochs from the start; the run's --${f} has no twin`);
  const ckptPath = join(out, 'checkpoint.safetensors');
  const metricsPath = join(out, 'metrics.jsonl');
  if (!existsSync(ckptPath) || !existsSync(metricsPath))
    throw new Error(`quality: ${out} holds no run (checkpoint.safetensors, metrics.jsonl): run it first`);
  const runCkpt = loadSafetensors(ckptPath);
  const meta = runCkpt.metadata;
  const model = meta.model as ModelName;
  const spec = TWIN_SPECS[model];
  if (!spec)
    throw new Error(
      `quality: ${ckptPath} holds a ${model}: a twin is made for ${Object.keys(TWIN_SPECS).join(', ')} only`,
    );
  const config = parseConfig(model, meta.config, ckptPath);
  const dataset = (meta.dataset ?? (model === 'gan' ? 'ring' : 'mnist')) as DatasetName;
  const batch = Number(meta.batch),
    epochs = Number(flags.get('epochs') ?? meta.epoch);
  const rows = readFileSync(metricsPath, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Figures);
  const last = rows[rows.length - 1];
  // Scored against a finished run only (one killed between its checkpoint and its metrics row, or
  // before its last epoch, is not the run of the command).
  if (!o.fitOnly && (meta.epoch_step || Number(meta.epoch) !== epochs || last?.epoch !== epochs))
    throw new Error(
      `quality: the run in ${out} has not finished its ${epochs} epochs (checkpoint at epoch ${meta.epoch}` +
        `${meta.epoch_step ? `, step ${meta.epoch_step}` : ''}, metrics.jsonl at ${last?.epoch ?? 0}): finish it first`,
    );
  const run: Run = { model, config, dataset, batch, epochs, flags, last: last ?? {} };

  const t0 = performance.now();
  await init({ backend: flags.get('backend') === 'cpu' ? 'cpu' : 'webgpu' });
  const dir = join(out, 'twin');
  mkdirSync(dir, { recursive: true });
  // The run's initial weights: buildModel draws them from config.seed, as the run did before its step 1.
  const initial = await checkpointTensors(buildModel(model, config), []);
  const initPath = join(dir, 'init.safetensors');
  saveSafetensors(initPath, initial.tensors, { model, config: JSON.stringify(config), dataset });
  const train = spec.trainingSet(run);
  const trainPath = join(dir, 'train.safetensors');
  saveSafetensors(trainPath, train.tensors);
  const seed = config.seed ?? 0;
  const twinPath = join(dir, 'checkpoint.safetensors');
  const python = process.env.PYTHON ?? '/usr/bin/python3';
  const args = ['python/wgpu_gen.py', 'fit', '--ckpt', initPath, '--inputs', trainPath];
  args.push('--epochs', String(epochs), '--batch', String(batch), '--seed', String(seed), '--out', twinPath);
  args.push(...train.fitArgs);
  const hash = createHash('sha256');
  for (const f of [initPath, trainPath, 'python/wgpu_gen.py']) hash.update(readFileSync(f));
  const key = hash.update(JSON.stringify({ epochs, batch, seed, lr: config.lr, fit: train.fitArgs })).digest('hex');
  const fitPath = join(dir, 'fit.json');
  const cached =
    existsSync(fitPath) && existsSync(twinPath) ? (JSON.parse(readFileSync(fitPath, 'utf8')) as FitRecord) : null;
  let trainS: number;
  if (cached?.key === key) {
    trainS = cached.train_s;
    console.log(`quality: the PyTorch twin was trained before (${fitPath}, ${trainS.toFixed(1)} s): reused`);
  } else {
    rmSync(fitPath, { force: true });
    console.log(`quality: the PyTorch twin: ${python} ${args.join(' ')}`);
    const t1 = performance.now();
    const r = spawnSync(python, args, { stdio: 'inherit' });
    trainS = (performance.now() - t1) / 1e3;
    if (r.error || r.status !== 0)
      throw new Error(`quality: the PyTorch twin failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    const record: FitRecord = { key, train_s: trainS, command: `${python} ${args.join(' ')}` };
    writeFileSync(fitPath, JSON.stringify(record, null, 2) + '\n');
  }
  if (o.fitOnly) {
    shutdown();
    return null;
  }
  // Scored as the run's epochs were: the weights into the project's model, the job's evaluate().
  const jobOptions: JobOptions = {
    model,
    dataset,
    batch,
    seed,
    trainSize: flags.has('train-size') ? Number(flags.get('train-size')) : undefined,
    classifier: flags.get('classifier'),
    config,
    ...spec.scoring(run, o),
  };
  const score = async (ckpt: ReturnType<typeof loadSafetensors>, path: string): Promise<Figures> => {
    const m = buildModel(model, config);
    await restoreCheckpoint(ckpt, m, [], path);
    return await createJob(jobOptions, m).evaluate();
  };
  const t2 = performance.now();
  const trained = loadSafetensors(twinPath);
  const twinFigures = await score(trained, twinPath);
  const scoreS = (performance.now() - t2) / 1e3;
  // The twin's wall time: its preparation, its training (reused: as it was measured then), its scoring.
  const wall = (performance.now() - t0) / 1e3 + (cached?.key === key ? trainS : 0);
  let projectFigures: Figures;
  let projectScoreS: number | undefined;
  if (spec.rescore) {
    const t3 = performance.now();
    projectFigures = await score(runCkpt, ckptPath);
    projectScoreS = (performance.now() - t3) / 1e3;
  } else projectFigures = Object.fromEntries(Object.keys(twinFigures).map((k) => [k, last[k]]));
  shutdown();
  const trainMeans = Object.fromEntries(Object.entries(last).filter(([k]) => k.startsWith('train_')));
  const report: TwinReport = {
    settings: {
      model,
      config: config as Record<string, unknown>,
      dataset,
      train_images: train.examples,
      batch,
      epochs,
      steps_per_epoch: train.stepsPerEpoch,
      ...(model === 'vae' ? { iwae_k: twinFigures.iwae_k } : {}),
      ...(jobOptions.rbm ? { ais: { betas: jobOptions.rbm.betas, runs: jobOptions.rbm.runs } } : {}),
    },
    project: {
      wall_s: projectWall,
      ...(projectScoreS !== undefined ? { score_s: projectScoreS } : {}),
      ...projectFigures,
      ...trainMeans,
    },
    twin: {
      wall_s: wall,
      train_s: trainS,
      score_s: scoreS,
      trained_by: trained.metadata.trained_by ?? 'PyTorch',
      seed,
      ...twinFigures,
      train_losses: JSON.parse(trained.metadata.train_losses ?? '[]') as number[],
    },
    gap: spec.gap(projectFigures, twinFigures),
  };
  writeFileSync(join(out, 'twin.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}

/** The run's whole time: its training run, and its scoring here where its row rescores it. */
export const projectWall = (t: TwinReport): number | null =>
  t.project.wall_s === null ? null : t.project.wall_s + (t.project.score_s ?? 0);

/** The side-by-side lines the script prints. */
export function sideBySide(t: TwinReport): string {
  const spec = TWIN_SPECS[t.settings.model as ModelName]!;
  const row = (name: string, p: string, w: string) => `${name.padEnd(30)} ${p.padStart(12)} ${w.padStart(12)}`;
  const wall = (s: number | null) => (s === null ? '?' : minutes(s));
  // The first loss of the run's last epoch (its first train_* mean) and of the twin's.
  const trainKey =
    spec.firstLoss === undefined ? Object.keys(t.project).find((k) => k.startsWith('train_')) : spec.firstLoss;
  const lossLine = trainKey
    ? [
        row(
          `last epoch ${trainKey.replace('_', ' ')}`,
          f2(figure(t.project, trainKey)),
          f2(t.twin.train_losses.at(-1) ?? NaN),
        ),
      ]
    : [];
  return [
    row('', 'project', 'PyTorch twin'),
    ...spec.lines(t).map(([name, k, w]) => row(name, w(figure(t.project, k)), w(figure(t.twin, k)))),
    ...lossLine,
    row('wall time', wall(projectWall(t)), wall(t.twin.wall_s)),
    `gap (project worse by): ${Object.entries(t.gap)
      .map(([k, v]) => `${k} ${f2(v)}`)
      .join(', ')} (target: ${spec.target})`,
  ].join('\n');
}

if (process.argv[1]?.endsWith('quality_twin.ts')) {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf('--');
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const out = flagsOf(command).get('out');
  if (!out) {
    console.error(
      'usage: tsx scripts/quality_twin.ts [--twin-only | --fit-only] [--ais-betas N] [--ais-runs N] -- <the run command, with --out DIR>',
    );
    process.exit(2);
  }
  try {
    let wall: number | null;
    const before = argv.slice(0, Math.max(0, dash));
    // The RBM's scoring AIS (both sides; RBM_AIS by default).
    const opt = flagsOf(before);
    const ais = {
      ...(opt.has('ais-betas') ? { betas: Number(opt.get('ais-betas')) } : {}),
      ...(opt.has('ais-runs') ? { runs: Number(opt.get('ais-runs')) } : {}),
    };
    if (before.includes('--fit-only')) {
      await twinOf(command, out, null, { fitOnly: true, ais });
      console.log(`quality: the twin's training is in ${join(out, 'twin')}`);
      process.exit(0);
    }
    const twinOnly = before.includes('--twin-only');
    if (twinOnly) {
      const w = join(out, 'wall.json');
      wall = existsSync(w) ? (JSON.parse(readFileSync(w, 'utf8')) as { wall_s: number }).wall_s : null;
    } else wall = runProject(command, out);
    const report = (await twinOf(command, out, wall, { ais }))!;
    console.log(sideBySide(report));
    // The script's whole time: the run's (with its scoring here) and the twin's (a reused training
    // counted as it was measured).
    const pw = projectWall(report);
    const total = (pw ?? 0) + report.twin.wall_s;
    console.log(
      `quality: wall time: project ${pw === null ? '?' : minutes(pw)}` +
        `${report.project.score_s !== undefined ? ` (its scoring here ${report.project.score_s.toFixed(1)} s)` : ''}, twin ${minutes(report.twin.wall_s)} ` +
        `(PyTorch training ${report.twin.train_s.toFixed(1)} s, scoring ${report.twin.score_s.toFixed(1)} s); ` +
        `wrote ${join(out, 'twin.json')}`,
    );
    console.log(`quality: the script's wall time ${minutes(total)} (budget ${minutes(BUDGET_S)})`);
    if (wall !== null && total > BUDGET_S)
      console.log(`quality: over the budget of ${minutes(BUDGET_S)} (${minutes(total)} in all)`);
  } catch (e) {
    console.error((e as Error).stack ?? String(e));
    process.exit(1);
  }
}
