// scripts/quality_check.ts: the README's quality table against runs' metrics.jsonl and the package's
// scripts, on a README and runs made here (a matching row passes; a changed figure, a setting the row
// does not state, and a missing run are each reported, naming the row and what is wrong); the VAE row's
// PyTorch twin cell and both wall times against the run's twin.json (a changed figure, a stale twin.json,
// a missing one); the RBM row's figures rescored by quality_twin (the run's and the twin's); and the repository's own README and package.json have a row for every quality script,
// in step with its flags.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkQuality, qualityTable, scriptFlags, QUALITY_ROWS, TABLE_HEADER } from '../scripts/quality_check.ts';
import type { TwinReport } from '../scripts/quality_twin.ts';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

const table = (rows: string[]) => `# x\n\n${TABLE_HEADER}\n|---|---|---|---|\n${rows.join('\n')}\n\nafter\n`;

describe('the quality table check', () => {
  it('passes a row whose figures and settings match its run, and names what differs otherwise', () => {
    const root = mkdtempSync(join(tmpdir(), 'quality-'));
    mkdirSync(join(root, 'runs/classifier-mnist'), { recursive: true });
    const rows = [
      { epoch: 1, test_accuracy: 0.9612 },
      { epoch: 2, test_accuracy: 0.97239 },
    ];
    writeFileSync(
      join(root, 'runs/classifier-mnist/metrics.jsonl'),
      rows.map((r) => JSON.stringify(r)).join('\n') + '\n',
    );
    // Its twin's report (the twin cell's figures; the project side repeats the run's last row).
    const twin: TwinReport = {
      settings: {
        model: 'classifier',
        config: {},
        dataset: 'mnist',
        train_images: 9000,
        batch: 64,
        epochs: 2,
        steps_per_epoch: 140,
      },
      project: { wall_s: 600, test_accuracy: 0.97239 },
      twin: {
        wall_s: 90,
        train_s: 60,
        score_s: 30,
        trained_by: 'PyTorch',
        seed: 0,
        train_losses: [],
        test_accuracy: 0.9688,
      },
      gap: {},
    };
    writeFileSync(join(root, 'runs/classifier-mnist/twin.json'), JSON.stringify(twin));
    const scripts = {
      'quality:classifier': 'tsx src/cli/train.ts classifier --epochs 2 --out runs/classifier-mnist --overwrite',
    };
    const clf = (f: ReturnType<typeof checkQuality>) => f.find((x) => x.script === 'quality:classifier')!;
    const good = table([
      '| classifier, 2 epochs | 97.2% test accuracy; wall 10.0 min | 96.9% test accuracy; wall 1.5 min | >= 97% |',
    ]);
    expect(clf(checkQuality(good, scripts, root)).status).toBe('ok');
    // Another figure, another setting, another run directory, no run: each named.
    const figure = clf(checkQuality(good.replace('97.2%', '97.3%'), scripts, root));
    expect(figure).toMatchObject({ status: 'mismatch' });
    expect(figure.detail).toContain("lacks '97.2% test accuracy'");
    const setting = clf(
      checkQuality(
        good,
        { 'quality:classifier': scripts['quality:classifier'].replace('--epochs 2', '--epochs 3') },
        root,
      ),
    );
    expect(setting.detail).toContain("does not say '3 epochs', which quality:classifier runs");
    expect(
      clf(
        checkQuality(
          good,
          { 'quality:classifier': scripts['quality:classifier'].replace('classifier-mnist', 'other') },
          root,
        ),
      ).detail,
    ).toContain('writes to runs/other, the check reads runs/classifier-mnist');
    expect(clf(checkQuality(good, scripts, join(root, 'nowhere')))).toMatchObject({ status: 'missing' });
    // The other rows of the check have no README row here: reported, not skipped.
    expect(checkQuality(good, scripts, root).find((x) => x.script === 'quality:vae')!.detail).toContain(
      "no row starting 'MLP VAE'",
    );
    expect(() => qualityTable('no table')).toThrow(/no quality table/);
  });

  it("checks the RBM row: the run's cheaper per-epoch AIS, and its checkpoint and its twin's rescored by the full AIS", () => {
    const root = mkdtempSync(join(tmpdir(), 'quality-rbm-'));
    const out = join(root, 'runs/quality-rbm-cd1');
    mkdirSync(out, { recursive: true });
    const rows = [
      { epoch: 1, train_rec: 9.1, test_log_likelihood: -150.04, ais_betas: 100 },
      { epoch: 2, train_rec: 8.2, test_log_likelihood: -140.46, ais_betas: 100 },
    ];
    writeFileSync(join(out, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const report: TwinReport = {
      settings: { model: 'rbm', config: {}, dataset: 'mnist', train_images: 9000, batch: 100, epochs: 2 },
      project: { wall_s: 600, score_s: 540, test_log_likelihood: -131.234, train_rec: 8.2 },
      twin: { wall_s: 570, train_s: 30, score_s: 535, trained_by: 'PyTorch', seed: 0, test_log_likelihood: -130.5 },
      gap: { log_likelihood: 0.734 },
    } as unknown as TwinReport;
    report.settings.ais = { betas: 2000, runs: 100 };
    report.twin.train_losses = [9, 8];
    writeFileSync(join(out, 'twin.json'), JSON.stringify(report));
    const scripts = {
      'quality:rbm':
        'tsx scripts/quality_twin.ts -- tsx src/cli/train.ts rbm --epochs 2 --width 500 --k 1 --ais-betas 100 --out runs/quality-rbm-cd1',
    };
    const rbm = (readme: string) => checkQuality(readme, scripts, root).find((x) => x.script === 'quality:rbm')!;
    const good = table([
      '| RBM, 500 hidden, CD-1, 2 epochs | AIS test log-likelihood -131.23 nats (2,000 betas x 100 runs); wall 19.0 min ' +
        '(per epoch, 100 betas: -150.0, -140.5 after epochs 1-2) | AIS test log-likelihood -130.50 nats; wall 9.5 min | within 3 nats |',
    ]);
    expect(rbm(good)).toMatchObject({ status: 'ok' });
    // The run's wall time counts its rescoring (600 + 540 s).
    expect(rbm(good.replace('wall 19.0 min', 'wall 10.0 min')).detail).toContain("'wall 19.0 min' in its result");
    expect(rbm(good.replace('-131.23', '-131.24')).detail).toContain("'AIS test log-likelihood -131.23 nats'");
    expect(rbm(good.replace('-130.50', '-130.40')).detail).toContain('in its PyTorch twin cell');
    expect(rbm(good.replace('-140.5', '-140.4')).detail).toContain("lacks '-150.0, -140.5 after epochs 1-2'");
    // A twin.json of another run (its project's last train_rec differs): stale.
    writeFileSync(join(out, 'twin.json'), JSON.stringify({ ...report, project: { ...report.project, train_rec: 8 } }));
    expect(rbm(good).detail).toContain('is not the twin of this run (its project train_rec differ');
  });

  it("checks the VAE row's PyTorch twin cell and both wall times against the run's twin.json", () => {
    const root = mkdtempSync(join(tmpdir(), 'quality-twin-'));
    const out = join(root, 'runs/quality-vae-z20');
    mkdirSync(out, { recursive: true });
    const last = {
      epoch: 2,
      test_neg_elbo: 110.774,
      test_rec: 86.601,
      test_kl: 24.173,
      test_log_px: -105.118,
      iwae_k: 10,
    };
    writeFileSync(
      join(out, 'metrics.jsonl'),
      JSON.stringify({ ...last, epoch: 1 }) + '\n' + JSON.stringify(last) + '\n',
    );
    const report: TwinReport = {
      settings: {
        model: 'vae',
        config: {},
        dataset: 'mnist',
        train_images: 9000,
        batch: 128,
        epochs: 2,
        steps_per_epoch: 70,
        iwae_k: 10,
      },
      project: {
        wall_s: 1404,
        test_neg_elbo: 110.774,
        test_rec: 86.601,
        test_kl: 24.173,
        test_log_px: -105.118,
        train_loss: 108,
      },
      twin: {
        wall_s: 130,
        train_s: 70,
        score_s: 40,
        trained_by: 'PyTorch 1.13.0',
        seed: 0,
        test_neg_elbo: 110.5,
        test_rec: 86.0,
        test_kl: 24.5,
        test_log_px: -104.9,
        train_losses: [150, 108],
      },
      gap: { neg_elbo: 0.274, log_px: 0.218 },
    };
    const writeTwin = (t: TwinReport) => writeFileSync(join(out, 'twin.json'), JSON.stringify(t));
    const scripts = {
      'quality:vae':
        'tsx scripts/quality_twin.ts -- tsx src/cli/train.ts vae --epochs 2 --zdim 20 --out runs/quality-vae-z20',
    };
    const vae = (readme: string) => checkQuality(readme, scripts, root).find((x) => x.script === 'quality:vae')!;
    const good = table([
      '| MLP VAE, z = 20, 2 epochs | test -ELBO 110.77 nats (rec 86.60 + KL 24.17), IWAE log p(x) -105.12 nats (k = 10); wall 23.4 min ' +
        '| test -ELBO 110.50 nats (rec 86.00 + KL 24.50), IWAE log p(x) -104.90 nats (k = 10); wall 2.2 min | within 1 nat |',
    ]);
    // No twin.json: missing, not passed.
    expect(vae(good)).toMatchObject({ status: 'missing' });
    expect(vae(good).detail).toContain('twin.json is missing');
    writeTwin(report);
    expect(vae(good)).toMatchObject({ status: 'ok' });
    // A twin figure, the twin's wall time, the run's wall time: each named with its cell.
    const twinFigure = vae(good.replace('-104.90', '-104.80'));
    expect(twinFigure.status).toBe('mismatch');
    expect(twinFigure.detail).toContain("'IWAE log p(x) -104.90 nats (k = 10)' in its PyTorch twin cell");
    expect(vae(good.replace('wall 2.2 min', 'wall 2.3 min')).detail).toContain(
      "'wall 2.2 min' in its PyTorch twin cell",
    );
    expect(vae(good.replace('wall 23.4 min', 'wall 23.5 min')).detail).toContain("'wall 23.4 min' in its result");
    // The project's IWAE figure is the run's (metrics.jsonl), in the result cell.
    expect(vae(good.replace('-105.12', '-105.13')).detail).toContain("lacks 'IWAE log p(x) -105.12 nats (k = 10)'");
    // A twin.json of another run: stale, whatever the README says.
    writeTwin({ ...report, project: { ...report.project, test_neg_elbo: 111 } });
    expect(vae(good).detail).toContain('is not the twin of this run (its project test_neg_elbo differ');
    // No wall time of the run (--twin-only without wall.json): an error, not a blank.
    writeTwin({ ...report, project: { ...report.project, wall_s: null } });
    expect(vae(good).detail).toContain('has no wall time for the run');
  });

  it('the README has a row for every quality script, stating the settings the script runs', () => {
    const findings = checkQuality(
      readFileSync('README.md', 'utf8'),
      pkg.scripts,
      mkdtempSync(join(tmpdir(), 'quality-none-')),
    );
    // No runs in an empty directory: every row is 'missing' once its settings and its script agree.
    for (const f of findings) expect(f.status, `${f.script}: ${f.detail}`).toBe('missing');
    expect(findings.map((f) => f.script).sort()).toEqual(QUALITY_ROWS.map((q) => q.script).sort());
    expect(scriptFlags('tsx a.ts --epochs 5 --width 16 --out runs/x')).toEqual(
      new Map([
        ['epochs', '5'],
        ['width', '16'],
        ['out', 'runs/x'],
      ]),
    );
  });
});
