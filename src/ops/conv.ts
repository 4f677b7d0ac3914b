// conv2d and conv_transpose2d (NCHW input, PyTorch weight layouts): argument checks and geometry, then
// the three conv primitives of src/graph/primitives.ts (the implicit-GEMM kernels of shaders/conv.wgsl:
// forward, grad input, grad weight), the transposed convolution being the adjoint of the direct one. The
// gradients are those primitives' rules. Grouped convolutions (depthwise too) are one convolution per
// group over its channels, concatenated: correct and differentiable through chunk and concat, but one
// kernel per group (a grouped GEMM kernel is not written yet). padding 'same' pads as torch does, the
// odd pixel of an even kernel's total on the right and bottom.

import { apply, type Tensor } from '../tensor.ts';
import type { ConvGeom } from '../backend/kernels.ts';
import { fmtShape } from '../shape.ts';
import { mixedBackendsError } from '../backend/registry.ts';
import { concat } from './movement.ts';

/** A 2-D size: one number for both dims, or [height, width]. */
export type Pair = number | [number, number];
const pair = (v: Pair | undefined, dflt: number): [number, number] =>
  v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : v;

/** Padding as torch takes it: pixels per side, or 'valid' (none) or 'same' (the output as large as the input, stride 1). */
export type ConvPadding = Pair | 'same' | 'valid';
/** conv2d's options, torch's keyword arguments (F.conv2d). */
export interface Conv2dOptions {
  /** Step of the kernel over the input (default 1). */
  stride?: Pair;
  /** Zero padding of the input: pixels per side, 'valid' (0) or 'same' (default 0). */
  padding?: ConvPadding;
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair;
  /** Input and output channels split into this many groups, each convolved on its own (C for depthwise). */
  groups?: number;
}
/**
 * convTranspose2d's options (F.conv_transpose2d), also taken by conv2dInput and conv2dWeight: those
 * of the direct convolution that this one is the adjoint of.
 */
export interface ConvTranspose2dOptions {
  /** Stride of the direct convolution: the output is about `stride` times larger (default 1). */
  stride?: Pair;
  /** Padding of the direct convolution, taken off the output's edges (default 0). */
  padding?: Pair;
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair;
  /** Extra rows and columns on the bottom and right, to reach an output size that stride rounds away (default 0; less than stride or dilation). */
  outputPadding?: Pair;
  /** Channel groups, each convolved on its own (default 1). */
  groups?: number;
}

/** groups checked against the channel counts (cIn the input's, cOut the output's). */
export function groupsOf(op: string, groups: number | undefined, cIn: number, cOut: number): number {
  const g = groups ?? 1;
  if (!Number.isInteger(g) || g < 1) throw new Error(`${op}: groups must be a positive integer, got ${g}`);
  if (cIn % g || cOut % g)
    throw new Error(`${op}: ${cIn} input and ${cOut} output channels do not split into ${g} groups`);
  return g;
}

function checkConvInputs(
  op: string,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null | undefined,
  cIn: number,
  cOut = op === 'conv2d' ? w.shape[0] : w.shape[1],
): void {
  if (x.ndim !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (w.ndim !== 4) throw new Error(`${op}: weight must be 4-D, got ${fmtShape(w.shape)}`);
  if (x.shape[1] !== cIn) {
    throw new Error(
      `${op}: input ${fmtShape(x.shape)} has ${x.shape[1]} channels but weight ${fmtShape(w.shape)} expects ${cIn}`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== cOut)) {
    throw new Error(`${op}: bias ${fmtShape(bias.shape)} does not match weight ${fmtShape(w.shape)}`);
  }
  if (x.backend !== w.backend) throw mixedBackendsError(op, x.backend, w.backend, ['the input', 'the weight']);
}

function addBias(y: Tensor, bias: Tensor | null | undefined): Tensor {
  return bias ? y.add(bias.reshape([1, bias.shape[0], 1, 1])) : y;
}

/** Geometry of the direct convolution x [n, C, H, W] * w [O, C, KH, KW] -> [n, O, OH, OW]. */
export function convGeom(
  xShape: number[],
  wShape: number[],
  o: ConvTranspose2dOptions,
  outHW?: [number, number],
): ConvGeom {
  const [sh, sw] = pair(o.stride, 1),
    [ph, pw] = pair(o.padding, 0),
    [dh, dw] = pair(o.dilation, 1);
  const [n, C, H, W] = xShape,
    [O, , KH, KW] = wShape;
  for (const [name, v, min] of [
    ['stride', sh, 1],
    ['stride', sw, 1],
    ['dilation', dh, 1],
    ['dilation', dw, 1],
    ['padding', ph, 0],
    ['padding', pw, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`conv: ${name} must be an integer >= ${min}, got ${v}`);
  }
  const OH = outHW?.[0] ?? Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = outHW?.[1] ?? Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  if (OH <= 0 || OW <= 0) {
    throw new Error(
      `conv2d: input ${fmtShape(xShape)} is too small for kernel ${KH}x${KW} (dilation ${dh}, padding ${ph}): output would be ${OH}x${OW}`,
    );
  }
  return { n, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw };
}

/**
 * 2-D convolution (torch.nn.functional.conv2d): input x [N, C, H, W], weight [O, C / groups, KH, KW],
 * optional bias [O]; the output is [N, O, OH, OW] with OH = floor((H + 2 padding - dilation (KH - 1) -
 * 1) / stride) + 1. Runs as an implicit-GEMM kernel on WebGPU.
 *
 * @throws Error when the shapes do not fit (channels, bias length, an output of no pixels), the
 * channels do not split into `groups`, 'same' padding has a stride other than 1, or x and w are on
 * different backends.
 * @example
 * ```ts
 * const x = randn([8, 3, 32, 32]), w = randn([16, 3, 3, 3]);
 * conv2d(x, w, null, { padding: 1 }).shape;   // [8, 16, 32, 32]
 * conv2d(x, w, null, { stride: 2 }).shape;    // [8, 16, 15, 15]
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const G = groupsOf('conv2d', opts.groups, x.ndim === 4 ? x.shape[1] : 0, w.shape[0] ?? 0);
  checkConvInputs('conv2d', x, w, bias, w.shape[1] * G);
  let padding: Pair | undefined;
  let xp = x;
  if (opts.padding === 'same') {
    const [sh, sw] = pair(opts.stride, 1),
      [dh, dw] = pair(opts.dilation, 1);
    if (sh !== 1 || sw !== 1) throw new Error(`conv2d: padding 'same' needs stride 1, got (${sh}, ${sw})`);
    const th = dh * (w.shape[2] - 1),
      tw = dw * (w.shape[3] - 1);
    const [top, left] = [th >> 1, tw >> 1];
    if (th % 2 || tw % 2) {
      // torch: the odd pixel of the total on the right and bottom, so the input is padded explicitly.
      xp = x.pad([left, tw - left, top, th - top]);
      padding = 0;
    } else padding = [top, left];
  } else padding = opts.padding === 'valid' ? 0 : opts.padding;
  const o: ConvTranspose2dOptions = { stride: opts.stride, padding, dilation: opts.dilation };
  return grouped(G, xp, w, bias, (xg, wg) => apply('conv2d', [xg, wg], { geom: convGeom(xg.shape, wg.shape, o) }));
}

/** `one` per group (the input's channels and the weight's dim 0 cut into G), concatenated, plus the bias. */
function grouped(
  G: number,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null | undefined,
  one: (x: Tensor, w: Tensor) => Tensor,
) {
  if (G === 1) return addBias(one(x, w), bias);
  const ws = w.chunk(G, 0);
  return addBias(
    concat(
      x.chunk(G, 1).map((xg, k) => one(xg, ws[k])),
      1,
    ),
    bias,
  );
}

/**
 * Transposed 2-D convolution (torch.nn.functional.conv_transpose2d), the upsampling one of decoders and
 * generators: input [N, C_in, H, W], weight [C_in, C_out / groups, KH, KW], optional bias [C_out]; the
 * output is [N, C_out, (H - 1) stride - 2 padding + dilation (KH - 1) + outputPadding + 1, ...].
 * It is the gradient of conv2d with respect to its input: the conv2d whose
 * input has this op's output shape and whose weight is `w` read as [O = C_in, C = C_out, KH, KW].
 *
 * @throws Error when the shapes do not fit or outputPadding is not smaller than stride or dilation.
 * @example
 * ```ts
 * const z = randn([8, 64, 7, 7]), w = randn([64, 32, 4, 4]);
 * convTranspose2d(z, w, null, { stride: 2, padding: 1 }).shape; // [8, 32, 14, 14]
 * ```
 */
export function convTranspose2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const G = groupsOf('conv_transpose2d', opts.groups, w.shape[0] ?? 0, (w.shape[1] ?? 0) * (opts.groups ?? 1));
  checkConvInputs('conv_transpose2d', x, w, bias, w.shape[0], w.shape[1] * G);
  const [sh, sw] = pair(opts.stride, 1),
    [ph, pw] = pair(opts.padding, 0),
    [dh, dw] = pair(opts.dilation, 1);
  const [oph, opw] = pair(opts.outputPadding, 0);
  if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw)) {
    throw new Error(`conv_transpose2d: output_padding (${oph}, ${opw}) must be smaller than stride or dilation`);
  }
  const [n, , H, W] = x.shape,
    [, Cout, KH, KW] = w.shape;
  const Hout = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1;
  const Wout = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1;
  if (Hout <= 0 || Wout <= 0)
    throw new Error(`conv_transpose2d: output size ${Hout}x${Wout} is not positive for input ${fmtShape(x.shape)}`);
  // The direct conv that maps [n, Cout, Hout, Wout] to x's shape [n, Cin, H, W] (per group).
  const one = (xg: Tensor, wg: Tensor) => {
    const g = convGeom(
      [n, Cout, Hout, Wout],
      [wg.shape[0], Cout, KH, KW],
      { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] },
      [H, W],
    );
    return apply('conv2d_grad_input', [xg, wg], { geom: g });
  };
  return grouped(G, x, w, bias, one);
}

function checkGradOutput(op: string, gradOutput: Tensor, g: ConvGeom): void {
  const want = [g.n, g.O, g.OH, g.OW];
  if (gradOutput.ndim !== 4 || gradOutput.shape.some((d, i) => d !== want[i])) {
    throw new Error(`${op}: grad_output ${fmtShape(gradOutput.shape)} does not match the output ${fmtShape(want)}`);
  }
}

/**
 * Gradient of conv2d with respect to its input (torch.nn.grad.conv2d_input): the input-gradient primitive
 * on its own, for benchmarks and custom backward passes (differentiable, like every primitive).
 */
export function conv2dInput(
  inputSize: number[],
  weight: Tensor,
  gradOutput: Tensor,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  const g = convGeom(inputSize, weight.shape, opts);
  checkGradOutput('conv2d_input', gradOutput, g);
  return apply('conv2d_grad_input', [gradOutput, weight], { geom: g });
}

/** Gradient of conv2d with respect to its weight (torch.nn.grad.conv2d_weight). */
export function conv2dWeight(
  input: Tensor,
  weightSize: number[],
  gradOutput: Tensor,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  const g = convGeom(input.shape, weightSize, opts);
  checkGradOutput('conv2d_weight', gradOutput, g);
  return apply('conv2d_grad_weight', [gradOutput, input], { geom: g });
}
