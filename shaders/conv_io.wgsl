// The bindings of the convolution hooks (conv.wgsl) and their store: the output's element i gets v. A
// compiled graph's convolution with an epilogue (bias, activation) replaces this file with a generated
// one (src/backend/webgpu/fused.ts, epilogueIo), as matmul_io.wgsl.
@group(0) @binding(0) var<storage, read> src_a: array<f32>;
@group(0) @binding(1) var<storage, read> src_b: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: ConvParams;
fn mm_store(i: u32, v: f32) { dst[i] = v; }
