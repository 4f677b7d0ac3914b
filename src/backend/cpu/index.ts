// The CPU reference backend: naive loops that read like the math. It is the specification the WGSL
// kernels are tested against, so it favours obviousness over speed, and is never derived from the WGSL.
// Arithmetic is float32 (results stored in Float32Array); a Float64 mode is used by gradcheck. The
// elementwise ops' functions are the `cpu` column of src/backend/elementwise_table.ts (one row per op).

import {
  applyFuse,
  type Backend,
  type ConvKind,
  type ElementwiseKernel,
  type Fuse,
  type MoveOf,
  type MoveSpec,
  type ReduceSpec,
  type RowsReduce,
  type Storage,
} from '../backend.ts';
import {
  readAt,
  readsAll,
  reducedSize,
  rowRead,
  withAcc,
  type ConvGeom,
  type FiniteCheck,
  type FusedExpr,
  type MatmulSpec,
  type OptimSpec,
  type RandomSpec,
  type ReduceGeom,
  type ReduceOp,
} from '../kernels.ts';
import { binaryRow, ternaryRow, unaryRow } from '../elementwise_table.ts';
import { contiguousStrides, numel } from '../../shape.ts';
import { boxMuller, philox4x32, uniformFromBits } from '../../random/philox.ts';

type Arr = Float32Array | Float64Array;

export class CpuStorage implements Storage {
  constructor(public data: Arr) {}
  get length(): number {
    return this.data.length;
  }
}

/** Offset of flat index i of `shape` through `strides`. */
function offsetOf(i: number, shape: number[], strides: number[]): number {
  let off = 0;
  for (let d = shape.length - 1; d >= 0; d--) {
    const c = i % shape[d];
    i = Math.floor(i / shape[d]);
    off += c * strides[d];
  }
  return off;
}

/** op over one row's values: pairwise sums, NaN-propagating max and min, the first extreme's index. */
function reduceValues(op: ReduceOp, row: ArrayLike<number> & Iterable<number>): number {
  const R = row.length;
  if (op === 'sum') {
    // Pairwise summation: error grows with log R, not R.
    const pair = (lo: number, hi: number): number => {
      if (hi - lo > 8) return pair(lo, (lo + hi) >> 1) + pair((lo + hi) >> 1, hi);
      let acc = 0;
      for (let k = lo; k < hi; k++) acc += row[k];
      return acc;
    };
    return pair(0, R);
  }
  if (op === 'max' || op === 'min') {
    // Math.max and Math.min propagate a NaN.
    let v = op === 'max' ? -Infinity : Infinity;
    for (const t of row) v = op === 'max' ? Math.max(v, t) : Math.min(v, t);
    return v;
  }
  // argmax/argmin: first index of the extreme value; a NaN counts as the extreme (as in PyTorch).
  let best = 0;
  for (let k = 1; k < R; k++) {
    const t = row[k],
      b = row[best];
    if (Number.isNaN(b)) break;
    if (Number.isNaN(t) || (op === 'argmax' ? t > b : t < b)) best = k;
  }
  return best;
}

/**
 * The CPU reference backend: every kernel as naive, obvious loops that read like the math, the spec the
 * WebGPU kernels are tested against (bit for bit where the arithmetic allows). `init({ backend: 'cpu' })`
 * makes one current; tensors made before any init() live on one too. `float64` makes every result
 * float64 (gradcheck's finite differences).
 * @example
 * ```ts
 * const cpu = new CpuBackend();
 * const x = tensor([1, 2, 3], undefined, { backend: cpu });
 * ```
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly description: string;
  private live = 0;

  /** float64 = true makes every result a Float64Array (gradient checks by finite differences). */
  constructor(readonly float64 = false) {
    this.description = `cpu reference (${float64 ? 'float64' : 'float32'})`;
  }

  /** @internal */
  alloc(init: number | Float32Array | Float64Array): CpuStorage {
    const n = typeof init === 'number' ? init : init.length;
    this.live += n * 4;
    const s = new CpuStorage(this.float64 ? new Float64Array(n) : new Float32Array(n));
    if (typeof init !== 'number') s.data.set(init);
    return s;
  }
  private d(s: Storage): Arr {
    return (s as CpuStorage).data;
  }

  /** @internal */
  write(s: Storage, data: Float32Array): void {
    if (data.length !== s.length) throw new Error(`write: ${data.length} values for a storage of ${s.length}`);
    this.d(s).set(data);
  }
  /** A copy of a storage's values. */
  read(s: Storage): Promise<Float32Array>;
  /** A copy of a storage's raw 32-bit words (Philox bits). */
  read(s: Storage, o: { as: 'u32' }): Promise<Uint32Array>;
  async read(s: Storage, o?: { as: 'u32' }): Promise<Float32Array | Uint32Array> {
    const d = this.d(s);
    if (!o) return Float32Array.from(d);
    if (!(d instanceof Float32Array)) throw new Error("read as 'u32' needs float32 storage");
    return new Uint32Array(d.buffer, d.byteOffset, d.length).slice();
  }
  /** Synchronous read, exact in float64 mode (for gradcheck). @internal */
  readSync(s: Storage): Arr {
    return this.d(s).slice();
  }
  /** @internal */
  free(s: Storage): void {
    this.live -= s.length * 4;
  }
  memory() {
    return { liveBytes: this.live, pooledBytes: 0 };
  }

  /**
   * An elementwise kernel: the expression element by element with its rows' CPU functions
   * (elementwise_table.ts), each intermediate rounded as a stored float32 result would be (not in
   * float64 mode), so a fused chain gives the unfused ops' values bit for bit. With `optim`, the values
   * then update the parameter as optimStep does.
   * @internal
   */
  elementwise({ expr, inputs, reads, n, out: into, optim }: ElementwiseKernel): Storage {
    const xs = inputs.map((s) => this.d(s));
    const round = this.float64 ? (v: number) => v : Math.fround;
    // The expression as nested closures, made once per call (a switch per element and node is slower).
    const compile = (e: FusedExpr): ((i: number) => number) => {
      switch (e.kind) {
        case 'input': {
          const x = xs[e.k],
            r = reads[e.k];
          if (r.outer?.length) return (i) => x[readAt(r, i)];
          const { div, mod } = r;
          return mod === 1 ? () => x[0] : div === 1 ? (i) => x[i % mod] : (i) => x[Math.floor(i / div) % mod];
        }
        case 'acc':
          throw new Error('internal: a reduction epilogue reached elementwise()');
        case 'const': {
          const v = e.value;
          return () => v;
        }
        case 'unary': {
          const f = unaryRow(e.op).cpu,
            x = compile(e.x),
            { p0, p1 } = e;
          return (i) => round(f(x(i), p0, p1));
        }
        case 'binary': {
          const f = binaryRow(e.op).cpu,
            a = compile(e.a),
            b = compile(e.b);
          return (i) => round(f(a(i), b(i)));
        }
        case 'ternary': {
          const f = ternaryRow(e.op).cpu,
            c = compile(e.c),
            a = compile(e.a),
            b = compile(e.b);
          return (i) => round(f(c(i), a(i), b(i)));
        }
      }
    };
    const at = compile(expr);
    // Element i is computed whole before it is stored, so `into` may be an input read element for element.
    const out = into ? (into as CpuStorage) : this.alloc(n);
    for (let i = 0; i < n; i++) out.data[i] = at(i);
    if (optim) this.optimStep(optim.param, out, optim.s1, optim.s2, optim.spec, optim.check);
    return out;
  }

  /**
   * Row r's reduced elements, gathered through geom (runs outermost first) from x or from the fused
   * expression's values (stored first, rounded, by elementwise()); with two reduced runs, the inner one
   * of stride 1 (the reduced dims ending the tensor), each inner run is reduced and stored first, then
   * those results, as the reduce primitive composes such a reduction.
   * @internal
   */
  reduce(spec: ReduceSpec): Storage {
    if ('stages' in spec) return this.reduceRowsChain(spec);
    const { op, expr, inputs, reads, geom, assign, ...fuse } = spec;
    const n = geom.rows * reducedSize(geom);
    // The reduce primitive's form (its input, read whole) reads the input itself.
    const plain = expr.kind === 'input' && readsAll(reads[expr.k], n);
    const x = plain ? inputs[expr.k] : this.elementwise({ expr, inputs, reads, n });
    const out = this.reduceRuns(op, this.d(x), geom);
    if (!plain) this.free(x);
    const y = applyFuse(this, out, fuse);
    // The store's assign: dst[o] = expr(acc = y[o], input 0 = dst[o]), as the assign would run after it.
    if (assign) {
      const all = { div: 1, mod: geom.rows };
      const e = withAcc(assign.expr, 1);
      this.elementwise({ expr: e, inputs: [assign.dst, y], reads: [all, all], n: geom.rows, out: assign.dst });
    }
    return y;
  }

  /**
   * The row form, stage by stage as the unfused kernels run: each stage's expression over the tensor
   * (the earlier stages' values read at each element's row), its sum, its epilogue; then the final
   * expression. Bit for bit the kernels the compiler merged.
   */
  private reduceRowsChain({ stages, spill, final, inputs, reads, geom }: RowsReduce): Storage {
    const n = geom.rows * reducedSize(geom);
    const K = stages.length;
    const atElement = rowRead(geom),
      atRow = { div: 1, mod: geom.rows },
      one = { div: 1, mod: 1 };
    // The element-level inputs: the kernel's, then the K stages' values (those not computed yet stand
    // in as a value no expression reads), then the spilled value.
    const blank = this.alloc(1);
    const stats: Storage[] = [];
    let spilled: Storage | null = null;
    const elementInputs = () => ({
      inputs: [...inputs, ...stats, ...Array<Storage>(K - stats.length).fill(blank), spilled ?? blank],
      reads: [
        ...reads,
        ...stats.map(() => atElement),
        ...Array(K - stats.length).fill(one),
        spilled ? { div: 1, mod: n } : one,
      ],
    });
    try {
      for (const [k, { expr, epilogue }] of stages.entries()) {
        if (spill?.stage === k) spilled = this.elementwise({ expr: spill.expr, ...elementInputs(), n });
        const x = this.elementwise({ expr, ...elementInputs(), n });
        const sum = this.reduceRuns('sum', this.d(x), geom);
        this.free(x);
        if (!epilogue) {
          stats.push(sum);
          continue;
        }
        const m = epilogue.inputs.length;
        stats.push(
          this.elementwise({
            expr: withAcc(epilogue.expr, m + stats.length),
            inputs: [...epilogue.inputs, ...stats, sum],
            reads: [...epilogue.reads, ...stats.map(() => atRow), atRow],
            n: geom.rows,
          }),
        );
        this.free(sum);
      }
      return this.elementwise({ expr: final, ...elementInputs(), n });
    } finally {
      for (const st of [...stats, blank, ...(spilled ? [spilled] : [])]) this.free(st);
    }
  }

  private reduceRuns(op: ReduceOp, X: Arr, { rows, kept, red }: ReduceGeom): Storage {
    const out = this.alloc(rows);
    const [[n0, s0], [n1, s1] = [1, 0]] = red;
    const inner = this.alloc(red.length === 2 && s1 === 1 ? n0 : 0);
    for (let r = 0, base = 0; r < rows; r++, base = 0) {
      for (let d = kept.length - 1, rest = r; d >= 0; rest = Math.floor(rest / kept[d][0]), d--)
        base += (rest % kept[d][0]) * kept[d][1];
      for (let i = 0; i < inner.length; i++)
        inner.data[i] = reduceValues(op, X.subarray(base + i * s0, base + i * s0 + n1));
      out.data[r] = inner.length
        ? reduceValues(op, inner.data)
        : reduceValues(
            op,
            Array.from({ length: n0 * n1 }, (_, j) => X[base + Math.floor(j / n1) * s0 + (j % n1) * s1]),
          );
    }
    this.free(inner);
    return out;
  }

  /** @internal */
  move(spec: MoveSpec): Storage {
    if (spec.kind === 'copy') return this.copy(spec);
    if (spec.kind === 'pad') return this.pad(spec);
    if (spec.kind === 'cumsum') return this.cumsum(spec);
    return this.gather(spec);
  }

  private copy({ shape, src, dst }: MoveOf<'copy'>): Storage {
    const S = this.d(src.storage),
      D = this.d(dst.storage);
    const n = numel(shape);
    for (let i = 0; i < n; i++)
      D[dst.offset + offsetOf(i, shape, dst.strides)] = S[src.offset + offsetOf(i, shape, src.strides)];
    return dst.storage;
  }

  private pad({ x, shape, before, after, mode, value }: MoveOf<'pad'>): Storage {
    const X = this.d(x);
    const outShape = shape.map((s, d) => s + before[d] + after[d]);
    const out = this.alloc(numel(outShape));
    const inStrides = contiguousStrides(shape);
    for (let i = 0; i < out.length; i++) {
      let rem = i,
        src = 0,
        inside = true;
      for (let d = shape.length - 1; d >= 0; d--) {
        let c = (rem % outShape[d]) - before[d];
        rem = Math.floor(rem / outShape[d]);
        if (c < 0 || c >= shape[d]) {
          if (mode === 'constant') inside = false;
          else if (mode === 'reflect') c = c < 0 ? -c : 2 * (shape[d] - 1) - c;
          else c = Math.min(Math.max(c, 0), shape[d] - 1);
        }
        src += c * inStrides[d];
      }
      out.data[i] = inside ? X[src] : value;
    }
    return out;
  }

  private gather({ kind, x, index, dims: { O, D, I, K } }: MoveOf<'gather' | 'scatter_add'>): Storage {
    const X = this.d(x),
      P = this.d(index);
    const valid = (p: number) => Number.isInteger(p) && p >= 0 && p < D;
    if (kind === 'gather') {
      // y[o, k, i] = x[o, index[o, k, i], i]; NaN for an index that is no position.
      const out = this.alloc(O * K * I);
      for (let o = 0; o < O; o++)
        for (let k = 0; k < K; k++)
          for (let i = 0; i < I; i++) {
            const at = (o * K + k) * I + i,
              p = P[at];
            out.data[at] = valid(p) ? X[(o * D + p) * I + i] : NaN;
          }
      return out;
    }
    // The adjoint: each x[o, k, i] added at position index[o, k, i], in k order (as the WGSL sums).
    const out = this.alloc(O * D * I);
    for (let o = 0; o < O; o++)
      for (let k = 0; k < K; k++)
        for (let i = 0; i < I; i++) {
          const at = (o * K + k) * I + i,
            p = P[at];
          if (valid(p)) out.data[(o * D + p) * I + i] += X[at];
        }
    return out;
  }

  private cumsum({ x, dims: { O, D, I }, reverse }: MoveOf<'cumsum'>): Storage {
    const X = this.d(x);
    const out = this.alloc(O * D * I);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) {
        let acc = 0;
        for (let t = 0; t < D; t++) {
          const at = (o * D + (reverse ? D - 1 - t : t)) * I + i;
          acc += X[at];
          out.data[at] = acc;
        }
      }
    return out;
  }

  /** @internal */
  random(n: number, spec: RandomSpec): Storage {
    if (spec.kind === 'bits' && this.float64) throw new Error('random bits need float32 storage');
    const out = this.alloc(n);
    const [c0, c1, c2, c3] = spec.counter;
    for (let blk = 0; blk * 4 < n; blk++) {
      // 64-bit counter c0 + blk with the carry into c1, as the WGSL does.
      const lo = c0 + blk;
      const w = philox4x32([lo % 2 ** 32, (c1 + Math.floor(lo / 2 ** 32)) % 2 ** 32, c2, c3], spec.key);
      let vals: number[];
      if (spec.kind === 'bits') {
        // Raw words go through an integer view: a float view could canonicalize NaN bit patterns.
        const bits = new Uint32Array(out.data.buffer);
        for (let l = 0; l < 4 && blk * 4 + l < n; l++) bits[blk * 4 + l] = w[l];
        continue;
      } else if (spec.kind === 'uniform') vals = [...w].map((x) => uniformFromBits(x) * spec.scale + spec.shift);
      else if (spec.kind === 'normal')
        vals = [...boxMuller(w[0], w[1]), ...boxMuller(w[2], w[3])].map((z) => z * spec.scale + spec.shift);
      else vals = [...w].map((x) => (uniformFromBits(x) < spec.p ? spec.scale : 0));
      for (let l = 0; l < 4 && blk * 4 + l < n; l++) out.data[blk * 4 + l] = vals[l];
    }
    return out;
  }

  /** @internal */
  matmul(a: Storage, b: Storage, s: MatmulSpec, fuse: Fuse = {}): Storage {
    const A = this.d(a),
      B = this.d(b);
    const out = this.alloc(s.batch * s.M * s.N);
    for (let z = 0; z < s.batch; z++) {
      for (let i = 0; i < s.M; i++) {
        for (let j = 0; j < s.N; j++) {
          let acc = 0;
          for (let k = 0; k < s.K; k++) {
            const av = A[z * s.strideA + (s.transA ? k * s.M + i : i * s.K + k)];
            const bv = B[z * s.strideB + (s.transB ? j * s.K + k : k * s.N + j)];
            acc += av * bv;
          }
          out.data[z * s.M * s.N + i * s.N + j] = acc;
        }
      }
    }
    return applyFuse(this, out, fuse);
  }

  /** @internal */
  conv(kind: ConvKind, a: Storage, b: Storage, g: ConvGeom, fuse: Fuse = {}): Storage {
    const y =
      kind === 'conv2d'
        ? this.conv2d(a, b, g)
        : kind === 'conv2d_grad_input'
          ? this.conv2dGradInput(a, b, g)
          : this.conv2dGradWeight(a, b, g);
    return applyFuse(this, y, fuse);
  }

  private conv2d(x: Storage, w: Storage, g: ConvGeom): Storage {
    const X = this.d(x),
      Wt = this.d(w);
    const out = this.alloc(g.n * g.O * g.OH * g.OW);
    for (let n = 0; n < g.n; n++)
      for (let o = 0; o < g.O; o++)
        for (let oh = 0; oh < g.OH; oh++)
          for (let ow = 0; ow < g.OW; ow++) {
            let acc = 0;
            for (let c = 0; c < g.C; c++)
              for (let kh = 0; kh < g.KH; kh++)
                for (let kw = 0; kw < g.KW; kw++) {
                  const ih = oh * g.sh - g.ph + kh * g.dh,
                    iw = ow * g.sw - g.pw + kw * g.dw;
                  if (ih < 0 || iw < 0 || ih >= g.H || iw >= g.W) continue;
                  acc += Wt[((o * g.C + c) * g.KH + kh) * g.KW + kw] * X[((n * g.C + c) * g.H + ih) * g.W + iw];
                }
            out.data[((n * g.O + o) * g.OH + oh) * g.OW + ow] = acc;
          }
    return out;
  }

  private conv2dGradInput(dy: Storage, w: Storage, g: ConvGeom): Storage {
    const DY = this.d(dy),
      Wt = this.d(w);
    const out = this.alloc(g.n * g.C * g.H * g.W);
    // The adjoint of conv2d: every output position sends w * dy back to the inputs it read.
    for (let n = 0; n < g.n; n++)
      for (let o = 0; o < g.O; o++)
        for (let oh = 0; oh < g.OH; oh++)
          for (let ow = 0; ow < g.OW; ow++) {
            const d = DY[((n * g.O + o) * g.OH + oh) * g.OW + ow];
            for (let c = 0; c < g.C; c++)
              for (let kh = 0; kh < g.KH; kh++)
                for (let kw = 0; kw < g.KW; kw++) {
                  const ih = oh * g.sh - g.ph + kh * g.dh,
                    iw = ow * g.sw - g.pw + kw * g.dw;
                  if (ih < 0 || iw < 0 || ih >= g.H || iw >= g.W) continue;
                  out.data[((n * g.C + c) * g.H + ih) * g.W + iw] += Wt[((o * g.C + c) * g.KH + kh) * g.KW + kw] * d;
                }
          }
    return out;
  }

  private conv2dGradWeight(dy: Storage, x: Storage, g: ConvGeom): Storage {
    const DY = this.d(dy),
      X = this.d(x);
    const out = this.alloc(g.O * g.C * g.KH * g.KW);
    for (let o = 0; o < g.O; o++)
      for (let c = 0; c < g.C; c++)
        for (let kh = 0; kh < g.KH; kh++)
          for (let kw = 0; kw < g.KW; kw++) {
            let acc = 0;
            for (let n = 0; n < g.n; n++)
              for (let oh = 0; oh < g.OH; oh++)
                for (let ow = 0; ow < g.OW; ow++) {
                  const ih = oh * g.sh - g.ph + kh * g.dh,
                    iw = ow * g.sw - g.pw + kw * g.dw;
                  if (ih < 0 || iw < 0 || ih >= g.H || iw >= g.W) continue;
                  acc += DY[((n * g.O + o) * g.OH + oh) * g.OW + ow] * X[((n * g.C + c) * g.H + ih) * g.W + iw];
                }
            out.data[((o * g.C + c) * g.KH + kh) * g.KW + kw] = acc;
          }
    return out;
  }

  /** An optimizer's update of param (and its state s1, s2) from grad (formulas in shaders/optim.wgsl). */
  private optimStep(param: Storage, grad: Storage, s1: Storage, s2: Storage, o: OptimSpec, check?: FiniteCheck): void {
    const P = this.d(param),
      G = this.d(grad),
      S1 = this.d(s1),
      S2 = this.d(s2);
    let finite = true;
    const decoupled = o.kind === 'adam' && !!o.decoupled;
    for (let i = 0; i < P.length; i++) {
      // AdamW: p <- p (1 - lr wd), then Adam without a decay term (torch.optim.AdamW).
      if (decoupled && o.weightDecay !== 0) P[i] = P[i] * (1 - o.lr * o.weightDecay);
      // No decay term when it is 0 (as torch.optim): 0 * Inf would make an infinite parameter NaN.
      const g = o.weightDecay === 0 || decoupled ? G[i] : G[i] + o.weightDecay * P[i];
      if (o.kind === 'sgd') {
        let d = g;
        if (o.momentum !== 0) {
          const b = o.first ? g : o.momentum * S1[i] + (1 - o.dampening) * g;
          S1[i] = b;
          d = o.nesterov ? g + o.momentum * b : b;
        }
        P[i] = P[i] - o.lr * d;
      } else {
        S1[i] = o.beta1 * S1[i] + (1 - o.beta1) * g;
        S2[i] = o.beta2 * S2[i] + (1 - o.beta2) * g * g;
        const mHat = S1[i] / (1 - o.beta1 ** o.step),
          vHat = S2[i] / (1 - o.beta2 ** o.step);
        P[i] = P[i] - (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
      }
      finite &&= Number.isFinite(G[i]) && Number.isFinite(P[i]);
    }
    if (check && !finite) this.d(check.flags)[check.slot] = check.tag;
  }

  async sync(): Promise<void> {}
  dispose(): void {}
}
