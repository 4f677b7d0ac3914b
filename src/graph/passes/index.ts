// The passes a traced graph (src/graph/trace.ts) goes through before it runs, one file each, in the
// order they run (one place for each rule):
//   dead code    an op whose value reaches no output, effect or later live op is dropped; a dropped
//                random draw keeps its per-call function, so the generator advances as in eager mode
//                (dead_code.ts)
//   constants    upload ops (tensor() inside the function), fills, and pure primitives over only such
//                values run once, when the program is built (constants.ts)
//   fusion       chains and trees of elementwise ops (unary, binary and ternary, each operand read as
//                NumPy broadcasts it) become one generated kernel each (FusedExpr in
//                src/backend/kernels.ts); sums, maxima and minima
//                over at most two runs of dims take their elementwise prologue and epilogue into one
//                strided reduction kernel (ReduceGeom), with no copies; matmuls and convolutions take
//                the elementwise ops after them into the GEMM core's store (epilogues); see
//                fuseElementwise for the rule of where a kernel ends (fuse_elementwise.ts)
//   row kernels  a fused sum and the sums and elementwise ops right after it over the same rows (a
//                norm's backward) become one kernel that sums each row in stages, then writes its
//                elements (fuse_rows.ts)
//   in place     an assign of a fused kernel's value becomes the kernel writing into the assigned
//                storage (in_place.ts)
//   optimizer    a parameter's optimizer step runs in the store of the kernel computing its gradient
//                (a matmul, a convolution, a fused reduction or elementwise kernel: fuse_optimizer.ts)
//   assign       an assign of an expression of the assigned storage and a reduction's result runs in
//                that reduction's store (batch norm's running statistics: fuse_assign.ts)
// Liveness (each value freed right after its last use) and the recording are the program's
// (src/graph/program.ts). graph.ts holds the graph type and what the passes share.

import type { Storage } from '../../backend/backend.ts';
import type { PrimOp } from '../trace.ts';
import { fuseAssign } from './fuse_assign.ts';
import { fuseRows } from './fuse_rows.ts';
import { foldConstants } from './constants.ts';
import { eliminateDeadCode } from './dead_code.ts';
import { fuseElementwise } from './fuse_elementwise.ts';
import { fuseOptimizer } from './fuse_optimizer.ts';
import type { Graph } from './graph.ts';
import { writeInPlace } from './in_place.ts';

export type { Graph } from './graph.ts';

/**
 * Every pass over `g`, in order. `fold` computes a constant value (see foldConstants); the returned
 * constants map each folded value to its storage (the caller owns them).
 */
export function runPasses(
  g: Graph,
  fold: (op: PrimOp, inputs: Storage[]) => Storage | null,
): { graph: Graph; constants: Map<Storage, Storage> } {
  const folded = foldConstants(eliminateDeadCode(g), fold);
  return {
    graph: fuseAssign(fuseOptimizer(writeInPlace(fuseRows(fuseElementwise(folded.graph))))),
    constants: folded.constants,
  };
}
