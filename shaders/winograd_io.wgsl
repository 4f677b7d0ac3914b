// The bindings of winograd.wgsl, its uniforms, and the output stage's store: the output's element i
// gets v. A compiled graph's convolution with an epilogue replaces this file for the output stage with
// a generated one (src/backend/webgpu/fused.ts, epilogueIo), as conv_io.wgsl for the conv cores.
struct WinoParams {
  g: ConvParams,
  TH: u32, TW: u32, T: u32, Tp: u32,
}
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: WinoParams;
fn mm_store(i: u32, v: f32) { dst[i] = v; }
