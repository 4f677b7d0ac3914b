// Explicit im2col for the 'im2col' conv variant (Chellapilla et al. 2006; Caffe's im2col_gpu): the
// unrolled input patches as a matrix, so a convolution becomes one plain matmul that the fastest matmul
// kernel of the adapter runs (on SwiftShader the vec4 kernel, ~3x the implicit-GEMM cores).
// MODE 0: col[(c, kh, kw), (n, oh, ow)]  ([C*KH*KW, n*OH*OW], for the forward pass); one invocation
//         per (c, kh, kw, n, oh) writes the OW values of a row segment.
// MODE 1: colT[(n, oh, ow), (c, kh, kw)] ([n*OH*OW, C*KH*KW], for the weight gradient); one invocation
//         per (n, oh, ow, c) writes its KH*KW taps.
// MODE 2: col[n, (c, kh, kw), (oh, ow)] ([n, C*KH*KW, OH*OW], MODE 0's rows image by image, for the
//         forward pass as a batched matmul whose product is already y's [n, O, OH*OW] layout, so that the
//         matmul's store takes the epilogue and no layout copy follows); work split as MODE 0's.
// Two layouts of the work, chosen per adapter by the backend (im2colVariant):
//   RUNS (CPU-like adapters) a run of outputs per invocation, with the indices stepped by addition: one
//        output per invocation spent most of its time in the dozen integer divisions of the index
//        (SwiftShader runs them a lane at a time): 322 ms (MODE 0) and 364 ms (MODE 1) for the bench's
//        DCGAN layer, about 20% of the whole convolution; 148 and 142 ms this way.
//   else (GPUs) one output per invocation, so neighbouring invocations write neighbouring addresses.
override MODE: u32 = 0u;
override RUNS: bool = true;
override WG: u32 = 64u;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> col: array<f32>;
@group(0) @binding(2) var<uniform> p: ConvParams;

fn read_x(plane: u32, ih: i32, iw: i32) -> f32 {
  if (ih >= 0 && iw >= 0 && ih < i32(p.H) && iw < i32(p.W)) {
    return x[plane + u32(ih) * p.W + u32(iw)];
  }
  return 0.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg, WG);
  let kk = p.KH * p.KW;
  let K = p.C * kk;
  let hw = p.OH * p.OW;
  let N = p.n * hw;
  if (!RUNS) {
    if (idx >= K * N) { return; }
    var k: u32;
    var j: u32;
    if (MODE == 0u) {
      k = idx / N;
      j = idx % N;
    } else if (MODE == 2u) {
      k = (idx / hw) % K;
      j = (idx / (K * hw)) * hw + idx % hw;
    } else {
      j = idx / K;
      k = idx % K;
    }
    let s = k % kk;
    let q = j % hw;
    let ih = i32((q / p.OW) * p.sh + (s / p.KW) * p.dh) - i32(p.ph);
    let iw = i32((q % p.OW) * p.sw + (s % p.KW) * p.dw) - i32(p.pw);
    col[idx] = read_x(((j / hw) * p.C + k / kk) * p.H * p.W, ih, iw);
    return;
  }
  if (MODE != 1u) {
    if (idx >= K * p.n * p.OH) { return; }
    let oh = idx % p.OH;
    let n = (idx / p.OH) % p.n;
    let k = idx / (p.OH * p.n);
    let c = k / kk;
    let s = k % kk;
    let ih = i32(oh * p.sh + (s / p.KW) * p.dh) - i32(p.ph);
    let plane = (n * p.C + c) * p.H * p.W;
    var iw = i32((s % p.KW) * p.dw) - i32(p.pw);
    var o = select(k * N + n * hw, (n * K + k) * hw, MODE == 2u) + oh * p.OW;
    for (var ow = 0u; ow < p.OW; ow = ow + 1u) {
      col[o] = read_x(plane, ih, iw);
      o = o + 1u;
      iw = iw + i32(p.sw);
    }
    return;
  }
  if (idx >= N * p.C) { return; }
  let c = idx % p.C;
  let j = idx / p.C;
  let n = j / hw;
  let q = j % hw;
  let ih0 = i32((q / p.OW) * p.sh) - i32(p.ph);
  let iw0 = i32((q % p.OW) * p.sw) - i32(p.pw);
  let plane = (n * p.C + c) * p.H * p.W;
  var o = j * K + c * kk;
  var ih = ih0;
  for (var kh = 0u; kh < p.KH; kh = kh + 1u) {
    var iw = iw0;
    for (var kw = 0u; kw < p.KW; kw = kw + 1u) {
      col[o] = read_x(plane, ih, iw);
      o = o + 1u;
      iw = iw + i32(p.dw);
    }
    ih = ih + i32(p.dh);
  }
}
