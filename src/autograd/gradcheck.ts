// gradcheck: compares the gradients from backward() with central finite differences, in float64 on the
// CPU reference backend (the error of a central difference is O(eps^2), well below float64 noise at
// eps = 1e-6 for smooth functions).

import { CpuBackend } from '../backend/cpu/index.ts';
import { withBackend } from '../backend/registry.ts';
import { Tensor, tidy } from '../tensor.ts';
import { tensor } from '../ops/creation.ts';

/** What gradcheck() found. */
export interface GradcheckResult {
  /** True when every element's relative error is at most `tol`. */
  ok: boolean;
  /** Largest |analytic - numeric| / max(1, |numeric|) over all inputs and elements. */
  maxRelError: number;
  /** Where the largest error is: input index and flat element. */
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

const f64 = new CpuBackend(true);

/**
 * Checks backward()'s gradients of fn against central finite differences, in float64 on the CPU
 * reference (as torch.autograd.gradcheck). fn maps the inputs (float64 tensors on the CPU reference) to
 * a tensor; its gradient is checked for the scalar sum(fn(inputs) * w) with a fixed random weighting w,
 * so every output element counts. `eps` is the difference step (1e-6), `tol` the largest relative error
 * allowed (1e-6).
 * @example
 * ```ts
 * const r = gradcheck((x) => x.tanh().mul(x), [{ data: [0.1, -0.5, 2], shape: [3] }]);
 * r.ok;            // true
 * r.maxRelError;   // about 1e-10
 * ```
 */
export function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: { data: ArrayLike<number>; shape: number[] }[],
  opts: { eps?: number; tol?: number } = {},
): GradcheckResult {
  const eps = opts.eps ?? 1e-6,
    tol = opts.tol ?? 1e-6;
  return withBackend(f64, () =>
    tidy(() => {
      const xs = inputs.map((x) => tensor(Float64Array.from(x.data), x.shape, { requiresGrad: true }));
      const out0 = fn(...xs);
      const wData = Float64Array.from({ length: out0.size }, (_, i) => Math.sin(1.7 * i + 0.3) + 1.1);
      const w = tensor(wData, out0.shape);
      const value = (o: Tensor) => {
        const d = f64.readSync(o.storage),
          wd = f64.readSync(w.storage);
        let s = 0;
        for (let i = 0; i < d.length; i++) s += d[i] * wd[i];
        return s;
      };
      out0.mul(w).sum().backward();
      let maxRel = 0;
      let worst: GradcheckResult['worst'] = null;
      xs.forEach((x, k) => {
        // An input that received no gradient has analytic gradient zero (e.g. where's condition).
        const analytic = x.grad ? f64.readSync(x.grad.storage) : new Float64Array(x.size);
        const base = Float64Array.from(inputs[k].data);
        for (let i = 0; i < base.length; i++) {
          const at = (delta: number) => {
            const moved = base.slice();
            moved[i] += delta;
            const args = xs.map((t, j) => (j === k ? tensor(moved, t.shape) : t.detach()));
            return value(fn(...args));
          };
          const numeric = (at(eps) - at(-eps)) / (2 * eps);
          const rel = Math.abs(analytic[i] - numeric) / Math.max(1, Math.abs(numeric));
          if (!(rel <= maxRel)) {
            maxRel = Number.isNaN(rel) ? Infinity : rel;
            worst = { input: k, index: i, analytic: analytic[i], numeric };
          }
        }
      });
      return { ok: maxRel <= tol, maxRelError: maxRel, worst };
    }),
  );
}
