// ONNX export run in onnxruntime-web inside headless Chromium (the browser config): the shared cases of
// test/onnx_cases.ts, our forward on the page's WebGPU (and the CPU reference) against onnxruntime's
// WebAssembly backend loaded as a page loads it, its .wasm fetched from the package's dist folder.
import { describe } from 'vitest';
import * as ort from 'onnxruntime-web';
import { onnxCases } from './onnx_cases.ts';

// Vite pre-bundles the package into its own cache folder, where the .wasm next to the module is not:
// point onnxruntime at the files Vite serves from node_modules. One thread: no cross-origin isolation.
ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
ort.env.wasm.numThreads = 1;

describe('ONNX export, run in onnxruntime-web in Chromium', () => {
  onnxCases();
});
