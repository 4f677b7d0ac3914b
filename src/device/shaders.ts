// Loads the WGSL kernels from shaders/ the same way in Node, Vitest and the browser (Vite): each kernel
// is its own .wgsl file, and shared helpers (common, philox, matmul_common) are prepended here, by this
// one loader, so no shader text lives inside TypeScript.

/** The hand-written kernels: name -> the .wgsl files that make up its module, in order (helpers first). */
const KERNELS = {
  copy_strided: ['common', 'copy_strided'],
  pad: ['common', 'pad'],
  gather: ['common', 'gather'],
  cumsum: ['common', 'cumsum'],
  random: ['common', 'philox', 'random'],
  // One GEMM core per design, many operand layouts through hooks (cf. tfjs's mm_readA/mm_readB).
  // Each core's bindings and store are an *_io file, which a fused matmul or conv replaces (STORE_CORES).
  matmul_reg: ['common', 'matmul_common', 'matmul_io', 'gemm_reg'],
  matmul_tiled: ['common', 'matmul_common', 'matmul_io', 'gemm_tiled'],
  matmul_splitk: ['common', 'matmul_common', 'matmul_io', 'gemm_splitk'],
  matmul_vec4: ['common', 'matmul_vec4_io', 'matmul_vec4'],
  matmul_vec4t: ['common', 'matmul_vec4t_io', 'matmul_vec4t'],
  conv_reg: ['common', 'conv_params', 'conv', 'conv_io', 'gemm_reg'],
  conv_tiled: ['common', 'conv_params', 'conv', 'conv_io', 'gemm_tiled'],
  conv_splitk: ['common', 'conv_params', 'conv', 'conv_io', 'gemm_splitk'],
  im2col: ['common', 'conv_params', 'im2col'],
  col2im: ['common', 'conv_params', 'col2im_io', 'col2im'],
  winograd: ['common', 'conv_params', 'winograd_io', 'winograd'],
  optim: ['common', 'optim_ops', 'optim'],
  alu_probe: ['common', 'alu_probe'],
  // Not a kernel: what the fused elementwise kernels (src/backend/webgpu/fused.ts) are written against.
  fused_ops: ['common', 'unary_ops', 'binary_ops'],
  // The same, for a fused kernel whose store also runs an optimizer update (optim_ops.wgsl).
  optim_fused_ops: ['common', 'unary_ops', 'binary_ops', 'optim_ops'],
} as const satisfies Record<string, readonly string[]>;

type Kernel = keyof typeof KERNELS;
/**
 * The kernels with an *_io file, its bindings and store, which a fused matmul or conv replaces with a
 * generated one (src/backend/webgpu/fused.ts, epilogueIo): the GEMM cores, col2im, Winograd's output.
 */
export type StoreCore = {
  [K in Kernel]: `${string}_io` & (typeof KERNELS)[K][number] extends never ? never : K;
}[Kernel];
const STORE_CORES = (Object.keys(KERNELS) as Kernel[]).filter((k) =>
  KERNELS[k].some((f) => f.endsWith('_io')),
) as StoreCore[];

/**
 * Not kernels: each store core without its io file, after `ops` (the op functions, and the optimizer
 * update for `optim_`), to which a fused kernel appends its generated io.
 */
function libraries(prefix: 'epilogue' | 'optim', ops: readonly string[]) {
  const own = (core: StoreCore) => KERNELS[core].filter((f) => f !== 'common' && !f.endsWith('_io'));
  const entries = STORE_CORES.map((c) => [`${prefix}_${c}`, [...ops, ...own(c)]]);
  return Object.fromEntries(entries) as Record<`${typeof prefix}_${StoreCore}`, readonly string[]>;
}

/** Kernel name -> the .wgsl files that make up its module, in order (helpers first). */
export const KERNEL_SOURCES = {
  ...KERNELS,
  ...libraries('epilogue', KERNELS.fused_ops),
  ...libraries('optim', KERNELS.optim_fused_ops),
};

export type KernelName = keyof typeof KERNEL_SOURCES;

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/**
 * The .wgsl files' text, inlined by the package build (scripts/build.mjs defines both names), so the
 * published JavaScript holds its kernels: no bundler needs asset rules and nothing is fetched at run
 * time. From the repository (tsx, Vite, Vitest) the files are read where they lie.
 */
declare const __WGSL_EMBEDDED__: boolean | undefined;
declare const __WGSL__: Record<string, string>;

async function embeddedWgsl(file: string): Promise<string> {
  const text = __WGSL__[file];
  if (text === undefined) throw new Error(`internal: shader ${file}.wgsl is not in the build`);
  return text;
}

// A constant in the build, so the file reader below is dropped from it (a bundler would otherwise see
// its `new URL(..., import.meta.url)` as assets to copy).
const readWgsl = typeof __WGSL_EMBEDDED__ !== 'undefined' && __WGSL_EMBEDDED__ ? embeddedWgsl : readWgslFile;

async function readWgslFile(file: string): Promise<string> {
  const url = new URL(`../../shaders/${file}.wgsl`, import.meta.url);
  if (isNode && url.protocol === 'file:') {
    const fs = await import(/* @vite-ignore */ 'node:fs/promises');
    return fs.readFile(url, 'utf8');
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not load shader ${file}.wgsl from ${url}: HTTP ${res.status}`);
  return res.text();
}

let files: Promise<Map<string, string>> | null = null;

/**
 * All kernel sources, the files read once per process. `generated`: WGSL of the layers above, appended
 * to the file of the same name (the WebGPU backend's op switches, src/backend/elementwise_table.ts).
 */
export async function loadKernelSources(generated: Readonly<Record<string, string>> = {}) {
  files ??= Promise.all(
    [...new Set(Object.values(KERNEL_SOURCES).flat())].map(async (f) => [f, await readWgsl(f)] as const),
  ).then((e) => new Map(e));
  const text = await files;
  const part = (p: string) => `// ---- ${p}.wgsl ----\n${text.get(p)}${p in generated ? `\n${generated[p]}` : ''}`;
  return new Map(
    Object.entries(KERNEL_SOURCES).map(([name, parts]) => [name as KernelName, parts.map(part).join('\n')]),
  );
}
