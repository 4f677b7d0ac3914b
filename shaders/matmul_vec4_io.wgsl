// The bindings of matmul_vec4.wgsl and its store: C's elements 4 * i4 .. 4 * i4 + 3 get v. A fused
// matmul replaces this file, as matmul_io.wgsl (src/backend/webgpu/fused.ts, epilogueIo).
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;
fn mm_store4(i4: u32, v: vec4<f32>) { c[i4] = v; }
