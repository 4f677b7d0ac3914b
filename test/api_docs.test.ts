// The API reference (issue 28): TypeDoc over the four entry points with the repository's typedoc.json
// (validation: not exported, invalid links, not documented; warnings are errors) must pass with no
// warning at all, so CI fails when an export lands without a doc comment, a public signature names a
// type the reference leaves out, or a {@link} breaks. `--emit none`: the check converts and validates
// everything `npm run docs` does, without writing the site.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const typedoc = join(root, 'node_modules/.bin/typedoc');
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function runTypedoc(args: string[]): { status: number | null; output: string } {
  const r = spawnSync(typedoc, ['--emit', 'none', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { status: r.status, output: plain(`${r.stdout}${r.stderr}`) };
}

const fixture = mkdtempSync(join(tmpdir(), 'wgpu-gen-api-docs-'));
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

describe('the API reference', () => {
  it('builds from typedoc.json with every validation on and no warning', () => {
    const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8'));
    // The check below means something only while the validations stay errors.
    expect(config.validation).toEqual({ notExported: true, invalidLink: true, notDocumented: true });
    expect(config.treatValidationWarningsAsErrors).toBe(true);

    const started = Date.now();
    const { status, output } = runTypedoc([]);
    console.log(`typedoc --emit none: ${((Date.now() - started) / 1e3).toFixed(1)} s`);
    expect(output.split('\n').filter((l) => /\[(warning|error)\]/.test(l))).toEqual([]);
    expect(status).toBe(0);
  }, 120_000);

  it('fails on an undocumented export (the same options over a one-file project)', () => {
    // A config extending the repository's (a --tsconfig on the command line would be read after
    // typedoc.json's own), over a project of one file: a few seconds, not another full conversion.
    writeFileSync(
      join(fixture, 'typedoc.json'),
      JSON.stringify({
        extends: [join(root, 'typedoc.json')],
        tsconfig: 'tsconfig.json',
        entryPoints: ['api.ts'],
        intentionallyNotExported: [],
      }),
    );
    writeFileSync(
      join(fixture, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler' },
        files: ['api.ts'],
      }),
    );
    writeFileSync(
      join(fixture, 'api.ts'),
      '/** Documented. */\nexport const documented = 1;\nexport function undocumentedExport(x: number): number {\n  return x;\n}\n',
    );
    const { status, output } = runTypedoc(['--options', join(fixture, 'typedoc.json')]);
    expect(output).toMatch(/undocumentedExport.*does not have any documentation/);
    expect(output).not.toMatch(/documented \(Variable\).*does not have any documentation/);
    expect(status).not.toBe(0);
  }, 60_000);
});
