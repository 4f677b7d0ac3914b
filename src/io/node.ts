// `wgpu-gen/io` in Node: the browser-safe part (src/io/index.ts) and files: safetensors files written
// atomically, loss curves as SVG files, PNG picture grids and scatter plots (pngjs, an optional
// dependency: installed with `npm i pngjs`), file-system errors in words, a PID liveness check and the
// removal of dead processes' temporary files (what the CLI's run directories use).
/**
 * Saving and loading: safetensors checkpoints (the format PyTorch's `safetensors` reads) of a model and
 * its optimizers, ONNX export of a traced forward, loss curves and scatter plots as SVG, and in the
 * browser downloads, picked files and IndexedDB; in Node, files written atomically and PNG image grids.
 *
 * @example
 * ```ts
 * import { checkpointTensors, saveSafetensors, loadSafetensors, restoreCheckpoint } from 'wgpu-gen/io';
 * const { tensors, metadata } = await checkpointTensors(model, [opt]);
 * saveSafetensors('model.safetensors', tensors, metadata);
 * await restoreCheckpoint(loadSafetensors('model.safetensors'), model, [opt]);
 * ```
 * @module wgpu-gen/io
 */
export * from './index.ts';
export {
  saveSafetensors,
  loadSafetensors,
  writeFileAtomic,
  writeLossCurves,
  fsErrorMessage,
  processAlive,
  removeOrphanTemps,
} from './safetensors_file.ts';
export { writeImageGrid, writeScatter } from './png.ts';
