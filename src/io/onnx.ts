// ONNX export by tracing (the same Tracer that compile() uses, src/graph/trace.ts): the function runs
// once with the one dispatch point recording its primitives over symbolic values, and each primitive
// becomes ONNX operators (opset 17), the parameters and buffers it read becoming initializers under their
// module names. A value that an op read through a view of another shape (reshape, flatten: no op in the
// trace) gets a Reshape. The shapes are the traced call's (the batch size too). The encoding is
// onnx-proto's (protobufjs code generated from onnx.proto), not written here.
//
// What cannot be exported is an error naming it: a forward that draws random numbers (a sampling
// layer: export the deterministic part, or in eval mode), one that updates state in place (batch norm in
// training mode: the module is put in eval mode while tracing), or a primitive of the backward pass.
// onnx-proto is CommonJS: its namespace comes through the default export under Node's ESM loader. It is
// imported where a model is encoded, not at the top: then importing wgpu-gen/io for checkpoints alone
// does not load it and protobufjs (364 kB minified; the bundlers split a dynamic import into a chunk).

/**
 * ONNX export (opset 17) of a traced forward, for onnxruntime and other runtimes; also re-exported by
 * `wgpu-gen/io`. The shapes are those of the example inputs; parameters and buffers become initializers
 * under their module names.
 *
 * @example
 * ```ts
 * import { exportModuleOnnx } from 'wgpu-gen/onnx';
 * const bytes = await exportModuleOnnx(decoder, [randn([1, 20])], { inputNames: ['z'], outputNames: ['image'] });
 * ```
 * @module wgpu-gen/onnx
 */
import type { onnx as P } from 'onnx-proto';
import { Tensor, setTracer } from '../tensor.ts';
import { Tracer, isSymbolic, type PrimOp } from '../graph/trace.ts';
import type { Params } from '../graph/primitives.ts';
import type { Storage } from '../backend/backend.ts';
import { binaryRow, ternaryRow, unaryRow, type OnnxNodes } from '../backend/elementwise_table.ts';
import type { AnyModule } from '../nn/module.ts';

/** exportOnnx's and exportModuleOnnx's options. */
export interface OnnxExportOptions {
  /** Names of the graph's inputs (default input0, input1, ...). */
  inputNames?: string[];
  /** Names of the graph's outputs (default output0, output1, ...). */
  outputNames?: string[];
  /** Initializer names by tensor (a module's parameters and buffers: its namedParameters()). */
  names?: Map<Tensor, string>;
  /** The graph's name. */
  name?: string;
}

const OPSET = 17;
// The enums of onnx.proto (TensorProto.DataType, AttributeProto.AttributeType), by their numbers there.
const DataType = { FLOAT: 1, INT64: 7 } as const;
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

type Attr = number | number[] | string;
function attribute(name: string, v: Attr): P.IAttributeProto {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  return Number.isInteger(v) ? { name, type: AttrType.INT, i: v } : { name, type: AttrType.FLOAT, f: v };
}
const floatAttr = (name: string, f: number): P.IAttributeProto => ({ name, type: AttrType.FLOAT, f });

/** Builds the ONNX graph: values are named, nodes appended, constants made once per value. */
class GraphBuilder implements OnnxNodes {
  readonly nodes: P.INodeProto[] = [];
  readonly initializers: P.ITensorProto[] = [];
  private n = 0;
  fresh(hint: string): string {
    return `${hint}_${this.n++}`;
  }
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, out = this.fresh(op.toLowerCase())): string {
    return this.push(
      op,
      inputs,
      out,
      Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    );
  }
  floatAttrNode(op: string, inputs: string[], attrs: Record<string, number>): string {
    const out = this.fresh(op.toLowerCase());
    return this.push(
      op,
      inputs,
      out,
      Object.entries(attrs).map(([k, v]) => floatAttr(k, v)),
    );
  }
  private push(opType: string, input: string[], out: string, attribute: P.IAttributeProto[]): string {
    this.nodes.push({ opType, input, output: [out], name: out, attribute });
    return out;
  }
  floats(data: Float32Array, dims: number[], name = this.fresh('const')): string {
    this.initializers.push({
      name,
      dims,
      dataType: DataType.FLOAT,
      rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
    });
    return name;
  }
  scalar(v: number): string {
    return this.floats(Float32Array.of(v), []);
  }
  ints(values: number[]): string {
    const name = this.fresh('ints');
    this.initializers.push({ name, dims: [values.length], dataType: DataType.INT64, int64Data: values });
    return name;
  }
  toFloat(x: string): string {
    return this.node('Cast', [x], { to: DataType.FLOAT });
  }
  toBool(x: string): string {
    // cond != 0, as the where primitive reads it.
    return this.node('Not', [this.node('Equal', [x, this.scalar(0)])]);
  }
}

/** The ONNX nodes of one primitive, over the names of its inputs (already of the op's input shapes). */
function lower(g: GraphBuilder, op: PrimOp, x: string[]): string {
  const p = op.params as never;
  switch (op.prim) {
    case 'unary': {
      const { op: u, p0, p1 } = p as Params['unary'];
      // Each elementwise op's lowering is its row's (src/backend/elementwise_table.ts).
      const onnx = unaryRow(u).onnx;
      return typeof onnx === 'string' ? g.node(onnx, [x[0]]) : onnx(g, x[0], p0, p1);
    }
    case 'binary': {
      const onnx = binaryRow((p as Params['binary']).op).onnx;
      return typeof onnx === 'string' ? g.node(onnx, x) : onnx(g, x[0], x[1]);
    }
    case 'ternary':
      return ternaryRow((p as Params['ternary']).op).onnx(g, x[0], x[1], x[2]);
    case 'reduce': {
      const { op: r, dims, keepdim } = p as Params['reduce'];
      const keepdims = keepdim ? 1 : 0;
      if (r === 'sum') return g.node('ReduceSum', [x[0], g.ints(dims)], { keepdims });
      if (r === 'max' || r === 'min')
        return g.node(r === 'max' ? 'ReduceMax' : 'ReduceMin', [x[0]], { axes: dims, keepdims });
      // argmax / argmin along one dim: the first extremum, as the kernels pick it.
      return g.toFloat(
        g.node(r === 'argmax' ? 'ArgMax' : 'ArgMin', [x[0]], { axis: dims[0], keepdims, select_last_index: 0 }),
      );
    }
    case 'permute':
      return g.node('Transpose', [x[0]], { perm: (p as Params['permute']).dims });
    case 'broadcast':
      return g.node('Expand', [x[0], g.ints((p as Params['broadcast']).shape)]);
    case 'slice': {
      const { dim, start, len, step } = p as Params['slice'];
      return g.node('Slice', [
        x[0],
        g.ints([start]),
        g.ints([start + step * (len - 1) + 1]),
        g.ints([dim]),
        g.ints([step]),
      ]);
    }
    case 'concat':
      return g.node('Concat', x, { axis: (p as Params['concat']).dim });
    case 'pad': {
      const { before, after, mode, value } = p as Params['pad'];
      return g.node('Pad', [x[0], g.ints([...before, ...after]), g.scalar(value)], {
        mode: mode === 'replicate' ? 'edge' : mode,
      });
    }
    case 'matmul': {
      const { transA, transB } = p as Params['matmul'];
      const t = (v: string, on: boolean) => (on ? g.node('Transpose', [v], { perm: [0, 2, 1] }) : v);
      return g.node('MatMul', [t(x[0], transA), t(x[1], transB)]);
    }
    case 'conv2d': {
      const { sh, sw, ph, pw, dh, dw } = (p as Params['conv2d']).geom;
      return g.node('Conv', [x[0], x[1]], { strides: [sh, sw], pads: [ph, pw, ph, pw], dilations: [dh, dw] });
    }
    case 'conv2d_grad_input': {
      // The transposed convolution (the adjoint of the direct one, whose input has this op's output shape).
      const { H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw } = (p as Params['conv2d_grad_input']).geom;
      const outputPadding = [
        H - ((OH - 1) * sh - 2 * ph + dh * (KH - 1) + 1),
        W - ((OW - 1) * sw - 2 * pw + dw * (KW - 1) + 1),
      ];
      return g.node('ConvTranspose', [x[0], x[1]], {
        strides: [sh, sw],
        pads: [ph, pw, ph, pw],
        dilations: [dh, dw],
        output_padding: outputPadding,
      });
    }
    case 'gather':
      return g.node('GatherElements', [x[0], g.node('Cast', [x[1]], { to: DataType.INT64 })], {
        axis: (p as Params['gather']).dim,
      });
    case 'cumsum': {
      const { dim, reverse } = p as Params['cumsum'];
      return g.node('CumSum', [x[0], g.ints([dim])], { reverse: reverse ? 1 : 0 });
    }
    case 'fill': {
      const { shape, value } = p as Params['fill'];
      return g.floats(new Float32Array(op.out.length).fill(value), shape);
    }
    case 'upload': {
      const { shape, data } = p as Params['upload'];
      return g.floats(Float32Array.from(data), shape);
    }
    case 'random':
      throw new Error(
        'ONNX export: the function draws random numbers (a sampling layer, dropout in training mode); export a deterministic function, e.g. the decoder of given codes, in eval mode',
      );
    default:
      throw new Error(`ONNX export: the primitive ${op.prim} (a backward-pass primitive) has no ONNX lowering`);
  }
}

const shapeEq = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const valueInfo = (name: string, shape: number[]): P.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
});

/**
 * Exports `fn` traced on `inputs` (their shapes fix the graph's) to ONNX bytes (an opset-17 ModelProto);
 * the tensors `fn` reads that are not its inputs (parameters, buffers) are read back and stored as
 * initializers. `fn` returns a tensor or an array of them.
 */
export async function exportOnnx(
  fn: (...xs: Tensor[]) => Tensor | Tensor[],
  inputs: Tensor[],
  opts: OnnxExportOptions = {},
): Promise<Uint8Array> {
  if (inputs.length === 0)
    throw new Error("ONNX export: give at least one example input (its shape fixes the graph's)");
  const backend = inputs[0].backend;
  const tracer = new Tracer<Tensor>();
  const placeholders = inputs.map((t) => new Tensor(t.backend, tracer.value(t.size), [...t.shape]));
  let outs: Tensor[];
  setTracer(tracer);
  try {
    const r = fn(...placeholders);
    outs = Array.isArray(r) ? r : [r];
    if (!outs.every((t) => t instanceof Tensor))
      throw new Error('ONNX export: the function must return a tensor or an array of tensors');
  } catch (e) {
    tracer.release();
    for (const t of tracer.created) t.dispose();
    throw e;
  } finally {
    setTracer(null);
  }
  const outShapes = outs.map((t) => [...t.shape]),
    outStorages = outs.map((t) => t.storage);
  try {
    for (const op of tracer.ops) {
      if (op.kind === 'effect')
        throw new Error(
          `ONNX export: the function updates state in place (${op.effect}: batch norm in training mode, an optimizer step); export in eval mode`,
        );
    }
    const g = new GraphBuilder();
    const named = new Map<Storage, { name: string; shape: number[] }>();
    const inputNames = placeholders.map((t, k) => opts.inputNames?.[k] ?? `input${k}`);
    placeholders.forEach((t, k) => named.set(t.storage, { name: inputNames[k], shape: [...t.shape] }));
    // Parameters and buffers: initializers under their names, flat unless a tensor gives their shape.
    const nameOf = new Map<Storage, { name: string; shape: number[] }>();
    for (const [t, n] of opts.names ?? []) if (!t.isDisposed) nameOf.set(t.storage, { name: n, shape: [...t.shape] });
    for (const t of tracer.seen)
      if (!t.isDisposed && !isSymbolic(t.storage) && !nameOf.has(t.storage))
        nameOf.set(t.storage, { name: t.name ?? g.fresh('param'), shape: [...t.shape] });
    for (const s of tracer.externals.keys()) {
      const meta = nameOf.get(s) ?? { name: g.fresh('param'), shape: [s.length] };
      const data = await backend.read(s);
      const shape = meta.shape.reduce((a, b) => a * b, 1) === s.length ? meta.shape : [s.length];
      named.set(s, { name: g.floats(data, shape, meta.name), shape });
    }
    const read = (s: Storage, shape: number[]): string => {
      const v = named.get(s);
      if (!v) throw new Error('internal: ONNX export read a value before it was made');
      return shapeEq(v.shape, shape) ? v.name : g.node('Reshape', [v.name, g.ints(shape)]);
    };
    for (const op of tracer.ops) {
      if (op.kind !== 'prim') continue;
      const xs = op.inputs.map((s, i) => read(s, op.xShapes[i]));
      named.set(op.out, { name: lower(g, op, xs), shape: op.shape });
    }
    const outputNames = outs.map((_, k) => opts.outputNames?.[k] ?? `output${k}`);
    outStorages.forEach((s, k) => g.node('Identity', [read(s, outShapes[k])], {}, outputNames[k]));
    const { onnx } = ((await import('onnx-proto')) as unknown as { default: typeof import('onnx-proto') }).default;
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'wgpu-gen',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: opts.name ?? 'wgpu_gen',
        node: g.nodes,
        initializer: g.initializers,
        input: placeholders.map((t, k) => valueInfo(inputNames[k], [...t.shape])),
        output: outShapes.map((s, k) => valueInfo(outputNames[k], s)),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  } finally {
    tracer.release();
    for (const t of tracer.created) t.dispose();
  }
}

/**
 * Exports a module's forward (or `fn` of the module, e.g. a VAE's decoder) on example inputs, in eval
 * mode (restored after), with its parameters and buffers under their state-dict names.
 */
export async function exportModuleOnnx(
  module: AnyModule,
  inputs: Tensor[],
  opts: OnnxExportOptions & { fn?: (...xs: Tensor[]) => Tensor | Tensor[] } = {},
): Promise<Uint8Array> {
  const training = module.training;
  module.eval();
  try {
    const names = new Map<Tensor, string>([...module.stateDict()].map(([k, t]) => [t, k]));
    return await exportOnnx(opts.fn ?? ((...xs: Tensor[]) => module.call(...xs) as Tensor | Tensor[]), inputs, {
      names,
      ...opts,
    });
  } finally {
    module.train(training);
  }
}
