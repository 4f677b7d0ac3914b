// Fused optimizer updates, one kernel per parameter tensor, in place (PyTorch's torch.optim semantics).
// OP 0: SGD with momentum, dampening, nesterov and weight decay (torch.optim.SGD):
//         g' = g + wd p;  buf = first ? g' : mom buf + (1 - damp) g';  d = nesterov ? g' + mom buf : buf
//         p -= lr d
// OP 1: Adam with bias correction (Kingma & Ba 2015, Alg. 1; torch.optim.Adam, L2 weight decay):
//         g' = g + wd p;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//         p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The finite check (src/backend/kernels.ts FiniteCheck): where the gradient or the updated parameter is
// NaN or +-Inf (tested on the bits, see common.wgsl), flags[slot] = the tag's bits (the optimizer's step
// count as f32, so the host reads the flags as floats on either backend). slot NONE: no check.
override OP: u32 = 0u;
override WG: u32 = 256u;
struct Params {
  n: u32, first: u32, nesterov: u32, slot: u32,
  lr: f32, wd: f32, mom: f32, damp: f32,
  b1: f32, b2: f32, step_size: f32, sqrt_bc2: f32,
  eps: f32, tag: f32, pad2: f32, pad3: f32,
}
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> s1: array<f32>;
@group(0) @binding(3) var<storage, read_write> s2: array<f32>;
@group(0) @binding(4) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> u: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i >= u.n) { return; }
  let pv = p[i];
  let graw = g[i];
  // No decay term at all when wd = 0 (as torch.optim): 0 * Inf would make an infinite parameter NaN.
  let gv = select(graw + u.wd * pv, graw, u.wd == 0.0);
  var np: f32;
  if (OP == 0u) {
    var d = gv;
    if (u.mom != 0.0) {
      var b = gv;
      if (u.first == 0u) { b = u.mom * s1[i] + (1.0 - u.damp) * gv; }
      s1[i] = b;
      d = select(b, gv + u.mom * b, u.nesterov != 0u);
    }
    np = pv - u.lr * d;
  } else {
    let m = u.b1 * s1[i] + (1.0 - u.b1) * gv;
    let v = u.b2 * s2[i] + (1.0 - u.b2) * gv * gv;
    s1[i] = m;
    s2[i] = v;
    np = pv - u.step_size * m / (sqrt(v) / u.sqrt_bc2 + u.eps);
  }
  p[i] = np;
  if (u.slot != 0xffffffffu && (non_finite1(graw) || non_finite1(np))) { atomicStore(&flags[u.slot], bitcast<u32>(u.tag)); }
}
