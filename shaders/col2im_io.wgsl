// The bindings of col2im.wgsl and its store: dx's element i gets v. A compiled graph's input gradient
// with an epilogue replaces this file with a generated one (src/backend/webgpu/fused.ts, epilogueIo),
// as conv_io.wgsl for the conv cores.
@group(0) @binding(0) var<storage, read> src_a: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: ConvParams;
fn mm_store(i: u32, v: f32) { dst[i] = v; }
