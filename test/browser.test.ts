// The runtime and the demo in a real browser: Vite builds demo/ (the same src/ and shaders/ as in Node),
// a preview server serves it on 127.0.0.1, and Debian's headless Chromium (playwright-core, never a
// browser download) opens it. The kernel smoke page checks WebGPU kernels against the CPU reference; the
// training demo is driven as a visitor drives it: train the VAE, watch the loss fall and the samples
// appear, move the pointer over the latent plane, profile (on its own: nothing else runs among the
// profiled steps), move checkpoints between the page and the CLI, switch to the conv VAE and see its
// views follow training, train the other models a little, and fall back to the CPU backend without WebGPU. Screenshots go
// to test-artifacts/. Kept small (z = 2, small batches, tens of steps): Chromium's WebGPU runs on
// SwiftShader here.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview, type PreviewServer } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CpuBackend, Generator, noGrad, tensor } from '../src/index.ts';
import { MlpVAE } from '../src/models/vae.ts';
import { MlpGAN } from '../src/models/gan.ts';
import { checkpointTensors, restoreCheckpoint } from '../src/io/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.ts';
import { loadMnist } from '../src/data/datasets.ts';
import { dilate3x3 } from '../src/data/domains.ts';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './chromium.ts';
import { runCli } from './cli_helpers.ts';

const ARTIFACTS = 'test-artifacts';
let server: PreviewServer;
let browser: Browser;
let url: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`Debian chromium is missing (${CHROMIUM_PATH}): run bash scripts/setup.sh`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await build({ configFile: 'vite.config.ts', logLevel: 'warn' });
  server = await preview({
    configFile: 'vite.config.ts',
    preview: { port: 0, host: '127.0.0.1', strictPort: false },
    logLevel: 'warn',
  });
  url = server.resolvedUrls!.local[0];
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
});

/** Answers for the page's next confirmation dialogs, in order (the rest are accepted). */
const dialogs: ((d: import('playwright-core').Dialog) => Promise<void>)[] = [];
/** Every confirmation the pages asked, in order. */
const dialogLog: string[] = [];

/** A page that records its uncaught errors (checked by the tests that use it). */
async function open(path: string, init?: (p: Page) => Promise<void>): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1500 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The page asks before a switch or a reset throws away unsaved training (window.confirm): accept, as a
  // visitor who means it does; the test of the question itself answers it on its own (dialogs).
  page.on('dialog', (d) => {
    dialogLog.push(d.message());
    void (dialogs.length ? dialogs.shift()!(d) : d.accept());
  });
  await init?.(page);
  await page.goto(url + path);
  return { page, errors };
}

describe('the kernel smoke page', () => {
  it('loads the shaders through Vite and runs kernels on WebGPU matching the cpu reference', async () => {
    const { page, errors } = await open('smoke.html');
    await page.waitForFunction(() => document.body.dataset.done, undefined, { timeout: 120_000 });
    const status = await page.textContent('#status');
    const out = (await page.textContent('#out')) ?? '';
    expect(await page.evaluate(() => document.body.dataset.done), `${status}\n${out}\n${errors.join('\n')}`).toBe('ok');
    expect(status).toMatch(/WebGPU adapter:/);
    for (const m of out.matchAll(/max \|webgpu - cpu\| = ([\d.e+-]+)/g)) expect(Number(m[1])).toBeLessThan(1e-3);
    expect(out).toMatch(/matmul_\w+\s+3\s/);
    await page.screenshot({ path: `${ARTIFACTS}/browser-smoke.png` });
    await page.close();
  });
});

// ---- helpers for the demo page ----

interface DemoState {
  backend: string;
  model: string;
  config: Record<string, unknown>;
  step: number;
  running: boolean;
  lr: number;
  lrD: number | null;
  speed: 'full' | number;
  batch: number;
  lossNames: string[];
  history: { steps: number[]; values: number[][] } | null;
  profile: { kernel: string; count: number; totalMs: number }[];
  profiling: boolean;
  viewsStep: number;
  redrawEveryMs: number;
  error: string;
}

const state = (page: Page) => page.evaluate(() => window.wgpuDemo.state()) as unknown as Promise<DemoState>;

/** Picks a file in the checkpoint picker and waits for the page's verdict on it (the message names the file). */
async function loadFile(page: Page, file: string): Promise<{ text: string; kind: string }> {
  const name = file.split('/').at(-1)!;
  await page.setInputFiles('#load', file);
  await page.waitForFunction(
    (n) => {
      const m = document.getElementById('message')!;
      return (
        (m.className === 'ok' || m.className === 'error') &&
        (m.textContent ?? '').includes(n) &&
        !/^Downloaded/.test(m.textContent ?? '')
      );
    },
    name,
    { timeout: 60_000 },
  );
  return page.evaluate(() => ({
    text: document.getElementById('message')!.textContent ?? '',
    kind: document.getElementById('message')!.className,
  }));
}

/** Clicks Start (unless it is training already), waits for `n` more steps, clicks Pause and waits for the loop to stop. */
async function train(page: Page, n: number, from?: number, timeout = 120_000): Promise<DemoState> {
  const s0 = await state(page);
  from ??= s0.step;
  if (!s0.running) await page.click('#start');
  await page.waitForFunction(
    (target) => {
      const s = window.wgpuDemo.state();
      return (s.step as number) >= target || s.error;
    },
    from + n,
    { timeout },
  );
  await page.click('#pause');
  await page.waitForFunction(() => document.body.dataset.running === 'false', undefined, { timeout });
  const s = await state(page);
  expect(s.error, 'no error while training').toBe('');
  expect(s.step).toBeGreaterThanOrEqual(from + n);
  return s;
}

/**
 * The page's responsiveness over `ms`: the main thread's long tasks (PerformanceObserver 'longtask',
 * every task over 50 ms: a step or a redraw on the page's thread would be one), the longest gap between
 * animation frames and between 10 ms timers. On SwiftShader the compositor shares the 2 cores with the
 * worker's kernels, so a frame gap also measures the machine's load (expectResponsive allows for it).
 */
async function responsiveness(
  page: Page,
  ms: number,
  blockMs = 0,
): Promise<{ longTasks: number[]; worstFrame: number; worstTimer: number; frames: number }> {
  return page.evaluate(
    ([ms, blockMs]) =>
      new Promise((resolve) => {
        const longTasks: number[] = [];
        const observer = new PerformanceObserver((list) =>
          list.getEntries().forEach((e) => longTasks.push(Math.round(e.duration))),
        );
        observer.observe({ type: 'longtask', buffered: false });
        const t0 = performance.now();
        let lastFrame = t0,
          lastTimer = t0,
          worstFrame = 0,
          worstTimer = 0,
          frames = 0;
        const frame = (now: number) => {
          worstFrame = Math.max(worstFrame, now - lastFrame);
          lastFrame = now;
          frames++;
          if (now - t0 < ms) requestAnimationFrame(frame);
        };
        const tick = () => {
          const now = performance.now();
          worstTimer = Math.max(worstTimer, now - lastTimer);
          lastTimer = now;
          if (now - t0 < ms) setTimeout(tick, 10);
          else setTimeout(() => (observer.disconnect(), resolve({ longTasks, worstFrame, worstTimer, frames })), 50);
        };
        requestAnimationFrame((now) => ((lastFrame = now), requestAnimationFrame(frame)));
        setTimeout(tick, 10);
        // The control: a task that holds the thread on purpose must show up as a long task.
        if (blockMs > 0)
          setTimeout(() => {
            const end = performance.now() + blockMs;
            while (performance.now() < end);
          }, 100);
      }),
    [ms, blockMs] as const,
  );
}

/**
 * Asserts the page stays responsive while it trains: three 1 s windows, at most one long task on the
 * page's thread in all three, and in at least one (of up to five) no gap between animation frames of
 * 50 ms or more. Both allow for a one-off stall of the machine (another process on its 2 cores: CI once
 * saw a single 61 ms task, where the page's longest tasks here are 17-27 ms, a compositor commit or a
 * message handler, with or without two busy loops beside it); a page that blocks at each step (several
 * a second), chart (5 a second) or redraw of the views (at least 1 a second) fails both. Logs each
 * window.
 */
async function expectResponsive(page: Page, what: string): Promise<void> {
  const windows: Awaited<ReturnType<typeof responsiveness>>[] = [];
  for (let w = 0; w < 3; w++) windows.push(await responsiveness(page, 1000));
  // Up to two more windows where none of the three was free of a 50 ms frame gap (seen: 50.0, 49.9 and
  // 16.8 ms on the CPU backend, whose steps share the 2 cores with the compositor); the long-task count
  // stays over the first three.
  const smooth = () => windows.some((g) => g.worstFrame < 50);
  while (!smooth() && windows.length < 5) windows.push(await responsiveness(page, 1000));
  console.log(
    `[browser] while training ${what}: ` +
      windows
        .map(
          (g) =>
            `${g.frames} frames, longest frame gap ${g.worstFrame.toFixed(1)} ms, timer gap ${g.worstTimer.toFixed(1)} ms` +
            (g.longTasks.length ? `, long tasks ${g.longTasks.join(', ')} ms` : ''),
        )
        .join('; '),
  );
  const first3 = windows.slice(0, 3);
  expect(
    first3.flatMap((g) => g.longTasks).length,
    `tasks of over 50 ms on the page's thread in 3 s of training ${what}: ${first3.map((g) => `[${g.longTasks}]`)} ms`,
  ).toBeLessThanOrEqual(1);
  expect(
    Math.min(...windows.map((g) => g.worstFrame)),
    `the shortest of ${windows.length} 1 s windows' longest frame gap while training ${what} (ms)`,
  ).toBeLessThan(50);
  expect(
    first3.reduce((a, g) => a + g.frames, 0),
    'animation frames in 3 s of training',
  ).toBeGreaterThan(60);
}

/** The identity's error on the first 8 test digits, mean |x - dilate3x3(x)|: CycleGAN's baseline. */
function identityError8(): number {
  const x = loadMnist().test.images.subarray(0, 8 * 784);
  const y = dilate3x3(x.slice(), 8);
  let e = 0;
  for (let i = 0; i < x.length; i++) e += Math.abs(x[i] - y[i]);
  return e / x.length;
}

/** Picks a model in the menu and waits until it is built and drawn. */
async function pick(page: Page, model: string, batch: string): Promise<void> {
  await page.selectOption('#model', model);
  await page.waitForFunction(
    (m) => window.wgpuDemo.state().model === m && !(document.getElementById('reset') as HTMLButtonElement).disabled,
    model,
    { timeout: 120_000 },
  );
  await page.selectOption('#batch', batch);
}

/** Red-channel statistics of a 2D canvas: distinct values and standard deviation (a blank canvas has ~2 values). */
async function canvasStats(page: Page, id: string): Promise<{ distinct: number; std: number; red: number }> {
  return page.evaluate((id) => {
    const c = document.getElementById(id) as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const vals: number[] = [];
    let red = 0;
    for (let i = 0; i < d.length; i += 4) {
      vals.push(d[i]);
      if (d[i] > 150 && d[i + 1] < 110 && d[i + 2] < 110) red++;
    }
    const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
    const std = Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length);
    return { distinct: new Set(vals).size, std, red };
  }, id);
}

/** The 28 x 28 digit drawn in the explorer, and the z it was decoded at. */
async function decodedDigit(page: Page): Promise<{ z: [number, number]; pixels: number[] }> {
  return page.evaluate(() => {
    const c = document.getElementById('vae-decoded') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, 28, 28).data;
    return {
      z: c.dataset.z!.split(',').map(Number) as [number, number],
      pixels: Array.from(d.filter((_, i) => i % 4 === 0)),
    };
  });
}

/** Moves the pointer to a fraction of the latent plane and waits for the decode of that point. */
async function pointAt(page: Page, fx: number, fy: number): Promise<{ z: [number, number]; pixels: number[] }> {
  await page.locator('#vae-latent-pointer').scrollIntoViewIfNeeded();
  const box = (await page.locator('#vae-latent-pointer').boundingBox())!;
  await page.mouse.move(box.x + fx * box.width, box.y + fy * box.height);
  // The plane spans z in [-3, 3]^2, y up.
  const want = [(fx * 2 - 1) * 3, (1 - fy * 2) * 3];
  await page.waitForFunction(
    (w) => {
      const z = (document.getElementById('vae-decoded') as HTMLCanvasElement).dataset.z?.split(',').map(Number);
      return !!z && Math.abs(z[0] - w[0]) < 0.1 && Math.abs(z[1] - w[1]) < 0.1;
    },
    want,
    { timeout: 60_000 },
  );
  return decodedDigit(page);
}

/** The digit a VAE loaded from checkpoint bytes decodes at z, on the CPU reference, as 0-255 pixels. */
async function cpuDecode(bytes: Uint8Array, z: [number, number]): Promise<number[]> {
  const cpu = new CpuBackend();
  const ckpt = decodeSafetensors(bytes);
  const cfg = JSON.parse(ckpt.metadata.config) as { zDim: number };
  const vae = new MlpVAE({ zDim: cfg.zDim, backend: cpu });
  await restoreCheckpoint(ckpt, vae, [], 'checkpoint');
  const px = await noGrad(() => vae.decode(tensor(z, [1, 2], { backend: cpu })).sigmoid()).toArray();
  return Array.from(px, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
}

const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('the training demo on WebGPU', () => {
  let page: Page;
  let errors: string[];
  const dir = mkdtempSync(join(tmpdir(), 'demo-'));

  beforeAll(async () => {
    ({ page, errors } = await open(''));
    await page.waitForFunction(() => document.body.dataset.ready, undefined, { timeout: 120_000 });
    expect(await page.evaluate(() => document.body.dataset.ready), (await page.textContent('#message')) ?? '').toBe(
      'true',
    );
  }, 180_000); // longer than the wait inside, whose message says more than the hook's timeout would
  afterAll(async () => {
    await page?.close();
  });
  // Every test ends paused; one that fails half-way may leave the loop running, and the next tests
  // (which count steps) would fail for it too: stop it, so that each failure is reported once.
  afterEach(async () => {
    // (A page that crashed has no state to read: its test has failed already.)
    if (!page || !(await state(page).catch(() => null))?.running) return;
    await page.click('#pause');
    await page.waitForFunction(() => document.body.dataset.running === 'false', undefined, { timeout: 60_000 });
  });

  it('trains the VAE (z = 2) live: the loss falls, the samples are drawn, the page stays responsive', async () => {
    expect(await page.textContent('#backend')).toMatch(/WebGPU adapter:/);
    const s0 = await state(page);
    expect(s0).toMatchObject({ backend: 'webgpu', model: 'vae', config: { arch: 'mlp', zDim: 2 }, step: 0 });
    await page.selectOption('#batch', '16');
    await page.click('#start');
    // While it trains (in the worker), the page's thread holds no task for over 50 ms (a step or a
    // redraw run on it would), and it keeps drawing frames.
    await expectResponsive(page, 'the VAE on WebGPU');
    const control = await responsiveness(page, 500, 120);
    expect(
      control.longTasks.some((d) => d >= 100),
      `the long-task observer sees a 120 ms task held on purpose (${control.longTasks})`,
    ).toBe(true);
    expect(control.worstFrame, 'and the frame gap it makes').toBeGreaterThanOrEqual(80);
    const s = await train(page, 40, 0);
    expect(s.lossNames).toEqual(['loss', 'rec', 'kl']);
    const losses = s.history!.values.map((v) => v[0]);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [first, last] = [mean(losses.slice(0, 3)), mean(losses.slice(-3))];
    expect(first).toBeGreaterThan(400); // an untrained Bernoulli decoder: ~784 log 2 = 543 nats
    expect(last, `negative ELBO fell from ${first.toFixed(1)} to ${last.toFixed(1)}`).toBeLessThan(0.75 * first);
    expect(Number(await page.textContent('#steps-per-sec'))).toBeGreaterThan(0);
    expect(Number(await page.textContent('#items-per-sec'))).toBeGreaterThan(0);
    for (const id of ['vae-samples', 'vae-recon', 'vae-manifold', 'vae-latent', 'loss']) {
      const st = await canvasStats(page, id);
      expect(st.distinct, `${id} is not blank`).toBeGreaterThan(16);
      expect(st.std, `${id} has contrast`).toBeGreaterThan(8);
    }
    // The reparameterization panel: a draw of z, y = mu + sigma z, and the gradients through the sample
    // (d rec / d sigma = d rec / d mu * z, the chain rule through y, computed here by autodiff).
    const before = await page.getAttribute('#vae-reparam', 'data-z');
    await page.click('#vae-reparam-draw');
    await page.waitForFunction((b) => document.getElementById('vae-reparam')!.dataset.z !== b, before, {
      timeout: 60_000,
    });
    const rp = await page.evaluate(() => {
      const d = document.getElementById('vae-reparam')!.dataset;
      const get = (k: string) => d[k]!.split(',').map(Number);
      return {
        mu: get('mu'),
        sigma: get('sigma'),
        z: get('z'),
        y: get('y'),
        dmu: get('dmu'),
        dsigma: get('dsigma'),
        text: document.getElementById('vae-reparam')!.textContent,
      };
    });
    expect(rp.z).toHaveLength(2);
    expect(rp.z.some((v) => v !== 0)).toBe(true);
    rp.z.forEach((z, j) => {
      expect(rp.y[j]).toBeCloseTo(rp.mu[j] + rp.sigma[j] * z, 5);
      expect(rp.sigma[j]).toBeGreaterThan(0);
      expect(Math.abs(rp.dsigma[j] - rp.dmu[j] * z)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(rp.dmu[j] * z)));
    });
    expect(rp.text).toMatch(/y = mu \+ sigma z/);
    expect((await canvasStats(page, 'vae-reparam-digit')).distinct, 'the digit is drawn').toBeGreaterThan(2);
    // The likelihood beside the bound: the importance-weighted estimate is above the ELBO.
    await page.click('#vae-iwae');
    await page.waitForFunction(
      () => document.getElementById('vae-iwae-result')!.dataset.logPx !== undefined,
      undefined,
      { timeout: 120_000 },
    );
    const iw = await page.evaluate(() => ({ ...document.getElementById('vae-iwae-result')!.dataset }));
    expect(Number(iw.logPx), `log p(x) ${iw.logPx}, ELBO ${iw.elbo}`).toBeGreaterThan(Number(iw.elbo));
    expect(Number(iw.elbo)).toBeLessThan(0);
    await page.screenshot({ path: `${ARTIFACTS}/browser-vae.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('the latent explorer decodes the digit under the pointer', async () => {
    const a = await pointAt(page, 0.15, 0.8);
    const b = await pointAt(page, 0.85, 0.2);
    expect(a.z[0]).toBeLessThan(-1.5);
    expect(b.z[0]).toBeGreaterThan(1.5);
    const meanAbs = a.pixels.reduce((m, v, i) => m + Math.abs(v - b.pixels[i]), 0) / a.pixels.length;
    expect(meanAbs, 'different points of the plane decode to different digits').toBeGreaterThan(5);
    expect(Math.max(...b.pixels), 'a digit, not an empty square').toBeGreaterThan(100);
    await page.screenshot({ path: `${ARTIFACTS}/browser-vae-explorer.png`, fullPage: true });
  });

  it('profiles 5 training steps on their own: controls off meanwhile, warm-up outside the table, ms per step', async () => {
    const before = (await state(page)).step;
    // Click Profile, then Start at once (as a visitor might), and log the controls at every change of
    // the page until profiling ends: Start stays off and the status says so until the table is shown.
    const log = await page.evaluate(
      () =>
        new Promise<string[]>((resolve) => {
          const start = document.getElementById('start') as HTMLButtonElement,
            table = document.getElementById('profile-table') as HTMLTableElement;
          const entries: string[] = [];
          const note = () => {
            const controls = ['start', 'pause', 'reset', 'model', 'batch', 'lr', 'download', 'load', 'profile'].filter(
              (id) => !(document.getElementById(id) as HTMLButtonElement).disabled,
            );
            entries.push(
              `${window.wgpuDemo.state().profiling}|${document.getElementById('run-state')!.textContent}|on: ${controls.join(' ')}|rows ${table.rows.length}`,
            );
          };
          const obs = new MutationObserver(() => {
            note();
            if (!window.wgpuDemo.state().profiling) {
              obs.disconnect();
              resolve(entries);
            }
          });
          obs.observe(document.getElementById('app')!, {
            subtree: true,
            childList: true,
            characterData: true,
            attributes: true,
          });
          document.getElementById('profile')!.click();
          note();
          start.click(); // ignored (disabled): it would put training steps among the profiled ones
        }),
    );
    const during = log.filter((e) => e.startsWith('true|'));
    expect(during.length, log.join('\n')).toBeGreaterThan(2);
    for (const e of during) expect(e).toBe('true|profiling…|on: |rows 0');
    expect(log.at(-1), 'after: paused, the table shown').toMatch(
      /^false\|paused\|on: start reset model batch lr download load profile\|rows [1-9]/,
    );
    const s = await state(page);
    const note = (await page.textContent('#profile-note')) ?? '';
    const warmup = Number(/after (\d+) warm-up steps?/.exec(note)?.[1]);
    expect(warmup, note).toBeGreaterThanOrEqual(1);
    expect(s.step, 'the warm-up and the 5 profiled steps, nothing more').toBe(before + warmup + 5);
    expect(note).toMatch(/5 steps/);
    // Only the 5 steps' kernels: no trial run of the tuner, each kernel a multiple of 5 times (every
    // step runs the same kernels), one Adam update per parameter per step, each in the store of the
    // kernel computing its gradient: a weight's matmul (fused:matmul+...+adam), a bias's sum over the
    // batch (fused:...sum...+adam). (Before, a Start during the profile ran 11 steps into it: Adam 100
    // times, matmul_reg 93.)
    expect(
      s.profile.filter((r) => r.kernel.startsWith('tune:')),
      'no tuner trials',
    ).toEqual([]);
    expect(
      s.profile.filter((r) => r.count % 5 !== 0).map((r) => `${r.kernel} x${r.count}`),
      'kernels not run once per step',
    ).toEqual([]);
    const adam = s.profile.filter((r) => r.kernel === 'optim:adam' || /^fused:.*\+adam$/.test(r.kernel));
    const count = (rows: typeof adam) => rows.reduce((n, r) => n + r.count, 0);
    expect(count(adam), 'one Adam update per parameter per step').toBe(5 * 10);
    expect(count(adam.filter((r) => /^fused:matmul\+/.test(r.kernel))), "the weights' updates in their matmuls").toBe(
      5 * 5,
    );
    expect(count(adam.filter((r) => /^fused:.*sum.*\+adam$/.test(r.kernel))), "the biases' updates in their sums").toBe(
      5 * 5,
    );
    const mm = s.profile.filter((r) => r.kernel.startsWith('matmul_'));
    expect(mm.length, 'matmul kernels in the profile').toBeGreaterThan(0);
    expect(s.profile.every((r) => r.totalMs >= 0)).toBe(true);
    expect(await page.locator('#profile-table tr').count()).toBe(s.profile.length + 1);
    // The total per step: the table's kernel time over the 5 steps, and its kernel count.
    const total = (await page.textContent('#profile-total')) ?? '';
    const m = /^([\d.]+) ms of kernel time per step \(([\d.]+) ms in 5 steps; (\d+) kernels per step\)$/.exec(total);
    expect(m, total).not.toBeNull();
    const sumMs = s.profile.reduce((a, r) => a + r.totalMs, 0);
    expect(Number(m![1])).toBeCloseTo(sumMs / 5, 1);
    expect(Number(m![3]) * 5).toBe(s.profile.reduce((a, r) => a + r.count, 0));
    expect(s.running).toBe(false);
    expect(errors).toEqual([]);
  });

  it('downloads a checkpoint that the CLI evaluates and that loads back into the page', async () => {
    const s = await state(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const file = join(dir, download.suggestedFilename());
    await download.saveAs(file);
    expect(download.suggestedFilename()).toBe(`vae-step${s.step}.safetensors`);
    const bytes = readFileSync(file);
    const ckpt = decodeSafetensors(bytes, file);
    expect(ckpt.metadata).toMatchObject({ model: 'vae', dataset: 'mnist', optimizer_steps: `[${s.step}]` });
    // Epochs finished, where the CLI's --resume continues counting: none yet after a few steps at batch 16.
    expect(s.step * s.batch).toBeLessThan(9000);
    expect(ckpt.metadata.epoch).toBe('0');
    expect(JSON.parse(ckpt.metadata.config)).toEqual({ arch: 'mlp', zDim: 2, seed: 0, lr: 1e-3 });
    // The same names as a model built in Node: state_dict, then optim.<param>.<m|v>.
    const names = [...new MlpVAE({ zDim: 2, backend: new CpuBackend() }).namedParameters()].map(([k]) => k);
    expect([...ckpt.tensors.keys()].sort()).toEqual(
      [...names, ...names.flatMap((k) => [`optim.${k}.m`, `optim.${k}.v`])].sort(),
    );
    // The page's decoder and the checkpoint's, on the CPU reference, draw the same digit.
    const here = await decodedDigit(page);
    expect(maxDiff(here.pixels, await cpuDecode(bytes, here.z))).toBeLessThanOrEqual(2);
    // The CLI builds the model from the file's config and evaluates it.
    const ev = runCli(['eval', 'vae', '--ckpt', file, '--backend', 'cpu', '--out', dir, '--iwae-k', '2']);
    expect(ev.status, ev.stderr).toBe(0);
    const negElbo = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')).test_neg_elbo;
    expect(negElbo).toBeGreaterThan(100);
    expect(negElbo).toBeLessThan(0.75 * 543);
    // And the page takes its own file back, optimizer state and step included.
    const back = await loadFile(page, file);
    expect(back.kind, back.text).toBe('ok');
    expect(back.text).toMatch(/^Loaded vae-step\d+\.safetensors: .*with its optimizer state, at step \d+/);
    expect((await state(page)).step).toBe(s.step);
  });

  it('loads a checkpoint written by the CLI and decodes as the CLI model does; refuses other files clearly', async () => {
    const out = join(dir, 'cli-z2');
    const run = runCli([
      'vae',
      '--zdim',
      '2',
      '--epochs',
      '1',
      '--train-size',
      '256',
      '--batch',
      '64',
      '--seed',
      '3',
      '--backend',
      'cpu',
      '--out',
      out,
      '--iwae-k',
      '2',
    ]);
    expect(run.status, run.stderr).toBe(0);
    const file = join(out, 'checkpoint.safetensors');
    const loaded = await loadFile(page, file);
    expect(loaded.kind, loaded.text).toBe('ok');
    expect(loaded.text).toMatch(/^Loaded checkpoint\.safetensors: VAE .*zDim = 2.*at step 4/);
    const s = await state(page);
    expect(s).toMatchObject({ model: 'vae', step: 4, config: { arch: 'mlp', zDim: 2, seed: 3 } });
    const here = await pointAt(page, 0.3, 0.6);
    expect(maxDiff(here.pixels, await cpuDecode(readFileSync(file), here.z))).toBeLessThanOrEqual(2);

    // Another model's checkpoint: refused, naming both models; the loaded VAE stays.
    const gan = new MlpGAN({ generator: new Generator(1) }); // on Node's default backend, the CPU reference
    const g = await checkpointTensors(gan, gan.optimizers());
    const ganFile = join(dir, 'ring.safetensors');
    writeFileSync(
      ganFile,
      encodeSafetensors(g.tensors, { ...g.metadata, model: 'gan', config: '{"lr":0.001,"seed":1}' }),
    );
    const other = await loadFile(page, ganFile);
    expect(other.kind).toBe('error');
    expect(other.text).toMatch(
      /ring\.safetensors is a GAN \(2-D points\) checkpoint, but the VAE is selected: pick GAN/,
    );
    // A truncated file: refused as such.
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, readFileSync(file).subarray(0, 5000));
    const truncated = await loadFile(page, cut);
    expect(truncated.kind).toBe('error');
    expect(truncated.text).toMatch(/truncated or corrupt|corrupt safetensors/);
    // A VAE of another shape (z = 20 under a z = 2 config): refused by the strict state-dict check.
    const wrong = new MlpVAE({ zDim: 20, backend: new CpuBackend() });
    const w = await checkpointTensors(wrong, []);
    const wrongFile = join(dir, 'wrong.safetensors');
    writeFileSync(wrongFile, encodeSafetensors(w.tensors, { model: 'vae', config: '{"arch":"mlp","zDim":2}' }));
    const misfit = await loadFile(page, wrongFile);
    expect(misfit.kind).toBe('error');
    expect(misfit.text).toMatch(/wrong\.safetensors does not fit this model/);
    expect(await state(page)).toMatchObject({ model: 'vae', step: 4, config: { zDim: 2, seed: 3 } });
    expect(errors).toEqual([]);
  });

  it('the conv VAE: says what it is, and its views follow training soon after Start', async () => {
    await page.selectOption('#opt-arch', 'conv');
    await page.waitForFunction(
      () =>
        (window.wgpuDemo.state().config as { arch?: string }).arch === 'conv' &&
        !(document.getElementById('reset') as HTMLButtonElement).disabled,
      undefined,
      { timeout: 180_000 },
    );
    const about = (await page.textContent('#about')) ?? '';
    expect(about).toMatch(
      /^Convolutional variational autoencoder .*two 4x4 stride-2 convolutions \(1-16-32 channels.* z = 2; .*transposed convolutions back to 28x28/,
    );
    expect(about).not.toMatch(/MLP|784-400/);
    expect(await state(page)).toMatchObject({ step: 0, viewsStep: 0, config: { arch: 'conv', zDim: 2, width: 16 } });
    await page.click('#start');
    // The run's first redraw (at step 1 or so: steps take ~1 s of training between redraws) compiles
    // kernels and shares the device with the tuner; it must not set a long interval (before, 4x its
    // ~13 s: the views stood at step 1 for ~50 s of training). Read with it, in the same poll.
    const first = await page
      .waitForFunction(
        () => {
          const s = window.wgpuDemo.state();
          return (
            ((s.viewsStep as number) >= 1 || s.error) && {
              viewsStep: s.viewsStep as number,
              redrawEveryMs: s.redrawEveryMs as number,
              error: s.error,
            }
          );
        },
        undefined,
        { timeout: 120_000, polling: 50 },
      )
      .then((h) => h.jsonValue() as Promise<{ viewsStep: number; redrawEveryMs: number; error: string }>);
    expect(first.error).toBe('');
    expect(first.redrawEveryMs, 'training time until the next redraw (ms)').toBeLessThanOrEqual(2000);
    // Then the views show a later step. Measured on 2 shared cores (load 4-10): 4.6-9.2 s after the
    // first redraw, 6.5-13.6 s after Start (before: 47-59 s); the timeout only bounds a hang.
    await page.waitForFunction(
      (v) => (window.wgpuDemo.state().viewsStep as number) > v || window.wgpuDemo.state().error,
      first.viewsStep,
      { timeout: 90_000 },
    );
    await page.click('#pause');
    await page.waitForFunction(() => document.body.dataset.running === 'false', undefined, { timeout: 60_000 });
    const s = await state(page);
    expect(s.error).toBe('');
    expect(s.viewsStep).toBeGreaterThan(first.viewsStep);
    expect(s.viewsStep, 'paused: the views show the last step').toBe(s.step);
    expect(await page.textContent('#views-step')).toBe(String(s.step));
    expect((await canvasStats(page, 'vae-samples')).distinct, 'conv VAE samples are not blank').toBeGreaterThan(16);
    await page.screenshot({ path: `${ARTIFACTS}/browser-conv-vae.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it("trains the GAN on the 2-D sets (the ring, then the moons) and draws GAN Lab's views", async () => {
    await pick(page, 'gan', '64');
    await page.selectOption('#lr', String(5e-4));
    const s = await train(page, 30);
    expect(s).toMatchObject({ lr: 5e-4, batch: 64 });
    expect(s.lossNames).toEqual(['d', 'g']);
    expect(s.history!.values.flat().every(Number.isFinite)).toBe(true);
    const st = await canvasStats(page, 'gan-ring');
    expect(st.red, 'generated points (red) on the plot').toBeGreaterThan(200);
    expect(await page.textContent('#gan-ring + figcaption')).toMatch(/modes covered: \d of 8/);
    expect(await page.textContent('#item-name')).toBe('points');
    // GAN Lab's views: D(x) shaded behind the points (both ends of its colour ramp present after 30
    // steps: D tells real from fake somewhere), dark arrows on the fakes, and the saturation chart's two
    // loss curves with the fakes on the one in use.
    const shades = await page.evaluate(() => {
      const c = document.getElementById('gan-ring') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      // A heatmap pixel is on the diverging ramp of drawHeatmap: white (250, 250, 250) at D = 0.5, towards
      // (244, 165, 130) at D = 0 and (146, 197, 222) at D = 1, by t = sqrt(|D - 0.5| * 2).
      let ramp = 0,
        dark = 0,
        lo = 1,
        hi = 0;
      const on = (rgb: number[], end: number[]) => {
        // t from the channel that changes most along the branch, then every channel checked against it
        const span = end.map((e) => 250 - e),
          k = span.indexOf(Math.max(...span));
        const t = (250 - rgb[k]) / span[k];
        return t >= -0.02 && t <= 1.02 && rgb.every((c, j) => Math.abs(c - (250 + (end[j] - 250) * t)) <= 2)
          ? Math.max(0, Math.min(1, t))
          : null;
      };
      for (let i = 0; i < d.length; i += 4) {
        const rgb = [d[i], d[i + 1], d[i + 2]];
        const tr = on(rgb, [244, 165, 130]),
          tb = on(rgb, [146, 197, 222]);
        const v = tr !== null ? 0.5 - (tr * tr) / 2 : tb !== null ? 0.5 + (tb * tb) / 2 : null;
        if (v !== null) {
          ramp++;
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        if (rgb[0] < 90 && rgb[1] < 90 && rgb[2] < 90) dark++;
      }
      return { ramp, lo, hi, dark, arrows: c.dataset.arrows, longest: Number(c.dataset.longest) };
    });
    expect(shades.ramp, 'the heatmap covers most of the plane').toBeGreaterThan(0.6 * 360 * 360);
    expect(shades.hi - shades.lo, `D(x) varies over the plane (${shades.lo}..${shades.hi})`).toBeGreaterThan(0.1);
    expect(shades.arrows).toBe('64');
    expect(shades.longest).toBeGreaterThan(0);
    expect(shades.dark, 'arrows (and axes) drawn in dark grey').toBeGreaterThan(300);
    const curves = await page.evaluate(() => {
      const c = document.getElementById('gan-saturation') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let green = 0,
        purple = 0,
        red = 0;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
        if (g > 130 && r < 90 && b < 90) green++;
        if (r > 120 && r < 170 && g < 130 && b > 160) purple++;
        if (r > 180 && g < 140 && b < 140) red++;
      }
      return { green, purple, red, meanD: Number(c.dataset.meanD) };
    });
    expect(curves.green, 'the non-saturating curve').toBeGreaterThan(200);
    expect(curves.purple, 'the saturating curve (dashed, thin)').toBeGreaterThan(20);
    expect(curves.red, 'the fakes on the curve').toBeGreaterThan(20);
    expect(curves.meanD).toBeGreaterThan(0);
    expect(curves.meanD).toBeLessThan(1);
    expect(await page.textContent('#gan-saturation + figcaption')).toMatch(
      /mean D\(G\(z\)\) 0\.\d{3}: the nonsaturating loss gives/,
    );
    await page.screenshot({ path: `${ARTIFACTS}/browser-gan-ring.png`, fullPage: true });

    // Step mode: each Step is exactly one training step, with the views redrawn from its weights.
    const at = (await state(page)).step;
    for (const k of [1, 2]) {
      await page.click('#step-once');
      await page.waitForFunction(
        (want) => {
          const st = window.wgpuDemo.state();
          return (
            st.step === want &&
            st.viewsStep === want &&
            !(document.getElementById('step-once') as HTMLButtonElement).disabled
          );
        },
        at + k,
        { timeout: 60_000 },
      );
    }
    await page.waitForTimeout(300);
    expect((await state(page)).step, 'no step beyond the two asked for').toBe(at + 2);
    expect(await page.textContent('#views-step')).toBe(String(at + 2));

    // Reset: fresh weights from the same seed, so the first step repeats the first step above.
    await page.click('#reset');
    await page.waitForFunction(
      () => window.wgpuDemo.state().step === 0 && !(document.getElementById('reset') as HTMLButtonElement).disabled,
      undefined,
      { timeout: 60_000 },
    );
    const again = await train(page, 1);
    again.history!.values[0].forEach((v, i) => expect(v, s.lossNames[i]).toBeCloseTo(s.history!.values[0][i], 4));

    // The loss toggle: the saturating form rebuilds the model; its G loss log(1 - D(G(z))) is negative
    // where the non-saturating -log D(G(z)) is positive, and the chart follows it.
    await page.selectOption('#opt-loss', 'saturating');
    await page.waitForFunction(
      () =>
        window.wgpuDemo.state().step === 0 &&
        (window.wgpuDemo.state().config as { loss?: string }).loss === 'saturating',
      undefined,
      { timeout: 60_000 },
    );
    expect(await page.textContent('#about')).toMatch(/saturating minimax loss log\(1 - D\(G\(z\)\)\)/);
    const sat = await train(page, 1);
    expect(sat.history!.values[0][1], 'saturating G loss').toBeLessThan(0);
    expect(again.history!.values[0][1], 'non-saturating G loss').toBeGreaterThan(0);
    expect(await page.textContent('#gan-saturation + figcaption')).toMatch(/the saturating loss gives/);
    // The loss charts on a log scale where a term is positive (D's loss), linear where it is not (the
    // saturating G loss is negative), and smoothed.
    await page.check('#log-scale');
    await page.selectOption('#smoothing', '0.9');
    await page.waitForFunction(
      () =>
        document.getElementById('loss')!.dataset.scales === 'log,linear' &&
        document.getElementById('loss')!.dataset.smoothing === '0.9',
      undefined,
      { timeout: 10_000 },
    );
    await page.uncheck('#log-scale');
    await page.selectOption('#smoothing', '0');
    await page.waitForFunction(() => document.getElementById('loss')!.dataset.scales === 'linear,linear', undefined, {
      timeout: 10_000,
    });

    // Another 2-D dataset: the two moons, scored by precision and recall along the curve.
    await page.selectOption('#opt-data', 'moons');
    await page.waitForFunction(
      () =>
        window.wgpuDemo.state().step === 0 && (window.wgpuDemo.state().config as { data?: string }).data === 'moons',
      undefined,
      { timeout: 60_000 },
    );
    expect(await page.textContent('#about')).toMatch(/two interleaved half circles/);
    await train(page, 2);
    expect(await page.textContent('#gan-ring + figcaption')).toMatch(
      /\d+% of samples near the curve \(precision\), \d+% of the curve reached \(recall\)/,
    );
    expect((await canvasStats(page, 'gan-ring')).red, 'generated points on the moons plot').toBeGreaterThan(200);
    // The D:G ratio: three discriminator steps per generator step (one Step, one G step).
    await page.selectOption('#opt-dSteps', '3');
    await page.waitForFunction(
      () => window.wgpuDemo.state().step === 0 && (window.wgpuDemo.state().config as { dSteps?: number }).dSteps === 3,
      undefined,
      { timeout: 60_000 },
    );
    await page.click('#step-once');
    await page.waitForFunction(
      () => window.wgpuDemo.state().step === 1 && window.wgpuDemo.state().viewsStep === 1,
      undefined,
      { timeout: 60_000 },
    );
    expect(errors).toEqual([]);
  });

  it('trains the RBM by contrastive divergence and draws its filters and Gibbs chains from noise', async () => {
    await pick(page, 'rbm', '32');
    expect(await page.textContent('#about')).toMatch(/restricted Boltzmann machine .*128 binary hidden units.*CD-1/);
    const s = await train(page, 15);
    expect(s.lossNames).toEqual(['rec', 'free_energy_gap']);
    expect(s.history!.values.flat().every(Number.isFinite)).toBe(true);
    // The reconstruction error of one Gibbs step falls from its untrained value as CD learns.
    const rec = s.history!.values.map((v) => v[0]);
    expect(rec[rec.length - 1], `rec ${rec[0]} -> ${rec[rec.length - 1]}`).toBeLessThan(rec[0]);
    await page.screenshot({ path: `${ARTIFACTS}/browser-rbm.png`, fullPage: true });
    // (A blank canvas has ~2 red values; 15 steps in, the chains' p(v | h) are still faint grey digits.)
    expect((await canvasStats(page, 'rbm-filters')).distinct, 'the filters are drawn').toBeGreaterThan(16);
    expect((await canvasStats(page, 'rbm-chains')).distinct, 'the chains are drawn').toBeGreaterThan(8);
    const steps = Number(await page.getAttribute('#rbm-chains', 'data-steps'));
    expect(steps % 10).toBe(0);
    expect(steps).toBeGreaterThanOrEqual(10);
    await page.click('#rbm-restart');
    await page.waitForFunction(() => document.getElementById('rbm-chains')!.dataset.steps === '10', undefined, {
      timeout: 60_000,
    });
    await page.screenshot({ path: `${ARTIFACTS}/browser-rbm.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('asks before discarding training, keeps its settings in the address, slows down, gives D a rate of its own, and carries the loss history in checkpoints', async () => {
    // From the RBM (trained, never saved) to the GAN: the page asks first (accepted here).
    const asked = dialogLog.length;
    await pick(page, 'gan', '64');
    expect(dialogLog.slice(asked), 'the switch asked once').toHaveLength(1);
    expect(dialogLog.at(-1)).toMatch(
      /^Switching to the GAN \(2-D points\) throws away the RBM \(Boltzmann machine\)'s training: \d+ steps? since it was last downloaded or loaded/,
    );
    expect(await page.textContent('#guide')).toMatch(/mode collapse/);
    expect(await page.textContent('#hint')).toBe('');
    // D's own learning rate, and 2 steps a second.
    expect(await page.isVisible('#lr-d')).toBe(true);
    await page.selectOption('#lr-d', '0.002');
    await page.selectOption('#speed', '2');
    await page.click('#start');
    await page.waitForFunction(() => (window.wgpuDemo.state().step as number) >= 1, undefined, { timeout: 60_000 });
    const t0 = Date.now(),
      s0 = (await state(page)).step;
    await page.waitForTimeout(3000);
    const s1 = (await state(page)).step,
      dt = (Date.now() - t0) / 1000;
    await page.click('#pause');
    await page.waitForFunction(() => document.body.dataset.running === 'false', undefined, { timeout: 60_000 });
    // The cap is what a broken slow-down fails; below it, at least half the pace (a GAN step at batch 64
    // on SwiftShader, or a stall of the machine, may cost a step or two).
    console.log(`[browser] ${s1 - s0} steps in ${dt.toFixed(2)} s at 2 steps/s`);
    expect(s1 - s0, `steps in ${dt.toFixed(1)} s at 2 steps/s`).toBeLessThanOrEqual(Math.ceil(2 * dt) + 1);
    expect(s1 - s0, `steps in ${dt.toFixed(1)} s at 2 steps/s`).toBeGreaterThanOrEqual(Math.floor(dt) - 1);
    expect(await page.textContent('#hint'), 'the hint after the first Start').toMatch(
      /Step to see one update of D and G/,
    );
    const s = await state(page);
    expect(s).toMatchObject({ model: 'gan', lr: 1e-3, lrD: 0.002, speed: 2, batch: 64 });
    // The settings are in the address: a new tab opened on it builds the same model with the same settings.
    const q = Object.fromEntries(new URL(page.url()).searchParams);
    expect(q).toMatchObject({
      model: 'gan',
      data: 'ring',
      loss: 'nonsaturating',
      dSteps: '1',
      lr: '0.001',
      lrD: '0.002',
      batch: '64',
      speed: '2',
    });
    const other = await browser.newPage();
    try {
      await other.goto(page.url());
      await other.waitForFunction(() => document.body.dataset.ready, undefined, { timeout: 120_000 });
      expect(await other.evaluate(() => window.wgpuDemo.state())).toMatchObject({
        model: 'gan',
        config: { data: 'ring', loss: 'nonsaturating', dSteps: 1 },
        lr: 1e-3,
        lrD: 0.002,
        speed: 2,
        batch: 64,
        step: 0,
      });
      // Not only the menus: the worker trains D at the address's rate (its checkpoint says what it uses).
      const [dl] = await Promise.all([other.waitForEvent('download'), other.click('#download')]);
      const f = join(dir, `reloaded-${dl.suggestedFilename()}`);
      await dl.saveAs(f);
      expect(JSON.parse(decodeSafetensors(readFileSync(f), f).metadata.config)).toMatchObject({ lr: 1e-3, lrD: 0.002 });
    } finally {
      await other.close();
    }
    // Declining the question keeps the model, its step and the menu as they were.
    dialogs.push((d) => d.dismiss());
    await page.selectOption('#model', 'vae');
    await page.waitForTimeout(500);
    expect(await state(page)).toMatchObject({ model: 'gan', step: s.step });
    expect(await page.inputValue('#model')).toBe('gan');
    // A download saves the steps: Reset then asks nothing. The file carries D's rate and the loss curve,
    // and loading it brings the curve back with the weights.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const file = join(dir, download.suggestedFilename());
    await download.saveAs(file);
    const meta = decodeSafetensors(readFileSync(file), file).metadata;
    expect(JSON.parse(meta.config)).toMatchObject({ lr: 1e-3, lrD: 0.002 });
    const h = JSON.parse(meta.loss_history) as { names: string[]; steps: number[]; values: number[][] };
    expect(h.names).toEqual(['d', 'g']);
    expect(h.steps).toEqual(s.history!.steps);
    const before = dialogLog.length;
    await page.click('#reset');
    await page.waitForFunction(
      () => window.wgpuDemo.state().step === 0 && !(document.getElementById('reset') as HTMLButtonElement).disabled,
      undefined,
      { timeout: 60_000 },
    );
    expect(dialogLog.length, 'nothing unsaved: no question').toBe(before);
    expect((await state(page)).history!.steps).toEqual([]);
    const back = await loadFile(page, file);
    expect(back.kind, back.text).toBe('ok');
    expect(back.text).toMatch(new RegExp(`and its loss history \\(${s.history!.steps.length} points\\)`));
    const r = await state(page);
    expect(r.step).toBe(s.step);
    expect(r.lrD).toBe(0.002);
    expect(r.history!.steps).toEqual(s.history!.steps);
    r.history!.values.flat().forEach((v, i) =>
      expect(Math.abs(v - s.history!.values.flat()[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))),
    );
    await page.selectOption('#speed', 'full');
    expect(errors).toEqual([]);
  });

  it('trains DCGAN and CycleGAN a few steps and draws their sample grid and translation rows', async () => {
    await pick(page, 'dcgan', '4');
    let s = await train(page, 3);
    expect(s.lossNames).toEqual(['d', 'g']);
    let st = await canvasStats(page, 'dcgan-samples');
    expect(st.distinct, 'DCGAN samples are not blank').toBeGreaterThan(16);
    // The classifier's judgement: the page trains its MLP judge once, then scores 1,000 samples against
    // the test digits and the untrained G of the same seed (Frechet ratio), with the classes' shares.
    const score = async (n: number) => {
      await page.click('#dcgan-score');
      await page.waitForFunction(
        (n) => {
          const c = document.getElementById('dcgan-score-result')!;
          return c.dataset.scores === String(n) || /^failed/.test(c.textContent ?? '');
        },
        n,
        { timeout: 240_000 },
      );
      return page.evaluate(
        () =>
          ({
            text: document.getElementById('dcgan-score-result')!.textContent ?? '',
            ...document.getElementById('dcgan-score-result')!.dataset,
          }) as Record<string, string>,
      );
    };
    const sc = await score(1);
    expect(sc.text).toMatch(/^Frechet distance of the judge's features/);
    expect(Number(sc.judgeAccuracy), 'the judge classifies the test digits').toBeGreaterThan(0.85);
    const classes = sc.classes!.split(',').map(Number);
    expect(classes).toHaveLength(10);
    expect(classes.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(Number(sc.minClass)).toBe(Math.min(...classes));
    expect(Number(sc.fd)).toBeGreaterThan(0);
    expect(Number(sc.fdUntrained)).toBeGreaterThan(0);
    expect(Number(sc.fdRatio)).toBeCloseTo(Number(sc.fd) / Number(sc.fdUntrained), 9);
    expect(Number(sc.topProb)).toBeGreaterThan(0.1);
    // Scoring again without training gives the same numbers (fixed z, eval mode, the same judge).
    const again = await score(2);
    expect(again.fd).toBe(sc.fd);
    expect(again.judgeAccuracy).toBe(sc.judgeAccuracy);
    await page.screenshot({ path: `${ARTIFACTS}/browser-dcgan.png`, fullPage: true });

    await pick(page, 'cyclegan', '1');
    s = await train(page, 2);
    expect(s.lossNames.slice(0, 3)).toEqual(['d', 'g_gan', 'cyc']);
    expect(s.history!.values.flat().every(Number.isFinite)).toBe(true);
    st = await canvasStats(page, 'cyclegan-rows');
    expect(st.distinct, 'CycleGAN rows are not blank').toBeGreaterThan(16);
    expect(await page.textContent('#cyclegan-rows + figcaption')).toMatch(
      /mean \|G\(x\) - dilate\(x\)\|.*the identity's, \|x - dilate\(x\)\|: 0\.\d{4}; ratio \d/,
    );
    // The baseline is the identity's error on the first 8 test digits, computed here from the same split.
    const cap = await page.evaluate(() => ({
      ...document.querySelector<HTMLElement>('#cyclegan-rows + figcaption')!.dataset,
    }));
    expect(Number(cap.identity)).toBeCloseTo(identityError8(), 6);
    expect(Number(cap.error)).toBeGreaterThan(0);
    await page.screenshot({ path: `${ARTIFACTS}/browser-cyclegan.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('fits a phone (390 px: no horizontal scroll) and a touch on the latent plane explores it', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const m of ['vae', 'gan']) {
        await pick(page, m, m === 'vae' ? '16' : '64');
        await page.waitForTimeout(300);
        const w = await page.evaluate(() => ({
          scroll: document.documentElement.scrollWidth,
          client: document.documentElement.clientWidth,
        }));
        expect(w.scroll, `${m}: page width ${w.scroll} at a 390 px viewport`).toBeLessThanOrEqual(w.client);
      }
      await pick(page, 'vae', '16');
      await page.waitForSelector('#vae-latent-pointer');
      expect(
        await page.evaluate(() => getComputedStyle(document.getElementById('vae-latent-pointer')!).touchAction),
      ).toBe('none');
      // A finger down at a quarter from the left, a quarter from the top: z = (-1.5, 1.5) decoded.
      const box = (await page.locator('#vae-latent-pointer').boundingBox())!;
      expect(box.width, 'the plane scaled to the screen').toBeLessThanOrEqual(390);
      await page.evaluate(
        ([x, y]) => {
          const c = document.getElementById('vae-latent-pointer')!;
          const r = c.getBoundingClientRect();
          c.dispatchEvent(
            new PointerEvent('pointerdown', {
              pointerType: 'touch',
              clientX: r.left + x * r.width,
              clientY: r.top + y * r.height,
              bubbles: true,
            }),
          );
        },
        [0.25, 0.25],
      );
      await page.waitForFunction(
        () => {
          const z = (document.getElementById('vae-decoded') as HTMLCanvasElement).dataset.z?.split(',').map(Number);
          return !!z && Math.abs(z[0] + 1.5) < 0.1 && Math.abs(z[1] - 1.5) < 0.1;
        },
        undefined,
        { timeout: 60_000 },
      );
      await page.screenshot({ path: `${ARTIFACTS}/browser-phone.png`, fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1200, height: 1500 });
    }
    expect(errors).toEqual([]);
  });
});

describe('the training demo without WebGPU', () => {
  it('says what it needs, and trains on the CPU backend when asked', async () => {
    // A browser without WebGPU: navigator.gpu is undefined before any script of the page runs.
    const { page, errors } = await open('', async (p) => {
      await p.addInitScript(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
    });
    await page.waitForFunction(() => document.body.dataset.ready, undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => document.body.dataset.ready)).toBe('no-webgpu');
    expect(await page.isVisible('#no-webgpu')).toBe(true);
    expect(await page.isVisible('#app')).toBe(false);
    const text = await page.textContent('#no-webgpu');
    expect(text).toMatch(/WebGPU is not available/);
    expect(text).toMatch(/navigator\.gpu is undefined/);
    expect(text).toMatch(/enable-unsafe-webgpu/);
    await page.screenshot({ path: `${ARTIFACTS}/browser-no-webgpu.png` });

    await page.click('#use-cpu');
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 120_000 });
    expect(await page.textContent('#backend')).toMatch(/CPU reference backend/);
    await page.selectOption('#batch', '8');
    await page.click('#start');
    // Steps and redraws on the CPU backend are plain JavaScript, in the worker: the page's frames go on.
    await expectResponsive(page, 'the VAE on the CPU backend');
    const s = await train(page, 3);
    expect(s.backend).toBe('cpu');
    expect(s.history!.values.flat().every(Number.isFinite)).toBe(true);
    expect((await canvasStats(page, 'vae-samples')).distinct).toBeGreaterThan(16);
    await page.screenshot({ path: `${ARTIFACTS}/browser-cpu-fallback.png`, fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
