// In-place updates of existing storages: the operations that are not primitives (they make no new
// value) but that a training step must run in order, eagerly or compiled. Each is one row, like the
// primitive table: its backend call over the storages it reads and writes. They go through the
// dispatch point's effect() (src/graph/apply.ts), so a trace records them (src/graph/trace.ts).
//   optim   one optimizer step of one parameter: [param, grad, slot1, slot2, flags] (src/nn/optim.ts);
//           writes param, the two slots and, where a value is not finite, its flag
//   assign  dst's values replaced by src's: [dst, src] (batch norm's running statistics, weight init)
//   assign_fused  dst's values replaced by a fused elementwise expression of the other inputs, which may
//           read dst element for element: [dst, ...inputs]; made by the in-place pass
//           (src/graph/passes/in_place.ts) from an assign and the kernel computing its value, never traced

import type { Backend, Storage } from '../backend/backend.ts';
import type { FusedExpr, FusedRead, OptimSpec } from '../backend/kernels.ts';
import { contiguousStrides } from '../shape.ts';

export interface EffectParams {
  /** check: the finite check's flag slot and tag (FiniteCheck in src/backend/kernels.ts), or null. */
  optim: { spec: OptimSpec; check: { slot: number; tag: number } | null };
  assign: Record<string, never>;
  assign_fused: { expr: FusedExpr; reads: FusedRead[]; n: number };
}
export type EffectName = keyof EffectParams;

export interface Effect<E extends EffectName> {
  run(b: Backend, x: Storage[], p: EffectParams[E], shapes: number[][]): void;
}

export const EFFECTS: { [E in EffectName]: Effect<E> } = {
  optim: {
    // The update of a gradient already computed: the elementwise kernel of the gradient itself, written
    // over it, with the update in its store (Backend.elementwise's optimizer step).
    run: (b, [param, grad, s1, s2, flags], { spec, check }) => {
      const optim = { param, s1, s2, spec, ...(check ? { check: { flags, ...check } } : {}) };
      const n = grad.length;
      b.elementwise({
        expr: { kind: 'input', k: 0 },
        inputs: [grad],
        reads: [{ div: 1, mod: n }],
        n,
        out: grad,
        optim,
      });
    },
  },
  assign: {
    run: (b, [dst, src], _p, [shape]) => {
      const sh = shape.length ? shape : [1];
      const st = contiguousStrides(sh);
      const view = (storage: Storage) => ({ storage, strides: st, offset: 0 });
      if (dst.length > 0) b.move({ kind: 'copy', shape: sh, src: view(src), dst: view(dst) });
    },
  },
  assign_fused: {
    run: (b, [dst, ...xs], { expr, reads, n }) => {
      if (n > 0) b.elementwise({ expr, inputs: xs, reads, n, out: dst });
    },
  },
};
