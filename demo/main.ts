// The training demo: pick a model of src/models, train it live (the same runtime, the same shaders/ as
// in Node, loaded through Vite), watch its losses and views, profile its kernels, and move checkpoints
// between the page and the CLI. Without WebGPU it says what is missing and offers the CPU reference
// backend, explicitly. Everything that touches the device (the runtime, the model, its training loop and
// the drawing of its views) runs in a Web Worker (worker.ts), so the page answers the pointer and keeps
// its frames on either backend; this file is the page around it: the controls, the loss chart, the
// views' DOM (mirrored from the worker: remote.ts), checkpoints in and out, and the settings in the
// address (so a link reopens the same model and options). The models themselves are behind the adapter
// table (adapters.ts; the page reads only its titles, options and texts). While a model is being built
// or its kernels are profiled, the controls that would start, stop or replace training are off (a
// profile holds the device queue: the table holds the profiled steps' kernels only). Replacing a model
// that has trained since it was last saved or loaded asks first.

import type { KernelStats } from '../src/index.ts';
import { ADAPTERS, type ModelAdapter, type ModelConfig, type ModelId } from './adapters.ts';
import { appendHistory, drawLossCharts, replaceHistory, type LossHistory } from './draw.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { downloadBytes } from '../src/io/index.ts';
import { RemotePanel } from './remote.ts';
import {
  SPEEDS,
  type BackendInfo,
  type BuildResult,
  type FromWorker,
  type RequestKind,
  type Requests,
  type Speed,
  type ToWorker,
  type TrainSettings,
} from './protocol.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  backend: $('backend'),
  noWebgpu: $('no-webgpu'),
  noWebgpuReason: $('no-webgpu-reason'),
  useCpu: $<HTMLButtonElement>('use-cpu'),
  app: $('app'),
  model: $<HTMLSelectElement>('model'),
  options: $('options'),
  lr: $<HTMLSelectElement>('lr'),
  batch: $<HTMLSelectElement>('batch'),
  lrD: $<HTMLSelectElement>('lr-d'),
  lrDLabel: $('lr-d-label'),
  speed: $<HTMLSelectElement>('speed'),
  compiled: $<HTMLInputElement>('compiled'),
  start: $<HTMLButtonElement>('start'),
  pause: $<HTMLButtonElement>('pause'),
  stepOnce: $<HTMLButtonElement>('step-once'),
  reset: $<HTMLButtonElement>('reset'),
  load: $<HTMLInputElement>('load'),
  download: $<HTMLButtonElement>('download'),
  about: $('about'),
  guide: $('guide'),
  hint: $('hint'),
  message: $('message'),
  step: $('step'),
  viewsStep: $('views-step'),
  stepsPerSec: $('steps-per-sec'),
  itemsPerSec: $('items-per-sec'),
  itemName: $('item-name'),
  runState: $('run-state'),
  loss: $<HTMLCanvasElement>('loss'),
  views: $('views'),
  smoothing: $<HTMLSelectElement>('smoothing'),
  logScale: $<HTMLInputElement>('log-scale'),
  profile: $<HTMLButtonElement>('profile'),
  profileNote: $('profile-note'),
  profileTotal: $('profile-total'),
  profileTable: $<HTMLTableElement>('profile-table'),
};

const LEARNING_RATES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1];

// ---- the worker ----

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextId = 0;
function request<K extends RequestKind>(
  kind: K,
  req: Requests[K]['req'],
  transfer: Transferable[] = [],
): Promise<Requests[K]['res']> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    worker.postMessage({ kind, id, req } as ToWorker, transfer);
  });
}
const views = new RemotePanel((ev) => worker.postMessage({ kind: 'event', ev } satisfies ToWorker));

// ---- the page's state (the worker's, as last reported) ----

let info: BackendInfo | null = null;
let adapter: ModelAdapter = ADAPTERS.vae;
let config: ModelConfig = {};
let lossNames: string[] = [];
const history: LossHistory = { steps: [], values: [] };
let step = 0,
  viewsStep = 0,
  redrawEveryMs = 0,
  running = false,
  live = false;
let throughput = { stepsPerSec: 0, itemsPerSec: 0 };
/** The step of the weights last saved (downloaded) or loaded: training past it is what a switch would lose. */
let savedStep = 0;
let hinted = false;
let lastProfile: KernelStats[] = [];
/** A model build or a kernel profile is under way: see updateControls. */
let busy = false,
  profiling = false,
  stepping = false;

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.kind) {
    case 'reply': {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.ok) p?.resolve(m.value);
      else p?.reject(new Error(m.message));
      break;
    }
    case 'patches':
      views.apply(m.patches);
      break;
    case 'progress':
      appendHistory(history, m.steps, m.values);
      if (m.steps.length) step = m.steps[m.steps.length - 1];
      throughput = m.throughput;
      showProgress();
      break;
    case 'rendered':
      viewsStep = m.step;
      redrawEveryMs = m.redrawEveryMs;
      // The step the views show, for the reader (and the browser test): they lag the step counter.
      ui.viewsStep.textContent = String(m.step);
      break;
    case 'running':
      running = m.running;
      updateControls();
      if (!running) showProgress(true);
      break;
    case 'error':
      say(m.message, 'error');
      break;
    case 'say':
      say(m.text);
      break;
  }
};
worker.onerror = (e) => say(`The training worker failed: ${e.message}`, 'error');

function say(text: string, kind: 'ok' | 'error' | '' = ''): void {
  ui.message.textContent = text;
  ui.message.className = kind;
}

function fill(
  select: HTMLSelectElement,
  values: (number | string)[],
  current: number | string,
  label = (v: number | string) => String(v),
): void {
  select.replaceChildren(...values.map((v) => new Option(label(v), String(v), false, v === current)));
}

let lastChart = 0;
function showProgress(force = false): void {
  ui.step.textContent = String(step);
  const { stepsPerSec, itemsPerSec } = throughput;
  ui.stepsPerSec.textContent = stepsPerSec ? stepsPerSec.toFixed(stepsPerSec < 10 ? 2 : 1) : '–';
  ui.itemsPerSec.textContent = itemsPerSec ? itemsPerSec.toFixed(0) : '–';
  // The chart at most ~5 times a second: drawing it every step would cost more than a fast step.
  if (force || performance.now() - lastChart > 200) {
    drawLossCharts(ui.loss, lossNames, history, { smoothing: Number(ui.smoothing.value), log: ui.logScale.checked });
    lastChart = performance.now();
  }
}

/**
 * The controls for the current state. While a model build or a profile is under way everything that
 * would start, stop or replace training (or change its batch, learning rates, speed or compilation) is off: a build
 * pauses the loop itself, and a Start during a profile would put training steps among the profiled ones.
 */
function updateControls(): void {
  const locked = busy || profiling || !live;
  ui.start.disabled = locked || running || stepping;
  ui.pause.disabled = locked || !running;
  ui.stepOnce.disabled = locked || running || stepping;
  for (const c of [
    ui.model,
    ui.reset,
    ui.load,
    ui.download,
    ui.profile,
    ui.lr,
    ui.lrD,
    ui.batch,
    ui.speed,
    ui.compiled,
    ...Array.from(ui.options.querySelectorAll('select')),
  ]) {
    (c as HTMLButtonElement).disabled = locked;
  }
  ui.runState.textContent = profiling ? 'profiling…' : running ? 'training…' : 'paused';
  document.body.dataset.running = String(running);
}

function setBusy(b: boolean): void {
  busy = b;
  updateControls();
}

/** Whether the visitor agrees to lose the steps trained since the weights were last saved or loaded. */
function mayDiscard(what: string): boolean {
  const unsaved = step - savedStep;
  if (!live || unsaved <= 0) return true;
  return window.confirm(
    `${what} throws away the ${adapter.title}'s training: ${unsaved} step${unsaved > 1 ? 's' : ''} since it was last downloaded or loaded. ` +
      'Download a checkpoint first to keep them. Continue?',
  );
}

function buildOptions(): void {
  ui.options.replaceChildren(
    ...adapter.fields.map((f) => {
      const sel = document.createElement('select');
      sel.id = `opt-${f.key}`;
      const raw = config[f.key] ?? adapter.defaults.config[f.key];
      const cur = typeof raw === 'number' || typeof raw === 'string' ? raw : f.choices[0];
      fill(sel, f.choices.includes(cur) ? f.choices : [...f.choices, cur], cur);
      const numeric = typeof f.choices[0] === 'number';
      sel.addEventListener('change', () => {
        if (!mayDiscard('Changing an option')) {
          sel.value = String(cur);
          return;
        }
        const v = numeric ? Number(sel.value) : sel.value;
        void rebuild(adapter, { ...config, [f.key]: v }, 'Changed an option: the model restarts from fresh weights.');
      });
      const label = document.createElement('label');
      label.append(`${f.label} `, sel);
      return label;
    }),
  );
}

/** The training settings in the menus, for model `a` (the one being built, during a switch). */
function settings(a: ModelAdapter = adapter): TrainSettings {
  return {
    batch: Number(ui.batch.value),
    lr: Number(ui.lr.value),
    lrD: a.hasDiscriminators && ui.lrD.value !== 'same' ? Number(ui.lrD.value) : null,
    compiled: ui.compiled.checked,
    speed: (ui.speed.value === 'full' ? 'full' : Number(ui.speed.value)) as Speed,
  };
}

/**
 * The model and its settings in the address (?model=gan&data=moons&lr=0.001...), replaced, not pushed:
 * a link or a reload reopens the same model with the same options, from fresh weights.
 */
function saveToUrl(): void {
  const q = new URLSearchParams();
  const prev = new URLSearchParams(location.search);
  if (prev.get('backend') === 'cpu' || info?.name === 'cpu') q.set('backend', 'cpu');
  q.set('model', adapter.id);
  for (const f of adapter.fields) if (config[f.key] !== undefined) q.set(f.key, String(config[f.key]));
  const s = settings();
  q.set('lr', String(s.lr));
  if (s.lrD !== null) q.set('lrD', String(s.lrD));
  q.set('batch', String(s.batch));
  if (s.speed !== 'full') q.set('speed', String(s.speed));
  if (!s.compiled) q.set('compiled', '0');
  window.history.replaceState(null, '', `${location.pathname}?${q}`);
}

/** The menus of a model's learning rates and batch sizes, at the given values (added when off the list). */
function fillTraining(a: ModelAdapter, o: { lr?: number; lrD?: number | null; batch?: number } = {}): void {
  const lr = o.lr ?? a.defaults.lr;
  const rates = [...new Set([...LEARNING_RATES, a.defaults.lr, lr])].sort((x, y) => x - y);
  fill(ui.lr, rates, lr, (v) => Number(v).toExponential(0));
  const lrD = o.lrD ?? null;
  fill(
    ui.lrD,
    ['same', ...new Set([...LEARNING_RATES, ...(lrD !== null ? [lrD] : [])])].sort((x, y) =>
      x === 'same' ? -1 : y === 'same' ? 1 : Number(x) - Number(y),
    ),
    lrD ?? 'same',
    (v) => (v === 'same' ? 'same as G' : Number(v).toExponential(0)),
  );
  ui.lrDLabel.hidden = !a.hasDiscriminators;
  const batch = o.batch ?? a.defaults.batch;
  fill(
    ui.batch,
    a.batchChoices.includes(batch) ? a.batchChoices : [...a.batchChoices, batch].sort((x, y) => x - y),
    batch,
  );
}

/**
 * Replaces the live model by a new one of adapter `a` built from `cfg`, optionally loaded from a
 * checkpoint. The worker builds and loads the new model before it frees the old one, so a file that
 * does not fit (or data that fails to load) leaves the current model, its weights and its views as they were.
 */
async function rebuild(
  a: ModelAdapter,
  cfg: ModelConfig,
  note = '',
  ckpt?: { bytes: Uint8Array; fileName: string },
  menus?: TrainSettings,
): Promise<boolean> {
  setBusy(true);
  try {
    say(`Loading ${a.title}…`);
    const copy = ckpt ? { bytes: ckpt.bytes.slice(), fileName: ckpt.fileName } : undefined;
    const r: BuildResult = await request(
      'build',
      { model: a.id, config: cfg, ...settings(a), ...(copy ? { ckpt: copy } : {}) },
      copy ? [copy.bytes.buffer] : [],
    );
    const old = ui.views.firstElementChild as HTMLElement | null;
    if (old) views.release(old);
    ui.views.replaceChildren(views.element(r.panel));
    adapter = a;
    config = r.config;
    lossNames = r.lossNames;
    live = true;
    step = savedStep = viewsStep = r.step;
    ui.viewsStep.textContent = String(viewsStep);
    replaceHistory(history, r.history);
    throughput = { stepsPerSec: 0, itemsPerSec: 0 };
    ui.profileTable.replaceChildren();
    ui.profileNote.textContent = ui.profileTotal.textContent = '';
    lastProfile = [];
    ui.about.textContent = typeof a.about === 'string' ? a.about : a.about(r.config);
    ui.guide.textContent = a.guide;
    ui.hint.textContent = '';
    hinted = false;
    ui.itemName.textContent = a.itemName;
    showProgress(true);
    if (ckpt) {
      const cfgText = Object.entries(config)
        .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
        .join(', ');
      const hist = r.history.steps.length ? `, and its loss history (${r.history.steps.length} points)` : '';
      say(
        `Loaded ${ckpt.fileName}: ${a.title}${cfgText ? ` (${cfgText})` : ''}, ${r.restored ? `with its optimizer state, at step ${r.step}` : 'weights only (no optimizer state in the file)'}${hist}.`,
        'ok',
      );
    } else {
      say(note);
    }
    if (r.warning) say(r.warning, 'error');
    return true;
  } catch (e) {
    say((e as Error).message, 'error');
    // The training menus go back to what the live model trains with (a switch or a load set them for the new one).
    if (menus) fillTraining(adapter, menus);
    return false;
  } finally {
    // The menus show the model that is live, also after a failed switch.
    ui.model.value = adapter.id;
    buildOptions();
    setBusy(false);
    saveToUrl();
  }
}

async function selectModel(
  id: ModelId,
  o: { config?: ModelConfig; lr?: number; lrD?: number | null; batch?: number } = {},
): Promise<void> {
  const a = ADAPTERS[id];
  const before = live ? settings() : undefined;
  fillTraining(a, o);
  await rebuild(a, { ...a.defaults.config, ...o.config }, '', undefined, before);
}

async function loadCheckpointFile(file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let parsed;
  try {
    parsed = parseCheckpoint(bytes, file.name, adapter.id);
  } catch (e) {
    say((e as Error).message, 'error');
    return;
  }
  if (!mayDiscard(`Loading ${file.name}`)) return;
  const before = settings();
  fillTraining(adapter, {
    lr: parsed.lr ?? Number(ui.lr.value),
    lrD: parsed.lrD ?? null,
    batch: Number(ui.batch.value),
  });
  await rebuild(adapter, { ...adapter.defaults.config, ...parsed.config }, '', { bytes, fileName: file.name }, before);
}

async function downloadCheckpoint(): Promise<void> {
  const { bytes, step: at } = await request('checkpoint', {});
  const name = `${adapter.id}-step${at}.safetensors`;
  downloadBytes(bytes, name);
  savedStep = at;
  say(
    `Downloaded ${name}: \`npm run train -- eval ${adapter.id} --ckpt ${name}\` evaluates it, \`sample\` draws from it, \`--resume\` continues it; or load it back here.`,
    'ok',
  );
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
  ui.profileTable.replaceChildren(
    tr(head, true),
    ...[...rows]
      .sort((a, b) => b.totalMs - a.totalMs)
      .map((r) =>
        tr([
          r.kernel,
          String(r.count),
          r.totalMs.toFixed(3),
          r.medianMs.toFixed(4),
          `${((100 * r.totalMs) / (total || 1)).toFixed(1)}%`,
          r.gflops.toFixed(2),
          r.gbps.toFixed(2),
        ]),
      ),
  );
}

const PROFILE_STEPS = 5;

/** Profiles the next steps (pausing the loop, and resuming it after the table is shown if it ran). */
async function profileNextSteps(): Promise<void> {
  if (!live || busy || profiling) return;
  if (info?.name !== 'webgpu') {
    ui.profileNote.textContent = 'The CPU backend runs no GPU kernels: the profile is of the WebGPU backend.';
    return;
  }
  let resume = running;
  profiling = true;
  updateControls();
  ui.profileNote.textContent = `Warming up, then profiling ${PROFILE_STEPS} training steps…`;
  try {
    const { kernels, warmup } = await request('profile', { steps: PROFILE_STEPS });
    ui.profileNote.textContent = `${adapter.title}, batch ${ui.batch.value}, ${PROFILE_STEPS} steps (after ${warmup} warm-up step${warmup > 1 ? 's' : ''}, not in the table); ${info.timestampQuery ? 'GPU timestamp queries' : 'CPU-side timing, one submit per kernel'}; ${info.description}.`;
    showProfile(kernels, PROFILE_STEPS);
  } catch (e) {
    ui.profileNote.textContent = `profiling failed: ${(e as Error).message}`;
    resume = false; // a step failed (a NaN loss, say): the loop would fail the same way
  } finally {
    profiling = false;
    updateControls();
    if (resume) await request('start', {});
  }
}

/** A change of the training settings, sent to the worker (errors shown), and kept in the address. */
function sendSettings(s: Partial<TrainSettings>): void {
  request('settings', s).catch((e: Error) => say(e.message, 'error'));
  saveToUrl();
}

function wire(): void {
  fill(ui.model, Object.keys(ADAPTERS), adapter.id, (id) => ADAPTERS[id as ModelId].title);
  fill(ui.speed, [...SPEEDS], 'full', (v) => (v === 'full' ? 'full' : `${v} steps/s`));
  ui.model.addEventListener('change', () => {
    if (!mayDiscard(`Switching to the ${ADAPTERS[ui.model.value as ModelId].title}`)) {
      ui.model.value = adapter.id;
      return;
    }
    void selectModel(ui.model.value as ModelId);
  });
  ui.start.addEventListener('click', () => {
    say('');
    if (!hinted) {
      ui.hint.textContent = adapter.hint;
      hinted = true;
    }
    request('start', {}).catch((e: Error) => say(e.message, 'error'));
  });
  ui.pause.addEventListener('click', () => void request('pause', {}));
  ui.stepOnce.addEventListener('click', () => {
    stepping = true;
    updateControls();
    void request('stepOnce', {})
      .catch((e: Error) => say(e.message, 'error'))
      .finally(() => {
        stepping = false;
        updateControls();
      });
  });
  ui.reset.addEventListener('click', () => {
    if (mayDiscard('Reset')) void rebuild(adapter, config, 'Reset: fresh weights, step 0.');
  });
  ui.lr.addEventListener('change', () => sendSettings({ lr: Number(ui.lr.value) }));
  ui.lrD.addEventListener('change', () => sendSettings({ lrD: settings().lrD }));
  ui.batch.addEventListener('change', () => sendSettings({ batch: Number(ui.batch.value) }));
  ui.speed.addEventListener('change', () => sendSettings({ speed: settings().speed }));
  ui.compiled.addEventListener('change', () => sendSettings({ compiled: ui.compiled.checked }));
  for (const c of [ui.smoothing, ui.logScale]) c.addEventListener('change', () => showProgress(true));
  ui.load.addEventListener('change', () => {
    const f = ui.load.files?.[0];
    ui.load.value = ''; // the same file may be picked again
    if (f) void loadCheckpointFile(f);
  });
  ui.download.addEventListener(
    'click',
    () => void downloadCheckpoint().catch((e) => say((e as Error).message, 'error')),
  );
  ui.profile.addEventListener('click', () => void profileNextSteps());
}

/** The settings a link carries (saveToUrl), each checked against what the page offers; the rest default. */
function fromUrl(): { id: ModelId; config: ModelConfig; lr?: number; lrD?: number; batch?: number } {
  const q = new URLSearchParams(location.search);
  const requested = q.get('model');
  const id = requested && requested in ADAPTERS ? (requested as ModelId) : 'vae';
  const a = ADAPTERS[id];
  const config: ModelConfig = {};
  for (const f of a.fields) {
    const v = q.get(f.key);
    if (v === null) continue;
    const value = typeof f.choices[0] === 'number' ? Number(v) : v;
    if (f.choices.includes(value)) config[f.key] = value;
  }
  const num = (k: string) => {
    const v = Number(q.get(k));
    return q.has(k) && v > 0 && Number.isFinite(v) ? v : undefined;
  };
  const batch = num('batch');
  const speed = q.get('speed');
  if (speed && SPEEDS.map(String).includes(speed)) ui.speed.value = speed;
  if (q.get('compiled') === '0') ui.compiled.checked = false;
  return { id, config, lr: num('lr'), lrD: num('lrD'), batch: batch && Number.isInteger(batch) ? batch : undefined };
}

async function startApp(): Promise<void> {
  const i = info!;
  ui.backend.textContent =
    i.name === 'webgpu'
      ? `WebGPU adapter: ${i.description}${i.software ? ' (a software rasterizer: slow, but the same kernels)' : ''}; training in a Web Worker`
      : 'CPU reference backend (plain JavaScript; no WebGPU), training in a Web Worker';
  document.body.dataset.backend = i.name;
  ui.noWebgpu.hidden = true;
  ui.app.hidden = false;
  wire();
  const u = fromUrl();
  await selectModel(u.id, u);
  document.body.dataset.ready = 'true';
}

async function initWorker(backend: 'webgpu' | 'cpu'): Promise<void> {
  info = await request('init', { backend, base: document.baseURI });
}

async function main(): Promise<void> {
  const forceCpu = new URLSearchParams(location.search).get('backend') === 'cpu';
  if (!forceCpu) {
    try {
      // A page without navigator.gpu has none in its workers either (and says so before one starts).
      if (!navigator.gpu)
        throw new Error(
          'WebGPU is not available in this browser (navigator.gpu is undefined): use a recent Chrome or Edge, or turn WebGPU on',
        );
      await initWorker('webgpu');
      return startApp();
    } catch (e) {
      ui.backend.textContent = 'No WebGPU.';
      ui.noWebgpuReason.textContent = (e as Error).message;
      ui.noWebgpu.hidden = false;
      document.body.dataset.ready = 'no-webgpu';
      ui.useCpu.addEventListener(
        'click',
        async () => {
          await initWorker('cpu');
          await startApp();
        },
        { once: true },
      );
      return;
    }
  }
  await initWorker('cpu');
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
    backend: info?.name,
    model: adapter.id,
    config,
    step,
    running,
    batch: Number(ui.batch.value),
    lr: Number(ui.lr.value),
    lrD: settings().lrD,
    speed: settings().speed,
    lossNames: [...lossNames],
    history: live ? { steps: [...history.steps], values: history.values.map((v) => [...v]) } : null,
    throughput,
    profiling,
    profile: lastProfile,
    // The step whose weights the views show.
    viewsStep,
    redrawEveryMs,
    savedStep,
    // The error on show, if any (Start clears the message).
    error: ui.message.className === 'error' ? ui.message.textContent : '',
  }),
};

main().catch((e) => {
  say(`The page failed to start: ${(e as Error).message}`, 'error');
  ui.backend.textContent = 'Error.';
  document.body.dataset.ready = 'error';
});
