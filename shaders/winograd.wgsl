// The 'winograd' conv variant: Winograd's minimal filtering F(2x2, 2x2) for the conv2d forward pass and
// input gradient (dilation 1) when every stride phase of the kernel has at most 2x2 taps (e.g. 4x4 stride
// 2, DCGAN's layers). (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016,
// arXiv:1509.09308; the transforms below are derived for F(2, 2), which the paper does not list.)
//
// 1-D F(2, 2), two outputs y_i = d_i g_0 + d_{i+1} g_1 from three inputs with three multiplies, not four:
//   m0 = (d0 - d1) g0,  m1 = d1 (g0 + g1),  m2 = (d2 - d1) g1;   y0 = m0 + m1,  y1 = m1 + m2
// i.e. B^T = [1 -1 0; 0 1 0; 0 -1 1], G = [1 0; 1 1; 0 1], A^T = [1 1 0; 0 1 1]. Nested for 2-D:
// Y = A^T [(G g G^T) * (B^T d B)] A, 9 multiplies for a 2x2 output tile instead of 16. All coefficients
// are 0 or +-1, so the transforms add no rounding beyond a few additions.
//
// Input gradient (FORWARD = false). Per stride phase (rh, rw) it is a stride-1 correlation: input rows
// ih = rh + i*sh meet taps kh = kh0 + j*sh, j < nkh, at dy row oh = (rh + ph) / sh + i - j (conv.wgsl
// MODE 3 sums the same terms directly). With j' = 1 - j the taps become a 2-tap correlation over
// d_k = dy[(rh + ph) / sh - 1 + k] with g_j' = w[kh0 + (1 - j') * sh] (zero where the phase has fewer
// taps). The multiplies are 9 GEMMs per phase, M_pq [C, T] = U_pq [C, O] @ V_pq [O, T]:
//   0  weights  w [O, C, KH, KW] -> U [P*9, C, O]     one invocation per (phase, c, o)
//   1  input    dy [n, O, OH, OW] -> V [P*9, O, Tp]   per (o, tile), all phases
//   2  output   M [P*9, C, Tp] -> dx [n, C, H, W]     per (c, tile), all phases
// with P = sh*sw phases and tiles t = (n, th, tw) over the largest phase's extent, TH x TW tiles of 2x2.
// The phases' dy windows start at rows (rh + ph) / sh - 1 + 2 th, which take at most two neighbouring
// values over rh, so one 4x4 window of dy serves every phase of a tile (16 loads instead of 9 per phase).
// Every dx element lies in exactly one phase and one tile, so stage 2 writes all of dx (phases without
// taps get U = 0 and write zeros).
//
// Forward (FORWARD = true). With taps kh = j*sh + rh, y[oh] = sum over input phases rh of the 2-tap
// correlation sum_j x_rh[oh + j] w[j*sh + rh], where x_rh[m] = x[m*sh + rh - ph] (no flip). The phases
// sum inside the GEMM: K runs over (phase, c), so there are 9 GEMMs in all, M_p [O, T] = U_p [O, P*C] @
// V_p [P*C, T]:
//   0  weights  w -> U [9, O, P*C]     one invocation per (c, o, phase)
//   1  input    x [n, C, H, W] -> V [9, P*C, Tp]   per (c, tile), all phases (disjoint 3x3 windows)
//   2  output   M [9, O, Tp] -> y [n, O, OH, OW]   per (o, tile); tiles over OH x OW
//
// Tiles T..Tp-1 (padding for vec4 loads) get zeros in V. The batched matmul between stages 1 and 2 is the
// adapter's best core. Two layouts of the work, as for im2col (the backend's im2colVariant):
//   RUNS (CPU-like adapters) one invocation per row of tiles (n, th), walking tw: one tile per invocation
//        spent most of its time on the index divisions on SwiftShader
//   else (GPUs) one tile per invocation, so neighbouring invocations write neighbouring addresses.

override STAGE: u32 = 0u;
override FORWARD: bool = false;
override RUNS: bool = true;
override WG: u32 = 64u;
// Its bindings (src, dst, p: WinoParams) and the output stage's store (mm_store: y's or dx's element i)
// are winograd_io.wgsl, which a compiled graph's convolution with an epilogue replaces for stage 2
// (src/backend/webgpu/fused.ts, epilogueIo), as the conv cores' conv_io.wgsl.

// Workgroups per grid dimension: stage 0 (c or o in groups of WG, o or c, phase); stages 1 and 2 (tiles
// or rows in groups of WG, channels, 1). A grid past the device's maxComputeWorkgroupsPerDimension is
// folded by the host into a 1-D one (DispatchSpec.flatGroups), so each workgroup finds its cell by
// unflatten(flat_group) (common.wgsl), which on an unfolded grid is the workgroup id.
fn grid_cells() -> vec3<u32> {
  let g = p.g;
  if (STAGE == 0u) { return vec3<u32>((select(g.O, g.C, FORWARD) + WG - 1u) / WG, select(g.C, g.O, FORWARD), g.sh * g.sw); }
  let x = select(p.Tp, g.n * p.TH, RUNS);
  return vec3<u32>((x + WG - 1u) / WG, select(select(g.C, g.O, FORWARD), select(g.O, g.C, FORWARD), STAGE == 1u), 1u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let cells = grid_cells();
  let cell = unflatten(flat_group(wid, nwg), cells.x, cells.y);
  if (cell.z >= cells.z) { return; }
  let gid = vec3<u32>(cell.x * WG + lid.x, cell.y, cell.z);
  // Stage 0: gid.x o (input gradient) or c (forward), gid.y the other, gid.z the phase. Stages 1 and
  // 2: gid.y the channel of the stage's source (1) or destination (2), gid.x a tile or (RUNS) a row.
  if (STAGE == 0u) {
    if (FORWARD) { forward_weights(gid.y, gid.x, gid.z); } else { grad_input_weights(gid.x, gid.y, gid.z); }
    return;
  }
  let rows = p.g.n * p.TH;
  if (RUNS) {
    if (gid.x >= rows) { return; }
    let n = gid.x / p.TH;
    let th = gid.x % p.TH;
    if (STAGE == 1u && !FORWARD) {
      // Neighbouring tiles' windows overlap by two columns: carry them along the row.
      let w = dy_window_at(gid.y, n, th, 0u);
      var k0 = dy_col(w.x, w.y, w.z);
      var k1 = dy_col(w.x, w.y, w.z + 1);
      for (var tw = 0u; tw < p.TW; tw = tw + 1u) {
        let c = w.z + 2 * i32(tw);
        let k2 = dy_col(w.x, w.y, c + 2);
        let k3 = dy_col(w.x, w.y, c + 3);
        dy_tile(gid.y, (n * p.TH + th) * p.TW + tw, k0, k1, k2, k3);
        k0 = k2;
        k1 = k3;
      }
    } else {
      for (var tw = 0u; tw < p.TW; tw = tw + 1u) { tile(gid.y, n, th, tw); }
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
    if (STAGE == 1u && !FORWARD) {
      let w = dy_window_at(gid.y, n, th, tw);
      dy_tile(gid.y, t, dy_col(w.x, w.y, w.z), dy_col(w.x, w.y, w.z + 1), dy_col(w.x, w.y, w.z + 2), dy_col(w.x, w.y, w.z + 3));
    } else {
      tile(gid.y, n, th, tw);
    }
  }
}

fn tile(ch: u32, n: u32, th: u32, tw: u32) {
  if (!FORWARD) {
    dx_tile(ch, n, th, tw);
  } else if (STAGE == 1u) {
    x_tile(ch, n, th, tw);
  } else {
    y_tile(ch, n, th, tw);
  }
}

// G k G^T of a 2x2 kernel k = (k00, k01, k10, k11), written at dst[at + (3i + j) * stride].
fn write_gkg(k: vec4<f32>, at: u32, stride: u32) {
  // G k: rows (k0, k0 + k1, k1) of each column; then the same along each row.
  let r0 = k.xy;
  let r1 = k.xy + k.zw;
  let r2 = k.zw;
  dst[at] = r0.x;
  dst[at + stride] = r0.x + r0.y;
  dst[at + 2u * stride] = r0.y;
  dst[at + 3u * stride] = r1.x;
  dst[at + 4u * stride] = r1.x + r1.y;
  dst[at + 5u * stride] = r1.y;
  dst[at + 6u * stride] = r2.x;
  dst[at + 7u * stride] = r2.x + r2.y;
  dst[at + 8u * stride] = r2.y;
}

// B^T d B of a 3x3 tile given as its columns c0..c2 (vectors over rows; .w unused), written at
// dst[at + (3i + j) * stride].
fn write_btdb(c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, oh: bool, at: u32, stride: u32) {
  // d B: columns (d0 - d1, d1, d2 - d1); then B^T on each.
  let v0 = bt(c0 - c1, oh);
  let v1 = bt(c1, oh);
  let v2 = bt(c2 - c1, oh);
  dst[at] = v0.x;
  dst[at + stride] = v1.x;
  dst[at + 2u * stride] = v2.x;
  dst[at + 3u * stride] = v0.y;
  dst[at + 4u * stride] = v1.y;
  dst[at + 5u * stride] = v2.y;
  dst[at + 6u * stride] = v0.z;
  dst[at + 7u * stride] = v1.z;
  dst[at + 8u * stride] = v2.z;
}

// The 2x2 output tile A^T M A from the 9 values at src[at + k * stride], as rows (y00, y01), (y10, y11).
fn read_atma(at: u32, stride: u32) -> vec4<f32> {
  // M's rows of three points; A^T M: rows (m0 + m1, m1 + m2); then the same on the columns.
  let m0 = vec3<f32>(src[at], src[at + stride], src[at + 2u * stride]);
  let m1 = vec3<f32>(src[at + 3u * stride], src[at + 4u * stride], src[at + 5u * stride]);
  let m2 = vec3<f32>(src[at + 6u * stride], src[at + 7u * stride], src[at + 8u * stride]);
  let s0 = m0 + m1;
  let s1 = m1 + m2;
  return vec4<f32>(s0.x + s0.y, s0.y + s0.z, s1.x + s1.y, s1.y + s1.z);
}

// Forward weights: U[p][o][(q, c)] = (G g G^T)[p] with g[jh][jw] = w[o, c, jh sh + rh, jw sw + rw].
fn forward_weights(o: u32, c: u32, q: u32) {
  let g = p.g;
  if (c >= g.C) { return; }
  let rh = q / g.sw;
  let rw = q % g.sw;
  var k = vec4<f32>(0.0);
  for (var jh = 0u; jh < 2u; jh = jh + 1u) {
    for (var jw = 0u; jw < 2u; jw = jw + 1u) {
      let kh = jh * g.sh + rh;
      let kw = jw * g.sw + rw;
      if (kh < g.KH && kw < g.KW) { k[jh * 2u + jw] = src[((o * g.C + c) * g.KH + kh) * g.KW + kw]; }
    }
  }
  let PC = g.sh * g.sw * g.C;
  write_gkg(k, o * PC + q * g.C + c, g.O * PC);
}

// One column of a forward input window: x rows r0, r0 + sh, r0 + 2 sh at column cc, zeros outside x.
fn x_col(plane: u32, r0: i32, cc: i32) -> vec4<f32> {
  let g = p.g;
  if (cc < 0 || cc >= i32(g.W)) { return vec4<f32>(0.0); }
  var v = vec4<f32>(0.0);
  for (var i = 0; i < 3; i = i + 1) {
    let r = r0 + i * i32(g.sh);
    if (r >= 0 && r < i32(g.H)) { v[i] = src[(plane + u32(r)) * g.W + u32(cc)]; }
  }
  return v;
}

// Forward V for tile (n, th, tw) of input channel c, every phase: phase (rh, rw)'s 3x3 window is
// x[(2 th + i) sh + rh - ph, (2 tw + j) sw + rw - pw].
fn x_tile(c: u32, n: u32, th: u32, tw: u32) {
  let g = p.g;
  let t = (n * p.TH + th) * p.TW + tw;
  let plane = (n * g.C + c) * g.H;
  let PC = g.sh * g.sw * g.C;
  let stride = PC * p.Tp;
  for (var rh = 0u; rh < g.sh; rh = rh + 1u) {
    let r0 = i32(2u * th * g.sh + rh) - i32(g.ph);
    for (var rw = 0u; rw < g.sw; rw = rw + 1u) {
      let c0 = i32(2u * tw * g.sw + rw) - i32(g.pw);
      let q = rh * g.sw + rw;
      write_btdb(x_col(plane, r0, c0), x_col(plane, r0, c0 + i32(g.sw)), x_col(plane, r0, c0 + 2 * i32(g.sw)), false,
        (q * g.C + c) * p.Tp + t, stride);
    }
  }
}

// Forward output: y's 2x2 tile (n, th, tw) of channel o from M[p][o][t].
fn y_tile(o: u32, n: u32, th: u32, tw: u32) {
  let g = p.g;
  let t = (n * p.TH + th) * p.TW + tw;
  let y = read_atma(o * p.Tp + t, g.O * p.Tp);
  let oh = 2u * th;
  let ow = 2u * tw;
  let r = ((n * g.O + o) * g.OH + oh) * g.OW + ow;
  let right = ow + 1u < g.OW;
  mm_store(r, y.x);
  if (right) { mm_store(r + 1u, y.y); }
  if (oh + 1u < g.OH) {
    mm_store(r + g.OW, y.z);
    if (right) { mm_store(r + g.OW + 1u, y.w); }
  }
}

fn grad_input_weights(o: u32, c: u32, q: u32) {
  let g = p.g;
  if (o >= g.O) { return; }
  let rh = q / g.sw;
  let rw = q % g.sw;
  let kh0 = (rh + g.ph) % g.sh;
  let kw0 = (rw + g.pw) % g.sw;
  // k[j'h][j'w] = w[o, c, kh0 + (1 - j'h) sh, kw0 + (1 - j'w) sw], zero past the kernel.
  var k = vec4<f32>(0.0);
  for (var jh = 0u; jh < 2u; jh = jh + 1u) {
    for (var jw = 0u; jw < 2u; jw = jw + 1u) {
      let kh = kh0 + (1u - jh) * g.sh;
      let kw = kw0 + (1u - jw) * g.sw;
      if (kh < g.KH && kw < g.KW) { k[jh * 2u + jw] = src[((o * g.C + c) * g.KH + kh) * g.KW + kw]; }
    }
  }
  write_gkg(k, (q * 9u * g.C + c) * g.O + o, g.C * g.O);
}

// Zeros for padding tile t in V's rows of channel ch: rows i * channels + ch, i < 9 P.
fn zero_tile(ch: u32, t: u32) {
  let channels = select(p.g.O, p.g.C, FORWARD);
  let P9 = 9u * p.g.sh * p.g.sw;
  for (var i = 0u; i < P9; i = i + 1u) { dst[(i * channels + ch) * p.Tp + t] = 0.0; }
}

// Where the 4x4 dy window of tile (n, th, tw) of channel o lies: (plane offset as i32, first row, first
// column). Phase rh's tile starts at row (rh + ph) / sh - 1 + 2 th, the window at the smallest of them.
fn dy_window_at(o: u32, n: u32, th: u32, tw: u32) -> vec3<i32> {
  let g = p.g;
  let row0 = i32(g.ph / g.sh) - 1 + 2 * i32(th);
  let col0 = i32(g.pw / g.sw) - 1 + 2 * i32(tw);
  return vec3<i32>(i32((n * g.O + o) * g.OH), row0, col0);
}

// One column of the window (rows row0..row0+3 at column cc) as a vector over rows, zeros outside dy.
fn dy_col(plane: i32, row0: i32, cc: i32) -> vec4<f32> {
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
fn dy_tile(o: u32, t: u32, k0: vec4<f32>, k1: vec4<f32>, k2: vec4<f32>, k3: vec4<f32>) {
  let g = p.g;
  let bh = g.ph / g.sh;
  let bw = g.pw / g.sw;
  let stride = g.O * p.Tp;
  var at = o * p.Tp + t;
  for (var rh = 0u; rh < g.sh; rh = rh + 1u) {
    let oh = (rh + g.ph) / g.sh != bh;
    for (var rw = 0u; rw < g.sw; rw = rw + 1u) {
      // The phase's 3x3 tile starts at window row oh and column ow (each 0 or 1).
      let ow = (rw + g.pw) / g.sw != bw;
      write_btdb(select(k0, k1, ow), select(k1, k2, ow), select(k2, k3, ow), oh, at, stride);
      at = at + 9u * stride;
    }
  }
}

fn dx_tile(c: u32, n: u32, th: u32, tw: u32) {
  let g = p.g;
  let t = (n * p.TH + th) * p.TW + tw;
  let stride = g.C * p.Tp;
  var at = c * p.Tp + t;
  let plane = (n * g.C + c) * g.H;
  for (var rh = 0u; rh < g.sh; rh = rh + 1u) {
    let ih0 = rh + 2u * th * g.sh;
    let ih1 = ih0 + g.sh;
    for (var rw = 0u; rw < g.sw; rw = rw + 1u) {
      let y = read_atma(at, stride);
      at = at + 9u * stride;
      let iw0 = rw + 2u * tw * g.sw;
      let iw1 = iw0 + g.sw;
      if (ih0 < g.H) {
        let r = (plane + ih0) * g.W;
        if (iw0 < g.W) { mm_store(r + iw0, y.x); }
        if (iw1 < g.W) { mm_store(r + iw1, y.y); }
      }
      if (ih1 < g.H) {
        let r = (plane + ih1) * g.W;
        if (iw0 < g.W) { mm_store(r + iw0, y.z); }
        if (iw1 < g.W) { mm_store(r + iw1, y.w); }
      }
    }
  }
}
