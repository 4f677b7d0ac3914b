// The examples run (issue 28): every examples/*.ts is a whole program that a user copies, importing only
// 'wgpu-gen' and its subpaths (which a file inside the repository resolves to the package itself, the
// built dist/, through package.json's exports, as an installed copy would) and Node's modules. Each is
// run with tsx once on the CPU backend and once on WebGPU (WGPU_BACKEND, which init() reads when it is
// given no backend), and must exit 0 (each throws where what it shows does not hold: a loss that did
// not fall, a resumed run that differs) and print no NaN or Infinity; `tsc -p examples` type-checks them
// against the built declarations, under Node's module resolution, as a user's project would.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runTsx } from './cli_helpers.ts';

const root = process.cwd();
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.ts'))
  .sort();

describe('the examples run', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'pipe' });
  }, 180_000);

  it('there are at least eight, each importing only the package and Node, each listed in examples/README.md', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
    const readme = readFileSync(join(root, 'examples/README.md'), 'utf8');
    for (const f of examples) {
      const code = readFileSync(join(root, 'examples', f), 'utf8');
      expect(code, f).toMatch(/^\/\/ /); // a header comment saying what it shows
      const imports = [...code.matchAll(/^import [^;]*? from '([^']+)';/gm)].map((m) => m[1]);
      expect(imports.length, f).toBeGreaterThan(0);
      for (const from of imports)
        expect(from, `${f} imports ${from}`).toMatch(/^(wgpu-gen(\/(models|io|data))?|node:\w+)$/);
      expect(code, f).toMatch(/await init\(\);/); // the backend from WGPU_BACKEND
      expect(code, f).toMatch(/shutdown\(\);/);
      expect(readme, `examples/README.md lists ${f}`).toContain(`(${f})`);
    }
  });

  it('type-check against the built declarations (tsc -p examples)', () => {
    const r = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'examples'], { cwd: root, encoding: 'utf8' });
    expect(r.stdout + r.stderr, 'tsc -p examples').toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  for (const backend of ['cpu', 'webgpu'] as const) {
    for (const f of examples) {
      it(`${f} runs on ${backend}`, () => {
        const r = runTsx(join('examples', f), [], { cwd: root, env: { WGPU_BACKEND: backend }, timeout: 240_000 });
        expect(r.status, `${f} on ${backend}\n${r.stdout}\n${r.stderr}`).toBe(0);
        // a number printed as Infinity or NaN is a broken example too
        expect(r.stdout, `${f} on ${backend}`).not.toMatch(/\b(NaN|Infinity)\b/);
        expect(r.stdout, `${f} on ${backend}`).toContain(`backend: ${backend}`);
      }, 300_000);
    }
  }
});
