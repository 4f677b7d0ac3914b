// The one codegen of the WebGPU backend's generated kernels (FusedExpr, src/backend/kernels.ts): every
// elementwise kernel, eager or compiled (one op, a fused chain, a fill, an optimizer step), fused
// reductions, and the stores of the GEMM and convolution cores. An elementwise kernel makes 4 outputs
// per invocation, each input read as a vec4 (every element), splatted (one value) or gathered lane by
// lane (a broadcast: x[(i / div) % mod] plus its outer terms, the sizes written into the text), the
// expression's ops called through unary_op, binary_op and ternary_op (generated from
// src/backend/elementwise_table.ts, with constant op codes, so each call folds to the op's straight-line
// code), one store. Its op parameters and constants are read from its uniforms, so its text depends
// only on the expression's ops and the reads, and pipelines are cached by it; reductions and GEMM
// stores, which only the compiler makes, write them into the text as the bits of their float32 values.

import {
  fusedOps,
  operands,
  readsAll,
  reducedSize,
  type FusedExpr,
  type FusedRead,
  type ReduceGeom,
  type ReduceOp,
} from '../kernels.ts';
import { binaryCode, ternaryCode, unaryCode } from '../elementwise_table.ts';
import type { StoreCore } from '../../device/shaders.ts';

const f32 = (v: number) => `bitcast<f32>(${new Uint32Array(Float32Array.of(v).buffer)[0]}u)`;

/**
 * The let-statements computing `expr` on vec4s named <v>k (the inputs; an epilogue's reduced value is
 * `acc`), temporaries <t>k, and the name of its result. `value` writes an op parameter or a constant:
 * by default its bits in the text; an elementwise kernel reads them from its uniforms instead (so one
 * pipeline serves every value: an eager x * s with a new s each step compiles nothing new).
 */
function body(
  expr: FusedExpr,
  v = 'v',
  tn = 't',
  value: (x: number) => string = f32,
): { lines: string[]; result: string } {
  const lines: string[] = [];
  let t = 0;
  const emit = (e: FusedExpr): string => {
    switch (e.kind) {
      case 'input':
        return `${v}${e.k}`;
      case 'acc':
        return 'vec4<f32>(acc)';
      case 'const':
        return `vec4<f32>(${value(e.value)})`;
      case 'unary': {
        const x = emit(e.x);
        lines.push(`  let ${tn}${t} = unary_op(${unaryCode(e.op)}u, ${x}, ${value(e.p0)}, ${value(e.p1)});`);
        return `${tn}${t++}`;
      }
      case 'binary': {
        const a = emit(e.a),
          b = emit(e.b);
        lines.push(`  let ${tn}${t} = binary_op(${binaryCode(e.op)}u, ${a}, ${b});`);
        return `${tn}${t++}`;
      }
      case 'ternary': {
        const c = emit(e.c),
          a = emit(e.a),
          b = emit(e.b);
        lines.push(`  let ${tn}${t} = ternary_op(${ternaryCode(e.op)}u, ${c}, ${a}, ${b});`);
        return `${tn}${t++}`;
      }
    }
  };
  return { lines, result: emit(expr) };
}

/** The values an elementwise kernel reads from its uniforms (body's `value`), in the order it reads them. */
export function fusedValues(e: FusedExpr, out: number[] = []): number[] {
  switch (e.kind) {
    case 'const':
      out.push(e.value);
      break;
    case 'unary':
      fusedValues(e.x, out);
      out.push(e.p0, e.p1);
      break;
    case 'binary':
      fusedValues(e.a, out);
      fusedValues(e.b, out);
      break;
    case 'ternary':
      fusedValues(e.c, out);
      fusedValues(e.a, out);
      fusedValues(e.b, out);
      break;
  }
  return out;
}

/**
 * The WGSL u32 index that `r` reads at element `e` (a u32 expression): floor(e / div) % mod and its
 * outer terms (kernels.ts readAt), the sizes written into the text.
 */
export function readIndex(r: FusedRead, e: string): string {
  const term = (div: number, mod: number) => (div === 1 ? `(${e}) % ${mod}u` : `((${e}) / ${div}u) % ${mod}u`);
  const parts = r.mod === 1 ? [] : [term(r.div, r.mod)];
  for (const t of r.outer ?? []) if (t.mod !== 1) parts.push(`${term(t.div, t.mod)} * ${t.stride}u`);
  return parts.join(' + ') || '0u';
}

/** How an elementwise kernel loads a read: a vec4 (every element), a splat (one value) or lane by lane. */
const readKind = (r: FusedRead, n: number) =>
  r.outer?.length ? 'block' : r.mod === 1 ? 'one' : readsAll(r, n) ? 'all' : 'block';

/**
 * `output`: the inputs that are the output storage itself (an in-place write, read element for element):
 * they are read from the output's binding, since WebGPU forbids binding one buffer as both read-only
 * and writable storage in a dispatch. The other inputs take bindings 0.. in order.
 */
export function fusedSource(
  expr: FusedExpr,
  reads: FusedRead[],
  n: number,
  output: ReadonlySet<number> = new Set(),
  optim = false,
): string {
  // The op parameters and constants come from the uniforms, after the header.
  let q = 0;
  const { lines, result } = body(expr, 'v', 't', () => `params.q[${q >> 2}][${q++ & 3}]`);
  const bound = reads.map((_, k) => k).filter((k) => !output.has(k));
  const bindings = bound.map(
    (k, slot) =>
      `@group(0) @binding(${slot}) var<storage, read> x${k}: array<${readKind(reads[k], n) === 'all' ? 'vec4<f32>' : 'f32'}>;`,
  );
  const loads = reads.map((r, k) => {
    const kd = readKind(r, n);
    // (With n = 1 an element-for-element read is also a read of one value: 'one' comes first above.)
    if (output.has(k) && !readsAll(r, n))
      throw new Error('internal: an in-place fused kernel reads its output other than element for element');
    const v = output.has(k)
      ? 'y[i]'
      : kd === 'all'
        ? `x${k}[i]`
        : kd === 'one'
          ? `vec4<f32>(x${k}[0])`
          : `vec4<f32>(${[0, 1, 2, 3].map((j) => `x${k}[${readIndex(r, `i * 4u + ${j}u`)}]`).join(', ')})`;
    return `  let v${k} = ${v};`;
  });
  const m = bound.length;
  // The update's OptimParams end the block (the replay patches them there).
  const fields = [
    'n4: u32, p0: u32, p1: u32, p2: u32',
    ...(q ? [`q: array<vec4<f32>, ${Math.ceil(q / 4)}>`] : []),
    ...(optim ? ['opt: OptimParams'] : []),
  ];
  return [
    '// ---- fused elementwise kernel (src/backend/webgpu/fused.ts) ----',
    'override WG: u32 = 256u;',
    `struct Params { ${fields.join(', ')} }`,
    ...bindings,
    `@group(0) @binding(${m}) var<storage, read_write> y: array<vec4<f32>>;`,
    ...(optim ? optimBindings(m + 1) : []),
    `@group(0) @binding(${optim ? m + 5 : m + 1}) var<uniform> params: Params;`,
    '',
    '@compute @workgroup_size(WG)',
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {',
    '  let i = flat_index(gid, nwg, WG);',
    '  if (i >= params.n4) { return; }',
    ...loads,
    ...lines,
    `  y[i] = ${result};`,
    ...(optim
      ? [
          `  let g = ${result};`,
          '  for (var j = 0u; j < 4u; j = j + 1u) { if (4u * i + j < params.opt.n) { optim_update(4u * i + j, g[j], params.opt); } }',
        ]
      : []),
    '}',
  ].join('\n');
}

/**
 * The bindings of optim_ops.wgsl's update (the parameter, its two state buffers, the finite check's
 * flags) from binding `at` on: a fused kernel whose store also runs a parameter's optimizer update on
 * the gradient it computes (src/graph/passes/fuse_optimizer.ts) binds these 4 more buffers, and its
 * uniform block ends with that update's OptimParams.
 */
const optimBindings = (at: number) => [
  ...['opt_p', 'opt_s1', 'opt_s2'].map(
    (name, k) => `@group(0) @binding(${at + k}) var<storage, read_write> ${name}: array<f32>;`,
  ),
  `@group(0) @binding(${at + 3}) var<storage, read_write> opt_flags: array<atomic<u32>>;`,
];

/** Input k of an epilogue (e<k>, read as r says) at the output's element `e`, a WGSL u32 expression. */
const epilogueRead = (k: number, r: FusedRead, e: string) => `e${k}[${readIndex(r, e)}]`;

/** A GEMM core with hooks whose *_io file a fused matmul or conv replaces (shaders/*_io.wgsl). */
export type EpilogueCore = StoreCore;

/**
 * The matmul cores' Params (matmul_common.wgsl, matmul_vec4*.wgsl) followed by optim_ops.wgsl's
 * OptimParams: the one uniform block of a matmul that also runs an optimizer update (its bytes are the
 * matmul's 8 words, then the update's 16).
 */
const OPTIM_MATMUL_PARAMS =
  'struct OptimMatmulParams { M: u32, N: u32, K: u32, batch: u32, sa: u32, sb: u32, p0: u32, p1: u32, opt: OptimParams }';
/**
 * The same for the convolution cores: conv_params.wgsl's ConvParams fields (24 words; a test checks
 * they are that file's), then OptimParams.
 */
export const OPTIM_CONV_PARAMS =
  'struct OptimConvParams { n: u32, C: u32, H: u32, W: u32, O: u32, KH: u32, KW: u32, OH: u32, ' +
  'OW: u32, sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32, pad0: u32, rh: u32, rw: u32, kh0: u32, kw0: u32, ' +
  'nkh: u32, nkw: u32, HP: u32, WP: u32, opt: OptimParams }';

/** winograd_io.wgsl's uniforms (a conv's, then the tile counts), which its generated replacement declares. */
const WINO_PARAMS = 'struct WinoParams { g: ConvParams, TH: u32, TW: u32, T: u32, Tp: u32 }';
/** The same followed by optim_ops.wgsl's OptimParams. */
const OPTIM_WINO_PARAMS =
  'struct OptimWinoParams { g: ConvParams, TH: u32, TW: u32, T: u32, Tp: u32, opt: OptimParams }';

/**
 * The generated replacement of a GEMM core's io file (shaders/matmul_io.wgsl and its kin): the same
 * operand and output bindings, the epilogue's inputs after the output (bindings 3..), the uniform block
 * after them, and a store that applies the epilogue to the accumulated value (`acc`) at the output's
 * flat element, so a matmul + bias + activation is one kernel. Stores are per element (mm_store) or, for
 * matmul_vec4, per 4 consecutive elements (mm_store4).
 *
 * `optim`: the result is a parameter's gradient, and the store also runs that parameter's optimizer
 * update on it (optim_ops.wgsl's optim_update, bindings opt_p, opt_s1, opt_s2, opt_flags after the
 * epilogue's inputs), so the update needs no kernel of its own. Every core calls the store once per
 * output element (split-K included: one workgroup per element), so each element is updated once.
 */
export function epilogueIo(core: EpilogueCore, epi: { expr: FusedExpr; reads: FusedRead[] }, optim = false): string {
  // col2im and Winograd's output stage read one operand (the patch gradients, the transformed product)
  // where the GEMM cores read two; their uniforms are a conv's (Winograd's with its tile counts after).
  const wino = core === 'winograd';
  const conv = core.startsWith('conv_') || core === 'col2im' || wino;
  const [coreInputs, c, params, type] = wino
    ? [['src'], 'dst', 'p', optim ? 'OptimWinoParams' : 'WinoParams']
    : conv
      ? [core === 'col2im' ? ['src_a'] : ['src_a', 'src_b'], 'dst', 'p', optim ? 'OptimConvParams' : 'ConvParams']
      : [['a', 'b'], 'c', 'params', optim ? 'OptimMatmulParams' : 'Params'];
  const at = coreInputs.length + 1;
  const operand = core === 'matmul_vec4' || core === 'matmul_vec4t' ? 'vec4<f32>' : 'f32';
  const four = core === 'matmul_vec4';
  const m = epi.reads.length;
  const { lines, result } = body(epi.expr, 'w', 'u');
  const loads = epi.reads.map((r, k) => {
    if (!four) return `  let w${k} = vec4<f32>(${epilogueRead(k, r, 'i')});`;
    if (r.mod === 1) return `  let w${k} = vec4<f32>(e${k}[0]);`;
    return `  let w${k} = vec4<f32>(${[0, 1, 2, 3].map((j) => epilogueRead(k, r, `4u * i4 + ${j}u`)).join(', ')});`;
  });
  return [
    `// ---- generated io with the epilogue ${fusedOps(epi.expr).join('+')} (src/backend/webgpu/fused.ts) ----`,
    ...coreInputs.map((name, k) => `@group(0) @binding(${k}) var<storage, read> ${name}: array<${operand}>;`),
    `@group(0) @binding(${at - 1}) var<storage, read_write> ${c}: array<${four ? 'vec4<f32>' : 'f32'}>;`,
    ...epi.reads.map((_, k) => `@group(0) @binding(${at + k}) var<storage, read> e${k}: array<f32>;`),
    ...(wino ? [WINO_PARAMS] : []),
    ...(optim
      ? [wino ? OPTIM_WINO_PARAMS : conv ? OPTIM_CONV_PARAMS : OPTIM_MATMUL_PARAMS, ...optimBindings(at + m)]
      : []),
    `@group(0) @binding(${optim ? at + 4 + m : at + m}) var<uniform> ${params}: ${type};`,
    four ? 'fn mm_store4(i4: u32, acc: vec4<f32>) {' : 'fn mm_store(i: u32, acc: f32) {',
    ...loads,
    ...lines,
    four ? `  let g = ${result};` : `  let g = ${result}.x;`,
    four ? `  ${c}[i4] = g;` : `  ${c}[i] = g;`,
    ...(optim
      ? four
        ? [`  for (var j = 0u; j < 4u; j = j + 1u) { optim_update(4u * i4 + j, g[j], ${params}.opt); }`]
        : [`  optim_update(i, g, ${params}.opt);`]
      : []),
    '}',
  ].join('\n');
}

/**
 * The chunk of the per-invocation reduction (the design for CPU-like adapters): past WORKGROUP_CHUNK
 * elements the backend cuts rows into chunks of this many elements and reduces the partial results
 * again, and up to it a kernel sums chunks of this many and then their results (invocationSum), which
 * bounds the serial sums' rounding.
 */
export const ROWS_CHUNK = 256;
/** The chunk of the workgroup reduction, and the longest row either design reduces in one pass. */
export const WORKGROUP_CHUNK = 4096;

/** WGSL `base_of(o)`: the offset in the reduced (contiguous) tensor of output o's first element. */
const baseOf = (geom: ReduceGeom) => [
  'fn base_of(o: u32) -> u32 {',
  '  var rem = o;',
  '  var off = 0u;',
  ...[...geom.kept]
    .reverse()
    .map(([size, stride]) => `  { let c = rem % ${size}u; rem = rem / ${size}u; off = off + c * ${stride}u; }`),
  '  return off;',
  '}',
];

/**
 * WGSL of the offset of element r (row-major over the reduced runs) of the output whose first element is
 * at `b`. With one reduced run it is b + r * stride: no division (which SwiftShader's Subzero JIT does
 * not strength-reduce: dividing cost eager sums a quarter of their speed).
 */
function elementOf({ red }: ReduceGeom): (r: string) => string {
  if (red.length === 1) return (r) => (red[0][1] === 1 ? `b + ${r}` : `b + ${r} * ${red[0][1]}u`);
  const [[, s0], [n1, s1]] = red;
  return (r) => `b + (${r} / ${n1}u) * ${s0}u + (${r} % ${n1}u) * ${s1}u`;
}

/** Elements of the tensor a reduction reads (its kept and reduced sizes). */
const geomSize = (g: ReduceGeom) => [...g.kept, ...g.red].reduce((a, [n]) => a * n, 1);

/** The workgroup design's entry: one 64-invocation workgroup per result `id` (an output or a partial). */
const workgroupMain = (id: string) => [
  'const WG: u32 = 64u;',
  'var<workgroup> sv: array<f32, WG>;',
  '@compute @workgroup_size(WG)',
  'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {',
  `  let ${id} = flat_group(wid, nwg);`,
  `  let valid = ${id} < params.rows;`,
];
/** The halving loop of a tree in workgroup memory, at `indent`: `step` merges slot t + s into slot t. */
const treeLoop = (step: string, indent = '  ') => [
  `${indent}for (var s = WG / 2u; s > 0u; s = s / 2u) {`,
  `${indent}  if (t < s) { ${step} }`,
  `${indent}  workgroupBarrier();`,
  `${indent}}`,
];
/** The tree over the invocations' values in workgroup memory; invocation 0 then runs `store` on sv[0]. */
const workgroupTree = (store: string) => [
  '  sv[t] = acc;',
  '  workgroupBarrier();',
  ...treeLoop('sv[t] = combine(sv[t], sv[t + s]);'),
  `  if (t == 0u && valid) { ${store} }`,
  '}',
];
/** The per-invocation design's entry: one invocation per result `id`, 64 to a workgroup. */
const invocationMain = (id: string) => [
  'override WG: u32 = 64u;',
  '@compute @workgroup_size(WG)',
  'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {',
  `  let ${id} = flat_index(gid, nwg, WG);`,
  `  if (${id} >= params.rows) { return; }`,
];
/** Four loaded values `v` folded into the four interleaved partial results `acc`, at `indent`. */
const foldLanes = (op: 'sum' | 'max' | 'min', indent: string) =>
  indent +
  (op === 'sum'
    ? 'acc = acc + v;'
    : 'acc = vec4<f32>(combine(acc.x, v.x), combine(acc.y, v.y), combine(acc.z, v.z), combine(acc.w, v.w));');
/**
 * The per-invocation sum of one row of R elements, in the order of the two passes a longer row takes (the elements in
 * row-major order, 4 interleaved partial sums; past ROWS_CHUNK elements a partial sum per chunk, the
 * chunks' sums in 4 lanes): lines at `indent`, then `total(sum)` where sum is the row's sum.
 * `load(r)`: element r's value.
 */
function invocationSum(
  R: number,
  load: (r: string) => string,
  total: (sum: string) => string,
  indent: string,
): string[] {
  const chunks = Math.max(1, Math.ceil(R / ROWS_CHUNK));
  const full = 4 * Math.floor(chunks / 4);
  const chunkSum = (ind: string, start: string, end: string) => [
    `${ind}var a = vec4<f32>(0.0);`,
    `${ind}var r = ${start};`,
    `${ind}for (; r + 4u <= ${end}; r = r + 4u) {`,
    `${ind}  a = a + vec4<f32>(${['r', '(r + 1u)', '(r + 2u)', '(r + 3u)'].map(load).join(', ')});`,
    `${ind}}`,
    `${ind}for (; r < ${end}; r = r + 1u) { a.x = a.x + ${load('r')}; }`,
  ];
  if (chunks === 1) return [...chunkSum(indent, '0u', `${R}u`), `${indent}${total('(a.x + a.y) + (a.z + a.w)')}`];
  return [
    `${indent}var acc = vec4<f32>(0.0);`,
    `${indent}for (var c = 0u; c < ${chunks}u; c = c + 1u) {`,
    ...chunkSum(`${indent}  `, `c * ${ROWS_CHUNK}u`, `min(c * ${ROWS_CHUNK}u + ${ROWS_CHUNK}u, ${R}u)`),
    `${indent}  let s = (a.x + a.y) + (a.z + a.w);`,
    `${indent}  if (c < ${full}u) { acc[c % 4u] = acc[c % 4u] + s; } else { acc.x = acc.x + s; }`,
    `${indent}}`,
    `${indent}${total(laneTotal('sum'))}`,
  ];
}

/** The lines of a store's assign (FusedReduceOptions.assign): z[o] from the stored result g and z[o]. */
function storeAssign(expr: FusedExpr): string[] {
  const { lines, result } = body(expr, 'z', 's');
  return ['  let acc = g;', '  let z0 = vec4<f32>(z[o]);', ...lines, `  z[o] = ${result}.x;`];
}

/** The four partial results combined into one (the same order in every pass). */
const laneTotal = (op: 'sum' | 'max' | 'min') =>
  op === 'sum' ? '(acc.x + acc.y) + (acc.z + acc.w)' : 'combine(combine(acc.x, acc.y), combine(acc.z, acc.w))';

/** How a fused reduction kernel is made (fusedReduceSource). */
export interface FusedReduceOptions {
  /** One invocation per output (CPU-like adapters), else one workgroup per output. */
  perInvocation: boolean;
  /** Elementwise ops on each result (their inputs read per output). */
  epilogue?: { expr: FusedExpr; reads: FusedRead[] };
  /** The first pass of a long reduction: partial results over chunks of this many elements. */
  chunk?: number;
  /** Each result is a parameter's gradient: its optimizer update runs in the store (optim_ops.wgsl). */
  optim?: boolean;
  /**
   * The store also assigns z[o] = this expression (Backend's StoreAssign: `acc` the stored result, input
   * 0 the old z[o]); z binds after y.
   */
  assign?: FusedExpr;
}

/**
 * WGSL for a reduction (ReduceGeom), every reduction the backend runs, eager or compiled: the expression
 * evaluated at each element it reads (its inputs read as their FusedRead says, over the reduced tensor's
 * elements; an eager reduction's is its input), reduced by sum, max, min, argmax or argmin without
 * copies. `perInvocation`: one invocation per output, four interleaved partial sums (the design for
 * CPU-like adapters, where barriers are costly and an invocation runs long loops well); otherwise one
 * 64-invocation workgroup per output and a tree in workgroup memory. max and min let NaN win; argmax and
 * argmin give the first extreme's index within the row (as f32; a NaN counts as the extreme), as in
 * PyTorch, over one reduced run, in one pass, with no epilogue.
 */
export function fusedReduceSource(
  op: ReduceOp,
  expr: FusedExpr,
  reads: FusedRead[],
  geom: ReduceGeom,
  opts: FusedReduceOptions,
): string {
  const { perInvocation, epilogue, chunk, optim = false, assign } = opts;
  if ((optim || assign) && chunk !== undefined) throw new Error('internal: a store update in a partial reduction');
  if (optim && assign) throw new Error('internal: an optimizer update and an assign in one store');
  const arg = op === 'argmax' || op === 'argmin';
  if (arg && (epilogue || optim || assign || chunk !== undefined || geom.red.length !== 1))
    throw new Error(`internal: ${op} over one reduced run in one pass, with nothing in its store`);
  const { lines, result } = body(expr);
  const bindings = reads.map((_, k) => `@group(0) @binding(${k}) var<storage, read> x${k}: array<f32>;`);
  // The reduced tensor is contiguous, so an element's offset is its flat index: a broadcast block is
  // read at (off / div) % mod.
  const loads = reads.map(
    (r, k) => `  let v${k} = vec4<f32>(x${k}[${readsAll(r, geomSize(geom)) ? 'off' : readIndex(r, 'off')}]);`,
  );
  // The epilogue's inputs follow the prologue's, read at output o (or as their FusedRead says).
  const er = epilogue?.reads ?? [];
  const p = reads.length;
  bindings.push(...er.map((_, k) => `@group(0) @binding(${p + k}) var<storage, read> e${k}: array<f32>;`));
  const epi = epilogue ? body(epilogue.expr, 'w', 'u') : { lines: [], result: 'vec4<f32>(acc)' };
  const eloads = er.map((r, k) => `  let w${k} = vec4<f32>(e${k}[${readIndex(r, 'o')}]);`);
  const m = reads.length + er.length;
  const [r0, r1] = geom.red.length === 2 ? geom.red : [[1, 0] as [number, number], geom.red[0]];
  const R = r0[0] * r1[0];
  // argmax and argmin compare in argMain and combine nothing.
  const combine = op === 'sum' ? 'a + b' : `select(select(${op}(a, b), b, is_nan1(b)), a, is_nan1(a))`;
  const head = [
    `// ---- fused reduction (src/backend/webgpu/fused.ts): ${op} ----`,
    ...bindings,
    `@group(0) @binding(${m}) var<storage, read_write> y: array<f32>;`,
    ...(optim ? optimBindings(m + 1) : []),
    ...(assign ? [`@group(0) @binding(${m + 1}) var<storage, read_write> z: array<f32>;`] : []),
    `struct Params { rows: u32, p0: u32, p1: u32, p2: u32${optim ? ', opt: OptimParams' : ''} }`,
    `@group(0) @binding(${optim ? m + 5 : assign ? m + 2 : m + 1}) var<uniform> params: Params;`,
    ...baseOf(geom),
    'fn load(off: u32) -> f32 {',
    ...loads,
    ...lines,
    `  return ${result}.x;`,
    '}',
    ...(arg ? [] : [`fn combine(a: f32, b: f32) -> f32 { return ${combine}; }`]),
    // The result's store, with the optimizer update of parameter element o on it, or the assign of z[o].
    'fn store_result(o: u32, g: f32) {',
    '  y[o] = g;',
    ...(optim ? ['  optim_update(o, g, params.opt);'] : []),
    ...(assign ? storeAssign(assign) : []),
    '}',
    'fn finish(acc: f32, o: u32) -> f32 {',
    ...eloads,
    ...epi.lines,
    `  return ${epi.result}.x;`,
    '}',
  ];
  // Element r (row-major over the reduced runs) of output o.
  const elem = elementOf(geom);
  const at = elem('r');
  if (arg) return [...head, ...argMain(op, perInvocation, R, at)].join('\n');
  if (chunk !== undefined) {
    // The first pass of a long reduction: partial result g = o * chunks + c over elements [c * chunk,
    // (c + 1) * chunk) of output o (reduceFused reduces the partials again, with the epilogue).
    const chunks = Math.ceil(R / chunk);
    const range = [
      `  let o = g / ${chunks}u;`,
      `  let c = g % ${chunks}u;`,
      '  let b = base_of(o);',
      `  let start = c * ${chunk}u;`,
      `  let end = min(start + ${chunk}u, ${R}u);`,
    ];
    if (perInvocation) {
      return [
        ...head,
        ...invocationMain('g'),
        ...range,
        '  var r = start;',
        op === 'sum' ? '  var acc = vec4<f32>(0.0);' : `  var acc = vec4<f32>(load(${at}));`,
        '  for (; r + 4u <= end; r = r + 4u) {',
        `    let v = vec4<f32>(load(${at}), load(${elem('(r + 1u)')}), load(${elem('(r + 2u)')}), load(${elem('(r + 3u)')}));`,
        foldLanes(op, '    '),
        '  }',
        `  for (; r < end; r = r + 1u) { acc.x = combine(acc.x, load(${at})); }`,
        `  y[g] = ${laneTotal(op)};`,
        '}',
      ].join('\n');
    }
    return [
      ...head,
      ...workgroupMain('g'),
      ...range,
      op === 'sum' ? '  var acc = 0.0;' : `  var acc = 0.0;\n  if (valid) { let r = start; acc = load(${at}); }`,
      `  if (valid) { for (var r = start + t; r < end; r = r + WG) { acc = combine(acc, load(${at})); } }`,
      ...workgroupTree('y[g] = sv[0];'),
    ].join('\n');
  }
  if (perInvocation && op === 'sum') {
    // The order of the passes a longer row takes (the reduced elements in row-major order, 4 interleaved
    // partial sums; past ROWS_CHUNK elements a partial result per chunk, reduced again the same way), so
    // a fused sum over one run of dims gives the eager sum's bits (eager sums two runs,
    // batch norm's [0, 2, 3], as the trailing run and then the other): summing 3,136 elements in one
    // pass instead moved DCGAN's compiled losses 3e-5 away from eager's within 12 steps, past the 1e-5
    // the compiled steps are held to.
    return [
      ...head,
      ...invocationMain('o'),
      '  let b = base_of(o);',
      ...invocationSum(
        R,
        (r) => `load(${elem(r)})`,
        (sum) => `store_result(o, finish(${sum}, o));`,
        '  ',
      ),
      '}',
    ].join('\n');
  }
  if (perInvocation) {
    // max and min: any order gives the same result (NaN wins either way).
    return [
      ...head,
      ...invocationMain('o'),
      '  let b = base_of(o);',
      `  var acc = vec4<f32>(load(b));`,
      `  for (var i = 0u; i < ${r0[0]}u; i = i + 1u) {`,
      `    let bi = b + i * ${r0[1]}u;`,
      '    var j = 0u;',
      `    for (; j + 4u <= ${r1[0]}u; j = j + 4u) {`,
      `      let v = vec4<f32>(load(bi + j * ${r1[1]}u), load(bi + (j + 1u) * ${r1[1]}u), load(bi + (j + 2u) * ${r1[1]}u), load(bi + (j + 3u) * ${r1[1]}u));`,
      foldLanes(op, '      '),
      '    }',
      `    for (; j < ${r1[0]}u; j = j + 1u) { acc.x = combine(acc.x, load(bi + j * ${r1[1]}u)); }`,
      '  }',
      `  store_result(o, finish(${laneTotal(op)}, o));`,
      '}',
    ].join('\n');
  }
  return [
    ...head,
    ...workgroupMain('o'),
    '  let b = base_of(o);',
    // An invocation without elements holds the first one (max, min) or 0 (sum): neither changes the result.
    op === 'sum' ? '  var acc = 0.0;' : '  var acc = 0.0;\n  if (valid) { acc = load(b); }',
    `  if (valid) { for (var r = t; r < ${R}u; r = r + WG) { acc = combine(acc, load(${at})); } }`,
    ...workgroupTree('store_result(o, finish(sv[0], o));'),
  ].join('\n');
}

/**
 * The entry of an argmax or argmin over R elements (`at`: element r's offset): each invocation scans
 * its elements in order, and the workgroup design then takes its invocations' results in a tree. A
 * (value, index) pair replaces another when its value is the extreme, or a NaN, or equal with a lower
 * index, so the first extreme wins; the index NONE stands for no value yet (WGSL cannot spell an
 * infinite constant).
 */
function argMain(op: 'argmax' | 'argmin', perInvocation: boolean, R: number, at: string): string[] {
  const better = [
    'const NONE: u32 = 0xffffffffu;',
    'fn better(a: f32, ia: u32, b: f32, ib: u32) -> bool {',
    '  if (ib == NONE) { return false; }',
    '  if (ia == NONE) { return true; }',
    '  if (is_nan1(a)) { return false; }',
    '  if (is_nan1(b)) { return true; }',
    `  return (b ${op === 'argmax' ? '>' : '<'} a) || (b == a && ib < ia);`,
    '}',
  ];
  const scan = (start: string, step: string) =>
    `for (var r = ${start}; r < ${R}u; r = r + ${step}) { let v = load(${at}); if (better(acc, ai, v, r)) { acc = v; ai = r; } }`;
  if (perInvocation)
    return [
      ...better,
      ...invocationMain('o'),
      '  let b = base_of(o);',
      '  var acc = 0.0;',
      '  var ai = NONE;',
      `  ${scan('0u', '1u')}`,
      '  y[o] = f32(ai);',
      '}',
    ];
  return [
    ...better,
    'var<workgroup> si: array<u32, 64>;',
    ...workgroupMain('o'),
    '  let b = base_of(o);',
    '  var acc = 0.0;',
    '  var ai = NONE;',
    `  if (valid) { ${scan('t', 'WG')} }`,
    '  sv[t] = acc;',
    '  si[t] = ai;',
    '  workgroupBarrier();',
    ...treeLoop('if (better(sv[t], si[t], sv[t + s], si[t + s])) { sv[t] = sv[t + s]; si[t] = si[t + s]; }'),
    '  if (t == 0u && valid) { y[o] = f32(si[0]); }',
    '}',
  ];
}

/**
 * One stage of a row kernel (fusedRowsSource): a sum over the row's elements of `expr`, then its
 * epilogue. Input indices: the kernel's inputs 0..n-1 (read per element), then the earlier stages'
 * values n + j; the epilogue's: its own inputs 0..m-1 (read at the row, the output index o), then the
 * earlier stages' values m + j, and `acc` the stage's sum.
 */
export interface RowStage {
  expr: FusedExpr;
  epilogue: { expr: FusedExpr; reads: FusedRead[] } | null;
}

/** The input indices an expression reads. */
function inputsOf(e: FusedExpr, out = new Set<number>()): Set<number> {
  if (e.kind === 'input') out.add(e.k);
  for (const x of operands(e)) inputsOf(x, out);
  return out;
}

/**
 * WGSL for a row kernel (Backend's RowsReduce): per output o of the geometry (a row of the reduced
 * tensor), sums in stage order, each over the row's elements of an expression that may read the
 * earlier sums, then the final expression written at each element of the row: a chain of reductions
 * and the elementwise ops between and after them (a norm's backward) in one kernel. Each sum adds in
 * the order of the fused reduction (fusedReduceSource) over at most WORKGROUP_CHUNK elements, so each
 * stage gives that kernel's bits.
 */
export function fusedRowsSource(
  stages: RowStage[],
  final: FusedExpr,
  reads: FusedRead[],
  geom: ReduceGeom,
  perInvocation: boolean,
  spill?: { expr: FusedExpr; stage: number },
): string {
  const n = reads.length;
  const K = stages.length;
  const R = reducedSize(geom);
  if (R > WORKGROUP_CHUNK) throw new Error(`internal: a row kernel over ${R} elements (at most ${WORKGROUP_CHUNK})`);
  const size = geomSize(geom);
  const bindings = reads.map((_, k) => `@group(0) @binding(${k}) var<storage, read> x${k}: array<f32>;`);
  let at = n;
  const epiNames = stages.map((st, k) =>
    (st.epilogue?.reads ?? []).map((_, i) => {
      bindings.push(`@group(0) @binding(${at++}) var<storage, read> e${k}_${i}: array<f32>;`);
      return `e${k}_${i}`;
    }),
  );
  // s0..s(k-1): the earlier stages' values, as parameters.
  const statParams = (k: number) => Array.from({ length: k }, (_, j) => `, s${j}: f32`).join('');
  const statArgs = (k: number) => Array.from({ length: k }, (_, j) => `, s${j}`).join('');
  /**
   * A function of an element's offset computing `expr` over the inputs and the first k stages' values;
   * the spilled value (input n + K) computed and stored at the element in its stage's function, read
   * back from the output after it.
   */
  const elementFn = (name: string, expr: FusedExpr, k: number) => {
    const computes = spill?.stage === k;
    const used = inputsOf(expr);
    if (computes) inputsOf(spill.expr, used);
    const sp = computes ? body(spill.expr, 'v', 'q') : null;
    const { lines, result } = body(expr);
    return [
      `fn ${name}(off: u32${statParams(k)}) -> f32 {`,
      ...reads.flatMap((r, i) =>
        used.has(i) ? [`  let v${i} = vec4<f32>(x${i}[${readsAll(r, size) ? 'off' : readIndex(r, 'off')}]);`] : [],
      ),
      ...Array.from({ length: k }, (_, j) => (used.has(n + j) ? [`  let v${n + j} = vec4<f32>(s${j});`] : [])).flat(),
      ...(sp ? [...sp.lines, `  y[off] = ${sp.result}.x;`, `  let v${n + K} = vec4<f32>(${sp.result}.x);`] : []),
      ...(!computes && used.has(n + K) ? [`  let v${n + K} = vec4<f32>(y[off]);`] : []),
      ...lines,
      `  return ${result}.x;`,
      '}',
    ];
  };
  const finishFn = (k: number) => {
    const epi = stages[k].epilogue;
    if (!epi) return [`fn finish${k}(acc: f32, o: u32${statParams(k)}) -> f32 { return acc; }`];
    const m = epi.reads.length;
    const { lines, result } = body(epi.expr, 'w', 'u');
    return [
      `fn finish${k}(acc: f32, o: u32${statParams(k)}) -> f32 {`,
      ...epi.reads.map((r, i) => `  let w${i} = vec4<f32>(${epiNames[k][i]}[${readIndex(r, 'o')}]);`),
      ...Array.from({ length: k }, (_, j) => `  let w${m + j} = vec4<f32>(s${j});`),
      ...lines,
      `  return ${result}.x;`,
      '}',
    ];
  };
  const head = [
    '// ---- fused row kernel (src/backend/webgpu/fused.ts): sums in stages, then the elements ----',
    ...bindings,
    `@group(0) @binding(${at}) var<storage, read_write> y: array<f32>;`,
    'struct Params { rows: u32, p0: u32, p1: u32, p2: u32 }',
    `@group(0) @binding(${at + 1}) var<uniform> params: Params;`,
    ...baseOf(geom),
    ...stages.flatMap((st, k) => [...elementFn(`load${k}`, st.expr, k), ...finishFn(k)]),
    ...elementFn('value', final, stages.length),
  ];
  const elem = elementOf(geom);
  if (perInvocation) {
    // The per-invocation fused sum's order (invocationSum), one block a stage.
    const stage = (k: number) => [
      `  var s${k} = 0.0;`,
      '  {',
      ...invocationSum(
        R,
        (r) => `load${k}(${elem(r)}${statArgs(k)})`,
        (sum) => `s${k} = finish${k}(${sum}, o${statArgs(k)});`,
        '    ',
      ),
      '  }',
    ];
    return [
      ...head,
      ...invocationMain('o'),
      '  let b = base_of(o);',
      ...Array.from({ length: K }, (_, k) => stage(k)).flat(),
      `  for (var r = 0u; r < ${R}u; r = r + 1u) {`,
      `    let off = ${elem('r')};`,
      `    y[off] = value(off${statArgs(K)});`,
      '  }',
      '}',
    ].join('\n');
  }
  // One workgroup per row: each stage a strided sum and the tree of the workgroup fused reduction, whose
  // total every invocation then reads (a barrier before the next stage reuses the tree's memory).
  const stage = (k: number) => [
    `  var s${k} = 0.0;`,
    '  {',
    '    var acc = 0.0;',
    `    if (valid) { for (var r = t; r < ${R}u; r = r + WG) { acc = acc + load${k}(${elem('r')}${statArgs(k)}); } }`,
    '    sv[t] = acc;',
    '    workgroupBarrier();',
    ...treeLoop('sv[t] = sv[t] + sv[t + s];', '    '),
    `    s${k} = finish${k}(sv[0], o${statArgs(k)});`,
    '    workgroupBarrier();',
    '  }',
  ];
  return [
    ...head,
    ...workgroupMain('o'),
    '  let b = base_of(o);',
    ...Array.from({ length: K }, (_, k) => stage(k)).flat(),
    `  if (valid) { for (var r = t; r < ${R}u; r = r + WG) { let off = ${elem('r')}; y[off] = value(off${statArgs(K)}); } }`,
    '}',
  ].join('\n');
}
