// The kernel suites again with a GPU's kernel defaults (WGPU_DEFAULTS=gpu: the reductions' workgroup-
// per-row design, im2col by elements, the tuner's GPU guesses such as split-K and the tiled GEMM), so the
// code paths a GPU takes are tested on SwiftShader too: CI has no GPU, and npm test runs the adapter's
// own (CPU-like) defaults. `npm run test:gpu-defaults`; .ci/run runs it after npm test.
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

// (Not mergeConfig: it would add this include list to the base's, which takes every test.)
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/kernels.test.ts',
      'test/conv.test.ts',
      'test/compile.test.ts',
      'test/compile_guards.test.ts',
      'test/nn.test.ts',
      'test/device.test.ts',
      'test/workgroup_limit.test.ts',
      'test/dtype.test.ts',
      'test/indexing.test.ts',
      'test/finite_check.test.ts',
      'test/optim_state.test.ts',
      'test/special_values.test.ts',
      'test/elementwise_table.test.ts',
      'test/bindgroups.test.ts',
    ],
    env: { WGPU_DEFAULTS: 'gpu' },
  },
});
