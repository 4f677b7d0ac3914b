// The messages between the page (main.ts) and its training worker (worker.ts). The worker owns the
// runtime, the models, the training loop and the views' drawing; the page owns the controls, the loss
// chart and the DOM, so that neither a long kernel on the CPU backend nor a redraw ever holds the
// page's main thread. Requests carry an id and get one reply; the rest flows from the worker unasked.

import type { KernelStats, backendInfo } from '../src/index.ts';
import type { ModelConfig, ModelId } from './adapters.ts';
import type { LossHistory } from './draw.ts';
import type { Patch, RemoteEvent } from './remote.ts';

/** Training speed: as fast as the device goes, or at most this many steps a second (to watch a GAN move). */
export type Speed = 'full' | 10 | 2 | 1;
export const SPEEDS: readonly Speed[] = ['full', 10, 2, 1];

export type BackendInfo = ReturnType<typeof backendInfo>;

export interface TrainSettings {
  batch: number;
  lr: number;
  /** The discriminators' learning rate, for models that have them (null: the same as lr). */
  lrD: number | null;
  compiled: boolean;
  speed: Speed;
}

export interface BuildRequest extends TrainSettings {
  model: ModelId;
  config: ModelConfig;
  /** A checkpoint to load into the new model (the page has checked its model and parsed its settings). */
  ckpt?: { bytes: Uint8Array; fileName: string };
}

export interface BuildResult {
  /** The remote id of the new views' root (remote.ts), to put into the page. */
  panel: string;
  config: ModelConfig;
  lossNames: string[];
  step: number;
  /** The loss history the checkpoint carried (empty without one). */
  history: LossHistory;
  /** Whether the checkpoint's optimizer state was restored (false: weights only, or no checkpoint). */
  restored: boolean;
  /** Set when the model was built but its first drawing failed (it is live and trains). */
  warning?: string;
}

export interface Requests {
  init: { req: { backend: 'webgpu' | 'cpu'; base: string }; res: BackendInfo };
  build: { req: BuildRequest; res: BuildResult };
  start: { req: Record<string, never>; res: void };
  /** Resolves once the loop has stopped and the views show its last step. */
  pause: { req: Record<string, never>; res: void };
  stepOnce: { req: Record<string, never>; res: void };
  settings: { req: Partial<TrainSettings>; res: void };
  profile: { req: { steps: number }; res: { kernels: KernelStats[]; warmup: number } };
  checkpoint: { req: Record<string, never>; res: { bytes: Uint8Array; step: number } };
}
export type RequestKind = keyof Requests;

export type ToWorker =
  | { [K in RequestKind]: { kind: K; id: number; req: Requests[K]['req'] } }[RequestKind]
  | { kind: 'event'; ev: RemoteEvent };

export type FromWorker =
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; message: string }
  | { kind: 'patches'; patches: Patch[] }
  /** Steps taken since the last progress message: their numbers and loss terms, and the throughput now. */
  | { kind: 'progress'; steps: number[]; values: number[][]; throughput: { stepsPerSec: number; itemsPerSec: number } }
  | { kind: 'rendered'; step: number; redrawEveryMs: number }
  | { kind: 'running'; running: boolean }
  | { kind: 'error'; message: string }
  | { kind: 'say'; text: string };
