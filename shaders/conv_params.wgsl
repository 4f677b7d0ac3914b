// The geometry of a 2-D convolution, shared by conv.wgsl, im2col.wgsl and col2im.wgsl (packed by
// packConvGeom in src/backend/webgpu/index.ts): input [n, C, H, W], weight [O, C, KH, KW], output
// [n, O, OH, OW], stride (sh, sw), padding (ph, pw), dilation (dh, dw); the last row is used by conv.wgsl's
// MODE 3 only: stride phase, first tap, tap counts, phase extents.
struct ConvParams {
  n: u32, C: u32, H: u32, W: u32,
  O: u32, KH: u32, KW: u32, OH: u32,
  OW: u32, sh: u32, sw: u32, ph: u32,
  pw: u32, dh: u32, dw: u32, pad0: u32,
  rh: u32, rw: u32, kh0: u32, kw0: u32,
  nkh: u32, nkw: u32, HP: u32, WP: u32,
}
