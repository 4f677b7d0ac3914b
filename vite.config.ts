import { defineConfig } from 'vite';

// The demo app: root demo/, and the runtime's src/ and shaders/ from the repository root.
export default defineConfig({
  root: 'demo',
  server: { fs: { allow: ['..'] }, host: '127.0.0.1' },
  build: { outDir: '../dist/demo', emptyOutDir: true, target: 'es2022' },
});
