// col2im for the 'im2col' conv variant's input gradient: dx[n, c, ih, iw] sums dcol[(c, kh, kw), (n, oh, ow)]
// over the taps with ih = oh*sh - ph + kh*dh (and likewise for w): a gather, one output per invocation,
// so no atomics are needed (the adjoint of im2col.wgsl MODE 0).
override WG: u32 = 256u;
@group(0) @binding(0) var<storage, read> dcol: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: ConvParams;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg, WG);
  if (idx >= p.n * p.C * p.H * p.W) { return; }
  let iw = idx % p.W;
  let ih = (idx / p.W) % p.H;
  let c = (idx / (p.W * p.H)) % p.C;
  let n = idx / (p.W * p.H * p.C);
  let hw = p.OH * p.OW;
  let N = p.n * hw;
  var acc = 0.0;
  if (p.dh == 1u && p.dw == 1u) {
    // Without dilation only taps kh = (ih + ph) mod sh, + sh, ... reach ih, with oh stepping down by
    // one: no division inside the loops.
    let th = ih + p.ph;
    let tw = iw + p.pw;
    let kw0 = tw % p.sw;
    let ow0 = i32(tw / p.sw);
    var oh = i32(th / p.sh);
    for (var kh = th % p.sh; kh < p.KH; kh = kh + p.sh) {
      if (oh >= 0 && oh < i32(p.OH)) {
        var ow = ow0;
        var k = (c * p.KH + kh) * p.KW + kw0;
        for (var kw = kw0; kw < p.KW; kw = kw + p.sw) {
          if (ow >= 0 && ow < i32(p.OW)) { acc = acc + dcol[k * N + n * hw + u32(oh) * p.OW + u32(ow)]; }
          ow = ow - 1;
          k = k + p.sw;
        }
      }
      oh = oh - 1;
    }
    dx[idx] = acc;
    return;
  }
  for (var kh = 0u; kh < p.KH; kh = kh + 1u) {
    let th = i32(ih + p.ph) - i32(kh * p.dh);
    if (th < 0 || u32(th) % p.sh != 0u || u32(th) / p.sh >= p.OH) { continue; }
    let oh = u32(th) / p.sh;
    for (var kw = 0u; kw < p.KW; kw = kw + 1u) {
      let tw = i32(iw + p.pw) - i32(kw * p.dw);
      if (tw < 0 || u32(tw) % p.sw != 0u || u32(tw) / p.sw >= p.OW) { continue; }
      let ow = u32(tw) / p.sw;
      let k = (c * p.KH + kh) * p.KW + kw;
      acc = acc + dcol[k * N + n * hw + oh * p.OW + ow];
    }
  }
  dx[idx] = acc;
}
