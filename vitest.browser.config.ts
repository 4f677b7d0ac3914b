// The kernel suites (and compile()'s) again, inside headless Chromium (Vitest browser mode through playwright): the same
// test files as in Node, now on the browser's WebGPU (Dawn inside Chromium, SwiftShader without a GPU)
// and with the shaders fetched through Vite, as the demo loads them. `npm test` runs this config after
// the Node one; `npm run test:browser` runs it alone.
import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { existsSync } from 'node:fs';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './test/chromium.ts';

if (!existsSync(CHROMIUM_PATH))
  throw new Error(`${CHROMIUM_PATH} is missing: run bash scripts/setup.sh (Debian's chromium package)`);

export default defineConfig({
  // The suites import src/ and read shaders/ relative to it; both are under the repository root.
  server: { fs: { allow: ['.'] } },
  // src/device/gpu.ts imports Dawn (npm `webgpu`) only under Node; keep Vite's dependency scan from
  // bundling it for the page (a late discovery reloads the page in the middle of a test). onnx-proto is
  // imported dynamically (at the first ONNX export): named here so it is pre-bundled, not found late.
  optimizeDeps: { exclude: ['webgpu'], include: ['onnx-proto'] },
  // test/helpers.ts reads TEST_SEED from process.env, which a page does not have: pass the Node side's
  // value in (or nothing, and the run draws a fresh seed and prints it on failure, as in Node).
  define: { 'process.env.TEST_SEED': process.env.TEST_SEED ? JSON.stringify(process.env.TEST_SEED) : 'undefined' },
  test: {
    name: 'chromium',
    include: [
      'test/kernels.test.ts',
      'test/conv.test.ts',
      'test/philox.test.ts',
      'test/device.test.ts',
      'test/nn.test.ts',
      'test/special_values.test.ts',
      'test/elementwise_table.test.ts',
      'test/finite_check.test.ts',
      'test/compile.test.ts',
      'test/compile_guards.test.ts',
      'test/io_browser.test.ts',
      'test/indexing.test.ts',
      'test/optim_state.test.ts',
      'test/onnx_browser.test.ts',
      'test/dtype.test.ts',
    ],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // Failure screenshots and attachments go with the other test artifacts (git-ignored).
    attachmentsDir: 'test-artifacts/vitest-attachments',
    // The device suite's adapter-choice test is about Node's WGPU_ADAPTER (the page gets the browser's
    // adapter and has no such choice); every other test of these files runs here too.
    testNamePattern: /^(?!.*an unknown adapter choice$)/,
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS } }),
      instances: [{ browser: 'chromium' }],
      screenshotDirectory: 'test-artifacts/vitest-browser-failures',
    },
  },
});
