// `wgpu-gen/io` in Node: the browser-safe part (src/io/index.ts) and files: safetensors files written
// atomically, loss curves as SVG files, PNG picture grids and scatter plots (pngjs, an optional
// dependency: installed with `npm i pngjs`), file-system errors in words, a PID liveness check and the
// removal of dead processes' temporary files (what the CLI's run directories use).
export * from './index.ts';
export { saveSafetensors, loadSafetensors, writeFileAtomic, writeLossCurves, fsErrorMessage, processAlive, removeOrphanTemps } from './safetensors_file.ts';
export { writeImageGrid, writeScatter } from './png.ts';
