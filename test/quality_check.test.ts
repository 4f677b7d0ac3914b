// scripts/quality_check.ts: the README's quality table against runs' metrics.jsonl and the package's
// scripts, on a README and runs made here (a matching row passes; a changed figure, a setting the row
// does not state, and a missing run are each reported, naming the row and what is wrong); and the
// repository's own README and package.json have a row for every quality script, in step with its flags.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkQuality, qualityTable, scriptFlags, QUALITY_ROWS } from '../scripts/quality_check.ts';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

const table = (rows: string[]) => `# x\n\n| model | result | target |\n|---|---|---|\n${rows.join('\n')}\n\nafter\n`;

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
      '| RBM, 500 hidden, CD-1, 2 epochs | AIS test log-likelihood -160.2, -145.4 nats after epochs 1-2 | -125.5 |',
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
