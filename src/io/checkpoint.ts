// Checkpoint contents for a model and its optimizers, as named arrays for safetensors: the model's
// state_dict under its PyTorch-style names, each optimizer slot as optim.<parameter name>.<slot> (Adam: m,
// v; SGD: momentum_buffer), and in the metadata each optimizer's step count (optimizer_steps) and its
// parameters' own step counts (optimizer_param_steps; files without it, from before per-parameter
// counts, restore a parameter with slots at its optimizer's count). Browser-safe: the CLI writes
// these to disk (safetensors_file.ts), the demo offers them as a download; either loads the other's files.

import type { Tensor } from '../tensor.ts';
import type { AnyModule } from '../nn/module.ts';
import type { Optimizer } from '../nn/optim.ts';
import type { NamedArray, SafetensorsContents } from './safetensors.ts';

function paramNames(model: AnyModule): Map<Tensor, string> {
  return new Map([...model.namedParameters()].map(([k, t]) => [t, k]));
}

/** The model's state and its optimizers' slots, read back from the device. */
export async function checkpointTensors(model: AnyModule, optimizers: Optimizer[] = []): Promise<SafetensorsContents> {
  const tensors = new Map<string, NamedArray>();
  for (const [k, t] of model.stateDict()) tensors.set(k, { shape: t.shape, data: await t.toArray() });
  const names = paramNames(model);
  for (const opt of optimizers) {
    const state = opt.stateTensors();
    for (let i = 0; i < opt.params.length; i++) {
      const name = names.get(opt.params[i]);
      if (name === undefined)
        throw new Error(
          `checkpoint: an optimizer holds a parameter that is not in the model (${opt.params[i].name ?? `#${opt.params[i].id}`})`,
        );
      for (let j = 0; j < state[i].length; j++) {
        tensors.set(`optim.${name}.${opt.slotNames[j]}`, {
          shape: state[i][j].shape,
          data: await state[i][j].toArray(),
        });
      }
    }
  }
  return {
    tensors,
    metadata: {
      optimizer_steps: JSON.stringify(optimizers.map((o) => o.stepCount)),
      optimizer_param_steps: JSON.stringify(optimizers.map((o) => o.paramSteps)),
    },
  };
}

/** The metadata's optimizer_steps (written by checkpointTensors): a JSON array of step counts. */
function optimizerSteps(raw: string | undefined, source: string): number[] {
  if (raw === undefined) return [];
  let steps: unknown = null;
  try {
    steps = JSON.parse(raw);
  } catch {
    // reported below, with the value
  }
  if (!Array.isArray(steps) || !steps.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new Error(
      `${source}: metadata optimizer_steps is '${String(raw).slice(0, 80)}', not a JSON array of non-negative integer step counts`,
    );
  }
  return steps;
}

/** The metadata's optimizer_param_steps: per optimizer, its parameters' step counts (absent: undefined each). */
function paramSteps(raw: string | undefined, optimizers: Optimizer[], source: string): (number[] | undefined)[] {
  if (raw === undefined) return optimizers.map(() => undefined);
  let v: unknown = null;
  try {
    v = JSON.parse(raw);
  } catch {
    // reported below, with the value
  }
  const ok =
    Array.isArray(v) &&
    v.length === optimizers.length &&
    v.every(
      (steps, o) =>
        Array.isArray(steps) &&
        steps.length === optimizers[o].params.length &&
        steps.every((s) => Number.isSafeInteger(s) && s >= 0),
    );
  if (!ok) {
    throw new Error(
      `${source}: metadata optimizer_param_steps is '${String(raw).slice(0, 80)}', not per optimizer (${optimizers.length}) a JSON array of ` +
        `its parameters' (${optimizers.map((o) => o.params.length).join(', ')}) non-negative integer step counts`,
    );
  }
  return v as number[][];
}

/**
 * Loads a checkpoint into the model (strict: every key, every shape) and, when given, its optimizers.
 * `source` names the file in errors; a different architecture is reported as such.
 */
export async function restoreCheckpoint(
  ckpt: SafetensorsContents,
  model: AnyModule,
  optimizers: Optimizer[] = [],
  source = 'checkpoint',
): Promise<void> {
  // Validated before anything is written, so a bad file leaves the model as it was.
  const steps = optimizers.length ? optimizerSteps(ckpt.metadata.optimizer_steps, source) : [];
  if (steps.length !== optimizers.length)
    throw new Error(`${source}: optimizer state for ${steps.length} optimizers, this model has ${optimizers.length}`);
  const perParam = optimizers.length ? paramSteps(ckpt.metadata.optimizer_param_steps, optimizers, source) : [];
  // Everything is checked before anything is written: the model first (a model that does not fit says
  // more than its optimizer slots would), then every optimizer's slots.
  const own = new Map([...ckpt.tensors].filter(([k]) => !k.startsWith('optim.')));
  const doesNotFit = (e: unknown) =>
    new Error(`${source} does not fit this model (another model, architecture or --zdim?): ${(e as Error).message}`);
  await model.checkStateDict(own).catch((e) => {
    throw doesNotFit(e);
  });
  const names = paramNames(model);
  const slots = optimizers.map((opt) =>
    opt.params.map((p) => {
      const values = opt.slotNames.map((s) => ckpt.tensors.get(`optim.${names.get(p)}.${s}`)?.data);
      return values.every((v) => v) ? (values as Float32Array[]) : null;
    }),
  );
  optimizers.forEach((opt, o) => {
    try {
      opt.checkState(slots[o], perParam[o]);
    } catch (e) {
      throw new Error(`${source}: ${(e as Error).message}`, { cause: e });
    }
  });
  await model.loadStateDict(own).catch((e) => {
    throw doesNotFit(e);
  });
  optimizers.forEach((opt, o) => opt.loadState(slots[o], steps[o], perParam[o]));
}
