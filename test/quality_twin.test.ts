// scripts/quality_twin.ts end to end on a tiny VAE run (CPU backend, 128 training images, one epoch):
// it times the project's run (wall.json), hands PyTorch the run's very initial weights (jobs.ts buildModel
// from the checkpoint's config) and training split, trains the twin for the run's epochs and batch
// (python/wgpu_gen.py fit, Debian's python3-torch), and scores the twin with the project's scorer: the
// twin.json figures are what vaeTestElbo gives on the twin's checkpoint here. A second twin step
// (--twin-only) reuses the twin's training (twin/fit.json, same key) and gives the same figures. A run it
// cannot twin (--steps) is refused, naming the flag.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withBackend } from '../src/index.ts';
import { loadImages, vaeTestElbo } from '../src/cli/jobs.ts';
import { buildModel } from '../src/models/registry.ts';
import { checkpointTensors, restoreCheckpoint } from '../src/io/checkpoint.ts';
import { loadSafetensors } from '../src/io/node.ts';
import type { VAE } from '../src/models/vae.ts';
import { figure, type TwinReport } from '../scripts/quality_twin.ts';
import { cpu } from './helpers.ts';
import { runTsx, tsx } from './cli_helpers.ts';

describe('the quality run and its PyTorch twin', () => {
  it("trains the twin from the run's initial weights and split, and scores it with the project's scorer", async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'twin-')), 'vae');
    const run = ['src/cli/train.ts', 'vae', '--train-size', '128', '--batch', '64', '--epochs', '1'];
    run.push('--iwae-k', '2', '--zdim', '4', '--seed', '3', '--backend', 'cpu', '--out', out);
    const r = runTsx('scripts/quality_twin.ts', ['--', tsx, ...run], { timeout: 540_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/the project's run took [\d.]+ s/);
    expect(r.stdout).toContain('IWAE log p(x), k = 2');
    const t = JSON.parse(readFileSync(join(out, 'twin.json'), 'utf8')) as TwinReport;
    const wall = JSON.parse(readFileSync(join(out, 'wall.json'), 'utf8')) as { wall_s: number };
    expect(t.project.wall_s).toBe(wall.wall_s);
    expect(t.settings).toMatchObject({ batch: 64, epochs: 1, train_images: 128, steps_per_epoch: 2, iwae_k: 2 });
    expect(t.settings.config).toMatchObject({ zDim: 4, seed: 3 });
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const last = JSON.parse(rows[rows.length - 1]) as Record<string, number>;
    expect(t.project.test_neg_elbo).toBe(last.test_neg_elbo);
    expect(t.project.test_log_px).toBe(last.test_log_px);

    // The twin started from the run's initial weights: those buildModel draws from the run's config.
    const fresh = withBackend(cpu, () => buildModel('vae', { arch: 'mlp', zDim: 4, lr: 1e-3, seed: 3 })) as VAE;
    const init = loadSafetensors(join(out, 'twin/init.safetensors'));
    for (const [k, v] of (await checkpointTensors(fresh, [])).tensors)
      expect(init.tensors.get(k)!.data, k).toEqual(v.data);
    // ... on the run's training split, for one epoch of 2 steps: the same objective from the same
    // weights gives the same mean loss up to the noise (different eps draws, 2 steps of Adam).
    const split = loadImages('mnist', 128);
    expect(loadSafetensors(join(out, 'twin/train.safetensors')).tensors.get('x')!.data).toEqual(split.train.images);
    expect(t.twin.train_losses).toHaveLength(1);
    const loss = figure(t.project, 'train_loss');
    expect(Math.abs(t.twin.train_losses[0] - loss) / loss).toBeLessThan(0.02);

    // Scored as the run is: the project's functions on the twin's checkpoint give twin.json's figures.
    const ckpt = loadSafetensors(join(out, 'twin/checkpoint.safetensors'));
    expect(ckpt.metadata.trained_by).toMatch(/^PyTorch /);
    const twin = await withBackend(cpu, async () => {
      const m = buildModel('vae', { arch: 'mlp', zDim: 4, lr: 1e-3, seed: 3 }) as VAE;
      await restoreCheckpoint(ckpt, m, []);
      return await vaeTestElbo(m, split.test);
    });
    expect(t.twin.test_neg_elbo).toBe(twin.neg_elbo);
    expect(t.gap.neg_elbo).toBeCloseTo(figure(t.project, 'test_neg_elbo') - figure(t.twin, 'test_neg_elbo'), 10);

    // The twin step again: its training reused (the same initial weights, split, settings and script).
    const again = runTsx('scripts/quality_twin.ts', ['--twin-only', '--', tsx, ...run], { timeout: 300_000 });
    expect(again.status, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('was trained before');
    const t2 = JSON.parse(readFileSync(join(out, 'twin.json'), 'utf8')) as TwinReport;
    expect(t2.twin).toMatchObject({ test_neg_elbo: t.twin.test_neg_elbo, test_log_px: t.twin.test_log_px });
    expect(t2.twin.train_s).toBe(t.twin.train_s);
    expect(t2.project.wall_s).toBe(wall.wall_s);

    // A run the twin cannot follow: refused before anything runs.
    const steps = runTsx('scripts/quality_twin.ts', ['--twin-only', '--', tsx, ...run, '--steps', '1']);
    expect(steps.status).toBe(1);
    expect(steps.stderr).toContain("the run's --steps has no twin");
    expect(existsSync(join(out, 'twin.json'))).toBe(true);
  }, 600_000);
});
