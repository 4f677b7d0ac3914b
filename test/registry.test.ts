// The model registry (src/models/registry.ts), which the CLI and the demo both read: a run's config is
// the one checkpoints have always stored (same keys, same order), a config from outside is checked
// with errors naming the option and the value, every model builds from its defaults and exports its
// part, and the page's configs are completed as it records them.
import { describe, expect, it } from 'vitest';
import { withBackend } from '../src/index.ts';
import {
  MODELS,
  MODEL_SPECS,
  buildModel,
  checkConfig,
  configOf,
  withDefaults,
  type ModelName,
} from '../src/models/registry.ts';
import { ADAPTERS } from '../demo/adapters.ts';
import { cpu } from './helpers.ts';

describe('the model registry', () => {
  it("a CLI run's config is the one v0.2.0 checkpoints store, key for key and in order", () => {
    const run = { lr: 0.001, seed: 0, arch: 'mlp' as const };
    const want: Record<ModelName, string> = {
      vae: '{"lr":0.001,"seed":0,"arch":"mlp","zDim":20}',
      gan: '{"lr":0.001,"seed":0}',
      dcgan: '{"lr":0.001,"seed":0,"zDim":64,"width":32}',
      cyclegan: '{"lr":0.001,"seed":0,"width":8,"resBlocks":2,"lambda":10,"identity":0.1}',
      classifier: '{"lr":0.001,"seed":0,"width":32}',
      rbm: '{"lr":0.001,"seed":0,"width":500,"k":1,"chain":"cd"}',
      dbn: '{"lr":0.001,"seed":0,"layers":[500,500],"k":1,"chain":"cd"}',
    };
    for (const m of MODELS) expect(JSON.stringify(configOf(m, run)), m).toBe(want[m]);
    expect(JSON.stringify(configOf('vae', { ...run, arch: 'conv', zDim: 2, lrD: 3e-4 }))).toBe(
      '{"lr":0.001,"lrD":0.0003,"seed":0,"arch":"conv","zDim":2,"width":16}',
    );
    expect(configOf('dcgan', { ...run, width: 8 })).toEqual({ lr: 0.001, seed: 0, zDim: 64, width: 8 });
  });

  it('refuses a config with an option the model does not take, or a bad value, naming both', () => {
    expect(() => checkConfig('gan', { zDim: 2 }, 'f.safetensors')).toThrow(
      "f.safetensors: metadata config has 'zDim', which is not an option of the gan (loss, dSteps, lr, lrD, seed)",
    );
    expect(() => checkConfig('vae', { zDim: '8' }, 'f')).toThrow(
      'f: metadata config.zDim must be a positive integer, got "8"',
    );
    expect(() => checkConfig('dbn', { layers: [500] }, 'f')).toThrow(
      'config.layers must be a JSON array of at least 2',
    );
    expect(() => checkConfig('rbm', [1], 'f')).toThrow("must be a JSON object of the rbm's options");
    expect(checkConfig('rbm', { width: 64, chain: 'pcd' }, 'f')).toEqual({ width: 64, chain: 'pcd' });
  });

  it("completes the page's configs with the options they use, never with one they do not", () => {
    expect(withDefaults('vae', { arch: 'conv', zDim: 2, seed: 0 })).toEqual({
      arch: 'conv',
      zDim: 2,
      seed: 0,
      width: 16,
    });
    expect(withDefaults('vae', { arch: 'mlp', zDim: 2, seed: 0 })).toEqual({ arch: 'mlp', zDim: 2, seed: 0 });
    expect(withDefaults('gan', { seed: 0, loss: 'saturating', data: 'moons' })).toEqual({
      seed: 0,
      loss: 'saturating',
      data: 'moons',
    });
  });

  it("the page's CycleGAN records its identity weight (0): nothing in its config is left for the CLI to complete", () => {
    // The page trains CycleGAN without the identity loss and records its config as given; a key missing
    // there would be completed by the CLI's --resume with its own default (0.1), another objective.
    const page = ADAPTERS.cyclegan.defaults.config;
    expect(page.identity).toBe(0);
    expect(withDefaults('cyclegan', page)).toEqual(page);
  });

  it('every model builds from its defaults, with its config, and exports its part at batch 2', async () => {
    for (const m of MODELS) {
      const spec = MODEL_SPECS[m];
      const small = m === 'dbn' ? { layers: [16, 8] } : m === 'rbm' ? { width: 8 } : {};
      const model = withBackend(cpu, () => buildModel(m, { ...spec.defaults.config, ...small, seed: 1 }));
      expect(model.lossNames.length, m).toBeGreaterThan(0);
      expect(spec.datasets.length, m).toBeGreaterThan(0);
      expect(spec.options).toEqual(expect.arrayContaining(['lr', 'seed']));
      const part = withBackend(cpu, () => spec.exported(model, 2));
      const out = withBackend(cpu, () => part.fn(...part.inputs));
      expect(out.shape[0], m).toBe(2);
      expect(part.inputNames.length).toBe(part.inputs.length);
    }
  });
});
