// col2im for the 'im2col' conv variant's input gradient: dx[n, c, ih, iw] sums src_a[(c, kh, kw), (n, oh, ow)]
// over the taps with ih = oh*sh - ph + kh*dh (and likewise for w): a gather, so no atomics are needed
// (the adjoint of im2col.wgsl MODE 0). dcol is [K, n*hw].
// Two layouts of the work, chosen per adapter by the backend (im2colVariant):
//   RUNS (CPU-like adapters) one invocation per input row (n, c, ih), walking iw with running counters:
//        one output per invocation spent most of its time in integer divisions (SwiftShader runs them a
//        lane at a time) and took 284 ms for the bench's DCGAN layer (17% of the input gradient), this
//        121 ms.
//   else (GPUs) one output per invocation, so neighbouring invocations write neighbouring addresses.
override RUNS: bool = true;
override WG: u32 = 64u;
// Its bindings (dcol as src_a, dx as dst) and store (mm_store) are col2im_io.wgsl, which a compiled
// graph's input gradient with an epilogue replaces (src/backend/webgpu/fused.ts, epilogueIo), as the
// conv cores' conv_io.wgsl.

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg, WG);
  // RUNS: idx is a row, and the loops below cover its W outputs; else one output, iw = idx % W.
  let row = select(idx / p.W, idx, RUNS);
  let w0 = select(idx % p.W, 0u, RUNS);
  let w1 = select(w0 + 1u, p.W, RUNS);
  if (row >= p.n * p.C * p.H) { return; }
  let ih = row % p.H;
  let c = (row / p.H) % p.C;
  let n = row / (p.H * p.C);
  let hw = p.OH * p.OW;
  let kStride = p.n * hw;
  let base = n * hw;
  let kc = c * p.KH * p.KW;
  let out0 = row * p.W;
  if (p.dh == 1u && p.dw == 1u) {
    // Without dilation only taps kh = (ih + ph) mod sh, + sh, ... reach ih, with oh stepping down by one;
    // along the row, (iw + pw) mod sw and div sw advance as counters.
    let th = ih + p.ph;
    let kh0 = th % p.sh;
    let oh0 = i32(th / p.sh);
    var kw0 = (w0 + p.pw) % p.sw;
    var ow0 = i32((w0 + p.pw) / p.sw);
    for (var iw = w0; iw < w1; iw = iw + 1u) {
      var acc = 0.0;
      var oh = oh0;
      for (var kh = kh0; kh < p.KH; kh = kh + p.sh) {
        if (oh >= 0 && oh < i32(p.OH)) {
          var ow = ow0;
          var k = kc + kh * p.KW + kw0;
          let q = base + u32(oh) * p.OW;
          for (var kw = kw0; kw < p.KW; kw = kw + p.sw) {
            if (ow >= 0 && ow < i32(p.OW)) { acc = acc + src_a[k * kStride + q + u32(ow)]; }
            ow = ow - 1;
            k = k + p.sw;
          }
        }
        oh = oh - 1;
      }
      mm_store(out0 + iw, acc);
      kw0 = kw0 + 1u;
      if (kw0 == p.sw) {
        kw0 = 0u;
        ow0 = ow0 + 1;
      }
    }
    return;
  }
  for (var iw = w0; iw < w1; iw = iw + 1u) {
    var acc = 0.0;
    for (var kh = 0u; kh < p.KH; kh = kh + 1u) {
      let th = i32(ih + p.ph) - i32(kh * p.dh);
      if (th < 0 || u32(th) % p.sh != 0u || u32(th) / p.sh >= p.OH) { continue; }
      let oh = u32(th) / p.sh;
      for (var kw = 0u; kw < p.KW; kw = kw + 1u) {
        let tw = i32(iw + p.pw) - i32(kw * p.dw);
        if (tw < 0 || u32(tw) % p.sw != 0u || u32(tw) / p.sw >= p.OW) { continue; }
        let ow = u32(tw) / p.sw;
        acc = acc + src_a[(kc + kh * p.KW + kw) * kStride + base + oh * p.OW + ow];
      }
    }
    mm_store(out0 + iw, acc);
  }
}
