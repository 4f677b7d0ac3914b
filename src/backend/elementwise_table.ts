// The unary elementwise ops, one row each: its CPU reference (float64, written from the math, never from
// the WGSL), its WGSL expression, its derivative, its ONNX lowering and the Tensor method that applies it.
// Everything else is generated from the rows: the UnaryOp type and UNARY_OPS, the op codes (a row's
// position), the WGSL switch that the unary kernel and the fused kernels call (unaryOpWgsl, appended to
// shaders/unary_ops.wgsl, which holds the longer functions the expressions call), the CPU backend's
// functions, src/graph/primitives.ts's backward rule and src/io/onnx.ts's export. A new op is one row, a
// line in scripts/special_values.py (its fixture) and the tests' domains where [-4, 4] is not its domain.
//
// The rows sit in the backend layer, the lowest that needs them (the kernels); the derivative and the
// ONNX lowering are written against the small interfaces below, which src/graph's GraphTensor and
// src/io's GraphBuilder satisfy, so nothing here imports an upper layer. Special values (NaN, +-Inf,
// +-0, the domain's edges) are PyTorch's (test/special_values.test.ts): WGSL lets the compiler assume
// finite math, so the expressions decide them on the bits (is_nan, inf_of, ... of shaders/common.wgsl).

/** The tensor methods a derivative is written with (src/graph/types.ts's GraphTensor has them). */
export interface GradTensor<T> {
  mul(b: T | number): T;
  div(b: T | number): T;
  neg(): T;
  pow(b: T | number): T;
  ge(b: T | number): T;
  le(b: T | number): T;
}

/**
 * A derivative's arguments: the output's gradient g, the input x, the output y, the op's parameters, and
 * `un`, which applies an op of the table (recorded like any other: a compiled step traces the backward).
 */
export interface GradArgs<T, K extends string> {
  g: T;
  x: T;
  y: T;
  p0: number;
  p1: number;
  un: (op: K, x: T, p0?: number, p1?: number) => T;
}

/** The ONNX graph builder a lowering writes nodes with (src/io/onnx.ts's GraphBuilder). */
export interface OnnxNodes {
  node(op: string, inputs: string[]): string;
  floatAttrNode(op: string, inputs: string[], attrs: Record<string, number>): string;
  scalar(v: number): string;
  toFloat(x: string): string;
}

/** One unary op; K is the names of all the ops (a derivative names the ops it applies). */
export interface UnaryRow<K extends string = string> {
  /** The reference in float64: plain math (Math.*, or a function above the table citing its source). */
  cpu: (v: number, p0: number, p1: number) => number;
  /**
   * WGSL of the result on `v: vec4<f32>` (in scope: p0, p1: f32; zero, one; nan = is_nan(v), inf =
   * is_inf(v)). One expression: a longer body is a function in shaders/unary_ops.wgsl.
   */
  wgsl: string;
  /** The input's gradient (the formula in a comment above it); null where the op is piecewise constant. */
  grad: null | (<T extends GradTensor<T>>(a: GradArgs<T, K>) => T | null);
  /** The ONNX operator that is this op, or its lowering into ONNX nodes (opset 17). */
  onnx: string | ((n: OnnxNodes, x: string, p0: number, p1: number) => string);
  /** The Tensor method call that applies it (test/elementwise.test.ts calls it): default `<name>()` in camelCase. */
  method?: string | null;
}

/** The table, typed so that a derivative naming an op that has no row does not compile. */
const rows = <K extends string>(r: { [P in K]: UnaryRow<K> }) => r;

const sigmoid = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

/**
 * x^p as C's pow (C11 Annex F.10.4.4), which torch.pow follows. JavaScript's Math.pow agrees except that
 * it gives NaN for 1^NaN and (+-1)^+-Inf, where C gives 1.
 */
export const powC = (x: number, p: number) =>
  x === 1 || (x === -1 && (p === Infinity || p === -Infinity)) ? 1 : Math.pow(x, p);

/**
 * torch.pow(tensor, scalar): these exponents go to their own functions (aten's pow_tensor_scalar), which
 * differ from pow at -0 and -Inf (sqrt(-Inf) = NaN where pow(-Inf, 0.5) = Inf).
 */
const powScalar = (x: number, p: number) => (p === 0.5 ? Math.sqrt(x) : p === -0.5 ? 1 / Math.sqrt(x) : powC(x, p));

/**
 * erf in float64, from its definitions: below |x| = 2.5 the Maclaurin series 2/sqrt(pi) sum (-1)^n
 * x^(2n+1) / (n! (2n+1)) (the largest term is below 20, so at most 2 of 16 digits cancel); above, erfc
 * by its continued fraction erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
 * (Abramowitz & Stegun 7.1.14), evaluated from depth 80 up, which converges for x >= 2.5.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = x,
      sum = x;
    for (let n = 1; n < 100; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (!Number.isFinite(a)) return Math.sign(x);
  let f = a;
  for (let k = 80; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export const UNARY = rows({
  // d(-x) = -g
  neg: { cpu: (v) => -v, wgsl: '-v', grad: ({ g }) => g.neg(), onnx: 'Neg' },
  // d exp(x) = g * y. NaN stays NaN, Inf past ln(FLT_MAX), 0 at -Inf.
  exp: { cpu: Math.exp, wgsl: 'exp_ieee(v)', grad: ({ g, y }) => g.mul(y), onnx: 'Exp' },
  // d (e^x - 1) = g * (y + 1). Its own op for x near 0, where exp(x) - 1 cancels to nothing.
  expm1: {
    cpu: Math.expm1,
    wgsl: 'expm1_ieee(v)',
    grad: ({ g, y, un }) => g.mul(un('affine', y, 1, 1)),
    onnx: (n, x) => n.node('Sub', [n.node('Exp', [x]), n.scalar(1)]),
  },
  // d log(x) = g / x. -Inf at +-0, NaN below 0 and at NaN, +Inf at +Inf.
  log: { cpu: Math.log, wgsl: 'log_ieee(v)', grad: ({ g, x }) => g.div(x), onnx: 'Log' },
  // d log(1 + x) = g / (1 + x). Its own op for x near 0, where 1 + x rounds x away (ONNX has no Log1p).
  log1p: {
    cpu: Math.log1p,
    wgsl: 'log1p_ieee(v)',
    grad: ({ g, x, un }) => g.div(un('affine', x, 1, 1)),
    onnx: (n, x) => n.node('Log', [n.node('Add', [x, n.scalar(1)])]),
  },
  // d sqrt(x) = g * 0.5 / y
  sqrt: { cpu: Math.sqrt, wgsl: 'sqrt_ieee(v)', grad: ({ g, y }) => g.mul(0.5).div(y), onnx: 'Sqrt' },
  // d x^-1/2 = -0.5 g y^3
  rsqrt: {
    cpu: (v) => 1 / Math.sqrt(v),
    wgsl: 'rsqrt_ieee(v)',
    grad: ({ g, y }) => g.mul(y.pow(3)).mul(-0.5),
    onnx: (n, x) => n.node('Reciprocal', [n.node('Sqrt', [x])]),
  },
  // d |x| = g * sign(x)
  abs: { cpu: Math.abs, wgsl: 'abs(v)', grad: ({ g, x, un }) => g.mul(un('sign', x)), onnx: 'Abs' },
  // d relu(x) = g * [x > 0] = g * [y > 0]: from the output, as PyTorch's threshold_backward, so the input
  // need not be kept (a compiled step then fuses matmul + bias + relu into one kernel). NaN kept.
  relu: {
    cpu: (v) => (v > 0 || Number.isNaN(v) ? v : 0),
    wgsl: 'select(select(zero, v, v > zero), v, nan)',
    grad: ({ g, y, un }) => g.mul(un('step', y)),
    onnx: 'Relu',
  },
  // d leaky_relu(x) = g * ([x > 0] (1 - a) + a), a = p0; [x > 0] = [y > 0] for a >= 0, as for relu
  leaky_relu: {
    cpu: (v, a) => (v > 0 ? v : v * a),
    wgsl: 'select(select(v * p0, v, v > zero), v, nan)',
    grad: ({ g, x, y, p0, un }) => g.mul(un('affine', un('step', p0 >= 0 ? y : x), 1 - p0, p0)),
    onnx: (n, x, p0) => n.floatAttrNode('LeakyRelu', [x], { alpha: p0 }),
    method: 'leakyRelu(0.2)',
  },
  // d sigmoid(x) = g * y (1 - y)
  sigmoid: {
    cpu: sigmoid,
    wgsl: 'sigmoid4(v)',
    grad: ({ g, y, un }) => g.mul(y).mul(un('affine', y, -1, 1)),
    onnx: 'Sigmoid',
  },
  // d tanh(x) = g * (1 - y^2). sign(v) (1 - 2 / (exp(2|v|) + 1)): finite for every |v|.
  tanh: {
    cpu: Math.tanh,
    wgsl: 'select(sign(v) * (1.0 - 2.0 / (exp(2.0 * abs(v)) + 1.0)), v, nan)',
    grad: ({ g, y, un }) => g.mul(un('affine', un('square', y), -1, 1)),
    onnx: 'Tanh',
  },
  // d softplus(x) = g * sigmoid(x). max(v, 0) + log1p(exp(-|v|)): stable for large |v|, exact at +-Inf.
  softplus: {
    cpu: (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))),
    wgsl: 'select(max(v, zero) + log(1.0 + exp(-abs(v))), v, nan)',
    grad: ({ g, x, un }) => g.mul(un('sigmoid', x)),
    onnx: 'Softplus',
  },
  // d clamp(x, lo, hi) = g * [lo <= x <= hi]
  clamp: {
    cpu: (v, lo, hi) => Math.min(Math.max(v, lo), hi),
    wgsl: 'select(clamp(v, vec4<f32>(p0), vec4<f32>(p1)), v, nan)',
    grad: ({ g, x, p0, p1 }) => g.mul(x.ge(p0)).mul(x.le(p1)),
    onnx: (n, x, p0, p1) => n.node('Clip', [x, n.scalar(p0), n.scalar(p1)]),
    method: 'clamp(-0.5, 0.5)',
  },
  // d x^p = g * p x^(p-1), p = p0
  pow_scalar: {
    cpu: powScalar,
    wgsl: 'pow_scalar(v, p0)',
    grad: ({ g, x, p0 }) => (p0 === 0 ? null : g.mul(x.pow(p0 - 1)).mul(p0)),
    onnx: (n, x, p0) => n.node('Pow', [x, n.scalar(p0)]),
    method: 'pow(3)',
  },
  // d (s x + t) = g * s, s = p0
  affine: {
    cpu: (v, s, t) => v * s + t,
    wgsl: 'v * p0 + p1',
    grad: ({ g, p0 }) => g.mul(p0),
    onnx: (n, x, p0, p1) => n.node('Add', [n.node('Mul', [x, n.scalar(p0)]), n.scalar(p1)]),
    method: 'mul(1.5)',
  },
  // d 1/x = -g y^2
  reciprocal: {
    cpu: (v) => 1 / v,
    wgsl: 'div_ieee(one, v)',
    grad: ({ g, y, un }) => g.mul(un('square', y)).neg(),
    onnx: 'Reciprocal',
  },
  // d x^2 = 2 g x
  square: {
    cpu: (v) => v * v,
    wgsl: 'v * v',
    grad: ({ g, x }) => g.mul(x).mul(2),
    onnx: (n, x) => n.node('Mul', [x, x]),
  },
  // Piecewise constant: no gradient. 0 at NaN (torch.sign; in ONNX too: NaN compares false both ways).
  sign: {
    cpu: (v) => (Number.isNaN(v) ? 0 : Math.sign(v)),
    wgsl: 'select(sign(v), zero, nan)',
    grad: null,
    onnx: (n, x) =>
      n.node('Sub', [n.toFloat(n.node('Greater', [x, n.scalar(0)])), n.toFloat(n.node('Less', [x, n.scalar(0)]))]),
  },
  // heaviside(v, 0): 1 where v > 0, else 0 (NaN too, as torch.heaviside); no gradient. No method: it is
  // relu's and leaky_relu's derivative.
  step: {
    cpu: (v) => (v > 0 ? 1 : 0),
    wgsl: 'select(zero, one, (v > zero) & !nan)',
    grad: null,
    onnx: (n, x) => n.toFloat(n.node('Greater', [x, n.scalar(0)])),
    method: null,
  },
  // d erf(x) = g * 2/sqrt(pi) exp(-x^2)
  erf: {
    cpu: erf,
    wgsl: 'erf4(v)',
    grad: ({ g, x, un }) => g.mul(un('exp', un('affine', un('square', x), -1, 0))).mul(2 / Math.sqrt(Math.PI)),
    onnx: 'Erf',
  },
  // Toward zero (the float -> int32 cast), keeping -0, +-Inf and NaN; no gradient. ONNX has no Trunc.
  trunc: {
    cpu: Math.trunc,
    wgsl: 'select(trunc(v), v, nan | inf)',
    grad: null,
    onnx: (n, x) => n.node('Mul', [n.node('Sign', [x]), n.node('Floor', [n.node('Abs', [x])])]),
  },
});

export type UnaryOp = keyof typeof UNARY;
/** The ops in the table's order: an op's code in the WGSL is its position here. */
export const UNARY_OPS: readonly UnaryOp[] = Object.keys(UNARY) as UnaryOp[];
const CODES = new Map<string, number>(UNARY_OPS.map((op, i) => [op, i]));

/** The row of `op`; an op without one (a name from outside the type system) is an error naming it. */
export function unaryRow(op: UnaryOp): UnaryRow<UnaryOp> {
  if (!CODES.has(op)) throw new Error(`unknown unary op '${op}' (the ops: ${UNARY_OPS.join(', ')})`);
  return UNARY[op];
}

/** The code of `op` in the WGSL (unaryOpWgsl's switch): its row's position. Unknown: an error. */
export function unaryCode(op: UnaryOp): number {
  const code = CODES.get(op);
  if (code === undefined) throw new Error(`unknown unary op '${op}' (the ops: ${UNARY_OPS.join(', ')})`);
  return code;
}

/**
 * WGSL's unary_op(op, v, p0, p1), which the unary kernel (OP, an override constant) and the fused
 * kernels (a constant code) call, so each call folds to its op's expression: one case per row, its code
 * its position. The default case gives NaN, never the input: codes come from unaryCode, which throws
 * for an op without a row, so no known op reaches it.
 */
export function unaryOpWgsl(): string {
  return [
    '// ---- unary_op, generated from the rows of src/backend/elementwise_table.ts ----',
    'fn unary_op(op: u32, v: vec4<f32>, p0: f32, p1: f32) -> vec4<f32> {',
    '  let zero = vec4<f32>(0.0);',
    '  let one = vec4<f32>(1.0);',
    '  let nan = is_nan(v);',
    '  let inf = is_inf(v);',
    '  switch op {',
    ...UNARY_OPS.map((op, code) => `    case ${code}u: { return ${UNARY[op].wgsl}; } // ${op}`),
    '    default: { return nan_of(v); }',
    '  }',
    '}',
  ].join('\n');
}
