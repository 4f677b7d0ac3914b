import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // IndexedDB and the DOM, and onnxruntime-web's page build: the Chromium config runs them (the ONNX
    // cases run in Node too, from test/onnx.test.ts).
    exclude: ['test/io_browser.test.ts', 'test/onnx_browser.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // SwiftShader already spreads each kernel over both cores.
    fileParallelism: false,
  },
});
