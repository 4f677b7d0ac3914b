// The training CLI's loop reads one step behind (issue 32): step i + 1 is issued before step i's losses
// and finite flags are awaited, so the device's queue never drains between steps. What must not change:
// a NaN stops the run at the step that produced it (named by its epoch and step, not the next one's),
// the checkpoint left is the last good one (written only after every step before it was checked), and
// the numbers are those of the loop that reads each step before the next (--no-overlap), bit for bit on
// the CPU backend. The overlap itself is counted in the process by preloaded wrappers (not timed): of
// Optimizer.nonFinite, the check each step takes as it is issued, and of the progress bar's update, which
// the loop calls once a step's values are read and checked: how often step i + 1 was issued before step i
// was checked. The NaN comes from the data: the preload writes one into the batch of a chosen step.
// Tiny ring-GAN runs (2 epochs of 3 steps), on the CPU backend and on WebGPU.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../src/io/safetensors_file.ts';
import { runCli } from './cli_helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'overlap-'));
const src = join(process.cwd(), 'src');

/**
 * Preloaded into the CLI (node --import, through tsx, so it loads the CLI's own modules): logs to
 * OVERLAP_LOG 'issue <n>' for every Optimizer.nonFinite call of the first optimizer (n its step count:
 * step n was just issued) and 'checked' for every update of the progress bar (the next step in order
 * was read and found good); with NAN_AT=<epoch>,<index> (0-based, the job's batch index) it writes a NaN into
 * that step's ring batch (recognised by its points: the batch is toyBatch's, at its stream offset).
 */
const preload = join(root, 'overlap-preload.mjs');
writeFileSync(
  preload,
  `
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Optimizer } from ${JSON.stringify(join(src, 'nn/optim.ts'))};
import { CpuBackend } from ${JSON.stringify(join(src, 'backend/cpu/index.ts'))};
import { WebGPUBackend } from ${JSON.stringify(join(src, 'backend/webgpu/index.ts'))};
import { toyBatch } from ${JSON.stringify(join(src, 'data/toy2d.ts'))};
import { RING_STEPS } from ${JSON.stringify(join(src, 'cli/jobs.ts'))};
const log = process.env.OVERLAP_LOG;
let first = null;
const nonFinite = Optimizer.prototype.nonFinite;
Optimizer.prototype.nonFinite = function (...a) {
  first ??= this;
  if (this === first) appendFileSync(log, 'issue ' + this.stepCount + '\\n');
  return nonFinite.apply(this, a);
};
// The CLI's own cli-progress (src/optional.ts requires it from there).
const { SingleBar } = createRequire(${JSON.stringify(join(src, 'optional.ts'))})('cli-progress');
const update = SingleBar.prototype.update;
SingleBar.prototype.update = function (...a) {
  appendFileSync(log, 'checked\\n');
  return update.apply(this, a);
};
if (process.env.NAN_AT) {
  const [e, i] = process.env.NAN_AT.split(',').map(Number);
  const target = toyBatch('ring', 256, 0, (e * RING_STEPS + i) * 256);
  for (const B of [CpuBackend, WebGPUBackend]) {
    const write = B.prototype.write;
    B.prototype.write = function (s, data) {
      if (data.length === target.length && data[0] === target[0] && data[1] === target[1]) {
        data = Float32Array.from(data);
        data[0] = NaN;
        appendFileSync(log, 'nan\\n');
      }
      return write.call(this, s, data);
    };
  }
}
`,
);

/** A 2-epoch, 3-steps-per-epoch ring-GAN run into `name`, with the preload; its log's events. */
function run(name: string, backend: string, more: string[] = [], nanAt?: [number, number]) {
  const out = join(root, name),
    log = join(root, `${name}.log`);
  writeFileSync(log, '');
  const r = runCli(['gan', '--steps', '3', '--epochs', '2', '--backend', backend, '--out', out, ...more], {
    preload,
    env: { OVERLAP_LOG: log, ...(nanAt ? { NAN_AT: nanAt.join(',') } : {}) },
  });
  return { ...r, out, events: readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) };
}

/** The log with each 'checked' numbered: the k-th is step k's. */
const numbered = (events: string[]) => {
  let k = 0;
  return events.map((e) => (e === 'checked' ? `checked ${++k}` : e));
};

/** How many steps were checked after the next step had been issued. */
function overlapped(events: string[]): number {
  const e = numbered(events);
  return e.filter((x, at) => {
    const m = /^checked (\d+)$/.exec(x);
    if (!m) return false;
    const next = e.indexOf(`issue ${Number(m[1]) + 1}`);
    return next >= 0 && next < at;
  }).length;
}

const rows = (dir: string, file: string) =>
  readFileSync(join(dir, file), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('the CLI loop reads one step behind', () => {
  for (const backend of ['cpu', 'webgpu']) {
    it(`${backend}: step i + 1 is issued before step i is read, except across an epoch's end; --no-overlap reads each first, with the same numbers`, () => {
      const a = run(`plain-${backend}`, backend);
      expect(a.status, a.stderr).toBe(0);
      // Steps 1..6 each issued and checked once; steps 2, 3, 5 and 6 issued before the step before them
      // was checked (3 and 6 end an epoch: nothing is issued past them before they are checked).
      expect(numbered(a.events)).toEqual(
        [1, 4].flatMap((i) => [
          `issue ${i}`,
          `issue ${i + 1}`,
          `checked ${i}`,
          `issue ${i + 2}`,
          `checked ${i + 1}`,
          `checked ${i + 2}`,
        ]),
      );
      expect(overlapped(a.events)).toBe(4);
      const b = run(`serial-${backend}`, backend, ['--no-overlap']);
      expect(b.status, b.stderr).toBe(0);
      expect(b.stdout).toMatch(/\), compiled, no overlap\n/);
      expect(overlapped(b.events)).toBe(0);
      expect(numbered(b.events)).toEqual([1, 2, 3, 4, 5, 6].flatMap((i) => [`issue ${i}`, `checked ${i}`]));
      // The same steps: each step's losses and the checkpoint, bit for bit on the CPU; on WebGPU within
      // 1e-4 (two processes: the kernel tuner's timed choices may differ, and so the order fused
      // reductions sum in).
      const same = (x: number, y: number, what: string) =>
        backend === 'cpu'
          ? expect(x, what).toBe(y)
          : expect(Math.abs(x - y), what).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(y)));
      const [ra, rb] = [rows(a.out, 'steps.jsonl'), rows(b.out, 'steps.jsonl')];
      expect(ra.map((r) => [r.step, r.lr_0, r.lr_1])).toEqual(rb.map((r) => [r.step, r.lr_0, r.lr_1]));
      ra.forEach((r, i) => {
        for (const k of ['train_d', 'train_g']) same(r[k], rb[i][k], `step ${r.step} ${k}`);
      });
      const [ca, cb] = [a.out, b.out].map((d) => loadSafetensors(join(d, 'checkpoint.safetensors')));
      expect(ca.metadata.epoch).toBe('2');
      expect(ca.metadata.noise_generator).toBe(cb.metadata.noise_generator);
      for (const [k, t] of ca.tensors) {
        const u = cb.tensors.get(k)!.data;
        if (backend === 'cpu') expect(t.data, k).toEqual(u);
        else
          expect(
            Math.max(...t.data.map((x, i) => Math.abs(x - u[i]) / Math.max(1, Math.abs(u[i])))),
            k,
          ).toBeLessThanOrEqual(1e-4);
      }
    }, 120_000);

    it(`${backend}: a NaN stops the run at the step that produced it, and the checkpoint left is the last good one`, () => {
      // Epoch 2, step 2 (its batch index 1): step 3 is in flight when step 2 is found bad.
      const r = run(`nan-${backend}`, backend, [], [1, 1]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.events).toContain('nan');
      expect(r.stderr).toMatch(/error: at epoch 2, step 2 the gradient of [GD]\.\d\.(weight|bias) holds \d+ NaN/);
      expect(r.stderr).toMatch(
        /stopping; the last good checkpoint is .*nan-\w+\/checkpoint\.safetensors \(try a lower --lr\)/,
      );
      // Step 3 of epoch 2 (the run's 6th) was issued before step 2 was found bad, its values dropped.
      expect(numbered(r.events).slice(-5)).toEqual(['issue 4', 'nan', 'issue 5', 'checked 4', 'issue 6']);
      // Epoch 1's checkpoint, all finite, and its rows only (epoch 2's steps are never logged).
      const c = loadSafetensors(join(r.out, 'checkpoint.safetensors'));
      expect([c.metadata.epoch, c.metadata.epoch_step]).toEqual(['1', undefined]);
      for (const [k, t] of c.tensors) expect(t.data.every(Number.isFinite), k).toBe(true);
      expect(rows(r.out, 'steps.jsonl').map((x) => x.step)).toEqual([1, 2, 3]);
      expect(rows(r.out, 'metrics.jsonl').map((x) => x.step)).toEqual([3]);
      // The epoch's last step bad: no checkpoint at all (it is written only after that step's check).
      const last = run(`nan-last-${backend}`, backend, [], [0, 2]);
      expect(last.status, last.stderr).toBe(1);
      expect(last.stderr).toMatch(
        /error: at epoch 1, step 3 the gradient of [GD]\.\d\.(weight|bias) holds \d+ NaN.*none yet/,
      );
      expect(existsSync(join(last.out, 'checkpoint.safetensors'))).toBe(false);
      expect(existsSync(join(last.out, 'run.lock'))).toBe(false);
    }, 120_000);
  }

  it('--no-overlap is a train option, and a near miss is named', () => {
    const r = runCli(['gan', '--backend', 'cpu', '--no-overlp']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown option --no-overlp: did you mean --no-overlap\?/);
    const e = runCli(['eval', 'gan', '--ckpt', 'x.safetensors', '--no-overlap']);
    expect(e.stderr).toMatch(/--no-overlap does not apply to eval/);
  });
});
