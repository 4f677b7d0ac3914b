// WGSL for a fused elementwise kernel (FusedExpr, src/backend/kernels.ts): 4 outputs per invocation, each
// input read as a vec4 (every element), splatted (one value) or gathered lane by lane (a broadcast block:
// x[(i / div) % mod], the two sizes written into the text), the expression's ops called as the
// unfused kernels call them (unary_op and binary_op of shaders/unary_ops.wgsl and binary_ops.wgsl, with
// constant op codes, so each call folds to the op's straight-line code), one store. The op parameters
// are written as the bits of their float32 values, which is what the unfused kernels read from their
// uniforms. The text depends only on the expression and the reads, so pipelines are cached by it.

import { BINARY_OPS, UNARY_OPS, type FusedExpr, type FusedRead } from '../kernels.ts';

const f32 = (v: number) => `bitcast<f32>(${new Uint32Array(Float32Array.of(v).buffer)[0]}u)`;

export function fusedSource(expr: FusedExpr, reads: FusedRead[], n: number): string {
  const lines: string[] = [];
  let t = 0;
  const emit = (e: FusedExpr): string => {
    switch (e.kind) {
      case 'input': return `v${e.k}`;
      case 'unary': {
        const x = emit(e.x);
        lines.push(`  let t${t} = unary_op(${UNARY_OPS.indexOf(e.op)}u, ${x}, ${f32(e.p0)}, ${f32(e.p1)});`);
        return `t${t++}`;
      }
      case 'binary': {
        const a = emit(e.a), b = emit(e.b);
        lines.push(`  let t${t} = binary_op(${BINARY_OPS.indexOf(e.op)}u, ${a}, ${b});`);
        return `t${t++}`;
      }
    }
  };
  const result = emit(expr);
  const kind = (r: FusedRead) => (r.mod === 1 ? 'one' : r.div === 1 && r.mod === n ? 'all' : 'block');
  const bindings = reads.map((r, k) => `@group(0) @binding(${k}) var<storage, read> x${k}: array<${kind(r) === 'all' ? 'vec4<f32>' : 'f32'}>;`);
  const at = (k: number, r: FusedRead, lane: number) => `x${k}[((i * 4u + ${lane}u) / ${r.div}u) % ${r.mod}u]`;
  const loads = reads.map((r, k) => {
    const kd = kind(r);
    const v = kd === 'all' ? `x${k}[i]` : kd === 'one' ? `vec4<f32>(x${k}[0])` : `vec4<f32>(${[0, 1, 2, 3].map((j) => at(k, r, j)).join(', ')})`;
    return `  let v${k} = ${v};`;
  });
  const m = reads.length;
  return [
    '// ---- fused elementwise kernel (src/backend/webgpu/fused.ts) ----',
    'override WG: u32 = 256u;',
    'struct Params { n4: u32, p0: u32, p1: u32, p2: u32 }',
    ...bindings,
    `@group(0) @binding(${m}) var<storage, read_write> y: array<vec4<f32>>;`,
    `@group(0) @binding(${m + 1}) var<uniform> params: Params;`,
    '',
    '@compute @workgroup_size(WG)',
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {',
    '  let i = flat_index(gid, nwg, WG);',
    '  if (i >= params.n4) { return; }',
    ...loads,
    ...lines,
    `  y[i] = ${result};`,
    '}',
  ].join('\n');
}
