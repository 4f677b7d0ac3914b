// Strided copy: for every index of `shape`, y[out_off + idx . out_strides] = x[in_off + idx . in_strides].
// One kernel serves permute/transpose, slice (with step), broadcast_to (stride 0) and concat (writing
// each input into its slab of the output). Each invocation copies a run of up to RUN consecutive
// elements of the innermost dimension: the index is decomposed (divisions, slow on CPU-like adapters)
// once per run, not once per element.
override WG: u32 = 256u;
const RUN: u32 = 8u;
struct Params {
  n: u32, rank: u32, in_off: u32, out_off: u32,
  shape: array<vec4<u32>, 2>,
  si: array<vec4<u32>, 2>,
  so: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let last = params.rank - 1u;
  let inner = params.shape[last / 4u][last % 4u];
  let runs_per_row = (inner + RUN - 1u) / RUN;
  let g = flat_index(gid, nwg, WG);
  let rows = params.n / inner;
  if (g >= rows * runs_per_row) { return; }
  let row = g / runs_per_row;
  let start = (g % runs_per_row) * RUN;
  // Offsets of the row (all dimensions but the last), then of the run's first element.
  var rem = row;
  var oi = params.in_off;
  var oo = params.out_off;
  for (var i = i32(last) - 1; i >= 0; i = i - 1) {
    let d = u32(i);
    let s = params.shape[d / 4u][d % 4u];
    let q = rem % s;
    rem = rem / s;
    oi = oi + q * params.si[d / 4u][d % 4u];
    oo = oo + q * params.so[d / 4u][d % 4u];
  }
  let sil = params.si[last / 4u][last % 4u];
  let sol = params.so[last / 4u][last % 4u];
  oi = oi + start * sil;
  oo = oo + start * sol;
  let end = min(start + RUN, inner);
  for (var k = start; k < end; k = k + 1u) {
    y[oo] = x[oi];
    oi = oi + sil;
    oo = oo + sol;
  }
}
