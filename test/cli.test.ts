// The training CLI as a user runs it: argument errors that list the choices, a short VAE run that leaves
// metrics, pictures and a checkpoint, resume equal to an uninterrupted run (to rounding: see below),
// --eager equal to the default compiled step (to the order fused reductions sum in), eval computed from the
// checkpoint, and clear errors for corrupt or mismatched checkpoints.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.ts';
import { runCli } from './cli_helpers.ts';

const quick = ['--train-size', '512', '--batch', '64', '--seed', '3', '--iwae-k', '3'];
const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('the training CLI', () => {
  it('rejects bad arguments with the valid choices', () => {
    const bad = runCli(['train', 'vea']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown model 'vea': choose one of vae, gan, dcgan, cyclegan/);
    expect(runCli(['vae', '--backend', 'tpu']).stderr).toMatch(/unknown backend 'tpu': choose one of webgpu, cpu/);
    expect(runCli(['vae', '--epochs', '1.5']).stderr).toMatch(/--epochs must be an integer greater than 0, got '1.5'/);
    expect(runCli(['vae', '--colour', 'red']).stderr).toMatch(/^error: unknown option --colour\n/);
    expect(runCli(['eval', 'vae']).stderr).toMatch(/eval needs --ckpt/);
  });

  it('trains, and resuming continues the exact trajectory of an uninterrupted run', () => {
    const root = mkdtempSync(join(tmpdir(), 'cli-'));
    const [full, part] = [join(root, 'full'), join(root, 'part')];
    const a = runCli(['vae', ...quick, '--epochs', '2', '--out', full]);
    expect(a.status, a.stderr).toBe(0);
    for (const f of ['metrics.jsonl', 'checkpoint.safetensors', 'samples.png', 'reconstructions.png', 'loss.svg'])
      expect(existsSync(join(full, f)), f).toBe(true);
    const b = runCli(['vae', ...quick, '--epochs', '1', '--out', part]);
    expect(b.status, b.stderr).toBe(0);
    const c = runCli([
      'vae',
      ...quick,
      '--epochs',
      '2',
      '--out',
      part,
      '--resume',
      join(part, 'checkpoint.safetensors'),
    ]);
    expect(c.status, c.stderr).toBe(0);
    const [mf, mp] = [metrics(full), metrics(part)];
    expect(mp.length).toBe(2);
    // A resumed compiled run starts its step's signature again with an eager call (compile(): state made
    // at a first step must exist before a trace), so on WebGPU its first step sums its fused reductions
    // in the eager kernels' order: equal to the uninterrupted run to rounding (1e-8 relative seen).
    for (const k of ['train_loss', 'train_rec', 'train_kl', 'test_neg_elbo', 'test_rec', 'test_kl', 'test_log_px']) {
      expect(mf[1][k], k).toBeTypeOf('number');
      expect(Math.abs(mp[1][k] - mf[1][k]), k).toBeLessThanOrEqual(1e-6 * Math.abs(mf[1][k]));
    }
    // The step is compiled by default; --eager runs it op by op, with the same numbers but for the order
    // in which fused reductions sum (relative 1e-5, as test/compile.test.ts checks per step).
    expect(a.stdout).toMatch(/\), compiled\n/);
    const eager = join(root, 'eager');
    const d = runCli(['vae', ...quick, '--epochs', '1', '--out', eager, '--eager']);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/\), eager\n/);
    for (const k of ['train_loss', 'train_rec', 'train_kl', 'test_neg_elbo']) {
      expect(metrics(eager)[0][k], k).toBeTypeOf('number');
      expect(Math.abs(metrics(eager)[0][k] - mf[0][k]), k).toBeLessThanOrEqual(1e-5 * Math.abs(mf[0][k]));
    }
    expect(mf[1].test_neg_elbo).toBeLessThan(mf[0].test_neg_elbo);
    expect(readFileSync(join(full, 'loss.svg'), 'utf8')).toMatch(/<polyline [^>]*points="[\d., ]{20,}"/);

    // eval recomputes the last epoch's test number from the checkpoint.
    const e = runCli(['eval', 'vae', '--ckpt', join(full, 'checkpoint.safetensors'), '--out', full, '--iwae-k', '3']);
    expect(e.status, e.stderr).toBe(0);
    const ev = JSON.parse(readFileSync(join(full, 'eval.json'), 'utf8'));
    expect(ev.test_neg_elbo).toBeCloseTo(mf[1].test_neg_elbo, 3);
    // The importance-weighted log p(x) beside it (k = 3 here), the same number as the epoch's, and above
    // the ELBO (k = 3 averages three weights where the ELBO's estimate takes the log of one).
    expect([ev.iwae_k, mf[1].iwae_k]).toEqual([3, 3]);
    expect(ev.test_log_px).toBeCloseTo(mf[1].test_log_px, 3);
    expect(ev.test_log_px).toBeGreaterThan(-ev.test_neg_elbo);

    // A corrupt checkpoint and one of another architecture are refused with a clear message.
    const broken = join(root, 'broken.safetensors');
    writeFileSync(broken, readFileSync(join(full, 'checkpoint.safetensors')).subarray(0, 5000));
    expect(runCli(['eval', 'vae', '--ckpt', broken]).stderr).toMatch(
      /do not fit \(truncated or corrupt file\)|corrupt safetensors/,
    );
    const other = join(root, 'z2');
    expect(runCli(['vae', ...quick, '--epochs', '1', '--zdim', '2', '--out', other]).status).toBe(0);
    expect(existsSync(join(other, 'manifold.png'))).toBe(true);
    // Another --zdim than the checkpoint's is refused as a settings mismatch; forced, the shapes do not fit.
    expect(
      runCli([
        'vae',
        ...quick,
        '--epochs',
        '2',
        '--zdim',
        '2',
        '--out',
        other,
        '--resume',
        join(full, 'checkpoint.safetensors'),
      ]).stderr,
    ).toMatch(/settings differ from the checkpoint's \(--zdim 20 in the checkpoint, 2 now\)/);
    expect(
      runCli([
        'vae',
        ...quick,
        '--epochs',
        '3',
        '--zdim',
        '2',
        '--out',
        other,
        '--resume',
        join(full, 'checkpoint.safetensors'),
        '--allow-mismatch',
      ]).stderr,
    ).toMatch(
      /does not fit this model .*mu.weight has shape \[20, 400\] in the state dict but \[2, 400\] in the model/,
    );
  }, 900_000);

  it('trains the classifier, which scores the DCGAN by Frechet distance; eval recomputes the scores', () => {
    const root = mkdtempSync(join(tmpdir(), 'cli-models-'));
    const clf = join(root, 'clf'),
      dc = join(root, 'dc');
    const c = runCli([
      'classifier',
      '--train-size',
      '640',
      '--epochs',
      '1',
      '--width',
      '8',
      '--lr',
      '5e-3',
      '--out',
      clf,
    ]);
    expect(c.status, c.stderr).toBe(0);
    const [mc] = metrics(clf);
    expect(mc.test_accuracy).toBeGreaterThan(0.3);
    const ckpt = join(clf, 'checkpoint.safetensors');
    const d = runCli([
      'dcgan',
      '--train-size',
      '320',
      '--epochs',
      '1',
      '--batch',
      '32',
      '--width',
      '8',
      '--zdim',
      '16',
      '--classifier',
      ckpt,
      '--out',
      dc,
    ]);
    expect(d.status, d.stderr).toBe(0);
    const [md] = metrics(dc);
    for (const k of ['fd', 'fd_untrained', 'fd_ratio', 'min_class_fraction', 'mean_top_prob'])
      expect(Number.isFinite(md[k]), k).toBe(true);
    expect(md.fd_ratio).toBeCloseTo(md.fd / md.fd_untrained, 9);
    expect(
      Array.from({ length: 10 }, (_, k) => md[`class_${k}`]).reduce((a: number, b: number) => a + b, 0),
    ).toBeCloseTo(1, 9);
    expect(existsSync(join(dc, 'samples.png'))).toBe(true);
    // eval rebuilds the DCGAN from the checkpoint's config and recomputes the same scores.
    const e = runCli([
      'eval',
      'dcgan',
      '--ckpt',
      join(dc, 'checkpoint.safetensors'),
      '--classifier',
      ckpt,
      '--out',
      dc,
    ]);
    expect(e.status, e.stderr).toBe(0);
    console.log(
      `[cli] dcgan fd: the run's ${md.fd}, eval's ${JSON.parse(readFileSync(join(dc, 'eval.json'), 'utf8')).fd}`,
    );
    expect(JSON.parse(readFileSync(join(dc, 'eval.json'), 'utf8')).fd).toBeCloseTo(md.fd, 2);
    // Without the classifier, eval says how to get one; a checkpoint of another model is refused.
    expect(
      runCli([
        'eval',
        'dcgan',
        '--ckpt',
        join(dc, 'checkpoint.safetensors'),
        '--classifier',
        join(root, 'none.safetensors'),
      ]).stderr,
    ).toMatch(/need the classifier checkpoint .*npm run train -- classifier/);
    expect(runCli(['eval', 'vae', '--ckpt', ckpt]).stderr).toMatch(/holds a classifier, not a vae/);
    expect(runCli(['dcgan', '--dataset', 'ring']).stderr).toMatch(
      /model 'dcgan' does not train on 'ring': choose one of mnist, fashion/,
    );
  }, 900_000);

  it('trains the ring GAN (resuming exactly), the grid and moons GANs, and CycleGAN, leaving their pictures and numbers', () => {
    const root = mkdtempSync(join(tmpdir(), 'cli-gans-'));
    const gan = join(root, 'gan'),
      cg = join(root, 'cg');
    const g = runCli(['gan', '--epochs', '1', '--steps', '30', '--out', gan]);
    expect(g.status, g.stderr).toBe(0);
    const [mg] = metrics(gan);
    expect(mg.step).toBe(30);
    expect(mg.modes_covered).toBeGreaterThanOrEqual(0);
    expect(Array.from({ length: 8 }, (_, k) => mg[`mode_${k}`]).every((x: number) => Number.isInteger(x))).toBe(true);
    expect(existsSync(join(gan, 'samples.png'))).toBe(true);
    // The other 2-D sets: the grid scored by its 25 modes, the moons by precision and recall.
    for (const [data, keys] of [
      ['grid', ['modes_covered', 'mode_24']],
      ['moons', ['precision', 'recall']],
    ] as const) {
      const out = join(root, `gan-${data}`);
      // The grid with a learning rate of D's own (--lr-d): D's optimizer runs at it, G's at --lr.
      const r = runCli([
        'gan',
        '--dataset',
        data,
        '--epochs',
        '1',
        '--steps',
        '5',
        '--out',
        out,
        ...(data === 'grid' ? ['--lr-d', '0.004'] : []),
      ]);
      expect(r.status, r.stderr).toBe(0);
      if (data === 'grid') {
        const row = JSON.parse(readFileSync(join(out, 'steps.jsonl'), 'utf8').split('\n')[0]);
        expect([row.lr_0, row.lr_1], "G's and D's learning rates (steps.jsonl)").toEqual([1e-3, 0.004]);
        expect(
          JSON.parse(decodeSafetensors(readFileSync(join(out, 'checkpoint.safetensors'))).metadata.config),
        ).toMatchObject({ lr: 1e-3, lrD: 0.004 });
        // Resuming without --lr-d would put D back on --lr: refused, naming the option.
        const res = runCli([
          'gan',
          '--dataset',
          data,
          '--epochs',
          '2',
          '--steps',
          '5',
          '--out',
          out,
          '--resume',
          join(out, 'checkpoint.safetensors'),
        ]);
        expect(res.status).toBe(1);
        expect(res.stderr).toContain('--lr-d 0.004 in the checkpoint, none (D at --lr) now');
      }
      expect(r.stdout).toMatch(data === 'grid' ? /5 x 5 grid of Gaussians/ : /two moons/);
      const [m] = metrics(out);
      for (const k of keys) expect(m[k], `${data} ${k}`).toBeGreaterThanOrEqual(0);
      if (data === 'moons') expect(m.recall).toBeLessThanOrEqual(1);
      expect(readFileSync(join(out, 'scatter.svg'), 'utf8')).toContain(
        `${data} GAN: 2,000 real and 2,000 generated points`,
      );
    }
    expect(runCli(['vae', '--lr-d', '0.01']).stderr).toMatch(
      /--lr-d does not apply to the MLP VAE: it sets the discriminators' learning rate/,
    );
    expect(runCli(['gan', '--dataset', 'mnist']).stderr).toMatch(
      /model 'gan' does not train on 'mnist': choose one of ring, grid, moons, spiral/,
    );
    // Two optimizers and the noise generator resume exactly too.
    const [gFull, gPart] = [join(root, 'gan-full'), join(root, 'gan-part')];
    expect(runCli(['gan', '--epochs', '2', '--steps', '15', '--out', gFull]).status).toBe(0);
    expect(runCli(['gan', '--epochs', '1', '--steps', '15', '--out', gPart]).status).toBe(0);
    const choices = (file: string): Record<string, string> =>
      JSON.parse(decodeSafetensors(readFileSync(file)).metadata.kernel_choices);
    const before = choices(join(gPart, 'checkpoint.safetensors'));
    const r = runCli([
      'gan',
      '--epochs',
      '2',
      '--steps',
      '15',
      '--out',
      gPart,
      '--resume',
      join(gPart, 'checkpoint.safetensors'),
    ]);
    expect(r.status, r.stderr).toBe(0);
    for (const k of ['train_d', 'train_g', 'high_quality']) expect(metrics(gPart)[1][k], k).toBe(metrics(gFull)[1][k]);
    // The tuner's choices (WebGPU's matmuls: shape class -> variant) outlive the resume: the resumed run's
    // checkpoint keeps those it resumed with (it once saved only what it measured itself, none, so a
    // second resume measured again), and eval runs with a checkpoint's, here each set to another variant
    // the class allows (the last part of its key), as eval.json says.
    expect(Object.keys(before).length, 'matmuls measured by the tuner').toBeGreaterThan(0);
    expect(choices(join(gPart, 'checkpoint.safetensors'))).toMatchObject(before);
    const other = Object.fromEntries(
      Object.entries(before).map(([k, v]) => [
        k,
        k
          .split(':')
          .at(-1)!
          .split('+')
          .find((x) => x !== v)!,
      ]),
    );
    expect(Object.values(other).every(Boolean), JSON.stringify(before)).toBe(true);
    const c = decodeSafetensors(readFileSync(join(gPart, 'checkpoint.safetensors')));
    const forcedCkpt = join(root, 'gan-forced.safetensors');
    writeFileSync(forcedCkpt, encodeSafetensors(c.tensors, { ...c.metadata, kernel_choices: JSON.stringify(other) }));
    const ev = runCli(['eval', 'gan', '--ckpt', forcedCkpt, '--out', join(root, 'gan-eval')]);
    expect(ev.status, ev.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'gan-eval', 'eval.json'), 'utf8')).kernel_choices).toMatchObject(other);
    // Stopped by --max-seconds after its first step, mid-epoch, then resumed from that very step: the
    // same trajectory (the second epoch's numbers equal the uninterrupted run's).
    const gTime = join(root, 'gan-time');
    const t = runCli(['gan', '--epochs', '2', '--steps', '15', '--out', gTime, '--max-seconds', '1e-6']);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/--max-seconds 0\.000001: stopping after [\d.]+ s of training, at step 1 of epoch 1/);
    expect(metrics(gTime).map((m) => m.step)).toEqual([1]);
    const tr = runCli([
      'gan',
      '--epochs',
      '2',
      '--steps',
      '15',
      '--out',
      gTime,
      '--resume',
      join(gTime, 'checkpoint.safetensors'),
    ]);
    expect(tr.status, tr.stderr).toBe(0);
    expect(tr.stdout).toMatch(/resumed from .* at epoch 0, step 1/);
    expect(metrics(gTime).map((m) => m.step)).toEqual([1, 15, 30]);
    for (const k of ['train_d', 'train_g', 'high_quality']) expect(metrics(gTime)[2][k], k).toBe(metrics(gFull)[1][k]);
    // The per-step log: one row a step (its loss terms, each optimizer's learning rate, images/s), and a
    // run stopped then resumed writes the same rows as the uninterrupted one, none twice.
    const steps = (dir: string) =>
      readFileSync(join(dir, 'steps.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    const [sf, st] = [steps(gFull), steps(gTime)];
    expect(sf.map((x) => x.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(st.map((x) => x.step)).toEqual(sf.map((x) => x.step));
    for (const k of ['train_d', 'train_g', 'lr_0', 'lr_1'])
      expect(
        st.map((x) => x[k]),
        k,
      ).toEqual(sf.map((x) => x[k]));
    expect(sf[0].lr_0).toBe(1e-3);
    expect(sf.every((x) => x.images_per_s > 0 && Math.abs(x.epoch - x.step / 15) < 1e-9)).toBe(true);
    expect(steps(gPart).map((x) => x.step)).toEqual(sf.map((x) => x.step));

    const y = runCli(['cyclegan', '--train-size', '64', '--steps', '3', '--batch', '4', '--width', '4', '--out', cg]);
    expect(y.status, y.stderr).toBe(0);
    const [my] = metrics(cg);
    expect(my.l1_ratio).toBeCloseTo(my.l1 / my.baseline_l1, 9);
    expect(existsSync(join(cg, 'translations.png'))).toBe(true);
  }, 900_000);
});
