// scripts/quality_twin.ts beyond the VAE (issue 29), on tiny CPU runs: the ring GAN's twin trains on the
// very points the run drew (its whole stream, in its order) and is scored by the project's mode count on
// samples of the twin's weights; the RBM's twin takes the same CD-k step as src/models/rbm.ts (checked
// step for step where the Gibbs draws are certain), and both sides' checkpoints are scored by the same
// AIS here (the run's own rows used a cheaper one).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withBackend, tensor, Generator } from '../src/index.ts';
import { toyBatch } from '../src/data/index.ts';
import { buildModel } from '../src/models/registry.ts';
import { modeCoverage, type MlpGAN, type RBM } from '../src/models/index.ts';
import { checkpointTensors, restoreCheckpoint } from '../src/io/checkpoint.ts';
import { loadSafetensors, saveSafetensors } from '../src/io/node.ts';
import { figure, type TwinReport } from '../scripts/quality_twin.ts';
import { cpu } from './helpers.ts';
import { runTsx, tsx } from './cli_helpers.ts';

const lastRow = (out: string) => {
  const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  return JSON.parse(rows[rows.length - 1]) as Record<string, number>;
};

describe('the PyTorch twins of the ring GAN and the RBM', () => {
  it("ring GAN: the twin trains on the run's own stream of points and is scored by the project's mode count", async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'twin-gan-')), 'gan');
    const run = ['src/cli/train.ts', 'gan', '--epochs', '1', '--batch', '16', '--seed', '5'];
    run.push('--backend', 'cpu', '--out', out);
    const r = runTsx('scripts/quality_twin.ts', ['--', tsx, ...run], { timeout: 240_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('modes covered (of 8)');
    expect(r.stdout).toMatch(/the script's wall time [\d.]+ min/);
    const t = JSON.parse(readFileSync(join(out, 'twin.json'), 'utf8')) as TwinReport;
    expect(t.settings).toMatchObject({ model: 'gan', dataset: 'ring', batch: 16, epochs: 1, steps_per_epoch: 1000 });
    expect(t.settings.train_images).toBe(16_000);
    // The stream: the run's batch (e, i) is toyBatch(ring, 16, seed, (e * 1000 + i) * 16), row for row.
    const x = loadSafetensors(join(out, 'twin/train.safetensors')).tensors.get('x')!;
    expect(x.shape).toEqual([16_000, 2]);
    expect(x.data.subarray(2 * 16 * 7, 2 * 16 * 8)).toEqual(toyBatch('ring', 16, 5, 7 * 16));
    expect(x.data.subarray(2 * 16 * 999)).toEqual(toyBatch('ring', 16, 5, 999 * 16));
    // The run's figures are its last metrics row's; the twin's are the same scorer on the twin's weights.
    const last = lastRow(out);
    expect(figure(t.project, 'modes_covered')).toBe(last.modes_covered);
    expect(figure(t.project, 'high_quality')).toBe(last.high_quality);
    const ckpt = loadSafetensors(join(out, 'twin/checkpoint.safetensors'));
    expect(ckpt.metadata.trained_by).toMatch(/^PyTorch /);
    const twin = await withBackend(cpu, async () => {
      const g = buildModel('gan', { lr: 1e-3, seed: 5 }) as MlpGAN;
      const init = (await checkpointTensors(g, [])).tensors;
      await restoreCheckpoint(ckpt, g, []);
      const moved = [...(await checkpointTensors(g, [])).tensors].some(([k, v]) => v.data[0] !== init.get(k)!.data[0]);
      return { moved, report: modeCoverage(await g.sample(10000, new Generator(9)).toArray()) };
    });
    expect(twin.moved).toBe(true);
    expect(figure(t.twin, 'modes_covered')).toBe(twin.report.covered);
    expect(figure(t.twin, 'high_quality')).toBe(twin.report.highQuality);
    expect(t.gap.modes).toBe(twin.report.covered - last.modes_covered);
    // One epoch of 1,000 steps: D's mean loss, per the twin's own log, in the run's range.
    expect(t.twin.train_losses).toHaveLength(1);
    expect(Math.abs(t.twin.train_losses[0] - last.train_d)).toBeLessThan(0.3);
  }, 300_000);

  it("DCGAN: the twin is scored by the run's classifier, as the run's last epoch was", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twin-dcgan-'));
    const clfRun = ['classifier', '--width', '4', '--train-size', '200', '--batch', '50', '--epochs', '1'];
    const c = runTsx('src/cli/train.ts', [...clfRun, '--backend', 'cpu', '--out', join(dir, 'clf')], {
      timeout: 120_000,
    });
    expect(c.status, c.stdout + c.stderr).toBe(0);
    const out = join(dir, 'dcgan');
    const run = ['src/cli/train.ts', 'dcgan', '--width', '4', '--zdim', '8', '--train-size', '256', '--batch', '64'];
    run.push('--epochs', '1', '--classifier', join(dir, 'clf/checkpoint.safetensors'), '--backend', 'cpu');
    run.push('--out', out);
    const r = runTsx('scripts/quality_twin.ts', ['--', tsx, ...run], { timeout: 240_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('ratio to untrained');
    const t = JSON.parse(readFileSync(join(out, 'twin.json'), 'utf8')) as TwinReport;
    expect(t.settings).toMatchObject({ model: 'dcgan', train_images: 256, steps_per_epoch: 4, epochs: 1 });
    const last = lastRow(out);
    expect(figure(t.project, 'fd_ratio')).toBe(last.fd_ratio);
    // The same untrained baseline on both sides (the config's seed), the twin's own distance.
    expect(figure(t.twin, 'fd_untrained')).toBe(last.fd_untrained);
    expect(figure(t.twin, 'fd')).not.toBe(last.fd);
    expect(t.gap.fd_ratio_x).toBeCloseTo(last.fd_ratio / figure(t.twin, 'fd_ratio'), 10);
  }, 300_000);

  it("RBM: the twin's CD-1 step with momentum is the project's, where every Gibbs draw is certain", async () => {
    // Weights in {-60, 0, 60} and biases of +-30 make every unit's input an odd multiple of 30 (at least
    // 30 away from 0 after a step of 0.05), so every probability is 0 or 1 in float32 (1e-13 at most) and
    // both sides' Bernoulli draws agree whatever their random numbers: two steps (the second with SGD's
    // momentum) must then give the same weights.
    const dir = mkdtempSync(join(tmpdir(), 'twin-rbm-cd-'));
    const config = { width: 6, k: 1, chain: 'cd' as const, lr: 0.05, seed: 2 };
    const V = 784,
      H = 6,
      n = 4;
    const W = new Float32Array(V * H).map(
      (_, i) => 60 * [-1, 0, 0, 0, 1][(i * 7 + (i % H) * 13 + Math.floor(i / H) * (i % H)) % 5],
    );
    const x = new Float32Array(n * V).map((_, i) => ((i * 104729) % 5 < 2 ? 1 : 0));
    const { init, after } = await withBackend(cpu, async () => {
      const rbm = buildModel('rbm', config) as RBM;
      const ck = (await checkpointTensors(rbm, [])).tensors;
      ck.set('W', { shape: [V, H], data: W });
      ck.set('vbias', { shape: [V], data: new Float32Array(V).map((_, i) => ((i * 31) % 3 ? 30 : -30)) });
      ck.set('hbias', { shape: [H], data: Float32Array.from([30, -30, 30, -30, -30, 30]) });
      await restoreCheckpoint({ tensors: ck, metadata: {} }, rbm, []);
      const xt = tensor(x, [n, V]);
      for (let s = 0; s < 2; s++) rbm.trainStep({ x: xt }, new Generator(s)).dispose();
      return { init: ck, after: (await checkpointTensors(rbm, [])).tensors };
    });
    const initPath = join(dir, 'init.safetensors'),
      inPath = join(dir, 'in.safetensors'),
      outPath = join(dir, 'out.safetensors');
    saveSafetensors(initPath, init, { model: 'rbm', config: JSON.stringify(config) });
    saveSafetensors(inPath, new Map([['x', { shape: [n, V], data: x }]]));
    const r = spawnSync(
      '/usr/bin/python3',
      ['python/wgpu_gen.py', 'train', '--ckpt', initPath, '--inputs', inPath, '--steps', '2', '--out', outPath],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const twin = loadSafetensors(outPath).tensors;
    for (const k of ['W', 'vbias', 'hbias']) {
      const a = after.get(k)!.data,
        b = twin.get(k)!.data;
      expect(b.length, k).toBe(a.length);
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
      expect(max, k).toBeLessThan(1e-5);
      // ... and the step moved them (a no-op on both sides would pass the comparison).
      expect(
        b.some((v, i) => v !== init.get(k)!.data[i]),
        k,
      ).toBe(true);
    }
  }, 60_000);

  it("RBM: both sides' checkpoints are scored by the same AIS, the twin trained from the run's weights", async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'twin-rbm-')), 'rbm');
    const run = ['src/cli/train.ts', 'rbm', '--width', '8', '--k', '1', '--train-size', '400', '--batch', '50'];
    run.push('--epochs', '2', '--ais-betas', '10', '--ais-runs', '4', '--seed', '4', '--backend', 'cpu', '--out', out);
    const ais = ['--ais-betas', '200', '--ais-runs', '20'];
    const r = runTsx('scripts/quality_twin.ts', [...ais, '--', tsx, ...run], { timeout: 240_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const t = JSON.parse(readFileSync(join(out, 'twin.json'), 'utf8')) as TwinReport;
    expect(t.settings).toMatchObject({ model: 'rbm', train_images: 400, steps_per_epoch: 8, epochs: 2 });
    expect(t.settings.ais).toEqual({ betas: 200, runs: 20 });
    // The run's figure is its checkpoint rescored with the scoring AIS, not its rows' 10-beta one.
    const last = lastRow(out);
    expect(last.ais_betas).toBe(10);
    expect(figure(t.project, 'ais_betas')).toBe(200);
    expect(figure(t.twin, 'ais_runs')).toBe(20);
    expect(figure(t.project, 'score_s')).toBeGreaterThan(0);
    expect(figure(t.project, 'train_rec')).toBe(last.train_rec);
    // 16 steps from the same weights on the same images: the same model up to the draws.
    const gap = Math.abs(t.gap.log_likelihood);
    expect(gap).toBeLessThan(3);
    expect(Math.abs(t.twin.train_losses[1] - last.train_rec) / last.train_rec).toBeLessThan(0.05);
    expect(r.stdout).toContain('AIS test log-lik. (200 x 20)');
  }, 300_000);
});
