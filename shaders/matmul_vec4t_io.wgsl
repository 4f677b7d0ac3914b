// The bindings of matmul_vec4t.wgsl (vec4 operands) and its store: C's element i gets v. A fused
// matmul replaces this file, as matmul_io.wgsl (src/backend/webgpu/fused.ts, epilogueIo).
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
fn mm_store(i: u32, v: f32) { c[i] = v; }
