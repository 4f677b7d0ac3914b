// Runs that never lose what they had (issue 31, cases 8-14), through the CLI as a user runs it (tiny
// ring-GAN runs on the CPU backend) and through the checkpoint functions:
//    8. a run on a finished run's directory without --resume, and export --out onto the checkpoint,
//       are refused (naming --resume, a new --out and --overwrite); --overwrite does it
//    9. options have bounds (--iwae-k 1e7 is refused at once); a long evaluation yields to TERM
//   10. a write that fails mid-run is the error reported, not the lock's removal after it
//   11. a flipped bit in a checkpoint names its tensor (CRC-32 per tensor); writes are fsynced
//   12. a --classifier that is not a classifier, and an empty test set, are errors before the first step
//   13. --seed past 2^53 - 2 is refused
//   14. saveSafetensors refuses what its loader would refuse (shape against data, int32 range)
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors_file.ts';
import { ganArgs, runCli, tsx } from './cli_helpers.ts';
import { CHECKSUM_KEY, decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.ts';

const run = runCli,
  gan = ganArgs;
const root = mkdtempSync(join(tmpdir(), 'cli-runs-'));

/**
 * A module preloaded into the CLI (node --import) that makes Node's fs fail as a broken disk would:
 * builtin modules' ESM exports follow their object after syncBuiltinESMExports(), so the CLI's own
 * `import { appendFileSync } from 'node:fs'` gets the failing one.
 */
function preload(name: string, body: string): string {
  const path = join(root, `${name}.mjs`);
  writeFileSync(
    path,
    `import fs from 'node:fs';\nimport { syncBuiltinESMExports } from 'node:module';\n${body}\nsyncBuiltinESMExports();\n`,
  );
  return path;
}

describe('runs that never lose what they had', () => {
  const base = join(root, 'base');
  let ckpt: string;
  beforeAll(() => {
    const r = run(gan(base));
    expect(r.status, r.stderr).toBe(0);
    ckpt = join(base, 'checkpoint.safetensors');
  }, 60_000);

  it("a second run in a finished run's directory is refused without --resume, and keeps every file; --overwrite replaces it", () => {
    const before = Object.fromEntries(readdirSync(base).map((f) => [f, readFileSync(join(base, f))]));
    const r = run(gan(base));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `${base} holds a previous run \\(checkpoint.safetensors, metrics.jsonl, steps.jsonl\\): continue it with --resume ${ckpt} \\(and a larger --epochs\\), choose a new --out, or pass --overwrite to replace it`,
      ),
    );
    for (const [f, bytes] of Object.entries(before)) expect(readFileSync(join(base, f)).equals(bytes), f).toBe(true);
    expect(existsSync(join(base, 'run.lock'))).toBe(false);
    // --overwrite starts a new run there; with --resume it is a usage error
    const copy = join(root, 'overwrite');
    expect(run(gan(copy)).status).toBe(0);
    const o = run(gan(copy, '--overwrite', '--seed', '3'));
    expect(o.status, o.stderr).toBe(0);
    expect(loadSafetensors(join(copy, 'checkpoint.safetensors')).metadata.config).toMatch(/"seed":3/);
    expect(readFileSync(join(copy, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    const both = run(gan(copy, '--overwrite', '--resume', join(copy, 'checkpoint.safetensors')));
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--overwrite starts a new run over an old one, --resume continues it/);
  }, 120_000);

  it('export --out onto the checkpoint, or onto another file that is not ONNX, is refused; --overwrite allows it', () => {
    const dir = join(root, 'export');
    mkdirSync(dir);
    const c = join(dir, 'c.safetensors');
    writeFileSync(c, readFileSync(ckpt));
    const before = readFileSync(c);
    const r = run(['export', 'gan', '--ckpt', c, '--out', c]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/export --out .*c.safetensors is the checkpoint it exports: choose another --out/);
    expect(readFileSync(c).equals(before)).toBe(true);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect(run(['export', 'gan', '--ckpt', c, '--out', join(dir, 'notes.txt')]).stderr).toMatch(
      /notes.txt exists and is not an .onnx file/,
    );
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    // an existing .onnx is replaced (a re-export), and --overwrite replaces anything
    expect(run(['export', 'gan', '--ckpt', c]).status).toBe(0);
    expect(run(['export', 'gan', '--ckpt', c]).status).toBe(0);
    expect(run(['export', 'gan', '--ckpt', c, '--out', join(dir, 'notes.txt'), '--overwrite']).status).toBe(0);
    expect(readFileSync(join(dir, 'notes.txt')).length).toBeGreaterThan(100);
  }, 120_000);

  it('options have bounds: --iwae-k 1e7, --batch 1e6, --ais-runs 1e9 and --seed 2^53 are refused before anything runs', () => {
    const vae = run(['vae', '--iwae-k', '10000000', '--backend', 'cpu', '--out', join(root, 'iwae')]);
    expect(vae.status).toBe(2);
    expect(vae.stderr).toMatch(
      /--iwae-k must be at most 100000, got '10000000': the VAE's log p\(x\) estimate uses 5000 samples/,
    );
    expect(run(gan(join(root, 'b'), '--batch', '1000000')).stderr).toMatch(/--batch must be at most 65536/);
    expect(run(['rbm', '--ais-runs', '1000000000', '--out', join(root, 'r')]).stderr).toMatch(
      /--ais-runs must be at most 100000/,
    );
    const seed = run(gan(join(root, 'seed'), '--seed', String(2 ** 53)));
    expect(seed.status).toBe(2);
    expect(seed.stderr).toMatch(
      /--seed must be at most 9007199254740990, got '9007199254740992': larger seeds are not exact JavaScript integers/,
    );
    expect(existsSync(join(root, 'seed'))).toBe(false);
    // the largest seed allowed trains and resumes
    const big = join(root, 'bigseed');
    expect(run(gan(big, '--seed', String(2 ** 53 - 2))).status).toBe(0);
    const resumed = run([
      'gan',
      '--steps',
      '2',
      '--epochs',
      '2',
      '--backend',
      'cpu',
      '--out',
      big,
      '--seed',
      String(2 ** 53 - 2),
      '--resume',
      join(big, 'checkpoint.safetensors'),
    ]);
    expect(resumed.status, resumed.stderr).toBe(0);
  }, 120_000);

  it("TERM during a long evaluation (a VAE's log p(x) with many samples) stops the run at once, releasing its lock", async () => {
    const dir = join(root, 'term-eval');
    const child = spawn(
      tsx,
      [
        'src/cli/train.ts',
        'vae',
        '--steps',
        '1',
        '--epochs',
        '1',
        '--train-size',
        '256',
        '--iwae-k',
        '100000',
        '--backend',
        'cpu',
        '--out',
        dir,
      ],
      { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } },
    );
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // The one step is done (the bar reads 1/1): the evaluation runs now, for many minutes uninterrupted.
      while (!/1\/1 steps/.test(output) && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 3000));
      expect(output).not.toMatch(/epoch 1: /);
      const t0 = performance.now();
      process.kill(Number(readFileSync(join(dir, 'run.lock'), 'utf8')), 'SIGTERM');
      expect(await exited, output).toBe(143);
      // within a part of the samples (10,000 decoded images: 4-10 s here), not the whole estimate (many
      // minutes): the bound leaves a slower, busier machine room
      const stopMs = performance.now() - t0;
      console.log(`[cli] stopped ${(stopMs / 1000).toFixed(1)} s after SIGTERM during the evaluation`);
      expect(stopMs).toBeLessThan(60_000);
    } finally {
      child.kill('SIGKILL');
    }
    expect(output).toMatch(/stopped by SIGTERM/);
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
  }, 180_000);

  it('a write that fails mid-run (the disk turned read-only) is the error reported; the lock that cannot be removed is noted after it', () => {
    const dir = join(root, 'erofs');
    const p = preload(
      'erofs',
      `
      const fail = (p) => Object.assign(new Error(\`EROFS: read-only file system, open '\${p}'\`), { code: 'EROFS', path: String(p), syscall: 'open' });
      const append = fs.appendFileSync, rm = fs.rmSync;
      fs.appendFileSync = (p, ...a) => { if (String(p).includes(${JSON.stringify(dir)})) throw fail(p); return append(p, ...a); };
      fs.rmSync = (p, ...a) => { if (String(p).endsWith('run.lock')) throw fail(p); return rm(p, ...a); };`,
    );
    const r = run(gan(dir), { preload: p });
    expect(r.status).toBe(1);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => /error|also/.test(l));
    expect(lines.at(-1)).toMatch(
      /^error: cannot write .*erofs\/steps.jsonl: .*erofs is on a read-only file system \(EROFS\); write elsewhere/,
    );
    expect(r.stderr).toMatch(
      /\(also: cannot remove .*run.lock: .* read-only file system \(EROFS\).*; a later run takes it over/,
    );
  }, 60_000);

  it('a flipped bit in a checkpoint names the corrupt tensor, in eval and in --resume', () => {
    const dir = join(root, 'flip');
    mkdirSync(dir);
    const bytes = new Uint8Array(readFileSync(ckpt));
    const { tensors } = loadSafetensors(ckpt);
    // the exponent's high bit of the first float of the last tensor's data
    const names = [...tensors.keys()];
    const header = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + header)));
    const last = names.at(-1)!;
    bytes[8 + header + json[last].data_offsets[0] + 3] ^= 0x40;
    const bad = join(dir, 'c.safetensors');
    writeFileSync(bad, bytes);
    const e = run(['eval', 'gan', '--ckpt', bad, '--out', dir]);
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(
      new RegExp(
        `c.safetensors: tensor "${last.replace(/\./g, '\\.')}" is corrupt: the CRC-32 of its \\d+ bytes is [0-9a-f]{8}, the file was written with [0-9a-f]{8}`,
      ),
    );
    const r = run(gan(join(root, 'flip-resume'), '--epochs', '2', '--resume', bad));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is corrupt: the CRC-32/);
    // the checksums are in the file's metadata, not in what a reader gets back
    expect(json.__metadata__[CHECKSUM_KEY]).toMatch(/^\{"/);
    expect(loadSafetensors(ckpt).metadata[CHECKSUM_KEY]).toBeUndefined();
  }, 60_000);

  it('the checkpoint is fsynced before its rename, and its directory after', () => {
    const dir = join(root, 'fsync');
    const log = join(root, 'fsync.log');
    const p = preload(
      'fsync',
      `
      const fsync = fs.fsyncSync, rename = fs.renameSync, openSync = fs.openSync;
      const paths = new Map();
      fs.openSync = (p, ...a) => { const fd = openSync(p, ...a); paths.set(fd, String(p)); return fd; };
      fs.fsyncSync = (fd) => { fs.appendFileSync(${JSON.stringify(log)}, 'fsync ' + paths.get(fd) + '\\n'); return fsync(fd); };
      fs.renameSync = (a, b) => { fs.appendFileSync(${JSON.stringify(log)}, 'rename ' + a + '\\n'); return rename(a, b); };`,
    );
    const r = run(gan(dir), { preload: p });
    expect(r.status, r.stderr).toBe(0);
    const events = readFileSync(log, 'utf8').trim().split('\n');
    const tmp = events.findIndex((l) => /^fsync .*checkpoint\.safetensors\.tmp-\d+$/.test(l));
    expect(tmp, events.join('\n')).toBeGreaterThanOrEqual(0);
    expect(events[tmp + 1]).toMatch(/^rename .*checkpoint\.safetensors\.tmp-\d+$/);
    expect(events[tmp + 2]).toBe(`fsync ${dir}`);
  }, 60_000);

  it('a --classifier that holds another model, and an empty Fashion-MNIST test set, are errors before the first step', () => {
    const dir = join(root, 'clf');
    const r = run([
      'dcgan',
      '--steps',
      '1',
      '--epochs',
      '1',
      '--width',
      '2',
      '--train-size',
      '64',
      '--backend',
      'cpu',
      '--classifier',
      ckpt,
      '--out',
      dir,
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--classifier .*checkpoint.safetensors holds a gan, not a classifier/);
    expect(r.stdout).not.toMatch(/^training /m);
    expect(existsSync(join(dir, 'checkpoint.safetensors'))).toBe(false);
    // IDX files (gzipped, as Debian's package has them) with 64 training images and no test image
    const fdir = join(root, 'fashion-empty');
    mkdirSync(fdir);
    const idx = (magic: number, dims: number[], n: number) => {
      const head = Buffer.alloc(4 + 4 * dims.length);
      head.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
      return gzipSync(Buffer.concat([head, Buffer.alloc(n)]));
    };
    writeFileSync(join(fdir, 'train-images-idx3-ubyte.gz'), idx(0x803, [64, 28, 28], 64 * 784));
    writeFileSync(join(fdir, 'train-labels-idx1-ubyte.gz'), idx(0x801, [64], 64));
    writeFileSync(join(fdir, 't10k-images-idx3-ubyte.gz'), idx(0x803, [0, 28, 28], 0));
    writeFileSync(join(fdir, 't10k-labels-idx1-ubyte.gz'), idx(0x801, [0], 0));
    const f = run(
      [
        'classifier',
        '--dataset',
        'fashion',
        '--steps',
        '1',
        '--epochs',
        '1',
        '--width',
        '2',
        '--backend',
        'cpu',
        '--out',
        join(root, 'fe'),
      ],
      { env: { FASHION_MNIST_DIR: fdir } },
    );
    expect(f.status).toBe(1);
    expect(f.stderr).toMatch(/t10k-images-idx3-ubyte.gz holds no images: a Fashion-MNIST test set needs some/);
    expect(existsSync(join(root, 'fe', 'metrics.jsonl')) && statSync(join(root, 'fe', 'metrics.jsonl')).size > 0).toBe(
      false,
    );
  }, 60_000);
});

describe('the CLI where a newcomer meets it (issue 28)', () => {
  it('a mistyped option suggests the right one; sample writes beside its checkpoint; a missing optional package is named before training', () => {
    const r = run(gan(join(root, 'typo'), '--epoch', '2'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown option --epoch: did you mean --epochs\?/);
    expect(run(gan(join(root, 'typo'), '--lr-dd', '1')).stderr).toMatch(
      /unknown option --lr-dd: did you mean --lr-d\?/,
    );
    expect(run(gan(join(root, 'typo'), '--zzzz', '1')).stderr).toMatch(/unknown option --zzzz\n/);
    // sample --ckpt DIR/checkpoint.safetensors, no --out: the pictures go to DIR
    const dir = join(root, 'sample-beside');
    expect(run(gan(dir)).status).toBe(0);
    const before = statSync(join(dir, 'samples.png')).mtimeMs;
    const s = run(['sample', 'gan', '--ckpt', join(dir, 'checkpoint.safetensors'), '--backend', 'cpu']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain(join(dir, 'samples.png'));
    expect(statSync(join(dir, 'samples.png')).mtimeMs).toBeGreaterThan(before);
    // the ring GAN's mode count is not a loss: loss.svg has no per-epoch test series
    expect(readFileSync(join(dir, 'loss.svg'), 'utf8')).not.toMatch(/modes_covered|per epoch/);
    // it has a chart of its own
    expect(readFileSync(join(dir, 'metrics.svg'), 'utf8')).toMatch(/8-Gaussian ring: modes covered per epoch/);
    // cli-progress missing: named before the banner and the first step
    const p = preload(
      'no-cli-progress',
      `
      import Module from 'node:module';
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (req, ...a) {
        if (req === 'cli-progress') throw Object.assign(new Error("Cannot find module 'cli-progress'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, req, ...a);
      };`,
    );
    const m = run(gan(join(root, 'no-bar')), { preload: p });
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(
      /the training CLI's progress bar needs the npm package 'cli-progress', an optional dependency of wgpu-gen: run npm i cli-progress/,
    );
    expect(m.stdout).not.toMatch(/^training /m);
  }, 120_000);
});

describe('saveSafetensors refuses what its loader would refuse', () => {
  it('a shape that disagrees with the data, an int32 value past 2^24, a shape that is not counts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-write-'));
    const path = join(dir, 'x.safetensors');
    expect(() => saveSafetensors(path, new Map([['w', { shape: [2, 3], data: new Float32Array(5) }]]))).toThrow(
      'safetensors: tensor "w" has shape [2, 3] (6 values) but 5 values of data',
    );
    expect(() =>
      saveSafetensors(path, new Map([['i', { shape: [1], data: Float32Array.of(3e9), dtype: 'int32' as const }]])),
    ).toThrow(/int32 tensor "i" holds 3000000000 at index 0, beyond \+-16777216/);
    expect(() => saveSafetensors(path, new Map([['s', { shape: [-1], data: new Float32Array(0) }]]))).toThrow(
      /shape \[-1\], not an array of non-negative integers/,
    );
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    // what it writes, it reads back, checksums verified
    const ok = new Map([
      ['w', { shape: [2], data: Float32Array.of(1.5, -2) }],
      ['i', { shape: [1], data: Float32Array.of(2 ** 24), dtype: 'int32' as const }],
    ]);
    const back = decodeSafetensors(encodeSafetensors(ok, { a: 'b' }));
    expect([...back.tensors.get('w')!.data]).toEqual([1.5, -2]);
    expect([...back.tensors.get('i')!.data]).toEqual([2 ** 24]);
    expect(back.metadata).toEqual({ a: 'b' });
  });
});
