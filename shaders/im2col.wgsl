// Explicit im2col for the 'im2col' conv variant (Chellapilla et al. 2006; Caffe's im2col_gpu): the
// unrolled input patches as a matrix, so a convolution becomes one plain matmul that the fastest matmul
// kernel of the adapter runs (on SwiftShader the vec4 kernel, ~3x the implicit-GEMM cores).
// MODE 0: col[(c, kh, kw), (n, oh, ow)]  ([C*KH*KW, n*OH*OW], for the forward pass)
// MODE 1: colT[(n, oh, ow), (c, kh, kw)] ([n*OH*OW, C*KH*KW], for the weight gradient)
override MODE: u32 = 0u;
override WG: u32 = 256u;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> col: array<f32>;
@group(0) @binding(2) var<uniform> p: ConvParams;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg, WG);
  let kk = p.KH * p.KW;
  let K = p.C * kk;
  let hw = p.OH * p.OW;
  let N = p.n * hw;
  if (idx >= K * N) { return; }
  var k: u32;
  var j: u32;
  if (MODE == 0u) { k = idx / N; j = idx % N; } else { j = idx / K; k = idx % K; }
  let c = k / kk;
  let s = k % kk;
  let n = j / hw;
  let q = j % hw;
  let ih = i32((q / p.OW) * p.sh + (s / p.KW) * p.dh) - i32(p.ph);
  let iw = i32((q % p.OW) * p.sw + (s % p.KW) * p.dw) - i32(p.pw);
  var v = 0.0;
  if (ih >= 0 && iw >= 0 && ih < i32(p.H) && iw < i32(p.W)) {
    v = x[((n * p.C + c) * p.H + u32(ih)) * p.W + u32(iw)];
  }
  col[idx] = v;
}
