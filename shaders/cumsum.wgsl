// Cumulative sum along one dim of a tensor viewed as [O, D, I] (torch.cumsum): one invocation per
// (o, i) line adds along d in order (MODE 0: y[o, d, i] = sum of x[o, t, i] for t <= d; MODE 1, the
// reverse, for t >= d: cumsum's adjoint), the same order as the CPU reference, in float32 (as torch on
// CUDA; the CPU reference adds in float64, as torch's CPU kernel, so only a partial sum past float32's
// range differs). A line is sequential: fine for the dims models scan (classes, time steps), slow for
// one very long line.
override MODE: u32 = 0u;
override WG: u32 = 256u;
struct Params { n: u32, O: u32, D: u32, I: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = flat_index(gid, nwg, WG);
  if (line >= params.n) { return; }
  let I = params.I;
  let D = params.D;
  let base = (line / I) * D * I + line % I;
  var acc = 0.0;
  for (var t = 0u; t < D; t = t + 1u) {
    let d = select(t, D - 1u - t, MODE == 1u);
    acc = acc + x[base + d * I];
    y[base + d * I] = acc;
  }
}
