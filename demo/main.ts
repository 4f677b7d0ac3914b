// The training demo: pick a model of src/models, train it live in the page on WebGPU (the same runtime,
// the same shaders/ as in Node, loaded through Vite), watch its losses and views, profile its kernels,
// and move checkpoints between the page and the CLI. Without WebGPU it says what is missing and offers
// the CPU reference backend, explicitly. The models themselves are behind the adapter table
// (adapters.ts); this file is the page around them. While a model is being switched or its kernels
// are profiled, the controls that would start, stop or replace training are off (a profile holds the
// device queue: the table holds the profiled steps' kernels only).

import { init, backendInfo, type KernelStats } from '../src/index.ts';
import { ADAPTERS, type LiveModel, type ModelAdapter, type ModelConfig, type ModelId } from './adapters.ts';
import { Serial, Trainer } from './trainer.ts';
import { drawLossCharts } from './draw.ts';
import { checkpointBytes, parseCheckpoint, restoreInto, type ParsedCheckpoint } from './checkpoint.ts';
import { downloadBytes } from '../src/io/index.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  backend: $('backend'),
  noWebgpu: $('no-webgpu'), noWebgpuReason: $('no-webgpu-reason'), useCpu: $<HTMLButtonElement>('use-cpu'),
  app: $('app'),
  model: $<HTMLSelectElement>('model'), options: $('options'), lr: $<HTMLSelectElement>('lr'), batch: $<HTMLSelectElement>('batch'),
  compiled: $<HTMLInputElement>('compiled'),
  start: $<HTMLButtonElement>('start'), pause: $<HTMLButtonElement>('pause'), stepOnce: $<HTMLButtonElement>('step-once'), reset: $<HTMLButtonElement>('reset'),
  load: $<HTMLInputElement>('load'), download: $<HTMLButtonElement>('download'),
  about: $('about'), message: $('message'),
  step: $('step'), viewsStep: $('views-step'), stepsPerSec: $('steps-per-sec'), itemsPerSec: $('items-per-sec'), itemName: $('item-name'), runState: $('run-state'),
  loss: $<HTMLCanvasElement>('loss'), views: $('views'), smoothing: $<HTMLSelectElement>('smoothing'), logScale: $<HTMLInputElement>('log-scale'),
  profile: $<HTMLButtonElement>('profile'), profileNote: $('profile-note'), profileTotal: $('profile-total'), profileTable: $<HTMLTableElement>('profile-table'),
};

const LEARNING_RATES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1];

const serial = new Serial();
let adapter: ModelAdapter = ADAPTERS.vae;
let config: ModelConfig = {};
let live: LiveModel | null = null;
let trainer: Trainer | null = null;
let lastProfile: KernelStats[] = [];
/** A model switch (rebuild) or a kernel profile is under way: see updateControls. */
let busy = false, profiling = false, stepping = false;

function say(text: string, kind: 'ok' | 'error' | '' = ''): void {
  ui.message.textContent = text;
  ui.message.className = kind;
}

function fill(select: HTMLSelectElement, values: (number | string)[], current: number | string, label = (v: number | string) => String(v)): void {
  select.replaceChildren(...values.map((v) => new Option(label(v), String(v), false, v === current)));
}

let lastChart = 0;
function showProgress(force = false): void {
  if (!trainer) return;
  ui.step.textContent = String(trainer.step);
  const { stepsPerSec, itemsPerSec } = trainer.throughput();
  ui.stepsPerSec.textContent = stepsPerSec ? stepsPerSec.toFixed(stepsPerSec < 10 ? 2 : 1) : '–';
  ui.itemsPerSec.textContent = itemsPerSec ? itemsPerSec.toFixed(0) : '–';
  // The chart at most ~5 times a second: drawing it every step would cost more than a fast step.
  if (force || performance.now() - lastChart > 200) {
    drawLossCharts(ui.loss, trainer.live.model.lossNames, trainer.history, { smoothing: Number(ui.smoothing.value), log: ui.logScale.checked });
    lastChart = performance.now();
  }
}

/**
 * The controls for the current state. While a model switch or a profile is under way everything that
 * would start, stop or replace training (or change its batch or learning rate) is off: a switch
 * pauses the loop itself, and a Start during a profile would put training steps among the profiled ones.
 */
function updateControls(): void {
  const running = trainer?.running ?? false, locked = busy || profiling;
  ui.start.disabled = locked || running;
  ui.pause.disabled = locked || !running;
  ui.stepOnce.disabled = locked || running || stepping;
  for (const c of [ui.model, ui.reset, ui.load, ui.download, ui.profile, ui.lr, ui.batch, ...Array.from(ui.options.querySelectorAll('select'))]) {
    (c as HTMLButtonElement).disabled = locked;
  }
  ui.runState.textContent = profiling ? 'profiling…' : running ? 'training…' : 'paused';
  document.body.dataset.running = String(running);
}

function setRunning(running: boolean): void {
  updateControls();
  if (!running) showProgress(true);
}

function setBusy(b: boolean): void {
  busy = b;
  updateControls();
}

function buildOptions(): void {
  ui.options.replaceChildren(...adapter.fields.map((f) => {
    const sel = document.createElement('select');
    sel.id = `opt-${f.key}`;
    const raw = config[f.key] ?? adapter.defaults.config[f.key];
    const cur = typeof raw === 'number' || typeof raw === 'string' ? raw : f.choices[0];
    fill(sel, f.choices.includes(cur) ? f.choices : [...f.choices, cur], cur);
    const numeric = typeof f.choices[0] === 'number';
    sel.addEventListener('change', () => {
      const v = numeric ? Number(sel.value) : sel.value;
      void rebuild(adapter, { ...config, [f.key]: v }, 'Changed an option: the model restarts from fresh weights.');
    });
    const label = document.createElement('label');
    label.append(`${f.label} `, sel);
    return label;
  }));
}

/**
 * Replaces the live model by a new one of adapter `a` built from `cfg`, optionally loaded from a
 * checkpoint. The new model is built and loaded before the old one is freed, so a file that does not
 * fit (or data that fails to load) leaves the current model, its weights and its views as they were.
 */
async function rebuild(a: ModelAdapter, cfg: ModelConfig, note = '', ckpt?: { parsed: ParsedCheckpoint; fileName: string }): Promise<boolean> {
  setBusy(true);
  try {
    await trainer?.pause();
    say(`Loading ${a.title}…`);
    await a.load((m) => say(m));
    const panel = document.createElement('div');
    panel.className = 'views';
    // The CLI's seeds: weights from config.seed, data order from it, step noise from it + 1 (so Reset
    // gives the same start, and the first steps are the CLI's first steps for the same options).
    const seed = Number(cfg.seed ?? 0);
    const next = a.create(cfg, { panel, seed, run: (job) => serial.run(job) });
    let restored = false;
    if (ckpt) {
      try {
        restored = await serial.run(() => restoreInto(next, ckpt.parsed, ckpt.fileName));
      } catch (e) {
        await serial.run(async () => next.dispose());
        throw e;
      }
    }
    await serial.run(async () => {
      trainer?.dispose();
      live?.dispose();
    });
    adapter = a;
    live = next;
    config = next.config;
    trainer = newTrainer(next, seed, ckpt?.parsed.steps ?? 0, ckpt?.parsed.epoch ?? 0);
    if (ckpt?.parsed.noise) trainer.noiseState = ckpt.parsed.noise;
    ui.views.replaceChildren(panel);
    ui.profileTable.replaceChildren();
    ui.profileNote.textContent = ui.profileTotal.textContent = '';
    lastProfile = [];
    ui.about.textContent = typeof a.about === 'string' ? a.about : a.about(next.config);
    ui.itemName.textContent = a.itemName;
    await trainer.renderWarm();
    showProgress(true);
    if (ckpt) {
      const cfgText = Object.entries(config).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ');
      say(`Loaded ${ckpt.fileName}: ${a.title}${cfgText ? ` (${cfgText})` : ''}, ${restored ? `with its optimizer state, at step ${trainer.step}` : 'weights only (no optimizer state in the file)'}.`, 'ok');
    } else {
      say(note);
    }
    return true;
  } catch (e) {
    say((e as Error).message, 'error');
    return false;
  } finally {
    // The menus show the model that is live, also after a failed switch.
    ui.model.value = adapter.id;
    buildOptions();
    setBusy(false);
  }
}

function newTrainer(l: LiveModel, seed: number, step: number, epoch = 0): Trainer {
  const t: Trainer = new Trainer(l, serial, {
    onStep: () => showProgress(),
    // The step the views show, for the reader (and the browser test): they lag the step counter.
    onRender: () => (ui.viewsStep.textContent = String(t.renderedStep)),
    onRunning: (r) => setRunning(r),
    onError: (e) => say(e.message, 'error'),
  }, { batch: Number(ui.batch.value), lr: Number(ui.lr.value), seed, step, epoch, compiled: ui.compiled.checked });
  return t;
}

async function selectModel(id: ModelId): Promise<void> {
  const a = ADAPTERS[id];
  fill(ui.lr, [...new Set([...LEARNING_RATES, a.defaults.lr])].sort((x, y) => x - y), a.defaults.lr, (v) => Number(v).toExponential(0));
  fill(ui.batch, a.batchChoices, a.defaults.batch);
  await rebuild(a, { ...a.defaults.config });
}

async function loadCheckpointFile(file: File): Promise<void> {
  let parsed: ParsedCheckpoint;
  try {
    parsed = parseCheckpoint(new Uint8Array(await file.arrayBuffer()), file.name, adapter.id);
  } catch (e) {
    say((e as Error).message, 'error');
    return;
  }
  if (parsed.lr !== undefined) {
    if (!Array.from(ui.lr.options).some((o) => Number(o.value) === parsed.lr)) ui.lr.add(new Option(parsed.lr.toExponential(1), String(parsed.lr)));
    ui.lr.value = Array.from(ui.lr.options).find((o) => Number(o.value) === parsed.lr)!.value;
  }
  await rebuild(adapter, { ...adapter.defaults.config, ...parsed.config }, '', { parsed, fileName: file.name });
}

async function downloadCheckpoint(): Promise<void> {
  if (!trainer) return;
  const t = trainer;
  const bytes = await serial.run(() => checkpointBytes(adapter, t));
  const name = `${adapter.id}-step${t.step}.safetensors`;
  downloadBytes(bytes, name);
  say(`Downloaded ${name}: \`npm run train -- eval ${adapter.id} --ckpt ${name}\` evaluates it, \`sample\` draws from it, \`--resume\` continues it; or load it back here.`, 'ok');
}

function showProfile(rows: KernelStats[], steps: number): void {
  lastProfile = rows;
  const total = rows.reduce((a, r) => a + r.totalMs, 0);
  const count = rows.reduce((a, r) => a + r.count, 0);
  ui.profileTotal.textContent = `${(total / steps).toFixed(2)} ms of kernel time per step (${total.toFixed(1)} ms in ${steps} steps; ${count / steps} kernels per step)`;
  const head = ['kernel', 'count', 'total ms', 'median ms', 'share', 'GFLOP/s', 'GB/s'];
  const tr = (cells: string[], th = false) => {
    const row = document.createElement('tr');
    row.append(...cells.map((c) => Object.assign(document.createElement(th ? 'th' : 'td'), { textContent: c })));
    return row;
  };
  ui.profileTable.replaceChildren(tr(head, true), ...[...rows].sort((a, b) => b.totalMs - a.totalMs).map((r) => tr([
    r.kernel, String(r.count), r.totalMs.toFixed(3), r.medianMs.toFixed(4), `${((100 * r.totalMs) / (total || 1)).toFixed(1)}%`,
    r.gflops.toFixed(2), r.gbps.toFixed(2),
  ])));
}

const PROFILE_STEPS = 5;

/** Profiles the next steps (pausing the loop, and resuming it after the table is shown if it ran). */
async function profileNextSteps(): Promise<void> {
  if (!trainer || busy || profiling) return;
  if (backendInfo().name !== 'webgpu') {
    ui.profileNote.textContent = 'The CPU backend runs no GPU kernels: the profile is of the WebGPU backend.';
    return;
  }
  const t = trainer;
  let resume = t.running;
  profiling = true;
  updateControls();
  ui.profileNote.textContent = `Warming up, then profiling ${PROFILE_STEPS} training steps…`;
  try {
    const { kernels, warmup } = await t.profileSteps(PROFILE_STEPS);
    const info = backendInfo();
    ui.profileNote.textContent = `${adapter.title}, batch ${t.batchSize}, ${PROFILE_STEPS} steps (after ${warmup} warm-up step${warmup > 1 ? 's' : ''}, not in the table); ${info.timestampQuery ? 'GPU timestamp queries' : 'CPU-side timing, one submit per kernel'}; ${info.description}.`;
    showProfile(kernels, PROFILE_STEPS);
  } catch (e) {
    ui.profileNote.textContent = `profiling failed: ${(e as Error).message}`;
    resume = false; // a step failed (a NaN loss, say): the loop would fail the same way
  } finally {
    profiling = false;
    updateControls();
    if (resume && trainer === t) t.start();
  }
}

function wire(): void {
  fill(ui.model, Object.keys(ADAPTERS), adapter.id, (id) => ADAPTERS[id as ModelId].title);
  ui.model.addEventListener('change', () => void selectModel(ui.model.value as ModelId));
  ui.start.addEventListener('click', () => {
    say('');
    trainer?.start();
  });
  ui.pause.addEventListener('click', () => void trainer?.pause());
  ui.stepOnce.addEventListener('click', () => {
    const t = trainer;
    if (!t) return;
    stepping = true;
    updateControls();
    void t.stepOnce().catch((e: unknown) => say((e as Error).message, 'error')).finally(() => {
      stepping = false;
      updateControls();
    });
  });
  ui.reset.addEventListener('click', () => void rebuild(adapter, config, 'Reset: fresh weights, step 0.'));
  ui.lr.addEventListener('change', () => trainer?.setLr(Number(ui.lr.value)));
  ui.batch.addEventListener('change', () => trainer && (trainer.batchSize = Number(ui.batch.value)));
  ui.compiled.addEventListener('change', () => void trainer?.setCompiled(ui.compiled.checked));
  for (const c of [ui.smoothing, ui.logScale]) c.addEventListener('change', () => showProgress(true));
  ui.load.addEventListener('change', () => {
    const f = ui.load.files?.[0];
    ui.load.value = ''; // the same file may be picked again
    if (f) void loadCheckpointFile(f);
  });
  ui.download.addEventListener('click', () => void downloadCheckpoint().catch((e) => say((e as Error).message, 'error')));
  ui.profile.addEventListener('click', () => void profileNextSteps());
}

async function startApp(): Promise<void> {
  const info = backendInfo();
  ui.backend.textContent = info.name === 'webgpu'
    ? `WebGPU adapter: ${info.description}${info.software ? ' (a software rasterizer: slow, but the same kernels)' : ''}`
    : 'CPU reference backend (plain JavaScript; no WebGPU)';
  document.body.dataset.backend = info.name;
  ui.noWebgpu.hidden = true;
  ui.app.hidden = false;
  wire();
  const requested = new URLSearchParams(location.search).get('model');
  await selectModel(requested && requested in ADAPTERS ? (requested as ModelId) : 'vae');
  document.body.dataset.ready = 'true';
}

async function main(): Promise<void> {
  const forceCpu = new URLSearchParams(location.search).get('backend') === 'cpu';
  if (!forceCpu) {
    try {
      await init({ backend: 'webgpu' });
      return startApp();
    } catch (e) {
      ui.backend.textContent = 'No WebGPU.';
      ui.noWebgpuReason.textContent = (e as Error).message;
      ui.noWebgpu.hidden = false;
      document.body.dataset.ready = 'no-webgpu';
      ui.useCpu.addEventListener('click', async () => {
        await init({ backend: 'cpu' });
        await startApp();
      }, { once: true });
      return;
    }
  }
  await init({ backend: 'cpu' });
  await startApp();
}

// For the browser tests (and the console): a read-only view of the page's state.
declare global {
  interface Window {
    wgpuDemo: { state(): Record<string, unknown> };
  }
}
window.wgpuDemo = {
  state: () => ({
    backend: backendInfo().name,
    model: adapter.id,
    config,
    step: trainer?.step ?? 0,
    running: trainer?.running ?? false,
    batch: trainer?.batchSize,
    lr: trainer?.learningRate,
    lossNames: trainer ? [...trainer.live.model.lossNames] : [],
    history: trainer ? { steps: [...trainer.history.steps], values: trainer.history.values.map((v) => [...v]) } : null,
    throughput: trainer?.throughput() ?? null,
    profiling,
    profile: lastProfile,
    // The step whose weights the views show.
    viewsStep: trainer?.renderedStep ?? 0,
    redrawEveryMs: trainer?.redrawEveryMs ?? 0,
    // The error on show, if any (Start clears the message).
    error: ui.message.className === 'error' ? ui.message.textContent : '',
  }),
};

main().catch((e) => {
  say(`The page failed to start: ${(e as Error).message}`, 'error');
  ui.backend.textContent = 'Error.';
  document.body.dataset.ready = 'error';
});
