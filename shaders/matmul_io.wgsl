// The bindings of the matmul cores of matmul_common.wgsl and their store: C's element i (row-major
// [batch, M, N]) gets v. A compiled graph's matmul with an epilogue (bias, activation) is these cores
// with this file replaced by a generated one (src/backend/webgpu/fused.ts, epilogueIo), which binds
// the epilogue's inputs after C and applies it in mm_store.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
fn mm_store(i: u32, v: f32) { c[i] = v; }
