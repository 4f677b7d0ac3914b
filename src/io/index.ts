// Saving and loading, in the browser and in Node: safetensors bytes (the format PyTorch's `safetensors`
// reads), a model's and its optimizers' state as named arrays (the CLI's checkpoint format; without
// optimizers, the weights alone, for sharing), charts as SVG text, and the browser's ways to keep
// bytes (downloads, picked files, IndexedDB: src/io/browser.ts, which touch the DOM only when called).
// ONNX export of a traced forward (src/io/onnx.ts). `wgpu-gen/io` in Node adds the files (src/io/node.ts).
export { encodeSafetensors, decodeSafetensors, type NamedArray, type SafetensorsContents } from './safetensors.ts';
export { checkpointTensors, restoreCheckpoint } from './checkpoint.ts';
export { lossCurveSvg, curvesSvg, scatterSvg, niceTicks, type Series, type CurvesOptions } from './plot.ts';
export {
  downloadBytes,
  readSafetensorsFile,
  pickFile,
  saveToIndexedDB,
  loadFromIndexedDB,
  listIndexedDB,
  deleteFromIndexedDB,
} from './browser.ts';
export { exportOnnx, exportModuleOnnx, type OnnxExportOptions } from './onnx.ts';
