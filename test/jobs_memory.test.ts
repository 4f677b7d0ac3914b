// The CLI's evaluation and pictures (src/cli/jobs.ts) free every tensor they make: live tensors and
// bytes are the same before and after evaluate() and pictures() of every model (CPU backend, tiny
// configs), so a long run that evaluates each epoch does not grow. The DCGAN is scored by a tiny
// classifier checkpoint written here (a --classifier that does not exist is an error before training).
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveTensorCount, memoryStats, withBackend } from '../src/index.ts';
import { createJob } from '../src/cli/jobs.ts';
import { buildModel, type ModelName, type ModelConfig, type DatasetName } from '../src/models/registry.ts';
import { checkpointTensors } from '../src/io/checkpoint.ts';
import { saveSafetensors } from '../src/io/safetensors_file.ts';
import { cpu } from './helpers.ts';

const CASES: [ModelName, DatasetName, ModelConfig][] = [
  ['vae', 'mnist', { arch: 'mlp', zDim: 2, lr: 1e-3, seed: 0 }],
  ['gan', 'ring', { lr: 1e-3, seed: 0 }],
  ['classifier', 'mnist', { width: 2, lr: 1e-3, seed: 0 }],
  ['dcgan', 'mnist', { zDim: 4, width: 2, lr: 2e-4, seed: 0 }],
  ['cyclegan', 'dilated', { width: 2, resBlocks: 1, lambda: 10, identity: 0.1, lr: 5e-4, seed: 0 }],
  ['rbm', 'mnist', { width: 8, k: 1, chain: 'pcd', lr: 0.05, seed: 0 }],
  ['dbn', 'mnist', { layers: [8, 6], k: 1, chain: 'cd', lr: 0.05, seed: 0 }],
];

describe('the CLI jobs free what they evaluate and draw', () => {
  const clfPath = join(mkdtempSync(join(tmpdir(), 'jobs-clf-')), 'classifier.safetensors');
  beforeAll(async () => {
    await withBackend(cpu, async () => {
      const config: ModelConfig = { width: 2, lr: 1e-3, seed: 0 };
      const { tensors, metadata } = await checkpointTensors(buildModel('classifier', config));
      saveSafetensors(clfPath, tensors, {
        ...metadata,
        model: 'classifier',
        config: JSON.stringify(config),
        dataset: 'mnist',
      });
    });
  });

  it('dcgan: a --classifier that does not exist is an error when the job is made, before any training', async () => {
    await withBackend(cpu, async () => {
      const config: ModelConfig = { zDim: 4, width: 2, lr: 2e-4, seed: 0 };
      expect(() =>
        createJob(
          {
            model: 'dcgan',
            dataset: 'mnist',
            batch: 8,
            seed: 0,
            trainSize: 64,
            classifier: '/nonexistent/classifier.safetensors',
            config,
          },
          buildModel('dcgan', config),
        ),
      ).toThrow(/the DCGAN's scores need the classifier checkpoint \/nonexistent\/classifier.safetensors/);
    });
  });

  for (const [model, dataset, config] of CASES) {
    it(`${model}: evaluate() and pictures() leave no tensors behind`, async () => {
      await withBackend(cpu, async () => {
        const m = buildModel(model, config);
        const job = createJob(
          {
            model,
            dataset,
            batch: 8,
            seed: 0,
            trainSize: 64,
            classifier: clfPath,
            config,
            rbm: { betas: 20, runs: 10, sampleSteps: 5 },
          },
          m,
        );
        // What a job keeps for its later evaluations is made by the first (the DCGAN's judge, the real
        // images' statistics and the untrained G it is compared with): counted from the second on.
        if (model === 'dcgan') await job.evaluate();
        const [tensors, bytes] = [liveTensorCount(), memoryStats(cpu).liveBytes];
        await job.evaluate();
        const files = await job.pictures(mkdtempSync(join(tmpdir(), 'jobs-')));
        // samples, reconstructions, manifold (z = 2); the ring's PNG and SVG scatter; the RBM's filters and samples; one picture otherwise (the DBN's samples)
        const pictures: Record<ModelName, number> = {
          vae: 3,
          gan: 2,
          classifier: 0,
          dcgan: 1,
          cyclegan: 1,
          rbm: 2,
          dbn: 1,
        };
        expect(files.length, 'pictures').toBe(pictures[model]);
        expect(liveTensorCount() - tensors, 'live tensors').toBe(0);
        expect(memoryStats(cpu).liveBytes - bytes, 'live bytes').toBe(0);
      });
    }, 120_000);
  }
});
