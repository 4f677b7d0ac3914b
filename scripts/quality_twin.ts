// A quality run and its PyTorch twin (issue 29): runs the project's training command (timed), then trains
// the same model in PyTorch (python/wgpu_gen.py fit) from the same initial weights on the same training
// split (same layout, Adam and its hyper-parameters, loss, batch, epochs and steps; PyTorch's own random
// numbers for the shuffle and the noise), and scores the twin's weights with the project's own scorer
// (jobs.ts vaeTestElbo and vaeTestLogPx, the code that wrote the run's last metrics row: the same test
// images, the same seeded eps, the same k). Writes <out>/wall.json (the run's wall time) and
// <out>/twin.json (both sides' test numbers and wall times), and prints them side by side.
//   npx tsx scripts/quality_twin.ts [--twin-only] -- tsx src/cli/train.ts vae --epochs 30 ... --out runs/x
// --twin-only: the run in --out is already there (its wall time from its wall.json, if any): only the twin.
// --fit-only: only the twin's training, as soon as the run has written its first checkpoint (its config
// and batch; the epochs are the command's): run beside a long run, the later twin step reuses it. The
// twin's training is kept in <out>/twin/fit.json, keyed by the hashes of the initial weights, the split,
// python/wgpu_gen.py and the settings; a later step with the same key reuses it (and its train_s).
// The initial weights are rebuilt from the run's checkpoint config (jobs.ts buildModel: the seed's Philox
// draws, the very weights the run started from) and written with the training split as safetensors
// under <out>/twin/ for the Python side.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init, shutdown } from '../src/index.ts';
import { checkpointTensors, loadSafetensors, restoreCheckpoint, saveSafetensors } from '../src/io/node.ts';
import type { VAE } from '../src/models/index.ts';
import { loadImages, parseConfig, vaeTestElbo, vaeTestLogPx } from '../src/cli/jobs.ts';
import { buildModel, type DatasetName, type ModelName } from '../src/models/registry.ts';

/** Each quality script's time budget (issue 29: every quality script within 40 minutes). */
export const BUDGET_S = 40 * 60;

/** What twin.json holds. */
export interface TwinReport {
  settings: {
    model: string;
    config: Record<string, unknown>;
    dataset: string;
    train_images: number;
    batch: number;
    epochs: number;
    steps_per_epoch: number;
    iwae_k: number;
  };
  project: {
    wall_s: number | null;
    test_neg_elbo: number;
    test_rec: number;
    test_kl: number;
    test_log_px: number;
    train_loss: number;
  };
  twin: {
    wall_s: number;
    train_s: number;
    score_s: number;
    trained_by: string;
    seed: number;
    test_neg_elbo: number;
    test_rec: number;
    test_kl: number;
    test_log_px: number;
    train_losses: number[];
  };
  /** project - twin of -ELBO, twin - project of log p(x): positive where the project is worse. */
  gap: { neg_elbo: number; log_px: number };
}

/** A finished twin training (<out>/twin/fit.json). */
interface FitRecord {
  key: string;
  train_s: number;
  command: string;
}

/** The `--name value` flags of a command line (as scripts/quality_check.ts reads a script's). */
function flagsOf(words: string[]): Map<string, string> {
  const f = new Map<string, string>();
  for (let i = 0; i < words.length; i++)
    if (words[i].startsWith('--') && i + 1 < words.length && !words[i + 1].startsWith('--'))
      f.set(words[i].slice(2), words[i + 1]);
  return f;
}

const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;

/** Runs the project's command, timed; writes <out>/wall.json. */
function runProject(command: string[], out: string): number {
  for (const f of ['wall.json', 'twin.json']) rmSync(join(out, f), { force: true });
  console.log(`quality: the project's run: ${command.join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(command[0], command.slice(1), { stdio: 'inherit' });
  const wall = (performance.now() - t0) / 1e3;
  if (r.error) throw new Error(`quality: cannot run '${command[0]}': ${r.error.message}`);
  if (r.status !== 0) throw new Error(`quality: the project's run failed (exit ${r.status ?? r.signal})`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'wall.json'), JSON.stringify({ wall_s: wall, command: command.join(' ') }, null, 2) + '\n');
  console.log(`quality: the project's run took ${wall.toFixed(1)} s (${minutes(wall)})`);
  return wall;
}

/** The twin of the run in `out` (made by `command`): trained in PyTorch, scored by the project's scorer. */
export async function twinOf(
  command: string[],
  out: string,
  projectWall: number | null,
  o: { fitOnly?: boolean } = {},
): Promise<TwinReport | null> {
  const flags = flagsOf(command);
  for (const f of ['steps', 'max-seconds', 'resume'])
    if (flags.has(f))
      throw new Error(`quality: the twin trains whole epochs from the start; the run's --${f} has no twin`);
  const ckptPath = join(out, 'checkpoint.safetensors');
  const metricsPath = join(out, 'metrics.jsonl');
  if (!existsSync(ckptPath) || !existsSync(metricsPath))
    throw new Error(`quality: ${out} holds no run (checkpoint.safetensors, metrics.jsonl): run it first`);
  const meta = loadSafetensors(ckptPath).metadata;
  const model = meta.model as ModelName;
  if (model !== 'vae') throw new Error(`quality: ${ckptPath} holds a ${model}: only the VAE has a twin here`);
  const config = parseConfig(model, meta.config, ckptPath);
  const dataset = (meta.dataset ?? 'mnist') as DatasetName;
  const batch = Number(meta.batch),
    epochs = Number(flags.get('epochs') ?? meta.epoch);
  const rows = readFileSync(metricsPath, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, number>);
  const last = rows[rows.length - 1];
  // Scored against a finished run only (one killed between its checkpoint and its metrics row, or
  // before its last epoch, is not the run of the command).
  if (!o.fitOnly && (meta.epoch_step || Number(meta.epoch) !== epochs || last?.epoch !== epochs))
    throw new Error(
      `quality: the run in ${out} has not finished its ${epochs} epochs (checkpoint at epoch ${meta.epoch}` +
        `${meta.epoch_step ? `, step ${meta.epoch_step}` : ''}, metrics.jsonl at ${last?.epoch ?? 0}): finish it first`,
    );

  const t0 = performance.now();
  await init({ backend: flags.get('backend') === 'cpu' ? 'cpu' : 'webgpu' });
  const dir = join(out, 'twin');
  mkdirSync(dir, { recursive: true });
  // The run's initial weights: buildModel draws them from config.seed, as the run did before its step 1.
  const vae = buildModel(model, config) as VAE;
  const initial = await checkpointTensors(vae, []);
  const initPath = join(dir, 'init.safetensors');
  saveSafetensors(initPath, initial.tensors, { model, config: JSON.stringify(config), dataset });
  // The run's training split (its --train-size included), [n, 784] in [0, 1].
  const data = loadImages(dataset, flags.has('train-size') ? Number(flags.get('train-size')) : undefined);
  const trainPath = join(dir, 'train.safetensors');
  saveSafetensors(trainPath, new Map([['x', { shape: [data.train.n, 784], data: data.train.images }]]));
  const seed = config.seed ?? 0;
  const twinPath = join(dir, 'checkpoint.safetensors');
  const python = process.env.PYTHON ?? '/usr/bin/python3';
  const args = ['python/wgpu_gen.py', 'fit', '--ckpt', initPath, '--inputs', trainPath];
  args.push('--epochs', String(epochs), '--batch', String(batch), '--seed', String(seed), '--out', twinPath);
  const hash = createHash('sha256');
  for (const f of [initPath, trainPath, 'python/wgpu_gen.py']) hash.update(readFileSync(f));
  const key = hash.update(JSON.stringify({ epochs, batch, seed, lr: config.lr })).digest('hex');
  const fitPath = join(dir, 'fit.json');
  const cached =
    existsSync(fitPath) && existsSync(twinPath) ? (JSON.parse(readFileSync(fitPath, 'utf8')) as FitRecord) : null;
  let trainS: number;
  if (cached?.key === key) {
    trainS = cached.train_s;
    console.log(`quality: the PyTorch twin was trained before (${fitPath}, ${trainS.toFixed(1)} s): reused`);
  } else {
    rmSync(fitPath, { force: true });
    console.log(`quality: the PyTorch twin: ${python} ${args.join(' ')}`);
    const t1 = performance.now();
    const r = spawnSync(python, args, { stdio: 'inherit' });
    trainS = (performance.now() - t1) / 1e3;
    if (r.error || r.status !== 0)
      throw new Error(`quality: the PyTorch twin failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    const record: FitRecord = { key, train_s: trainS, command: `${python} ${args.join(' ')}` };
    writeFileSync(fitPath, JSON.stringify(record, null, 2) + '\n');
  }
  if (o.fitOnly) {
    shutdown();
    return null;
  }
  const k = last.iwae_k;
  // Scored as the run's last epoch was: its weights into the project's model, the same functions.
  const t2 = performance.now();
  const trained = loadSafetensors(twinPath);
  await restoreCheckpoint(trained, vae, [], twinPath);
  const elbo = await vaeTestElbo(vae, data.test);
  const logPx = await vaeTestLogPx(vae, data.test, k);
  const scoreS = (performance.now() - t2) / 1e3;
  // The twin's wall time: its preparation, its training (reused: as it was measured then), its scoring.
  const wall = (performance.now() - t0) / 1e3 + (cached?.key === key ? trainS : 0);
  shutdown();
  const report: TwinReport = {
    settings: {
      model,
      config: config as Record<string, unknown>,
      dataset,
      train_images: data.train.n,
      batch,
      epochs,
      steps_per_epoch: Math.floor(data.train.n / batch),
      iwae_k: k,
    },
    project: {
      wall_s: projectWall,
      test_neg_elbo: last.test_neg_elbo,
      test_rec: last.test_rec,
      test_kl: last.test_kl,
      test_log_px: last.test_log_px,
      train_loss: last.train_loss,
    },
    twin: {
      wall_s: wall,
      train_s: trainS,
      score_s: scoreS,
      trained_by: trained.metadata.trained_by ?? 'PyTorch',
      seed,
      test_neg_elbo: elbo.neg_elbo,
      test_rec: elbo.rec,
      test_kl: elbo.kl,
      test_log_px: logPx,
      train_losses: JSON.parse(trained.metadata.train_losses ?? '[]') as number[],
    },
    gap: { neg_elbo: last.test_neg_elbo - elbo.neg_elbo, log_px: logPx - last.test_log_px },
  };
  writeFileSync(join(out, 'twin.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}

/** The side-by-side lines the script prints. */
export function sideBySide(t: TwinReport): string {
  const row = (name: string, p: string, w: string) => `${name.padEnd(22)} ${p.padStart(12)} ${w.padStart(12)}`;
  const f = (v: number) => v.toFixed(2);
  const wall = (s: number | null) => (s === null ? '?' : minutes(s));
  return [
    row('', 'project', 'PyTorch twin'),
    row('test -ELBO (nats)', f(t.project.test_neg_elbo), f(t.twin.test_neg_elbo)),
    row('  rec', f(t.project.test_rec), f(t.twin.test_rec)),
    row('  KL', f(t.project.test_kl), f(t.twin.test_kl)),
    row(`IWAE log p(x), k = ${t.settings.iwae_k}`, f(t.project.test_log_px), f(t.twin.test_log_px)),
    row('last epoch train loss', f(t.project.train_loss), f(t.twin.train_losses[t.twin.train_losses.length - 1])),
    row('wall time', wall(t.project.wall_s), wall(t.twin.wall_s)),
    `gap (project worse by): -ELBO ${f(t.gap.neg_elbo)} nats, IWAE ${f(t.gap.log_px)} nats (target: each <= 1)`,
  ].join('\n');
}

if (process.argv[1]?.endsWith('quality_twin.ts')) {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf('--');
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const out = flagsOf(command).get('out');
  if (!out) {
    console.error('usage: tsx scripts/quality_twin.ts [--twin-only | --fit-only] -- <the run command, with --out DIR>');
    process.exit(2);
  }
  try {
    let wall: number | null;
    const before = argv.slice(0, Math.max(0, dash));
    if (before.includes('--fit-only')) {
      await twinOf(command, out, null, { fitOnly: true });
      console.log(`quality: the twin's training is in ${join(out, 'twin')}`);
      process.exit(0);
    }
    const twinOnly = before.includes('--twin-only');
    if (twinOnly) {
      const w = join(out, 'wall.json');
      wall = existsSync(w) ? (JSON.parse(readFileSync(w, 'utf8')) as { wall_s: number }).wall_s : null;
    } else wall = runProject(command, out);
    const report = (await twinOf(command, out, wall))!;
    console.log(sideBySide(report));
    // The script's whole time: the run's and the twin's (a reused training counted as it was measured).
    const total = (wall ?? 0) + report.twin.wall_s;
    console.log(
      `quality: wall time: project ${wall === null ? '?' : minutes(wall)}, twin ${minutes(report.twin.wall_s)} ` +
        `(PyTorch training ${report.twin.train_s.toFixed(1)} s, scoring ${report.twin.score_s.toFixed(1)} s); ` +
        `wrote ${join(out, 'twin.json')}`,
    );
    if (wall !== null && total > BUDGET_S)
      console.log(`quality: over the budget of ${minutes(BUDGET_S)} (${minutes(total)} in all)`);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
