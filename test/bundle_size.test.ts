// The size a page pays for each entry point (issue 28): the browser build's entry bundled and minified by
// esbuild (as a user's bundler would), onnx-proto left out (wgpu-gen/io and wgpu-gen/onnx import it only
// when a model is exported: it is a chunk of its own in a split bundle), in bytes and gzipped. Each has a
// budget, written with its reasons in docs/performance.md ("Bundle size"); a change that crosses one
// fails here, and either earns a new budget there or gets smaller.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = process.cwd();
/** Minified bytes allowed per entry point (docs/performance.md gives the measured sizes and the why). */
const BUDGET: Record<string, number> = { index: 264_000, models: 111_000, io: 62_000, onnx: 47_000, data: 78_000 };

describe('bundle size per entry point', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'pipe' });
  }, 180_000);

  for (const [entry, budget] of Object.entries(BUDGET)) {
    it(`wgpu-gen${entry === 'index' ? '' : `/${entry}`}: at most ${budget.toLocaleString('en-US')} bytes minified`, async () => {
      const out = await build({
        entryPoints: [join(root, 'dist/browser', `${entry}.js`)],
        bundle: true,
        minify: true,
        format: 'esm',
        write: false,
        external: ['onnx-proto'],
        logLevel: 'silent',
        platform: 'browser',
      });
      const bytes = out.outputFiles[0].contents;
      const gz = gzipSync(bytes, { level: 9 }).length;
      console.log(`${entry}: ${bytes.length} bytes minified, ${gz} gzipped (budget ${budget})`);
      expect(bytes.length).toBeLessThanOrEqual(budget);
      // no protobuf code in any entry's own bundle (onnx-proto stays a dynamic import)
      expect(new TextDecoder().decode(bytes)).not.toMatch(/protobuf|\$protobuf/);
    });
  }

  it('the shipped WGSL has no comments (shaders/ keeps them)', () => {
    const dir = join(root, 'dist/browser');
    const js = readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n');
    // every comment of shaders/common.wgsl is gone, its code is there
    const common = readFileSync(join(root, 'shaders/common.wgsl'), 'utf8');
    const comments = [...common.matchAll(/\/\/ ?(.{20,})$/gm)].map((m) => m[1].trim());
    expect(comments.length).toBeGreaterThan(3);
    for (const c of comments) expect(js, c).not.toContain(c);
    expect(js).toMatch(/fn flat_index/);
  });
});
