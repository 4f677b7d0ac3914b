// The optimizer update of one parameter element (optim.wgsl's kernel; a compiled graph's kernel that
// computes a parameter's gradient, a matmul, a convolution, a fused reduction or elementwise kernel,
// calls it in its store, src/backend/webgpu/fused.ts), over the
// bindings opt_p (the parameter), opt_s1, opt_s2 (its state) and opt_flags (the finite check's flags).
// Formulas in optim.wgsl's header. In place: element i is read, then written, by one invocation.
override OP: u32 = 0u;
struct OptimParams {
  n: u32, first: u32, nesterov: u32, slot: u32,
  lr: f32, wd: f32, mom: f32, damp: f32,
  b1: f32, b2: f32, step_size: f32, sqrt_bc2: f32,
  eps: f32, tag: f32, decoupled: u32, pad3: f32,
}

fn optim_update(i: u32, graw: f32, u: OptimParams) {
  // AdamW (decoupled): the parameter decays by lr wd first, and the gradient takes no decay term.
  let pv = select(opt_p[i], opt_p[i] * (1.0 - u.lr * u.wd), u.decoupled != 0u && u.wd != 0.0);
  // No decay term at all when wd = 0 (as torch.optim): 0 * Inf would make an infinite parameter NaN.
  let gv = select(graw + u.wd * pv, graw, u.wd == 0.0 || u.decoupled != 0u);
  var np: f32;
  if (OP == 0u) {
    var d = gv;
    if (u.mom != 0.0) {
      var b = gv;
      if (u.first == 0u) { b = u.mom * opt_s1[i] + (1.0 - u.damp) * gv; }
      opt_s1[i] = b;
      d = select(b, gv + u.mom * b, u.nesterov != 0u);
    }
    np = pv - u.lr * d;
  } else {
    let m = u.b1 * opt_s1[i] + (1.0 - u.b1) * gv;
    let v = u.b2 * opt_s2[i] + (1.0 - u.b2) * gv * gv;
    opt_s1[i] = m;
    opt_s2[i] = v;
    np = pv - u.step_size * m / (sqrt(v) / u.sqrt_bc2 + u.eps);
  }
  opt_p[i] = np;
  if (u.slot != 0xffffffffu && (non_finite1(graw) || non_finite1(np))) { atomicStore(&opt_flags[u.slot], bitcast<u32>(u.tag)); }
}
