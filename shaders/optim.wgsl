// Fused optimizer updates, one kernel per parameter tensor, in place (PyTorch's torch.optim semantics).
// OP 0: SGD with momentum, dampening, nesterov and weight decay (torch.optim.SGD):
//         g' = g + wd p;  buf = first ? g' : mom buf + (1 - damp) g';  d = nesterov ? g' + mom buf : buf
//         p -= lr d
// OP 1: Adam with bias correction (Kingma & Ba 2015, Alg. 1; torch.optim.Adam, L2 weight decay):
//         g' = g + wd p;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//         p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//       decoupled (AdamW, Loshchilov & Hutter 2019, Alg. 2; torch.optim.AdamW): p *= 1 - lr wd first,
//         and g' = g
// The finite check (src/backend/kernels.ts FiniteCheck): where the gradient or the updated parameter is
// NaN or +-Inf (tested on the bits, see common.wgsl), flags[slot] = the tag's bits (the optimizer's step
// count as f32, so the host reads the flags as floats on either backend). slot NONE: no check.
override WG: u32 = 256u;
// The update itself is optim_update (optim_ops.wgsl), which a GEMM's store can call too.
@group(0) @binding(0) var<storage, read_write> opt_p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> opt_s1: array<f32>;
@group(0) @binding(3) var<storage, read_write> opt_s2: array<f32>;
@group(0) @binding(4) var<storage, read_write> opt_flags: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> u: OptimParams;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i >= u.n) { return; }
  optim_update(i, g[i], u);
}
