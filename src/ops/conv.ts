// conv2d and conv_transpose2d (NCHW input, PyTorch weight layouts): argument checks and geometry, then
// the three conv primitives of src/graph/primitives.ts (the implicit-GEMM kernels of shaders/conv.wgsl:
// forward, grad input, grad weight), the transposed convolution being the adjoint of the direct one. The
// gradients are those primitives' rules.

import { apply, type Tensor } from '../tensor.ts';
import type { ConvGeom } from '../backend/kernels.ts';
import { fmtShape } from '../shape.ts';

export type Pair = number | [number, number];
const pair = (v: Pair | undefined, dflt: number): [number, number] => (v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : v);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}
export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

function checkConvInputs(op: string, x: Tensor, w: Tensor, bias: Tensor | null | undefined, cIn: number): void {
  if (x.ndim !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (w.ndim !== 4) throw new Error(`${op}: weight must be 4-D, got ${fmtShape(w.shape)}`);
  if (x.shape[1] !== cIn) {
    throw new Error(`${op}: input ${fmtShape(x.shape)} has ${x.shape[1]} channels but weight ${fmtShape(w.shape)} expects ${cIn}`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== (op === 'conv2d' ? w.shape[0] : w.shape[1]))) {
    throw new Error(`${op}: bias ${fmtShape(bias.shape)} does not match weight ${fmtShape(w.shape)}`);
  }
  if (x.backend !== w.backend) throw new Error(`${op}: input and weight live on different backends`);
}

function addBias(y: Tensor, bias: Tensor | null | undefined): Tensor {
  return bias ? y.add(bias.reshape([1, bias.shape[0], 1, 1])) : y;
}

/** Geometry of the direct convolution x [n, C, H, W] * w [O, C, KH, KW] -> [n, O, OH, OW]. */
export function convGeom(xShape: number[], wShape: number[], o: Conv2dOptions, outHW?: [number, number]): ConvGeom {
  const [sh, sw] = pair(o.stride, 1), [ph, pw] = pair(o.padding, 0), [dh, dw] = pair(o.dilation, 1);
  const [n, C, H, W] = xShape, [O, , KH, KW] = wShape;
  for (const [name, v, min] of [['stride', sh, 1], ['stride', sw, 1], ['dilation', dh, 1], ['dilation', dw, 1], ['padding', ph, 0], ['padding', pw, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`conv: ${name} must be an integer >= ${min}, got ${v}`);
  }
  const OH = outHW?.[0] ?? Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = outHW?.[1] ?? Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  if (OH <= 0 || OW <= 0) {
    throw new Error(`conv2d: input ${fmtShape(xShape)} is too small for kernel ${KH}x${KW} (dilation ${dh}, padding ${ph}): output would be ${OH}x${OW}`);
  }
  return { n, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw };
}

/** torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation); weight [O, C, KH, KW]. */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  checkConvInputs('conv2d', x, w, bias, w.shape[1]);
  const g = convGeom(x.shape, w.shape, opts);
  return addBias(apply('conv2d', [x, w], { geom: g }), bias);
}

/**
 * torch.nn.functional.conv_transpose2d(input, weight, bias, stride, padding, output_padding, dilation);
 * weight [C_in, C_out, KH, KW]. It is the gradient of conv2d with respect to its input: the conv2d whose
 * input has this op's output shape and whose weight is `w` read as [O = C_in, C = C_out, KH, KW].
 */
export function convTranspose2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  checkConvInputs('conv_transpose2d', x, w, bias, w.shape[0]);
  const [sh, sw] = pair(opts.stride, 1), [ph, pw] = pair(opts.padding, 0), [dh, dw] = pair(opts.dilation, 1);
  const [oph, opw] = pair(opts.outputPadding, 0);
  if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw)) {
    throw new Error(`conv_transpose2d: output_padding (${oph}, ${opw}) must be smaller than stride or dilation`);
  }
  const [n, Cin, H, W] = x.shape, [, Cout, KH, KW] = w.shape;
  const Hout = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1;
  const Wout = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1;
  if (Hout <= 0 || Wout <= 0) throw new Error(`conv_transpose2d: output size ${Hout}x${Wout} is not positive for input ${fmtShape(x.shape)}`);
  // The direct conv that maps [n, Cout, Hout, Wout] to x's shape [n, Cin, H, W].
  const g = convGeom([n, Cout, Hout, Wout], [Cin, Cout, KH, KW], { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] }, [H, W]);
  return addBias(apply('conv2d_grad_input', [x, w], { geom: g }), bias);
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
export function conv2dInput(inputSize: number[], weight: Tensor, gradOutput: Tensor, opts: Conv2dOptions = {}): Tensor {
  const g = convGeom(inputSize, weight.shape, opts);
  checkGradOutput('conv2d_input', gradOutput, g);
  return apply('conv2d_grad_input', [gradOutput, weight], { geom: g });
}

/** Gradient of conv2d with respect to its weight (torch.nn.grad.conv2d_weight). */
export function conv2dWeight(input: Tensor, weightSize: number[], gradOutput: Tensor, opts: Conv2dOptions = {}): Tensor {
  const g = convGeom(input.shape, weightSize, opts);
  checkGradOutput('conv2d_weight', gradOutput, g);
  return apply('conv2d_grad_weight', [gradOutput, input], { geom: g });
}
