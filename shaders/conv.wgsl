// GEMM hooks for 2-D convolution by implicit GEMM (no im2col matrix is materialized): operands are read
// through the im2col view on the fly, so conv2d, its two gradients and conv_transpose2d all run on the
// shared GEMM cores (gemm_reg, gemm_tiled, gemm_splitk). NCHW input, OIHW weight.
//   MODE 0  forward      y[n,o,oh,ow]   M = O, N = n*OH*OW, K = C*KH*KW   A = w,   B = im2col(x)
//   MODE 1  grad input   dx[n,c,ih,iw]  M = C, N = n*H*W,   K = O*KH*KW   A = w^T, B = dy gathered
//   MODE 2  grad weight  dw[o,c,kh,kw]  M = O, N = C*KH*KW, K = n*OH*OW   A = dy,  B = im2col(x)^T
//   MODE 3  grad input, one stride phase (rh, rw) at a time, dilation 1: only the taps kh = kh0 + j*sh
//           reach input rows ih = rh + i*sh (sub-pixel decomposition), so K = O*nkh*nkw holds no zero
//           terms and oh = i + base_h - j needs no division. The backend dispatches it sh*sw times.
// conv_transpose2d is the grad-input mode (its forward), MODE 0 (its input gradient) and MODE 2 with
// input and output swapped (its weight gradient).
// Row, column and k parts of the addresses are precomputed by mm_row/mm_col/mm_k (see the cores), so
// the inner loads are an add and a bounds test.
// Bindings (0 = the A source, 1 = the B source, 2 = the output) and the store mm_store: conv_io.wgsl.
override MODE: u32 = 0u;

struct RowInfo { a: u32 }
struct ColInfo { b: u32, h: i32, w: i32 }
// t0, t1: the two inner counters of k (e.g. kh, kw), so mm_k_next steps without dividing.
struct KInfo { a: u32, b: u32, h: i32, w: i32, t0: u32, t1: u32 }

fn mm_dims() -> vec4<u32> {
  let kk = p.KH * p.KW;
  switch MODE {
    case 0u: { return vec4<u32>(p.O, p.n * p.OH * p.OW, p.C * kk, 1u); }
    case 1u: { return vec4<u32>(p.C, p.n * p.H * p.W, p.O * kk, 1u); }
    case 2u: { return vec4<u32>(p.O, p.C * kk, p.n * p.OH * p.OW, 1u); }
    default: { return vec4<u32>(p.C, p.n * p.HP * p.WP, p.O * p.nkh * p.nkw, 1u); }
  }
}

fn mm_row(z: u32, r: u32) -> RowInfo {
  switch MODE {
    case 0u: { return RowInfo(r * p.C * p.KH * p.KW); }
    case 2u: { return RowInfo(r * p.OH * p.OW); }
    default: { return RowInfo(r * p.KH * p.KW); }
  }
}

fn mm_col(z: u32, col: u32) -> ColInfo {
  switch MODE {
    case 0u: {
      let hw = p.OH * p.OW;
      let q = col % hw;
      return ColInfo((col / hw) * p.C * p.H * p.W, i32((q / p.OW) * p.sh) - i32(p.ph), i32((q % p.OW) * p.sw) - i32(p.pw));
    }
    case 1u: {
      let hw = p.H * p.W;
      let q = col % hw;
      return ColInfo((col / hw) * p.O * p.OH * p.OW, i32(q / p.W), i32(q % p.W));
    }
    case 2u: {
      let kk = p.KH * p.KW;
      let s = col % kk;
      return ColInfo((col / kk) * p.H * p.W, i32((s / p.KW) * p.dh), i32((s % p.KW) * p.dw));
    }
    default: {
      let hw = p.HP * p.WP;
      let q = col % hw;
      return ColInfo((col / hw) * p.O * p.OH * p.OW, i32(q / p.WP), i32(q % p.WP));
    }
  }
}

fn mm_k(z: u32, k: u32) -> KInfo {
  let kk = p.KH * p.KW;
  switch MODE {
    case 0u: {
      let s = k % kk;
      return KInfo(k, (k / kk) * p.H * p.W, i32((s / p.KW) * p.dh), i32((s % p.KW) * p.dw), s / p.KW, s % p.KW);
    }
    case 1u: {
      let o = k / kk;
      let s = k % kk;
      return KInfo(o * p.C * kk + s, o * p.OH * p.OW, i32(p.ph) - i32((s / p.KW) * p.dh), i32(p.pw) - i32((s % p.KW) * p.dw), s / p.KW, s % p.KW);
    }
    case 2u: {
      let hw = p.OH * p.OW;
      let n = k / hw;
      let q = k % hw;
      return KInfo(n * p.O * hw + q, n * p.C * p.H * p.W, i32((q / p.OW) * p.sh) - i32(p.ph), i32((q % p.OW) * p.sw) - i32(p.pw), q / p.OW, q % p.OW);
    }
    default: {
      let taps = p.nkh * p.nkw;
      let o = k / taps;
      let j = (k / p.nkw) % p.nkh;
      let jw = k % p.nkw;
      let kh = p.kh0 + j * p.sh;
      let kw = p.kw0 + jw * p.sw;
      let base_h = i32((p.rh + p.ph - p.kh0) / p.sh);
      let base_w = i32((p.rw + p.pw - p.kw0) / p.sw);
      return KInfo(o * p.C * kk + kh * p.KW + kw, o * p.OH * p.OW, base_h - i32(j), base_w - i32(jw), j, jw);
    }
  }
}

// k + 1 from k: the inner counter t1 advances, wrapping into t0 and then into the outer index.
fn mm_k_next(z: u32, k: KInfo) -> KInfo {
  var r = k;
  let kk = p.KH * p.KW;
  switch MODE {
    case 0u: {
      // k = (c, kh, kw): a is k itself
      r.a = k.a + 1u;
      r.t1 = k.t1 + 1u;
      r.w = k.w + i32(p.dw);
      if (r.t1 == p.KW) {
        r.t1 = 0u; r.w = r.w - i32(p.KW * p.dw); r.t0 = k.t0 + 1u; r.h = k.h + i32(p.dh);
        if (r.t0 == p.KH) { r.t0 = 0u; r.h = r.h - i32(p.KH * p.dh); r.b = k.b + p.H * p.W; }
      }
    }
    case 1u: {
      // k = (o, kh, kw): a = o*C*KK + kh*KW + kw, h = ph - kh*dh
      r.a = k.a + 1u;
      r.t1 = k.t1 + 1u;
      r.w = k.w - i32(p.dw);
      if (r.t1 == p.KW) {
        r.t1 = 0u; r.w = r.w + i32(p.KW * p.dw); r.t0 = k.t0 + 1u; r.h = k.h - i32(p.dh);
        if (r.t0 == p.KH) { r.t0 = 0u; r.h = r.h + i32(p.KH * p.dh); r.a = r.a + p.C * kk - kk; r.b = k.b + p.OH * p.OW; }
      }
    }
    case 2u: {
      // k = (n, oh, ow): a = n*O*OH*OW + oh*OW + ow, h = oh*sh - ph
      r.a = k.a + 1u;
      r.t1 = k.t1 + 1u;
      r.w = k.w + i32(p.sw);
      if (r.t1 == p.OW) {
        r.t1 = 0u; r.w = r.w - i32(p.OW * p.sw); r.t0 = k.t0 + 1u; r.h = k.h + i32(p.sh);
        if (r.t0 == p.OH) {
          r.t0 = 0u; r.h = r.h - i32(p.OH * p.sh);
          r.a = r.a + (p.O - 1u) * p.OH * p.OW; r.b = k.b + p.C * p.H * p.W;
        }
      }
    }
    default: {
      // k = (o, j, jw): kh = kh0 + j*sh, kw = kw0 + jw*sw, h = base_h - j
      r.a = k.a + p.sw;
      r.t1 = k.t1 + 1u;
      r.w = k.w - 1;
      if (r.t1 == p.nkw) {
        r.t1 = 0u; r.a = r.a - p.nkw * p.sw + p.sh * p.KW; r.w = r.w + i32(p.nkw); r.t0 = k.t0 + 1u; r.h = k.h - 1;
        if (r.t0 == p.nkh) {
          r.t0 = 0u; r.a = r.a - p.nkh * p.sh * p.KW + p.C * kk; r.h = r.h + i32(p.nkh); r.b = k.b + p.OH * p.OW;
        }
      }
    }
  }
  return r;
}

fn mm_read_a(z: u32, row: RowInfo, k: KInfo) -> f32 {
  return src_a[row.a + k.a];
}

fn mm_read_b(z: u32, k: KInfo, col: ColInfo) -> f32 {
  switch MODE {
    case 0u, 2u: {
      // x[n, c, ih, iw]; zero in the padding
      let ih = col.h + k.h;
      let iw = col.w + k.w;
      if (ih < 0 || iw < 0 || ih >= i32(p.H) || iw >= i32(p.W)) { return 0.0; }
      return src_b[col.b + k.b + u32(ih) * p.W + u32(iw)];
    }
    case 1u: {
      // dy[n, o, oh, ow] where ih = oh*sh - ph + kh*dh; zero when no such oh
      let th = col.h + k.h;
      let tw = col.w + k.w;
      if (th < 0 || tw < 0 || u32(th) % p.sh != 0u || u32(tw) % p.sw != 0u) { return 0.0; }
      let oh = u32(th) / p.sh;
      let ow = u32(tw) / p.sw;
      if (oh >= p.OH || ow >= p.OW) { return 0.0; }
      return src_b[col.b + k.b + oh * p.OW + ow];
    }
    default: {
      let oh = col.h + k.h;
      let ow = col.w + k.w;
      if (oh < 0 || ow < 0 || oh >= i32(p.OH) || ow >= i32(p.OW)) { return 0.0; }
      return src_b[col.b + k.b + u32(oh) * p.OW + u32(ow)];
    }
  }
}

fn mm_write(z: u32, r: u32, col: u32, v: f32) {
  switch MODE {
    case 0u: {
      let hw = p.OH * p.OW;
      mm_store(((col / hw) * p.O + r) * hw + col % hw, v);
    }
    case 1u: {
      let hw = p.H * p.W;
      mm_store(((col / hw) * p.C + r) * hw + col % hw, v);
    }
    case 2u: { mm_store(r * p.C * p.KH * p.KW + col, v); }
    default: {
      let hw = p.HP * p.WP;
      let q = col % hw;
      let ih = p.rh + (q / p.WP) * p.sh;
      let iw = p.rw + (q % p.WP) * p.sw;
      mm_store((((col / hw) * p.C + r) * p.H + ih) * p.W + iw, v);
    }
  }
}
