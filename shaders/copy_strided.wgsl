// Strided copy: for every index of `shape`, y[out_off + idx . out_strides] = x[in_off + idx . in_strides].
// One kernel serves permute/transpose, slice (with step), broadcast_to (stride 0) and concat (writing
// each input into its slab of the output). Each invocation copies a run of up to RUN consecutive
// elements of the innermost dimension: the index is decomposed (divisions, slow on CPU-like adapters)
// once per run, not once per element.
override WG: u32 = 256u;
const RUN: u32 = 8u;
// The rank (after merging dims) as a pipeline constant: SwiftShader spills uniforms read by a computed
// index, which made a rank loop 2.5x slower.
override RANK: u32 = 4u;
struct Params {
  n: u32, unused: u32, in_off: u32, out_off: u32,
  shape: array<vec4<u32>, 2>,
  si: array<vec4<u32>, 2>,
  so: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

/** (size, input stride, output stride) of the innermost dimension. */
fn innermost() -> vec3<u32> {
  switch (RANK) {
    case 1u: { return vec3<u32>(params.shape[0].x, params.si[0].x, params.so[0].x); }
    case 2u: { return vec3<u32>(params.shape[0].y, params.si[0].y, params.so[0].y); }
    case 3u: { return vec3<u32>(params.shape[0].z, params.si[0].z, params.so[0].z); }
    case 4u: { return vec3<u32>(params.shape[0].w, params.si[0].w, params.so[0].w); }
    case 5u: { return vec3<u32>(params.shape[1].x, params.si[1].x, params.so[1].x); }
    case 6u: { return vec3<u32>(params.shape[1].y, params.si[1].y, params.so[1].y); }
    case 7u: { return vec3<u32>(params.shape[1].z, params.si[1].z, params.so[1].z); }
    default: { return vec3<u32>(params.shape[1].w, params.si[1].w, params.so[1].w); }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let last = innermost();
  let inner = last.x;
  let runs_per_row = (inner + RUN - 1u) / RUN;
  let g = flat_index(gid, nwg, WG);
  let rows = params.n / inner;
  if (g >= rows * runs_per_row) { return; }
  let row = g / runs_per_row;
  let start = (g % runs_per_row) * RUN;
  // Offsets of the row (all dimensions but the last, innermost first; uniforms read by constant index
  // only, blocks beyond the rank dropped at pipeline creation), then of the run's first element.
  var rem = row;
  var oi = params.in_off;
  var oo = params.out_off;
  if (RANK - 1u > 6u) { let s = params.shape[1].z; let q = rem % s; rem = rem / s; oi = oi + q * params.si[1].z; oo = oo + q * params.so[1].z; }
  if (RANK - 1u > 5u) { let s = params.shape[1].y; let q = rem % s; rem = rem / s; oi = oi + q * params.si[1].y; oo = oo + q * params.so[1].y; }
  if (RANK - 1u > 4u) { let s = params.shape[1].x; let q = rem % s; rem = rem / s; oi = oi + q * params.si[1].x; oo = oo + q * params.so[1].x; }
  if (RANK - 1u > 3u) { let s = params.shape[0].w; let q = rem % s; rem = rem / s; oi = oi + q * params.si[0].w; oo = oo + q * params.so[0].w; }
  if (RANK - 1u > 2u) { let s = params.shape[0].z; let q = rem % s; rem = rem / s; oi = oi + q * params.si[0].z; oo = oo + q * params.so[0].z; }
  if (RANK - 1u > 1u) { let s = params.shape[0].y; let q = rem % s; rem = rem / s; oi = oi + q * params.si[0].y; oo = oo + q * params.so[0].y; }
  if (RANK - 1u > 0u) { let s = params.shape[0].x; let q = rem % s; rem = rem / s; oi = oi + q * params.si[0].x; oo = oo + q * params.so[0].x; }
  oi = oi + start * last.y;
  oo = oo + start * last.z;
  let end = min(start + RUN, inner);
  // A full run, contiguous on both sides (the layout copies of the conv kernels, concat, slices of
  // rows): unrolled, no loop. SwiftShader runs a loop whose trip count may differ between lanes under a
  // lane mask, and the masked loads and stores cost most of the copy: this made [O, n, hw] <-> [n, O, hw]
  // copies 1.4-2x faster there.
  if (end - start == RUN && last.y == 1u && last.z == 1u) {
    y[oo] = x[oi];
    y[oo + 1u] = x[oi + 1u];
    y[oo + 2u] = x[oi + 2u];
    y[oo + 3u] = x[oi + 3u];
    y[oo + 4u] = x[oi + 4u];
    y[oo + 5u] = x[oi + 5u];
    y[oo + 6u] = x[oi + 6u];
    y[oo + 7u] = x[oi + 7u];
    return;
  }
  for (var k = start; k < end; k = k + 1u) {
    y[oo] = x[oi];
    oi = oi + last.y;
    oo = oo + last.z;
  }
}
