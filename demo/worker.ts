// The demo's training worker: the runtime (WebGPU works in dedicated workers in Chromium; the CPU
// reference backend is plain JavaScript either way), the live model, its Trainer and the drawing of its
// views, off the page's main thread. The page (main.ts) sends requests (protocol.ts) and shows what comes
// back: progress (steps and loss terms, at most ~20 messages a second), the views' DOM as patches
// (remote.ts), and errors. A new model is built and loaded before the old one is freed, so a checkpoint
// that does not fit leaves the current model, its weights and its views as they were.

import { init, backendInfo } from '../src/index.ts';
import { ADAPTERS, setAssetBase, type LiveModel, type ModelAdapter } from './adapters.ts';
import { Serial, Trainer } from './trainer.ts';
import { checkHistory, checkpointBytes, parseCheckpoint, restoreInto } from './checkpoint.ts';
import {
  createElement,
  dispatchRemote,
  flush,
  forgetRemote,
  remoteMark,
  remoteSince,
  setPatchSink,
  type RemoteElement,
} from './remote.ts';
import type { BuildRequest, BuildResult, FromWorker, Requests, RequestKind, ToWorker } from './protocol.ts';

const post = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, { transfer });
setPatchSink((patches) =>
  post(
    { kind: 'patches', patches },
    patches.flatMap((p) => (p.op === 'pixels' ? [p.image.data.buffer] : [])),
  ),
);

const serial = new Serial();
let adapter: ModelAdapter | null = null;
let live: LiveModel | null = null;
let trainer: Trainer | null = null;
let panelRids: string[] = [];

// Progress goes out at most every 50 ms (a fast model steps hundreds of times a second), and at once
// when the loop stops, so that the page's counters and chart never lag a pause.
let sentSteps = 0,
  lastProgress = 0;
function sendProgress(force = false): void {
  if (!trainer) return;
  const now = performance.now();
  if (!force && now - lastProgress < 50) return;
  const h = trainer.history;
  // New steps are at the end: look back from there.
  let from = h.steps.length;
  while (from > 0 && h.steps[from - 1] > sentSteps) from--;
  if (from === h.steps.length) from = -1;
  if (from < 0 && !force) return;
  const steps = from < 0 ? [] : h.steps.slice(from),
    values = from < 0 ? [] : h.values.slice(from);
  sentSteps = trainer.step;
  lastProgress = now;
  post({ kind: 'progress', steps, values, throughput: trainer.throughput() });
}

function newTrainer(l: LiveModel, req: BuildRequest, seed: number, step: number, epoch: number): Trainer {
  const t: Trainer = new Trainer(
    l,
    serial,
    {
      onStep: () => sendProgress(),
      onRender: () => {
        flush(); // the views' pixels before the step they show
        post({ kind: 'rendered', step: t.renderedStep, redrawEveryMs: t.redrawEveryMs });
      },
      onRunning: (running) => {
        sendProgress(true);
        post({ kind: 'running', running });
      },
      onError: (e) => post({ kind: 'error', message: e.message }),
    },
    { batch: req.batch, lr: req.lr, lrD: req.lrD, seed, step, epoch, compiled: req.compiled, speed: req.speed },
  );
  return t;
}

async function build(req: BuildRequest): Promise<BuildResult> {
  const a = ADAPTERS[req.model];
  await trainer?.pause();
  await a.load((text) => post({ kind: 'say', text }));
  // The file is read and checked before anything is built: a bad one costs nothing.
  const parsed = req.ckpt ? parseCheckpoint(req.ckpt.bytes, req.ckpt.fileName, a.id) : null;
  const firstRid = remoteMark(); // every element of the new panel comes after it
  // A failed build leaves the live model as it was: the new model is freed and its views forgotten.
  const abandon = async (next: LiveModel | null, e: unknown): Promise<never> => {
    if (next) await serial.run(async () => next.dispose());
    forgetRemote(remoteSince(firstRid));
    throw e;
  };
  const panel: RemoteElement = createElement('div', { className: 'views' });
  // The CLI's seeds: weights from config.seed, data order from it, step noise from it + 1 (so Reset
  // gives the same start, and the first steps are the CLI's first steps for the same options).
  const seed = Number(req.config.seed ?? 0);
  let next: LiveModel;
  try {
    next = a.create(req.config, { panel, seed, run: (job) => serial.run(job) });
  } catch (e) {
    return abandon(null, e);
  }
  let restored = false;
  if (parsed) {
    try {
      if (parsed.history) checkHistory(parsed.history, next.model.lossNames, req.ckpt!.fileName);
      restored = await serial.run(() => restoreInto(next, parsed, req.ckpt!.fileName));
    } catch (e) {
      return abandon(next, e);
    }
  }
  // The old views stop taking events before their model is freed: a job one of them queued after the
  // dispose would run on freed tensors.
  forgetRemote(panelRids);
  await serial.run(async () => {
    trainer?.dispose();
    live?.dispose();
  });
  panelRids = remoteSince(firstRid);
  adapter = a;
  live = next;
  trainer = newTrainer(next, req, seed, parsed?.steps ?? 0, parsed?.epoch ?? 0);
  if (parsed?.noise) trainer.noiseState = parsed.noise;
  if (parsed?.history) trainer.restoreHistory(parsed.history);
  sentSteps = trainer.step;
  let warning: string | undefined;
  try {
    await trainer.renderWarm();
  } catch (e) {
    // The model is live and trains; only its first drawing failed: say so, keep the build.
    warning = `The ${a.title} is built, but drawing its views failed: ${(e as Error).message}`;
  }
  flush();
  return {
    panel: panel.rid,
    config: next.config,
    lossNames: [...next.model.lossNames],
    step: trainer.step,
    history: trainer.history,
    restored,
    warning,
  };
}

function need(): Trainer {
  if (!trainer) throw new Error('internal: no model is live (build first)');
  return trainer;
}

const handlers: { [K in RequestKind]: (req: Requests[K]['req']) => Promise<Requests[K]['res']> } = {
  async init(req) {
    setAssetBase(req.base);
    await init({ backend: req.backend });
    return backendInfo();
  },
  build,
  async start() {
    need().start();
  },
  async pause() {
    await need().pause();
  },
  async stepOnce() {
    await need().stepOnce();
  },
  async settings(req) {
    const t = need();
    if (req.lr !== undefined || req.lrD !== undefined)
      t.setLr(req.lr ?? t.learningRate, req.lrD === undefined ? t.learningRateD : req.lrD);
    if (req.batch !== undefined) t.batchSize = req.batch;
    if (req.speed !== undefined) t.speed = req.speed;
    if (req.compiled !== undefined) await t.setCompiled(req.compiled);
  },
  async profile(req) {
    const t = need();
    return t.profileSteps(req.steps);
  },
  async checkpoint() {
    const t = need();
    const bytes = await serial.run(() => checkpointBytes(adapter!, t));
    return { bytes, step: t.step };
  },
};

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.kind === 'event') {
    dispatchRemote(m.ev);
    return;
  }
  const run = handlers[m.kind] as (req: unknown) => Promise<unknown>;
  run(m.req).then(
    (value) => {
      sendProgress(true); // the steps a request took (Step, a profile) before its reply
      flush();
      const transfer =
        value && typeof value === 'object' && 'bytes' in value && value.bytes instanceof Uint8Array
          ? [value.bytes.buffer]
          : [];
      post({ kind: 'reply', id: m.id, ok: true, value }, transfer);
    },
    (err: unknown) => {
      flush();
      post({ kind: 'reply', id: m.id, ok: false, message: err instanceof Error ? err.message : String(err) });
    },
  );
};
