import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // IndexedDB and the DOM: the Chromium config runs it.
    exclude: ['test/io_browser.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // SwiftShader already spreads each kernel over both cores.
    fileParallelism: false,
  },
});
