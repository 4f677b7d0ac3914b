// One row per elementwise op: its float64 CPU reference (written from the math, never from the WGSL),
// its WGSL expression, its derivative, its ONNX lowering. Generated from the rows: the op types and
// lists, the op codes (a row's position), the WGSL switches the kernels call (appended by the shader
// loader to shaders/unary_ops.wgsl and binary_ops.wgsl, which hold the longer functions they call), the
// CPU backend's functions, the unary and binary primitives' backward rules and the ONNX export. The
// derivatives and lowerings are written against the small interfaces below (src/graph's GraphTensor
// and src/io's GraphBuilder satisfy them), so this backend-layer file imports no upper layer. Special
// values (NaN, +-Inf, +-0, domain edges) are PyTorch's, decided on the bits in the WGSL (common.wgsl):
// WGSL lets the compiler assume finite math.

/** The tensor methods a derivative is written with (src/graph/types.ts's GraphTensor has them). */
export type GradTensor<T> = Record<
  'add' | 'sub' | 'mul' | 'div' | 'pow' | 'eq' | 'gt' | 'lt' | 'ge' | 'le',
  (b: T | number) => T
> &
  Record<'neg' | 'log', () => T>;

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
  /** x != 0 as a boolean (NaN != 0 holds). */
  toBool(x: string): string;
}

/** One unary op; K is the names of all the ops (a derivative names the ops it applies). */
export interface UnaryRow<K extends string = string> {
  /**
   * PyTorch's op, a Python expression of the float32 tensor x and the parameters p0, p1: what
   * scripts/special_values.py runs for the special-value fixture (test/fixtures/special_values.json).
   */
  torch: string;
  /** The parameters [p0, p1] the special-value fixture runs the op with (default: one case, [0, 0]). */
  special?: [number, number][];
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
  /** The Tensor method call that applies it (test/elementwise_table.test.ts calls it): default `<name>()` in camelCase. */
  method?: string | null;
}

/** The table, typed so that a derivative naming an op that has no row does not compile. */
const rows = <K extends string>(r: { [P in K]: UnaryRow<K> }) => r;

const sigmoid = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

/**
 * x^p as C's pow (C11 Annex F.10.4.4), which torch.pow follows. JavaScript's Math.pow agrees except that
 * it gives NaN for 1^NaN and (+-1)^+-Inf, where C gives 1.
 */
const powC = (x: number, p: number) =>
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
function erf(x: number): number {
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
  neg: { torch: 'torch.neg(x)', cpu: (v) => -v, wgsl: '-v', grad: ({ g }) => g.neg(), onnx: 'Neg' },
  // d exp(x) = g * y. NaN stays NaN, Inf past ln(FLT_MAX), 0 at -Inf.
  exp: { torch: 'torch.exp(x)', cpu: Math.exp, wgsl: 'exp_ieee(v)', grad: ({ g, y }) => g.mul(y), onnx: 'Exp' },
  // d (e^x - 1) = g * (y + 1). Its own op for x near 0, where exp(x) - 1 cancels to nothing.
  expm1: {
    torch: 'torch.expm1(x)',
    cpu: Math.expm1,
    wgsl: 'expm1_ieee(v)',
    grad: ({ g, y, un }) => g.mul(un('affine', y, 1, 1)),
    onnx: (n, x) => n.node('Sub', [n.node('Exp', [x]), n.scalar(1)]),
  },
  // d log(x) = g / x. -Inf at +-0, NaN below 0 and at NaN, +Inf at +Inf.
  log: { torch: 'torch.log(x)', cpu: Math.log, wgsl: 'log_ieee(v)', grad: ({ g, x }) => g.div(x), onnx: 'Log' },
  // d log(1 + x) = g / (1 + x). Its own op for x near 0, where 1 + x rounds x away (ONNX has no Log1p).
  // PyTorch's in float64, rounded: PyTorch 1.13's float32 log1p overflows to Inf from about FLT_MAX / 2
  // on (its float64 one, and C's, give log1p(3e38) = 88.597).
  log1p: {
    torch: 'torch.log1p(x.double()).float()',
    cpu: Math.log1p,
    wgsl: 'log1p_ieee(v)',
    grad: ({ g, x, un }) => g.div(un('affine', x, 1, 1)),
    onnx: (n, x) => n.node('Log', [n.node('Add', [x, n.scalar(1)])]),
  },
  // d sqrt(x) = g * 0.5 / y
  sqrt: {
    torch: 'torch.sqrt(x)',
    cpu: Math.sqrt,
    wgsl: 'sqrt_ieee(v)',
    grad: ({ g, y }) => g.mul(0.5).div(y),
    onnx: 'Sqrt',
  },
  // d x^-1/2 = -0.5 g y^3
  rsqrt: {
    torch: 'torch.rsqrt(x)',
    cpu: (v) => 1 / Math.sqrt(v),
    wgsl: 'rsqrt_ieee(v)',
    grad: ({ g, y }) => g.mul(y.pow(3)).mul(-0.5),
    onnx: (n, x) => n.node('Reciprocal', [n.node('Sqrt', [x])]),
  },
  // d |x| = g * sign(x)
  abs: {
    torch: 'torch.abs(x)',
    cpu: Math.abs,
    wgsl: 'abs(v)',
    grad: ({ g, x, un }) => g.mul(un('sign', x)),
    onnx: 'Abs',
  },
  // d relu(x) = g * [x > 0] = g * [y > 0]: from the output, as PyTorch's threshold_backward, so the input
  // need not be kept (a compiled step then fuses matmul + bias + relu into one kernel). NaN kept.
  relu: {
    torch: 'torch.relu(x)',
    cpu: (v) => (v > 0 || Number.isNaN(v) ? v : 0),
    wgsl: 'select(select(zero, v, v > zero), v, nan)',
    grad: ({ g, y, un }) => g.mul(un('step', y)),
    onnx: 'Relu',
  },
  // d leaky_relu(x) = g * ([x > 0] (1 - a) + a), a = p0; [x > 0] = [y > 0] for a >= 0, as for relu
  leaky_relu: {
    torch: 'F.leaky_relu(x, p0)',
    special: [[0.2, 0]],
    cpu: (v, a) => (v > 0 ? v : v * a),
    wgsl: 'select(select(v * p0, v, v > zero), v, nan)',
    grad: ({ g, x, y, p0, un }) => g.mul(un('affine', un('step', p0 >= 0 ? y : x), 1 - p0, p0)),
    onnx: (n, x, p0) => n.floatAttrNode('LeakyRelu', [x], { alpha: p0 }),
    method: 'leakyRelu(0.2)',
  },
  // d sigmoid(x) = g * y (1 - y)
  sigmoid: {
    torch: 'torch.sigmoid(x)',
    cpu: sigmoid,
    wgsl: 'sigmoid4(v)',
    grad: ({ g, y, un }) => g.mul(y).mul(un('affine', y, -1, 1)),
    onnx: 'Sigmoid',
  },
  // d tanh(x) = g * (1 - y^2). sign(v) (1 - 2 / (exp(2|v|) + 1)): finite for every |v|.
  tanh: {
    torch: 'torch.tanh(x)',
    cpu: Math.tanh,
    wgsl: 'select(sign(v) * (1.0 - 2.0 / (exp(2.0 * abs(v)) + 1.0)), v, nan)',
    grad: ({ g, y, un }) => g.mul(un('affine', un('square', y), -1, 1)),
    onnx: 'Tanh',
  },
  // d softplus(x) = g * sigmoid(x). max(v, 0) + log1p(exp(-|v|)): stable for large |v|, exact at +-Inf.
  softplus: {
    torch: 'F.softplus(x)',
    cpu: (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))),
    wgsl: 'select(max(v, zero) + log(1.0 + exp(-abs(v))), v, nan)',
    grad: ({ g, x, un }) => g.mul(un('sigmoid', x)),
    onnx: 'Softplus',
  },
  // d clamp(x, lo, hi) = g * [lo <= x <= hi]
  clamp: {
    torch: 'torch.clamp(x, p0, p1)',
    special: [[-1, 2]],
    cpu: (v, lo, hi) => Math.min(Math.max(v, lo), hi),
    wgsl: 'select(clamp(v, vec4<f32>(p0), vec4<f32>(p1)), v, nan)',
    grad: ({ g, x, p0, p1 }) => g.mul(x.ge(p0)).mul(x.le(p1)),
    onnx: (n, x, p0, p1) => n.node('Clip', [x, n.scalar(p0), n.scalar(p1)]),
    method: 'clamp(-0.5, 0.5)',
  },
  // d x^p = g * p x^(p-1), p = p0
  pow_scalar: {
    torch: 'torch.pow(x, p0)',
    special: [
      [3, 0],
      [0.5, 0],
      [-1, 0],
      [-2, 0],
      [0, 0],
      [2.5, 0],
    ],
    cpu: powScalar,
    wgsl: 'pow_scalar(v, p0)',
    grad: ({ g, x, p0 }) => (p0 === 0 ? null : g.mul(x.pow(p0 - 1)).mul(p0)),
    onnx: (n, x, p0) => n.node('Pow', [x, n.scalar(p0)]),
    method: 'pow(3)',
  },
  // d (s x + t) = g * s, s = p0
  affine: {
    torch: 'x * p0 + p1',
    special: [[2, 1]],
    cpu: (v, s, t) => v * s + t,
    wgsl: 'v * p0 + p1',
    grad: ({ g, p0 }) => g.mul(p0),
    onnx: (n, x, p0, p1) => n.node('Add', [n.node('Mul', [x, n.scalar(p0)]), n.scalar(p1)]),
    method: 'mul(1.5)',
  },
  // d 1/x = -g y^2
  reciprocal: {
    torch: 'torch.reciprocal(x)',
    cpu: (v) => 1 / v,
    wgsl: 'div_ieee(one, v)',
    grad: ({ g, y, un }) => g.mul(un('square', y)).neg(),
    onnx: 'Reciprocal',
  },
  // d x^2 = 2 g x
  square: {
    torch: 'torch.square(x)',
    cpu: (v) => v * v,
    wgsl: 'v * v',
    grad: ({ g, x }) => g.mul(x).mul(2),
    onnx: (n, x) => n.node('Mul', [x, x]),
  },
  // Piecewise constant: no gradient. 0 at NaN (torch.sign; in ONNX too: NaN compares false both ways).
  sign: {
    torch: 'torch.sign(x)',
    cpu: (v) => (Number.isNaN(v) ? 0 : Math.sign(v)),
    wgsl: 'select(sign(v), zero, nan)',
    grad: null,
    onnx: (n, x) =>
      n.node('Sub', [n.toFloat(n.node('Greater', [x, n.scalar(0)])), n.toFloat(n.node('Less', [x, n.scalar(0)]))]),
  },
  // heaviside(v, 0): 1 where v > 0, else 0 (NaN too, as torch.heaviside); no gradient. No method: it is
  // relu's and leaky_relu's derivative.
  step: {
    torch: 'torch.heaviside(x, torch.zeros_like(x))',
    cpu: (v) => (v > 0 ? 1 : 0),
    wgsl: 'select(zero, one, (v > zero) & !nan)',
    grad: null,
    onnx: (n, x) => n.toFloat(n.node('Greater', [x, n.scalar(0)])),
    method: null,
  },
  // d erf(x) = g * 2/sqrt(pi) exp(-x^2)
  erf: {
    torch: 'torch.erf(x)',
    cpu: erf,
    wgsl: 'erf4(v)',
    grad: ({ g, x, un }) => g.mul(un('exp', un('affine', un('square', x), -1, 0))).mul(2 / Math.sqrt(Math.PI)),
    onnx: 'Erf',
  },
  // Toward zero (the float -> int32 cast), keeping -0, +-Inf and NaN; no gradient. ONNX has no Trunc.
  trunc: {
    torch: 'torch.trunc(x)',
    cpu: Math.trunc,
    wgsl: 'select(trunc(v), v, nan | inf)',
    grad: null,
    onnx: (n, x) => n.node('Mul', [n.node('Sign', [x]), n.node('Floor', [n.node('Abs', [x])])]),
  },
});

export type UnaryOp = keyof typeof UNARY;
/** The ops in the table's order: an op's code in the WGSL is its position here. */
export const UNARY_OPS: readonly UnaryOp[] = Object.keys(UNARY) as UnaryOp[];

/**
 * The inputs' gradients, before each is summed back to its input's shape. na, nb: whether a and b need
 * one (the engine would drop the others): a constant operand, such as a mask or a loss's target, then
 * costs no kernel in the backward pass.
 */
export interface BinaryGradArgs<T> {
  g: T;
  a: T;
  b: T;
  y: T;
  na: boolean;
  nb: boolean;
  un: (op: UnaryOp, x: T, p0?: number, p1?: number) => T;
}

/** One binary op (broadcasting over its inputs' shapes); the columns as UnaryRow's. */
export interface BinaryRow {
  /** PyTorch's op on the float32 tensors a and b (UnaryRow's torch). */
  torch: string;
  cpu: (a: number, b: number) => number;
  /** WGSL on `a, b: vec4<f32>` (in scope: zero, one; nan = is_nan(a) | is_nan(b)). */
  wgsl: string;
  grad: null | (<T extends GradTensor<T>>(x: BinaryGradArgs<T>) => [T | null, T | null]);
  onnx: string | ((n: OnnxNodes, a: string, b: string) => string);
}

/**
 * A comparison's row (`torch`: the torch function's name): 1 where `holds`, else 0 (false with a NaN but ne, which is true: IEEE 754 and
 * PyTorch); piecewise constant, so no gradient; `onnx` the boolean node, cast to float.
 */
const compare = (holds: (a: number, b: number) => boolean, wgsl: string, onnx: string, torch: string): BinaryRow => ({
  torch: `torch.${torch}(a, b).float()`,
  cpu: (a, b) => +holds(a, b),
  wgsl: `select(zero, one, ${wgsl})`,
  grad: null,
  onnx: (n, a, b) => n.toFloat(n.node(onnx, [a, b])),
});

// maximum and minimum propagate NaN (WGSL's max and min need not).
export const BINARY = {
  // d(a + b) = (g, g)
  add: { torch: 'torch.add(a, b)', cpu: (a, b) => a + b, wgsl: 'a + b', grad: ({ g }) => [g, g], onnx: 'Add' },
  // d(a - b) = (g, -g)
  sub: {
    torch: 'torch.sub(a, b)',
    cpu: (a, b) => a - b,
    wgsl: 'a - b',
    grad: ({ g, nb }) => [g, nb ? g.neg() : null],
    onnx: 'Sub',
  },
  // d(a b) = (g b, g a)
  mul: {
    torch: 'torch.mul(a, b)',
    cpu: (a, b) => a * b,
    wgsl: 'a * b',
    grad: ({ g, a, b, na, nb }) => [na ? g.mul(b) : null, nb ? g.mul(a) : null],
    onnx: 'Mul',
  },
  // d(a / b) = (g / b, -g y / b)
  div: {
    torch: 'torch.div(a, b)',
    cpu: (a, b) => a / b,
    wgsl: 'div_ieee(a, b)',
    grad: ({ g, b, y, na, nb }) => [na ? g.div(b) : null, nb ? g.mul(y).div(b).neg() : null],
    onnx: 'Div',
  },
  // d a^b = (g b a^(b-1), g y log a)
  pow: {
    torch: 'torch.pow(a, b)',
    cpu: powC,
    wgsl: 'pow_torch(a, b)',
    grad: ({ g, a, b, y, na, nb }) => [na ? g.mul(b).mul(a.pow(b.sub(1))) : null, nb ? g.mul(y).mul(a.log()) : null],
    onnx: 'Pow',
  },
  // d max(a, b): to the larger, split evenly on ties (as torch.maximum)
  maximum: {
    torch: 'torch.maximum(a, b)',
    cpu: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
    wgsl: 'select(max(a, b), select(b, a, is_nan(a)), nan)',
    grad: (x) => maxGrad(x.a.gt(x.b).add(x.a.eq(x.b).mul(0.5)), x),
    onnx: 'Max',
  },
  // d min(a, b): to the smaller, split evenly on ties
  minimum: {
    torch: 'torch.minimum(a, b)',
    cpu: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
    wgsl: 'select(min(a, b), select(b, a, is_nan(a)), nan)',
    grad: (x) => maxGrad(x.a.lt(x.b).add(x.a.eq(x.b).mul(0.5)), x),
    onnx: 'Min',
  },
  eq: compare((a, b) => a === b, '(a == b) & !nan', 'Equal', 'eq'),
  // ONNX: Not(Equal)
  ne: {
    ...compare((a, b) => a !== b, '(a != b) | nan', 'Equal', 'ne'),
    onnx: (n, a, b) => n.toFloat(n.node('Not', [n.node('Equal', [a, b])])),
  },
  lt: compare((a, b) => a < b, '(a < b) & !nan', 'Less', 'lt'),
  le: compare((a, b) => a <= b, '(a <= b) & !nan', 'LessOrEqual', 'le'),
  gt: compare((a, b) => a > b, '(a > b) & !nan', 'Greater', 'gt'),
  ge: compare((a, b) => a >= b, '(a >= b) & !nan', 'GreaterOrEqual', 'ge'),
} satisfies Record<string, BinaryRow>;

/** maximum's and minimum's gradients from m, the share of a: (g m, g (1 - m)). */
function maxGrad<T extends GradTensor<T>>(m: T, { g, na, nb, un }: BinaryGradArgs<T>): [T | null, T | null] {
  return [na ? g.mul(m) : null, nb ? g.mul(un('affine', m, -1, 1)) : null];
}

export type BinaryOp = keyof typeof BINARY;
/** The ops in the table's order: an op's code in the WGSL is its position here. */
export const BINARY_OPS: readonly BinaryOp[] = Object.keys(BINARY) as BinaryOp[];

/**
 * The inputs' gradients of a ternary op (before each is summed back to its input's shape); nc, na, nb
 * as BinaryGradArgs' na, nb; `where` applies the where op (recorded like any other).
 */
export interface TernaryGradArgs<T> {
  g: T;
  c: T;
  a: T;
  b: T;
  nc: boolean;
  na: boolean;
  nb: boolean;
  where: (c: T, a: T, b: T) => T;
}

/** One ternary op (op(c, a, b), broadcasting over the three shapes); the columns as UnaryRow's. */
export interface TernaryRow {
  /** PyTorch's op on the float32 tensors c, a and b (UnaryRow's torch). */
  torch: string;
  cpu: (c: number, a: number, b: number) => number;
  /** WGSL on `c, a, b: vec4<f32>` (in scope: zero, one). */
  wgsl: string;
  grad: <T extends GradTensor<T>>(x: TernaryGradArgs<T>) => [T | null, T | null, T | null];
  onnx: (n: OnnxNodes, c: string, a: string, b: string) => string;
}

export const TERNARY = {
  // where(c, a, b) = c != 0 ? a : b, a NaN condition counting as true (torch.where(c.bool(), a, b); tested
  // on the bits, see common.wgsl). d = (-, g [c], g [!c])
  where: {
    torch: 'torch.where(c.bool(), a, b)',
    cpu: (c, a, b) => (c !== 0 ? a : b),
    wgsl: 'select(b, a, (c != zero) | is_nan(c))',
    grad: ({ g, c, na, nb, where }) => {
      const z = g.mul(0);
      return [null, na ? where(c, g, z) : null, nb ? where(c, z, g) : null];
    },
    onnx: (n, c, a, b) => n.node('Where', [n.toBool(c), a, b]),
  },
  // fma(c, a, b) = c a + b, rounded once. d = (g a, g c, g)
  fma: {
    torch: 'torch.addcmul(b, c, a)',
    cpu: (c, a, b) => c * a + b,
    wgsl: 'fma(c, a, b)',
    grad: ({ g, c, a, nc, na }) => [nc ? g.mul(a) : null, na ? g.mul(c) : null, g],
    onnx: (n, c, a, b) => n.node('Add', [n.node('Mul', [c, a]), b]),
  },
} satisfies Record<string, TernaryRow>;

export type TernaryOp = keyof typeof TERNARY;
/** The ops in the table's order: an op's code in the WGSL is its position here. */
export const TERNARY_OPS: readonly TernaryOp[] = Object.keys(TERNARY) as TernaryOp[];

const codes = (ops: readonly string[]) => new Map(ops.map((op, i) => [op, i]));
const UNARY_CODES = codes(UNARY_OPS),
  BINARY_CODES = codes(BINARY_OPS),
  TERNARY_CODES = codes(TERNARY_OPS);
/** An op's code; an op without a row (a name from outside the type system) is an error naming it. */
function codeOf(kind: string, codes: Map<string, number>, op: string): number {
  const code = codes.get(op);
  if (code === undefined) throw new Error(`unknown ${kind} op '${op}' (the ops: ${[...codes.keys()].join(', ')})`);
  return code;
}
/** The code of `op` in the WGSL (its row's position); an unknown op is an error. */
export const unaryCode = (op: UnaryOp): number => codeOf('unary', UNARY_CODES, op);
export const binaryCode = (op: BinaryOp): number => codeOf('binary', BINARY_CODES, op);
export const ternaryCode = (op: TernaryOp): number => codeOf('ternary', TERNARY_CODES, op);
/** The row of `op`; an unknown op is an error. */
export const unaryRow = (op: UnaryOp): UnaryRow<UnaryOp> => UNARY[UNARY_OPS[unaryCode(op)]];
export const binaryRow = (op: BinaryOp): BinaryRow => BINARY[BINARY_OPS[binaryCode(op)]];
export const ternaryRow = (op: TernaryOp): TernaryRow => TERNARY[TERNARY_OPS[ternaryCode(op)]];

/**
 * WGSL's `fn <name>_op(op: u32, <args>)`, which the kernels (OP, an override constant) and the fused
 * kernels (a constant code) call, so each call folds to its op's expression: one case per row, its code
 * its position. The default case is NaN, never an input: codes come from unaryCode, binaryCode and
 * ternaryCode, which throw for an op without a row.
 */
const opSwitch = (name: string, args: string, nan: string, rows: Record<string, { wgsl: string }>) =>
  [
    `// ---- ${name}_op, generated from the rows of src/backend/elementwise_table.ts ----`,
    `fn ${name}_op(op: u32, ${args}) -> vec4<f32> {`,
    '  let zero = vec4<f32>(0.0);',
    '  let one = vec4<f32>(1.0);',
    `  let nan = ${nan};`,
    ...(name === 'unary' ? ['  let inf = is_inf(v);'] : []),
    '  switch op {',
    ...Object.entries(rows).map(([op, row], code) => `    case ${code}u: { return ${row.wgsl}; } // ${op}`),
    `    default: { return nan_of(${args[0]}); }`,
    '  }',
    '}',
  ].join('\n');

/** The switches by the shader file that the loader appends each to (ContextOptions.generated). */
export const elementwiseWgsl = () => ({
  unary_ops: opSwitch('unary', 'v: vec4<f32>, p0: f32, p1: f32', 'is_nan(v)', UNARY),
  // The ternary ops' switch goes with the binary ops' (every kernel that calls one includes both).
  binary_ops: [
    opSwitch('binary', 'a: vec4<f32>, b: vec4<f32>', 'is_nan(a) | is_nan(b)', BINARY),
    opSwitch('ternary', 'c: vec4<f32>, a: vec4<f32>, b: vec4<f32>', 'is_nan(c)', TERNARY),
  ].join('\n'),
});
