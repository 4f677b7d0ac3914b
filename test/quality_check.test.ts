// scripts/quality_check.ts: the README's quality table against runs' metrics.jsonl and the package's
// scripts, on a README and runs made here (a matching row passes; a changed figure, a setting the row
// does not state, and a missing run are each reported, naming the row and what is wrong); the VAE row's
// PyTorch twin cell and both wall times against the run's twin.json (a changed figure, a stale twin.json,
// a missing one); and the repository's own README and package.json have a row for every quality script,
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
    mkdirSync(join(root, 'runs/quality-rbm-cd1'), { recursive: true });
    const rows = [
      { epoch: 1, test_log_likelihood: -160.209 },
      { epoch: 2, test_log_likelihood: -145.43 },
    ];
    writeFileSync(
      join(root, 'runs/quality-rbm-cd1/metrics.jsonl'),
      rows.map((r) => JSON.stringify(r)).join('\n') + '\n',
    );
    const scripts = {
      'quality:rbm': 'tsx src/cli/train.ts rbm --epochs 2 --width 500 --k 1 --out runs/quality-rbm-cd1',
    };
    const rbm = (f: ReturnType<typeof checkQuality>) => f.find((x) => x.script === 'quality:rbm')!;
    const good = table([
      '| RBM, 500 hidden, CD-1, 2 epochs | AIS test log-likelihood -160.2, -145.4 nats after epochs 1-2 | none yet | -125.5 |',
    ]);
    expect(rbm(checkQuality(good, scripts, root)).status).toBe('ok');
    // Another figure, another setting, another run directory, no run: each named.
    const figure = rbm(checkQuality(good.replace('-145.4', '-145.5'), scripts, root));
    expect(figure).toMatchObject({ status: 'mismatch' });
    expect(figure.detail).toContain("lacks '-160.2, -145.4 nats after epochs 1-2'");
    const setting = rbm(
      checkQuality(good, { 'quality:rbm': scripts['quality:rbm'].replace('--epochs 2', '--epochs 3') }, root),
    );
    expect(setting.detail).toContain("does not say '3 epochs', which quality:rbm runs");
    expect(
      rbm(checkQuality(good, { 'quality:rbm': scripts['quality:rbm'].replace('quality-rbm-cd1', 'other') }, root))
        .detail,
    ).toContain('writes to runs/other, the check reads runs/quality-rbm-cd1');
    expect(rbm(checkQuality(good, scripts, join(root, 'nowhere')))).toMatchObject({ status: 'missing' });
    // The other rows of the check have no README row here: reported, not skipped.
    expect(checkQuality(good, scripts, root).find((x) => x.script === 'quality:vae')!.detail).toContain(
      "no row starting 'MLP VAE'",
    );
    expect(() => qualityTable('no table')).toThrow(/no quality table/);
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
