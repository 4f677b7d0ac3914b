// Checks the README's quality table against the runs that `npm run quality` leaves under runs/: for
// each row, the run's metrics.jsonl (its last epoch, or every epoch where the row lists them) formatted
// as the table prints it must stand in the row's result cell, and the settings the row names (epochs,
// widths, z, steps) must be those of the package.json script that made the run. A row with a PyTorch
// twin (scripts/quality_twin.ts) also has its twin's figures in the "PyTorch twin" cell and both wall
// times, from the run's twin.json, which must be that of this run (its project figures those of
// metrics.jsonl). A run that is not there is reported as missing (an error with --strict, as after a
// full `npm run quality`).
//   npx tsx scripts/quality_check.ts [--strict]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RING_STEPS } from '../src/models/gan.ts';
import { figure, projectWall, type TwinReport } from './quality_twin.ts';

type Metrics = Record<string, number>;

interface QualityRow {
  /** The package.json script that makes the run. */
  script: string;
  /** The run's out directory (the script's --out). */
  out: string;
  /** The README row is the one whose first cell starts with this. */
  cell: string;
  /** The phrases the row's first cell must hold, from the script's flags. */
  settings(flags: Map<string, string>): string[];
  /** The figures the result cell must hold, from the run's metrics rows (one per epoch). */
  figures(rows: Metrics[]): string[];
  /** A row with a PyTorch twin: what its result cell (the run's wall time) and its twin cell must hold. */
  twin?(t: TwinReport): { result: string[]; twin: string[] };
  /** The figures of metrics.jsonl's last row that twin.json's project side must repeat (else it is another run's). */
  same?: string[];
}

const fixed = (d: number) => (v: number) => v.toFixed(d);
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const thousands = (v: number, d: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const last = (rows: Metrics[]) => rows[rows.length - 1];
const epochs = (f: Map<string, string>) => [`${f.get('epochs')} epochs`];
const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;

export const QUALITY_ROWS: QualityRow[] = [
  {
    script: 'quality:vae',
    out: 'runs/quality-vae-z20',
    cell: 'MLP VAE',
    settings: (f) => [`z = ${f.get('zdim')}`, ...epochs(f)],
    figures: (r) => [
      `test -ELBO ${fixed(2)(last(r).test_neg_elbo)} nats`,
      `rec ${fixed(2)(last(r).test_rec)}`,
      `KL ${fixed(2)(last(r).test_kl)}`,
      `IWAE log p(x) ${fixed(2)(last(r).test_log_px)} nats (k = ${last(r).iwae_k})`,
    ],
    twin: (t) => ({
      result: [`wall ${minutes(t.project.wall_s ?? NaN)}`],
      twin: [
        `test -ELBO ${fixed(2)(figure(t.twin, 'test_neg_elbo'))} nats`,
        `rec ${fixed(2)(figure(t.twin, 'test_rec'))}`,
        `KL ${fixed(2)(figure(t.twin, 'test_kl'))}`,
        `IWAE log p(x) ${fixed(2)(figure(t.twin, 'test_log_px'))} nats (k = ${t.settings.iwae_k})`,
        `wall ${minutes(t.twin.wall_s)}`,
      ],
    }),
    same: ['test_neg_elbo', 'test_log_px'],
  },
  {
    script: 'quality:gan',
    out: 'runs/quality-gan-ring',
    cell: 'ring GAN',
    settings: (f) => [`${thousands(Number(f.get('epochs')) * RING_STEPS, 0)} steps`],
    figures: (r) => [`${last(r).modes_covered} of 8 modes`, `${pct(last(r).high_quality)} of samples`],
    twin: (t) => ({
      result: [`wall ${minutes(t.project.wall_s ?? NaN)}`],
      twin: [
        `${figure(t.twin, 'modes_covered')} of 8 modes`,
        `${pct(figure(t.twin, 'high_quality'))} of samples`,
        `wall ${minutes(t.twin.wall_s)}`,
      ],
    }),
    same: ['modes_covered', 'high_quality'],
  },
  {
    script: 'quality:classifier',
    out: 'runs/classifier-mnist',
    cell: 'classifier',
    settings: epochs,
    figures: (r) => [`${pct(last(r).test_accuracy)} test accuracy`],
    twin: (t) => ({
      result: [`wall ${minutes(t.project.wall_s ?? NaN)}`],
      twin: [`${pct(figure(t.twin, 'test_accuracy'))} test accuracy`, `wall ${minutes(t.twin.wall_s)}`],
    }),
    same: ['test_accuracy'],
  },
  {
    script: 'quality:dcgan',
    out: 'runs/quality-dcgan',
    cell: 'DCGAN',
    settings: (f) => [`width ${f.get('width')}`, ...epochs(f)],
    figures: (r) => {
      const m = last(r);
      return [
        `Frechet distance ${fixed(1)(m.fd)} vs ${thousands(m.fd_untrained, 1)} untrained`,
        `ratio ${fixed(3)(m.fd_ratio)}`,
        `every class >= ${pct(m.min_class_fraction)}`,
        `mean top-class probability ${fixed(3)(m.mean_top_prob)}`,
      ];
    },
    twin: (t) => ({
      result: [`wall ${minutes(t.project.wall_s ?? NaN)}`],
      twin: [
        `Frechet distance ${fixed(1)(figure(t.twin, 'fd'))}`,
        `ratio ${fixed(3)(figure(t.twin, 'fd_ratio'))}`,
        `every class >= ${pct(figure(t.twin, 'min_class_fraction'))}`,
        `mean top-class probability ${fixed(3)(figure(t.twin, 'mean_top_prob'))}`,
        `wall ${minutes(t.twin.wall_s)}`,
      ],
    }),
    same: ['fd', 'fd_ratio'],
  },
  {
    script: 'quality:cyclegan',
    out: 'runs/quality-cyclegan',
    cell: 'CycleGAN',
    settings: (f) => [f.get('epochs') === '1' ? '1 epoch' : `${f.get('epochs')} epochs`],
    figures: (r) => {
      const m = last(r);
      return [
        `${thousands(m.step, 0)} steps`,
        `L1(G(x), dilate(x)) ${fixed(4)(m.l1)} vs ${fixed(3)(m.baseline_l1)} for x`,
        `ratio ${fixed(3)(m.l1_ratio)}`,
        `cycle L1 ${fixed(4)(m.cycle_l1)}`,
      ];
    },
    twin: (t) => ({
      result: [`wall ${minutes(t.project.wall_s ?? NaN)}`],
      twin: [
        `L1(G(x), dilate(x)) ${fixed(4)(figure(t.twin, 'l1'))}`,
        `ratio ${fixed(3)(figure(t.twin, 'l1_ratio'))}`,
        `cycle L1 ${fixed(4)(figure(t.twin, 'cycle_l1'))}`,
        `wall ${minutes(t.twin.wall_s)}`,
      ],
    }),
    same: ['l1', 'l1_ratio'],
  },
  {
    script: 'quality:rbm',
    out: 'runs/quality-rbm-cd1',
    cell: 'RBM',
    settings: (f) => [`${f.get('width')} hidden`, `CD-${f.get('k')}`, ...epochs(f)],
    // Each epoch's row holds the run's own cheaper AIS (its --ais-betas); the row's figure is its last
    // checkpoint's, scored by quality_twin with the full AIS as its twin's is.
    figures: (r) => [
      `${r.map((m) => fixed(1)(m.test_log_likelihood)).join(', ')} after epochs 1-${r.length}`,
      `${thousands(last(r).ais_betas, 0)} betas`,
    ],
    twin: (t) => ({
      result: [
        `AIS test log-likelihood ${fixed(2)(figure(t.project, 'test_log_likelihood'))} nats`,
        `${thousands(t.settings.ais?.betas ?? NaN, 0)} betas x ${t.settings.ais?.runs} runs`,
        `wall ${minutes(projectWall(t) ?? NaN)}`,
      ],
      twin: [
        `AIS test log-likelihood ${fixed(2)(figure(t.twin, 'test_log_likelihood'))} nats`,
        `wall ${minutes(t.twin.wall_s)}`,
      ],
    }),
    same: ['train_rec'],
  },
];

/** The `--name value` flags of a package.json script's command line. */
export function scriptFlags(command: string): Map<string, string> {
  const flags = new Map<string, string>();
  const words = command.split(/\s+/);
  for (let i = 0; i < words.length; i++)
    if (words[i].startsWith('--') && i + 1 < words.length) flags.set(words[i].slice(2), words[i + 1]);
  return flags;
}

export const TABLE_HEADER = '| model | result | PyTorch twin | target |';

/** The README quality table's rows: first cell -> its result and PyTorch twin cells. */
export function qualityTable(readme: string): Map<string, { result: string; twin: string }> {
  const start = readme.indexOf(TABLE_HEADER);
  if (start < 0) throw new Error(`README: no quality table (a "${TABLE_HEADER}" header)`);
  const rows = new Map<string, { result: string; twin: string }>();
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, ''));
    rows.set(cells[0], { result: cells[1] ?? '', twin: cells[2] ?? '' });
  }
  return rows;
}

export interface Finding {
  script: string;
  status: 'ok' | 'missing' | 'mismatch';
  detail: string;
}

/** Checks every quality row: the README's cells against the runs under `root` and the package's scripts. */
export function checkQuality(readme: string, scripts: Record<string, string>, root: string): Finding[] {
  const table = qualityTable(readme);
  return QUALITY_ROWS.map((q): Finding => {
    const found = [...table.entries()].find(([first]) => first.startsWith(q.cell));
    if (!found)
      return {
        script: q.script,
        status: 'mismatch',
        detail: `the README's quality table has no row starting '${q.cell}'`,
      };
    const [first, { result, twin }] = found;
    const command = scripts[q.script];
    if (!command) return { script: q.script, status: 'mismatch', detail: `package.json has no script ${q.script}` };
    const flags = scriptFlags(command);
    if (flags.get('out') !== q.out)
      return {
        script: q.script,
        status: 'mismatch',
        detail: `${q.script} writes to ${flags.get('out')}, the check reads ${q.out}`,
      };
    const wrong = q.settings(flags).filter((p) => !first.includes(p));
    if (wrong.length)
      return {
        script: q.script,
        status: 'mismatch',
        detail: `the row '${first}' does not say ${wrong.map((p) => `'${p}'`).join(', ')}, which ${q.script} runs`,
      };
    const path = join(root, q.out, 'metrics.jsonl');
    if (!existsSync(path))
      return { script: q.script, status: 'missing', detail: `${path} is missing: run npm run ${q.script}` };
    const rows = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Metrics);
    if (!rows.length) return { script: q.script, status: 'missing', detail: `${path} has no epochs` };
    const absent = q.figures(rows).filter((f) => !result.includes(f));
    if (absent.length)
      return {
        script: q.script,
        status: 'mismatch',
        detail: `the row '${first}' lacks ${absent.map((f) => `'${f}'`).join(', ')} (from ${path})`,
      };
    if (!q.twin) return { script: q.script, status: 'ok', detail: `${first}: matches ${path}` };
    const twinPath = join(root, q.out, 'twin.json');
    if (!existsSync(twinPath))
      return { script: q.script, status: 'missing', detail: `${twinPath} is missing: run npm run ${q.script}` };
    const t = JSON.parse(readFileSync(twinPath, 'utf8')) as TwinReport;
    const m = last(rows);
    const stale = (q.same ?? []).filter((k) => t.project[k] !== m[k]);
    if (stale.length)
      return {
        script: q.script,
        status: 'mismatch',
        detail: `${twinPath} is not the twin of this run (its project ${stale.join(', ')} differ from ${path}'s last row): rerun npm run ${q.script}`,
      };
    if (t.project.wall_s === null)
      return {
        script: q.script,
        status: 'mismatch',
        detail: `${twinPath} has no wall time for the run (made with --twin-only and no wall.json): rerun npm run ${q.script}`,
      };
    const want = q.twin(t);
    const lacks = [
      ...want.result.filter((f) => !result.includes(f)).map((f) => `'${f}' in its result`),
      ...want.twin.filter((f) => !twin.includes(f)).map((f) => `'${f}' in its PyTorch twin cell`),
    ];
    if (lacks.length)
      return {
        script: q.script,
        status: 'mismatch',
        detail: `the row '${first}' lacks ${lacks.join(', ')} (from ${twinPath})`,
      };
    return { script: q.script, status: 'ok', detail: `${first}: matches ${path} and ${twinPath}` };
  });
}

if (process.argv[1]?.endsWith('quality_check.ts')) {
  const strict = process.argv.includes('--strict');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  const findings = checkQuality(readFileSync('README.md', 'utf8'), pkg.scripts, '.');
  for (const f of findings) console.log(`${f.status.padEnd(8)} ${f.script}: ${f.detail}`);
  const failed = findings.filter((f) => f.status === 'mismatch' || (strict && f.status === 'missing'));
  if (failed.length) process.exit(1);
}
