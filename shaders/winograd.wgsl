// The 'winograd' conv variant: the conv2d input gradient (dilation 1) by Winograd's minimal filtering
// F(2x2, 2x2), one stride phase at a time. (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", CVPR 2016, arXiv:1509.09308; the transforms below are derived for F(2, 2), which the paper
// does not list.)
//
// Per stride phase (rh, rw) the input gradient is a stride-1 correlation: input rows ih = rh + i*sh meet
// taps kh = kh0 + j*sh, j < nkh, at dy row oh = (rh + ph) / sh + i - j (conv.wgsl MODE 3 sums the same
// terms directly). With j' = 1 - j the taps become a 2-tap correlation y_i = d_{i} g_0 + d_{i+1} g_1 over
// d_k = dy[(rh + ph) / sh - 1 + k] and g_j' = w[kh0 + (1 - j') * sh] (zero where the phase has fewer taps),
// so every phase whose kernel has at most 2x2 taps (e.g. 4x4 stride 2, DCGAN's layers) fits F(2x2, 2x2).
//
// 1-D F(2, 2), two outputs from three inputs with three multiplies instead of four:
//   m0 = (d0 - d1) g0,  m1 = d1 (g0 + g1),  m2 = (d2 - d1) g1;   y0 = m0 + m1,  y1 = m1 + m2
// i.e. B^T = [1 -1 0; 0 1 0; 0 -1 1], G = [1 0; 1 1; 0 1], A^T = [1 1 0; 0 1 1]. Nested for 2-D:
// Y = A^T [(G g G^T) * (B^T d B)] A, 9 multiplies for a 2x2 output tile instead of 16. All coefficients
// are 0 or +-1, so the transforms add no rounding beyond a few additions.
//
// The multiplies of all tiles and channels are 9 GEMMs per phase, M_pq [C, T] = U_pq [C, O] @ V_pq [O, T],
// run as one batched matmul (the adapter's best core) between the stages of this kernel (STAGE):
//   0  weights  w [O, C, KH, KW] -> U [P*9, C, O]     one invocation per (phase, c, o)
//   1  input    dy [n, O, OH, OW] -> V [P*9, O, Tp]   per (o, tile), all phases
//   2  output   M [P*9, C, Tp] -> dx [n, C, H, W]     per (c, tile), all phases
// with P = sh*sw phases and tiles t = (n, th, tw) over the largest phase's extent, TH x TW tiles of 2x2.
// The phases' dy windows start at rows (rh + ph) / sh - 1 + 2 th, which take at most two neighbouring
// values over rh, so one 4x4 window of dy serves every phase of a tile (16 loads instead of 9 per phase).
// Tiles T..Tp-1 (padding for vec4 loads) get zeros in V. Every dx element lies in exactly one phase and
// one tile, so stage 2 writes all of dx (phases without taps get U = 0 and write zeros).
// Two layouts of the work, as for im2col (the backend's im2colVariant):
//   RUNS (CPU-like adapters) one invocation per row of tiles (n, th), walking tw: one tile per invocation
//        spent most of its time on the index divisions on SwiftShader
//   else (GPUs) one tile per invocation, so neighbouring invocations write neighbouring addresses.

struct WinoParams {
  g: ConvParams,
  TH: u32, TW: u32, T: u32, Tp: u32,
}
override STAGE: u32 = 0u;
override RUNS: bool = true;
override WG: u32 = 64u;
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: WinoParams;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // gid.y is the channel (o for stages 0 and 1, c for 2); gid.x the unit: o for stage 0, else a tile or
  // (RUNS) a row of tiles; gid.z the phase for stage 0.
  if (STAGE == 0u) {
    stage_weights(gid.x, gid.y, gid.z);
    return;
  }
  let rows = p.g.n * p.TH;
  if (RUNS) {
    if (gid.x >= rows) { return; }
    let n = gid.x / p.TH;
    let th = gid.x % p.TH;
    if (STAGE == 1u) {
      // Neighbouring tiles' windows overlap by two columns: carry them along the row.
      let w = window_at(gid.y, n, th, 0u);
      var k0 = window_col(w.x, w.y, w.z);
      var k1 = window_col(w.x, w.y, w.z + 1);
      for (var tw = 0u; tw < p.TW; tw = tw + 1u) {
        let c = w.z + 2 * i32(tw);
        let k2 = window_col(w.x, w.y, c + 2);
        let k3 = window_col(w.x, w.y, c + 3);
        input_tile(gid.y, (n * p.TH + th) * p.TW + tw, k0, k1, k2, k3);
        k0 = k2;
        k1 = k3;
      }
    } else {
      for (var tw = 0u; tw < p.TW; tw = tw + 1u) { output_tile(gid.y, n, th, tw); }
    }
    // The last row also zeroes the padding tiles.
    if (STAGE == 1u && gid.x == rows - 1u) {
      for (var t = p.T; t < p.Tp; t = t + 1u) { zero_tile(gid.y, t); }
    }
  } else {
    let t = gid.x;
    if (t >= p.T) {
      if (STAGE == 1u && t < p.Tp) { zero_tile(gid.y, t); }
      return;
    }
    let n = t / (p.TW * p.TH);
    let th = (t / p.TW) % p.TH;
    let tw = t % p.TW;
    if (STAGE == 1u) {
      let w = window_at(gid.y, n, th, tw);
      input_tile(gid.y, t, window_col(w.x, w.y, w.z), window_col(w.x, w.y, w.z + 1), window_col(w.x, w.y, w.z + 2), window_col(w.x, w.y, w.z + 3));
    } else {
      output_tile(gid.y, n, th, tw);
    }
  }
}

fn stage_weights(o: u32, c: u32, q: u32) {
  let g = p.g;
  if (o >= g.O) { return; }
  let rh = q / g.sw;
  let rw = q % g.sw;
  let kh0 = (rh + g.ph) % g.sh;
  let kw0 = (rw + g.pw) % g.sw;
  // k[j'h][j'w] = w[o, c, kh0 + (1 - j'h) sh, kw0 + (1 - j'w) sw], zero past the kernel.
  var k: array<f32, 4>;
  for (var jh = 0u; jh < 2u; jh = jh + 1u) {
    for (var jw = 0u; jw < 2u; jw = jw + 1u) {
      let kh = kh0 + (1u - jh) * g.sh;
      let kw = kw0 + (1u - jw) * g.sw;
      var v = 0.0;
      if (kh < g.KH && kw < g.KW) { v = src[((o * g.C + c) * g.KH + kh) * g.KW + kw]; }
      k[jh * 2u + jw] = v;
    }
  }
  // G k: rows (k0, k0 + k1, k1) of each column; then the same along each row.
  let h = array<f32, 6>(k[0], k[1], k[0] + k[2], k[1] + k[3], k[2], k[3]);
  let stride = g.C * g.O;
  var at = (q * 9u * g.C + c) * g.O + o;
  for (var i = 0u; i < 3u; i = i + 1u) {
    let a = h[2u * i];
    let b = h[2u * i + 1u];
    dst[at] = a;
    dst[at + stride] = a + b;
    dst[at + 2u * stride] = b;
    at = at + 3u * stride;
  }
}

fn zero_tile(o: u32, t: u32) {
  let stride = p.g.O * p.Tp;
  let P9 = 9u * p.g.sh * p.g.sw;
  for (var i = 0u; i < P9; i = i + 1u) { dst[(i * p.g.O + o) * p.Tp + t] = 0.0; }
}

// Where the 4x4 dy window of tile (n, th, tw) of channel o lies: (plane offset as i32, first row, first
// column). Phase rh's tile starts at row (rh + ph) / sh - 1 + 2 th, the window at the smallest of them.
fn window_at(o: u32, n: u32, th: u32, tw: u32) -> vec3<i32> {
  let g = p.g;
  let row0 = i32(g.ph / g.sh) - 1 + 2 * i32(th);
  let col0 = i32(g.pw / g.sw) - 1 + 2 * i32(tw);
  return vec3<i32>(i32((n * g.O + o) * g.OH), row0, col0);
}

// One column of the window (rows row0..row0+3 at column cc) as a vector over rows, zeros outside dy.
fn window_col(plane: i32, row0: i32, cc: i32) -> vec4<f32> {
  let g = p.g;
  if (cc < 0 || cc >= i32(g.OW)) { return vec4<f32>(0.0); }
  var v = vec4<f32>(0.0);
  for (var i = 0; i < 4; i = i + 1) {
    let r = row0 + i;
    if (r >= 0 && r < i32(g.OH)) { v[i] = src[u32(plane + r) * g.OW + u32(cc)]; }
  }
  return v;
}

// Rows (d0 - d1, d1, d2 - d1) of B^T d over window rows oh..oh+2 (oh is 0 or 1), for one column e.
fn bt(e: vec4<f32>, oh: bool) -> vec3<f32> {
  let d = select(e.xyz, e.yzw, oh);
  return vec3<f32>(d.x - d.y, d.y, d.z - d.y);
}

// V for tile t of channel o, every phase, from the window's columns k0..k3.
fn input_tile(o: u32, t: u32, k0: vec4<f32>, k1: vec4<f32>, k2: vec4<f32>, k3: vec4<f32>) {
  let g = p.g;
  let bh = g.ph / g.sh;
  let bw = g.pw / g.sw;
  let stride = g.O * p.Tp;
  var at = o * p.Tp + t;
  for (var rh = 0u; rh < g.sh; rh = rh + 1u) {
    let oh = (rh + g.ph) / g.sh != bh;
    for (var rw = 0u; rw < g.sw; rw = rw + 1u) {
      let ow = (rw + g.pw) / g.sw != bw;
      // d B: columns (d0 - d1, d1, d2 - d1) of the tile at column offset ow; then B^T on each.
      let c0 = select(k0, k1, ow);
      let c1 = select(k1, k2, ow);
      let c2 = select(k2, k3, ow);
      let v0 = bt(c0 - c1, oh);
      let v1 = bt(c1, oh);
      let v2 = bt(c2 - c1, oh);
      // V[i][j] = (B^T d B)[i][j] at point 3i + j.
      dst[at] = v0.x;
      dst[at + stride] = v1.x;
      dst[at + 2u * stride] = v2.x;
      dst[at + 3u * stride] = v0.y;
      dst[at + 4u * stride] = v1.y;
      dst[at + 5u * stride] = v2.y;
      dst[at + 6u * stride] = v0.z;
      dst[at + 7u * stride] = v1.z;
      dst[at + 8u * stride] = v2.z;
      at = at + 9u * stride;
    }
  }
}

fn output_tile(c: u32, n: u32, th: u32, tw: u32) {
  let g = p.g;
  let t = (n * p.TH + th) * p.TW + tw;
  let stride = g.C * p.Tp;
  var at = c * p.Tp + t;
  let plane = (n * g.C + c) * g.H;
  for (var rh = 0u; rh < g.sh; rh = rh + 1u) {
    let ih0 = rh + 2u * th * g.sh;
    let ih1 = ih0 + g.sh;
    for (var rw = 0u; rw < g.sw; rw = rw + 1u) {
      // M's rows of three points; A^T M: rows (m0 + m1, m1 + m2); then the same on the columns.
      let m0 = vec3<f32>(src[at], src[at + stride], src[at + 2u * stride]);
      let m1 = vec3<f32>(src[at + 3u * stride], src[at + 4u * stride], src[at + 5u * stride]);
      let m2 = vec3<f32>(src[at + 6u * stride], src[at + 7u * stride], src[at + 8u * stride]);
      at = at + 9u * stride;
      let s0 = m0 + m1;
      let s1 = m1 + m2;
      let iw0 = rw + 2u * tw * g.sw;
      let iw1 = iw0 + g.sw;
      if (ih0 < g.H) {
        let r = (plane + ih0) * g.W;
        if (iw0 < g.W) { dst[r + iw0] = s0[0] + s0[1]; }
        if (iw1 < g.W) { dst[r + iw1] = s0[1] + s0[2]; }
      }
      if (ih1 < g.H) {
        let r = (plane + ih1) * g.W;
        if (iw0 < g.W) { dst[r + iw0] = s1[0] + s1[1]; }
        if (iw1 < g.W) { dst[r + iw1] = s1[1] + s1[2]; }
      }
    }
  }
}
