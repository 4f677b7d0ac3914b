// Reduction of contiguous rows with one invocation per (row, chunk) and no workgroup memory or barriers:
// the variant for CPU-like adapters (SwiftShader), where barriers are costly and each invocation runs
// long loops well. Same contract as reduce.wgsl: x viewed as [rows, R], chunks of C elements,
// y[row * chunks + chunk]. Sums use 4 interleaved accumulators (a short tree), and the backend keeps C
// small and reduces the partial results again, so no serial run is long.
override WG: u32 = 64u;

struct Params { rows: u32, R: u32, C: u32, chunks: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = flat_index(gid, nwg, WG);
  if (g >= params.rows * params.chunks) { return; }
  let row = g / params.chunks;
  let chunk = g % params.chunks;
  let start = chunk * params.C;
  let end = min(start + params.C, params.R);
  let base = row * params.R;
  if (OP == 0u) {
    var acc = vec4<f32>(0.0);
    var k = start;
    for (; k + 4u <= end; k = k + 4u) {
      acc = acc + vec4<f32>(x[base + k], x[base + k + 1u], x[base + k + 2u], x[base + k + 3u]);
    }
    for (; k < end; k = k + 1u) { acc.x = acc.x + x[base + k]; }
    y[g] = (acc.x + acc.y) + (acc.z + acc.w);
    return;
  }
  var best = 0.0;
  var bi = NONE;
  for (var k = start; k < end; k = k + 1u) {
    let v = x[base + k];
    // Scanning in order, a strict improvement keeps the first index on ties.
    if (better(best, bi, v, k)) { best = v; bi = k; }
  }
  if (OP >= 3u) { y[g] = f32(bi); } else { y[g] = best; }
}
