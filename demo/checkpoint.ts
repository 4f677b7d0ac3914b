// Checkpoints in the page, in the CLI's format (src/io/checkpoint.ts and src/io/safetensors.ts, the same
// code the CLI uses): the model's state_dict names, optim.<param>.<m|v>, and metadata `model` (vae, gan,
// dcgan, cyclegan) and `config` (JSON of the constructor options), so a file downloaded here loads in
// `npm run train` and a CLI checkpoint loads here.

import { checkpointTensors, restoreCheckpoint } from '../src/io/index.ts';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../src/io/index.ts';
import { checkConfig } from '../src/models/registry.ts';
import { ADAPTERS, type LiveModel, type ModelAdapter, type ModelConfig, type ModelId } from './adapters.ts';
import type { Trainer } from './trainer.ts';
import type { LossHistory } from './draw.ts';

export interface ParsedCheckpoint {
  ckpt: { tensors: Map<string, NamedArray>; metadata: Record<string, string> };
  model: ModelId;
  config: ModelConfig;
  /** The learning rate saved in config, if any. */
  lr?: number;
  /** Optimizer steps taken (the step counter to continue from), when the file records them. */
  steps?: number;
  /** The step noise's generator state (the CLI's `noise_generator`), when the file records it. */
  noise?: { seed: string; offset: number };
  /** Epochs the run had finished (the CLI's `epoch`), when the file records it. */
  epoch?: number;
  /** The discriminators' learning rate saved in config (`lrD`), if any. */
  lrD?: number;
  /** The loss curve of the run so far (metadata `loss_history`, written by this page), if any. */
  history?: LossHistory & { names: string[] };
}

/** Loss-history points a checkpoint keeps: past this, every k-th step (the curve's shape, not every step). */
export const HISTORY_POINTS = 20_000;

/** The history as checkpoint metadata: names, steps and values to 6 significant digits (JSON). */
export function historyMetadata(names: readonly string[], h: LossHistory): string {
  const k = Math.ceil(h.steps.length / HISTORY_POINTS) || 1;
  const at = h.steps.map((_, i) => i).filter((i) => i % k === 0 || i === h.steps.length - 1);
  return JSON.stringify({
    names,
    steps: at.map((i) => h.steps[i]),
    values: at.map((i) => h.values[i].map((v) => (Number.isFinite(v) ? Number(v.toPrecision(6)) : null))),
  });
}

/** Reads `loss_history` back, checking its shape (its names are checked against the model built: checkHistory). */
function parseHistory(text: string, fileName: string, step: number | undefined): LossHistory & { names: string[] } {
  const bad = (why: string) => new Error(`${fileName}: its 'loss_history' metadata ${why}`);
  let h: { names?: unknown; steps?: unknown; values?: unknown };
  try {
    h = JSON.parse(text) as typeof h;
  } catch (e) {
    throw bad(`is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(h.names) || !h.names.length || !h.names.every((n) => typeof n === 'string'))
    throw bad('needs the loss names');
  const names = h.names as string[];
  const { steps, values } = h;
  if (!Array.isArray(steps) || !Array.isArray(values) || steps.length !== values.length)
    throw bad('needs steps and values of one length');
  if (steps.length > HISTORY_POINTS + 1)
    throw bad(`holds ${steps.length} points, more than the ${HISTORY_POINTS + 1} this page writes`);
  steps.forEach((s, i) => {
    if (!Number.isInteger(s) || (i > 0 && (s as number) <= (steps[i - 1] as number)))
      throw bad(`has step ${JSON.stringify(s)} at index ${i}, not an increasing integer`);
  });
  const last = steps.length ? (steps[steps.length - 1] as number) : 0;
  if (last > (step ?? 0)) throw bad(`runs to step ${last}, past the checkpoint's ${step ?? 0} optimizer steps`);
  values.forEach((v, i) => {
    if (!Array.isArray(v) || v.length !== names.length || !v.every((x) => x === null || typeof x === 'number'))
      throw bad(`has ${JSON.stringify(v)} at index ${i}, not ${names.length} numbers`);
  });
  return {
    names,
    steps: steps as number[],
    values: (values as (number | null)[][]).map((v) => v.map((x) => x ?? NaN)),
  };
}

/** A checkpoint's history must be of the losses of the model it was loaded into. */
export function checkHistory(h: { names: string[] }, lossNames: readonly string[], fileName: string): void {
  if (h.names.join() !== lossNames.join()) {
    throw new Error(
      `${fileName}: its 'loss_history' metadata names the losses ${JSON.stringify(h.names)}, but this model's are ${JSON.stringify(lossNames)}`,
    );
  }
}

const title = (id: string) => (id in ADAPTERS ? ADAPTERS[id as ModelId].title : `'${id}'`);

/** Decodes a checkpoint file and checks that it is one of `expected`'s, with messages that say what to do. */
export function parseCheckpoint(bytes: Uint8Array, fileName: string, expected: ModelId): ParsedCheckpoint {
  const ckpt = decodeSafetensors(bytes, fileName);
  const m = ckpt.metadata.model;
  if (!m) {
    throw new Error(
      `${fileName} has no 'model' metadata: it is not a checkpoint written by \`npm run train\` or by this page`,
    );
  }
  if (!(m in ADAPTERS))
    throw new Error(
      `${fileName} is a checkpoint of model '${m}', which this page does not know (it knows ${Object.keys(ADAPTERS).join(', ')})`,
    );
  if (m !== expected) {
    throw new Error(
      `${fileName} is a ${title(m)} checkpoint, but the ${title(expected)} is selected: pick ${title(m)} in the model menu, then load the file`,
    );
  }
  let config: ModelConfig = {};
  if (ckpt.metadata.config) {
    try {
      const parsed: unknown = JSON.parse(ckpt.metadata.config);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      config = parsed as ModelConfig;
    } catch (e) {
      throw new Error(
        `${fileName}: its 'config' metadata is not a JSON object of constructor options (${(e as Error).message})`,
        { cause: e },
      );
    }
    // The registry's checks, as the CLI reads the file: options of this model, each of a valid value.
    checkConfig(expected, config, fileName);
  }
  const { lr, lrD, ...rest } = config;
  // The option that is the run's dataset comes from the file's `dataset` metadata (see OptionField.meta).
  const ds = ADAPTERS[expected].fields.find((f) => f.meta === 'dataset');
  const dataset = ckpt.metadata.dataset;
  if (ds && dataset !== undefined) {
    if (!ds.choices.includes(dataset))
      throw new Error(
        `${fileName} was trained on '${dataset}'; this page trains the ${title(expected)} on ${ds.choices.join(', ')}`,
      );
    rest[ds.key] = dataset;
  }
  let steps: number | undefined;
  try {
    const s = JSON.parse(ckpt.metadata.optimizer_steps ?? 'null') as unknown;
    if (Array.isArray(s) && typeof s[0] === 'number') steps = s[0];
  } catch {
    steps = undefined;
  }
  let noise: ParsedCheckpoint['noise'];
  try {
    const n = JSON.parse(ckpt.metadata.noise_generator ?? 'null') as { seed?: unknown; offset?: unknown } | null;
    if (n && typeof n.seed === 'string' && typeof n.offset === 'number') noise = { seed: n.seed, offset: n.offset };
  } catch {
    noise = undefined;
  }
  const e = Number(ckpt.metadata.epoch);
  const epoch = Number.isInteger(e) && e >= 0 ? e : undefined;
  const history =
    ckpt.metadata.loss_history === undefined ? undefined : parseHistory(ckpt.metadata.loss_history, fileName, steps);
  return {
    ckpt,
    model: m as ModelId,
    config: rest,
    lr: typeof lr === 'number' ? lr : undefined,
    lrD: typeof lrD === 'number' ? lrD : undefined,
    steps,
    noise,
    epoch,
    history,
  };
}

/**
 * Loads the weights (strict: every name, every shape) and, when the file has them, the optimizer
 * states, into a model built from the file's config. Returns whether optimizer state was restored.
 */
export async function restoreInto(live: LiveModel, p: ParsedCheckpoint, fileName: string): Promise<boolean> {
  const withOptim = p.ckpt.metadata.optimizer_steps !== undefined;
  await restoreCheckpoint(p.ckpt, live.model, withOptim ? live.model.optimizers() : [], fileName);
  return withOptim;
}

/**
 * The live model's weights and optimizer state as safetensors bytes, with the metadata the CLI writes
 * (model, config, dataset, optimizer_steps, noise_generator, epoch), so `npm run train -- eval|sample
 * <model> --ckpt FILE` and `--resume FILE` accept it; --resume continues counting epochs from the ones
 * this page (and the file it started from) finished.
 */
export async function checkpointBytes(a: ModelAdapter, trainer: Trainer): Promise<Uint8Array> {
  const live = trainer.live;
  const { tensors, metadata } = await checkpointTensors(live.model, live.model.optimizers());
  const ds = a.fields.find((f) => f.meta === 'dataset');
  const config = { ...live.config };
  const dataset = ds ? String(config[ds.key] ?? a.dataset) : a.dataset;
  if (ds) delete config[ds.key];
  return encodeSafetensors(tensors, {
    ...metadata,
    model: a.id,
    config: JSON.stringify({
      ...config,
      lr: trainer.learningRate,
      ...(trainer.learningRateD !== null ? { lrD: trainer.learningRateD } : {}),
    }),
    loss_history: historyMetadata(live.model.lossNames, trainer.history),
    ...(dataset ? { dataset } : {}),
    noise_generator: JSON.stringify(trainer.noiseState),
    step: String(trainer.step),
    epoch: String(trainer.epochBase + live.epochsDone()),
    written_by: 'wgpu-gen browser demo',
  });
}
