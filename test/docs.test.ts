// Docs that run (issue 28): every TypeScript and JavaScript code block of README.md and docs/*.md is
// extracted and executed against the built package (`npm run build`; the blocks import 'wgpu-gen', which
// a file inside the repository resolves to the package itself through its exports, as an installed copy
// would), once on the CPU backend and once on WebGPU (WGPU_BACKEND, which init() reads when it is given
// no backend), so a broken example fails CI. A block is a whole program: it imports what it uses.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTsx } from './cli_helpers.ts';

const root = process.cwd();
// Inside the repository (git-ignored), so that 'wgpu-gen' resolves to this package by self-reference.
const work = join(root, 'test-artifacts', 'docs-run');

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
}

/** The ```ts / ```js blocks of a Markdown file, with the line each starts on. */
function codeBlocks(file: string): Block[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript|js|javascript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    while (++i < lines.length && !/^```\s*$/.test(lines[i]));
    blocks.push({ file, line: start, lang: open[1], code: lines.slice(start, i).join('\n') });
  }
  return blocks;
}

const docs = [
  'README.md',
  ...(existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => `docs/${f}`)
    : []),
];
const blocks = docs.flatMap(codeBlocks);

describe('the code blocks of the README and docs/ run', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'pipe' });
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
  }, 180_000);

  it('finds the blocks (none is skipped by its fence)', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const b of blocks) expect(b.code, `${b.file}:${b.line}`).toMatch(/from 'wgpu-gen(\/\w+)?'/);
    // no block imports the sources: users have the package
    for (const b of blocks) expect(b.code, `${b.file}:${b.line}`).not.toMatch(/from '\.\.?\/src\//);
  });

  for (const backend of ['cpu', 'webgpu'] as const) {
    for (const b of blocks) {
      it(`${b.file}:${b.line} runs on ${backend}`, () => {
        const path = join(work, `${b.file.replace(/\W/g, '_')}-${b.line}.${b.lang.startsWith('t') ? 'ts' : 'mjs'}`);
        writeFileSync(path, b.code + '\n');
        const r = runTsx(path, [], { cwd: work, env: { WGPU_BACKEND: backend }, timeout: 240_000 });
        expect(r.status, `${b.file}:${b.line} on ${backend}\n${r.stdout}\n${r.stderr}`).toBe(0);
        // a loss printed as Infinity or NaN is a broken example too
        expect(r.stdout, `${b.file}:${b.line} on ${backend}`).not.toMatch(/\b(NaN|Infinity)\b/);
      }, 300_000);
    }
  }
});
