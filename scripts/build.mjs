// Builds the package into dist/ (`npm run build`; `npm pack` runs it): the library bundled by esbuild
// twice, once per export condition (dist/node, dist/browser: the platform is a build-time constant, so
// the browser build drops the Node code, `webgpu` and `node:` imports included), with code splitting so
// the subpath entries share one copy of the runtime (one Tensor class, one backend registry); the
// .wgsl files inlined as strings (shaders/ stays their one source); declarations by tsc into
// dist/types. Why esbuild and tsc: esbuild is already the toolchain's bundler (Vite's), bundles
// TypeScript with `.ts` imports as written and does the constant folding the platform split needs;
// tsc is the one tool that emits faithful declarations.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative, sep } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

/**
 * A kernel's WGSL as shipped: without its comments (they stay in shaders/, the one source; a shipped
 * kernel is read by the GPU compiler, not a person), indentation and blank lines: 88 kB of WGSL become 54. WGSL has no string
 * literals, so a comment marker is always a comment.
 */
const stripWgsl = (src) =>
  src
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/^[ \t]+|[ \t]+$/gm, '')
    .replace(/\n{2,}/g, '\n')
    .trim() + '\n';
const wgsl = Object.fromEntries(
  readdirSync(join(root, 'shaders'))
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => [f.slice(0, -5), stripWgsl(readFileSync(join(root, 'shaders', f), 'utf8'))]),
);
/** Packages the library loads only where it needs them (optional peers): never bundled. */
const external = ['webgpu', 'mnist', 'pngjs', 'cli-progress', 'onnx-proto'];
const common = {
  bundle: true,
  splitting: true,
  format: 'esm',
  target: 'es2022',
  external,
  minifySyntax: true,
  treeShaking: true,
  legalComments: 'none',
  logLevel: 'warning',
  chunkNames: 'chunks/[name]-[hash]',
  // Source maps with the sources inside (the package ships no src/): a stack trace under
  // `node --enable-source-maps`, a browser's devtools or a bundler's map chain points at
  // src/tensor.ts:123, not at a hashed chunk.
  sourcemap: 'linked',
  sourcesContent: true,
};
const entries = {
  node: {
    index: 'src/index.ts',
    models: 'src/models/index.ts',
    io: 'src/io/node.ts',
    onnx: 'src/io/onnx.ts',
    data: 'src/data/index.ts',
    cli: 'src/cli/train.ts',
  },
  browser: {
    index: 'src/index.ts',
    models: 'src/models/index.ts',
    io: 'src/io/index.ts',
    onnx: 'src/io/onnx.ts',
    data: 'src/data/browser.ts',
  },
};
for (const platform of ['node', 'browser']) {
  await build({
    ...common,
    platform,
    outdir: join(dist, platform),
    absWorkingDir: root,
    // (node: imports resolve to nothing in a browser build; they are dead code there, checked below)
    external: platform === 'browser' ? [...external, 'node:*'] : external,
    entryPoints: entries[platform],
    define: { __WGSL_EMBEDDED__: 'true', __WGSL__: JSON.stringify(wgsl), __WGPU_PLATFORM__: JSON.stringify(platform) },
    banner: platform === 'node' ? { js: '#!/usr/bin/env node' } : {},
  });
}
// The browser build must not reach Node: no node: import may survive the platform constant's folding.
for (const f of readdirSync(join(dist, 'browser'), { recursive: true })) {
  if (!String(f).endsWith('.js')) continue;
  const text = readFileSync(join(dist, 'browser', String(f)), 'utf8');
  const bad = text.match(
    /(?:import\(\s*(?:\/\*[^*]*\*\/\s*)?|from\s*|require\(\s*)["'](?:node:[^"']+|webgpu|mnist|pngjs|cli-progress)["']|import\.meta\.url/,
  );
  if (bad)
    throw new Error(`dist/browser/${f} holds ${bad[0]}: the browser build must hold no Node imports and no asset URLs`);
}
execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
// Declarations import each other as './x.js' (what a consumer's resolver expects next to x.d.ts). The
// WebGPU types they name (GPUDevice, GPUBuffer, ...) are declared by webgpu-globals.d.ts as empty
// global interfaces, not taken from @webgpu/types: TypeScript 6 and later declare WebGPU in lib.dom,
// which clashes with @webgpu/types (about 150 "Duplicate identifier" errors under TypeScript 7), and
// @webgpu/types needs lib.dom's BufferSource, which a Node-only consumer (lib es2022) lacks. An empty
// interface merges with lib.dom's (or a consumer's own @webgpu/types) where there is one, and stands
// alone as an opaque type where there is none. Every name must be an interface in lib.dom: checked.
const typesDir = join(dist, 'types');
const dts = readdirSync(typesDir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.d.ts'));
const own = new Set();
/** Per declaration file: its text, and the GPU* names its code (not its comments) uses. */
const files = dts.map((f) => {
  const text = readFileSync(join(typesDir, f), 'utf8');
  for (const m of text.matchAll(/\b(?:class|interface|type|enum)\s+(GPU(?:[A-Z]\w*)?)\b/g)) own.add(m[1]);
  // Code, not comments: a comment's "on a GPU" names no type.
  const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  return { f, text, names: new Set([...code.matchAll(/\bGPU(?:[A-Z]\w*)?\b/g)].map((m) => m[0])) };
});
const used = new Set(files.flatMap(({ names }) => [...names]));
const gpuNames = [...used].filter((n) => !own.has(n)).sort();
const INTERFACES = new Set([
  'GPUAdapter',
  'GPUBindGroup',
  'GPUBindGroupLayout',
  'GPUBuffer',
  'GPUCommandEncoder',
  'GPUComputePassEncoder',
  'GPUComputePassTimestampWrites',
  'GPUComputePipeline',
  'GPUDevice',
  'GPUQueue',
  'GPUQuerySet',
  'GPUShaderModule',
  'GPUSupportedLimits',
  'GPUSupportedFeatures',
  'GPUAdapterInfo',
  'GPU',
  'GPUPipelineLayout',
  'GPUCommandBuffer',
]);
const notInterface = gpuNames.filter((n) => !INTERFACES.has(n));
if (notInterface.length)
  throw new Error(
    `the declarations name ${notInterface.join(', ')}: add each to INTERFACES if lib.dom declares it as an interface (else it cannot be an empty global interface)`,
  );
writeFileSync(
  join(typesDir, 'webgpu-globals.d.ts'),
  '// WebGPU types the declarations name, opaque (see scripts/build.mjs).\nexport {};\ndeclare global {\n' +
    gpuNames.map((n) => `  interface ${n} {}\n`).join('') +
    '}\n',
);
for (const { f, text, names } of files) {
  const p = join(typesDir, f);
  const rel = relative(dirname(p), join(typesDir, 'webgpu-globals.d.ts')).split(sep).join('/');
  const ref = [...names].some((n) => !own.has(n))
    ? `/// <reference path="${rel.startsWith('.') ? rel : `./${rel}`}" />\n`
    : '';
  writeFileSync(p, (ref + text).replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2'));
}
writeFileSync(join(dist, 'node', 'package.json'), '{ "type": "module" }\n');
console.log('built dist/node, dist/browser, dist/types');
