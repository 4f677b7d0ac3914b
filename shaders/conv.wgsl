// GEMM hooks for 2-D convolution by implicit GEMM (no im2col matrix is materialized): the operands are
// addressed through the im2col view on the fly, so conv2d, its two gradients and conv_transpose2d all
// run on the shared GEMM cores (gemm_reg, gemm_tiled, gemm_splitk). NCHW input, OIHW weight.
//   MODE 0  forward     y[n,o,oh,ow]   M = O, N = n*OH*OW, K = C*KH*KW     A = w, B = im2col(x)
//   MODE 1  grad input  dx[n,c,ih,iw]  M = C, N = n*H*W,   K = O*KH*KW     A = w^T, B = col2im view of dy
//   MODE 2  grad weight dw[o,c,kh,kw]  M = O, N = C*KH*KW, K = n*OH*OW     A = dy, B = im2col(x)^T
// conv_transpose2d is MODE 1 (its forward), MODE 0 (its input gradient) and MODE 2 with the roles of
// input and output swapped (its weight gradient).
// Bindings: 0 = the A source, 1 = the B source, 2 = the output.
override MODE: u32 = 0u;
struct Params {
  n: u32, C: u32, H: u32, W: u32,
  O: u32, KH: u32, KW: u32, OH: u32,
  OW: u32, sh: u32, sw: u32, ph: u32,
  pw: u32, dh: u32, dw: u32, pad: u32,
}
@group(0) @binding(0) var<storage, read> src_a: array<f32>;
@group(0) @binding(1) var<storage, read> src_b: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn mm_dims() -> vec4<u32> {
  let kk = p.KH * p.KW;
  switch MODE {
    case 0u: { return vec4<u32>(p.O, p.n * p.OH * p.OW, p.C * kk, 1u); }
    case 1u: { return vec4<u32>(p.C, p.n * p.H * p.W, p.O * kk, 1u); }
    default: { return vec4<u32>(p.O, p.C * kk, p.n * p.OH * p.OW, 1u); }
  }
}

// x[n, c, ih, iw] with ih, iw given as signed (padding reads 0).
fn read_x(n: u32, c: u32, ih: i32, iw: i32) -> f32 {
  if (ih < 0 || iw < 0 || ih >= i32(p.H) || iw >= i32(p.W)) { return 0.0; }
  return src_b[((n * p.C + c) * p.H + u32(ih)) * p.W + u32(iw)];
}

fn mm_read_a(z: u32, r: u32, k: u32) -> f32 {
  let kk = p.KH * p.KW;
  switch MODE {
    case 0u: { return src_a[r * p.C * kk + k]; }
    case 1u: {
      // w[o, c = r, kh, kw] with k = (o, kh, kw)
      let o = k / kk;
      let s = k % kk;
      return src_a[(o * p.C + r) * kk + s];
    }
    default: {
      // dy[n, o = r, oh, ow] with k = (n, oh, ow)
      let hw = p.OH * p.OW;
      let n = k / hw;
      return src_a[(n * p.O + r) * hw + k % hw];
    }
  }
}

fn mm_read_b(z: u32, k: u32, col: u32) -> f32 {
  let kk = p.KH * p.KW;
  switch MODE {
    case 0u: {
      // im2col: k = (c, kh, kw), col = (n, oh, ow)
      let c = k / kk;
      let s = k % kk;
      let hw = p.OH * p.OW;
      let n = col / hw;
      let q = col % hw;
      let ih = i32((q / p.OW) * p.sh + (s / p.KW) * p.dh) - i32(p.ph);
      let iw = i32((q % p.OW) * p.sw + (s % p.KW) * p.dw) - i32(p.pw);
      return read_x(n, c, ih, iw);
    }
    case 1u: {
      // dy[n, o, oh, ow] where ih = oh*sh - ph + kh*dh: k = (o, kh, kw), col = (n, ih, iw)
      let o = k / kk;
      let s = k % kk;
      let hw = p.H * p.W;
      let n = col / hw;
      let q = col % hw;
      let th = i32(q / p.W) + i32(p.ph) - i32((s / p.KW) * p.dh);
      let tw = i32(q % p.W) + i32(p.pw) - i32((s % p.KW) * p.dw);
      if (th < 0 || tw < 0 || u32(th) % p.sh != 0u || u32(tw) % p.sw != 0u) { return 0.0; }
      let oh = u32(th) / p.sh;
      let ow = u32(tw) / p.sw;
      if (oh >= p.OH || ow >= p.OW) { return 0.0; }
      return src_b[((n * p.O + o) * p.OH + oh) * p.OW + ow];
    }
    default: {
      // im2col transposed: k = (n, oh, ow), col = (c, kh, kw)
      let hw = p.OH * p.OW;
      let n = k / hw;
      let q = k % hw;
      let c = col / kk;
      let s = col % kk;
      let ih = i32((q / p.OW) * p.sh + (s / p.KW) * p.dh) - i32(p.ph);
      let iw = i32((q % p.OW) * p.sw + (s % p.KW) * p.dw) - i32(p.pw);
      return read_x(n, c, ih, iw);
    }
  }
}

fn mm_write(z: u32, r: u32, col: u32, v: f32) {
  switch MODE {
    case 0u: {
      let hw = p.OH * p.OW;
      dst[((col / hw) * p.O + r) * hw + col % hw] = v;
    }
    case 1u: {
      let hw = p.H * p.W;
      dst[((col / hw) * p.C + r) * hw + col % hw] = v;
    }
    default: { dst[r * p.C * p.KH * p.KW + col] = v; }
  }
}
