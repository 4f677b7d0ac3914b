// Gradient clipping with PyTorch's semantics (torch.nn.utils.clip_grad_norm_ and clip_grad_value_):
// the gradients left on parameters by backward() are rewritten in place, by the 'assign' effect, so a
// compiled step (src/graph/compile.ts) records the clipping with the rest of the step and the factor
// stays on the device (no readback: the clipped norm is a tensor).
import { Tensor, tidy, keep } from '../tensor.ts';
import { assignInPlace } from '../ops/functional.ts';
import { noGrad } from '../autograd/engine.ts';

/** The norm clipGradNorm_ measures: the 2-norm (default), another p-norm, or the largest magnitude. */
export type GradNormType = number | 'inf';

/**
 * Scales the gradients of `params` (those that have one) so that their total norm, the norm of the
 * per-parameter norms, is at most maxNorm: each is multiplied by min(1, maxNorm / (total + 1e-6)), as
 * torch.nn.utils.clip_grad_norm_ does. Returns the total norm before clipping (a scalar tensor). A NaN
 * or Inf gradient makes the norm non-finite and the gradients NaN, as in PyTorch (the optimizer's
 * finite check then names them).
 */
export function clipGradNorm_(params: Iterable<Tensor>, maxNorm: number, normType: GradNormType = 2): Tensor {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm_: maxNorm must be >= 0, not ${maxNorm}`);
  if (normType !== 'inf' && !(normType > 0 && Number.isFinite(normType)))
    throw new Error(`clipGradNorm_: normType must be a positive number or 'inf', not ${normType}`);
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) throw new Error('clipGradNorm_: no parameter has a gradient (call backward() first)');
  return noGrad(() => {
    const total = keep(
      tidy(() => {
        if (normType === 'inf') return grads.map((g) => g.abs().max()).reduce((a, b) => a.maximum(b));
        const p = normType;
        const per = grads.map((g) => (p === 2 ? g.square().sum() : g.abs().pow(p).sum()));
        const s = per.reduce((a, b) => a.add(b));
        return p === 2 ? s.sqrt() : s.pow(1 / p);
      }),
    );
    tidy(() => {
      const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp(-Infinity, 1);
      for (const g of grads) assignInPlace(g, g.mul(coef));
    });
    return total;
  });
}

/** Clamps every gradient of `params` to [-clipValue, clipValue] in place (torch.nn.utils.clip_grad_value_). */
export function clipGradValue_(params: Iterable<Tensor>, clipValue: number): void {
  if (!(clipValue >= 0)) throw new Error(`clipGradValue_: clipValue must be >= 0, not ${clipValue}`);
  noGrad(() =>
    tidy(() => {
      for (const p of params) if (p.grad) assignInPlace(p.grad, p.grad.clamp(-clipValue, clipValue));
    }),
  );
}
