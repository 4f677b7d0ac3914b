// The table of elementwise ops (src/backend/elementwise_table.ts): every row reached from its Tensor
// method, the WGSL switches and the op codes generated from the rows with no identity fallback, every
// row through the fused kernels' codegen against the CPU reference, and log1p / expm1 accurate near 0
// where the naive compositions lose the digits.
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '../src/index.ts';
import {
  BINARY,
  BINARY_OPS,
  TERNARY,
  TERNARY_OPS,
  UNARY,
  UNARY_OPS,
  binaryCode,
  binaryRow,
  elementwiseWgsl,
  ternaryCode,
  ternaryRow,
  unaryCode,
  unaryRow,
  type BinaryOp,
  type TernaryOp,
  type UnaryOp,
  type UnaryRow,
} from '../src/backend/elementwise_table.ts';
import { broadcastRead, readAt, type FusedExpr } from '../src/backend/kernels.ts';
import { broadcastStrides, numel } from '../src/shape.ts';
import type { Backend } from '../src/backend/backend.ts';
import type { CpuBackend } from '../src/backend/cpu/index.ts';
import { cpu, forEachBackend, getGpu, randomData } from './helpers.ts';

/** Inputs inside each op's domain (the others take [-2, 2]). */
const DOMAIN: Partial<Record<UnaryOp, [number, number]>> = {
  log: [0.05, 4],
  log1p: [-0.9, 4],
  sqrt: [0, 4],
  rsqrt: [0.05, 4],
  pow_scalar: [-2, 2],
};
const PARAMS: Partial<Record<UnaryOp, [number, number]>> = {
  leaky_relu: [0.2, 0],
  clamp: [-0.3, 0.5],
  pow_scalar: [3, 0],
  affine: [1.5, -0.25],
};

describe('the unary op table', () => {
  it('every row with a method is reached from that Tensor method, which applies its op', () => {
    const x = tensor([0.3, 1.2, 2.5], [3], { backend: cpu, requiresGrad: true });
    const missing: string[] = [];
    for (const op of UNARY_OPS) {
      // The row's call, by default the op's name in camelCase with no arguments.
      const row: UnaryRow = UNARY[op];
      const call =
        row.method === undefined ? `${op.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())}()` : row.method;
      if (call === null) continue;
      const [, name, args] = /^(\w+)\((.*)\)$/.exec(call) ?? [];
      const method = (x as unknown as Record<string, (...a: number[]) => Tensor>)[name];
      if (typeof method !== 'function') {
        missing.push(`${op}: Tensor.${call}`);
        continue;
      }
      const y = method.apply(x, args ? args.split(',').map(Number) : []);
      expect(y.gradFn?.op, `${op}: Tensor.${call}`).toBe(op);
    }
    expect(missing).toEqual([]);
  });

  it('every binary row is reached from the Tensor method of its name', () => {
    const x = tensor([0.3, 1.2, 2.5], [3], { backend: cpu, requiresGrad: true });
    const other = tensor([0.5, 1.2, 2], [3], { backend: cpu });
    for (const op of BINARY_OPS) {
      const method = (x as unknown as Record<string, (b: Tensor) => Tensor>)[op];
      expect(typeof method, `Tensor.${op}`).toBe('function');
      expect(method.call(x, other).gradFn?.op, `Tensor.${op}`).toBe(op);
    }
  });

  it('codes are the rows positions; an op without a row is an error naming it, never an identity', () => {
    expect(UNARY_OPS.map(unaryCode)).toEqual(UNARY_OPS.map((_, i) => i));
    expect(BINARY_OPS.map(binaryCode)).toEqual(BINARY_OPS.map((_, i) => i));
    expect(() => unaryCode('log2' as UnaryOp)).toThrow(/unknown unary op 'log2'/);
    expect(() => unaryRow('toString' as UnaryOp)).toThrow(/unknown unary op 'toString'/);
    expect(() => binaryRow('atan2' as BinaryOp)).toThrow(/unknown binary op 'atan2'/);
    expect(() => tensor([1], [1], { backend: cpu }).unary('log2' as UnaryOp)).toThrow(/unknown unary op 'log2'/);
    const { unary_ops, binary_ops } = elementwiseWgsl();
    for (const [code, op] of UNARY_OPS.entries())
      expect(unary_ops).toContain(`case ${code}u: { return ${UNARY[op].wgsl}; } // ${op}`);
    for (const [code, op] of BINARY_OPS.entries())
      expect(binary_ops).toContain(`case ${code}u: { return ${BINARY[op].wgsl}; } // ${op}`);
    expect(unary_ops.match(/case \d+u/g)).toHaveLength(UNARY_OPS.length);
    for (const [code, op] of TERNARY_OPS.entries())
      expect(binary_ops).toContain(`case ${code}u: { return ${TERNARY[op].wgsl}; } // ${op}`);
    // The ternary switch is generated into the binary ops' file.
    expect(binary_ops.match(/case \d+u/g)).toHaveLength(BINARY_OPS.length + TERNARY_OPS.length);
    expect(unary_ops).toContain('default: { return nan_of(v); }');
    expect(binary_ops).toContain('default: { return nan_of(a); }');
    expect(binary_ops).toContain('default: { return nan_of(c); }');
    expect(TERNARY_OPS.map(ternaryCode)).toEqual(TERNARY_OPS.map((_, i) => i));
    expect(() => ternaryRow('lerp' as TernaryOp)).toThrow(/unknown ternary op 'lerp'/);
  });

  /** A fused expression on both backends, elementwise: x0 read element for element, x1 as one value. */
  async function expectFusedMatch(name: string, expr: FusedExpr, data: Float32Array, other: number) {
    const gpu = await getGpu();
    const n = data.length;
    const run = async (b: Backend) =>
      b.read(
        b.elementwise({
          expr,
          inputs: [b.alloc(data), b.alloc(Float32Array.of(other))],
          reads: [
            { div: 1, mod: n },
            { div: 1, mod: 1 },
          ],
          n,
        }),
      );
    const [g, c] = [await run(gpu), await run(cpu)];
    for (let i = 0; i < n; i++) {
      const ok = Math.abs(g[i] - c[i]) <= 2e-5 + 1e-5 * Math.abs(c[i]) || (Number.isNaN(g[i]) && Number.isNaN(c[i]));
      if (!ok) expect.fail(`${name} at x = ${data[i]}: webgpu ${g[i]}, cpu ${c[i]}`);
    }
  }
  const x0: FusedExpr = { kind: 'input', k: 0 },
    x1: FusedExpr = { kind: 'input', k: 1 };

  it('every op in a fused kernel matches the cpu reference (odd size, the generated codes)', async () => {
    const n = 37 * 3;
    for (const op of UNARY_OPS) {
      const [lo, hi] = DOMAIN[op] ?? [-2, 2];
      const [p0, p1] = PARAMS[op] ?? [0, 0];
      // op(x) * x + y: the unary op inside a tree, so the codegen prints its code among others.
      const u: FusedExpr = { kind: 'unary', op, p0, p1, x: x0 };
      const mul: FusedExpr = { kind: 'binary', op: 'mul', a: u, b: x0 };
      const data = randomData(n, 7 + UNARY_OPS.indexOf(op), lo, hi);
      await expectFusedMatch(op, { kind: 'binary', op: 'add', a: mul, b: x1 }, data, 0.5);
    }
    for (const op of BINARY_OPS) {
      // |x| op y, with y one value: each comparison holds somewhere and fails elsewhere.
      const abs: FusedExpr = { kind: 'unary', op: 'abs', p0: 0, p1: 0, x: x0 };
      const data = randomData(n, 50 + BINARY_OPS.indexOf(op), op === 'pow' ? 0.3 : -2, 2);
      data[0] = data[1] = 0.75;
      await expectFusedMatch(op, { kind: 'binary', op, a: abs, b: x1 }, data, 0.75);
    }
  });

  // Where 1 + x or e^x rounds most of x away: (1 + x).log() of 1e-7 is 1.19e-7 in float32, log1p 1e-7.
  forEachBackend((name, get) => {
    it(`log1p and expm1 keep their relative accuracy near 0 (${name})`, async () => {
      const b = await get();
      const xs = [1e-30, 1e-12, 3e-8, 1e-7, 1e-5, 2e-4, 0.003, 0.05, 0.2, 0.29, 0.41, 0.45, 0.49];
      const data = Float32Array.from([...xs, ...xs.map((v) => -v)]);
      for (const [op, f] of [
        ['log1p', Math.log1p],
        ['expm1', Math.expm1],
      ] as const) {
        const got = await tensor(data, [data.length], { backend: b }).unary(op).toArray();
        data.forEach((v, i) => {
          const want = f(v);
          expect(Math.abs(got[i] - want) / Math.abs(want), `${op}(${v}): ${got[i]}, want ${want}`).toBeLessThan(2e-6);
        });
      }
    });
  });

  it("a broadcast operand's read (broadcastRead) is NumPy's element at every output index", () => {
    // Every pattern of kept and broadcast dims over a rank-4 output, the operand of lower rank too.
    const out = [3, 1, 4, 5];
    for (let mask = 0; mask < 16; mask++)
      for (const rank of [4, 3, 2]) {
        const shape = out.slice(4 - rank).map((v, d) => (mask & (1 << (d + 4 - rank)) ? v : 1));
        const r = broadcastRead(shape, out),
          st = broadcastStrides(shape, out);
        for (let i = 0; i < numel(out); i++) {
          let rem = i,
            want = 0;
          for (let d = out.length - 1; d >= 0; d--) {
            want += (rem % out[d]) * st[d];
            rem = Math.floor(rem / out[d]);
          }
          expect(readAt(r, i), `[${shape}] over [${out}] at ${i}`).toBe(want);
        }
      }
    expect(broadcastRead([2, 3], [2, 3])).toEqual({ div: 1, mod: 6 });
    expect(broadcastRead([1], [4, 4])).toEqual({ div: 1, mod: 1 });
    expect(broadcastRead([3, 1], [0, 3, 2])).toEqual({ div: 1, mod: 1 });
  });

  it('the reference is float64 in float64 mode (gradcheck reads it exactly)', () => {
    const b = new (cpu.constructor as typeof CpuBackend)(true);
    const got = tensor([1e-10], [1], { backend: b }).log1p();
    expect((b.readSync(got.storage) as Float64Array)[0]).toBe(Math.log1p(1e-10));
  });
});
