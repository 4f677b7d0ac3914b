// Reduction of contiguous rows: x is viewed as [rows, R]; each row is cut into chunks of C elements and
// one workgroup reduces one (row, chunk) pair into y[row * chunks + chunk]. The backend calls it twice
// for long rows (C < R, then over the partial results), so no invocation sums a long serial run.
// Inside a workgroup each thread reduces a strided slice, then a tree in workgroup memory combines them.
const WG: u32 = 64u;

struct Params { rows: u32, R: u32, C: u32, chunks: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> sv: array<f32, WG>;
var<workgroup> si: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let g = flat_group(wid, nwg);
  let valid = g < params.rows * params.chunks;
  let row = g / params.chunks;
  let chunk = g % params.chunks;
  let start = chunk * params.C;
  let end = min(start + params.C, params.R);
  let base = row * params.R;
  var acc = 0.0;
  var ai = NONE;
  if (valid) {
    for (var k = start + t; k < end; k = k + WG) {
      let v = x[base + k];
      if (OP == 0u) { acc = acc + v; } else if (better(acc, ai, v, k)) { acc = v; ai = k; }
    }
  }
  sv[t] = acc;
  si[t] = ai;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (t < s) {
      if (OP == 0u) {
        sv[t] = sv[t] + sv[t + s];
      } else if (better(sv[t], si[t], sv[t + s], si[t + s])) {
        sv[t] = sv[t + s];
        si[t] = si[t + s];
      }
    }
    workgroupBarrier();
  }
  if (t == 0u && valid) {
    if (OP >= 3u) { y[g] = f32(si[0]); } else { y[g] = sv[0]; }
  }
}
