// A model summary in the manner of torchinfo / Keras's model.summary(): one row per module that a
// forward pass calls, with its name, type, output shape and own parameter count, and the totals.
import { Tensor, tidy } from '../tensor.ts';
import { noGrad } from '../autograd/engine.ts';
import type { AnyModule } from './module.ts';

/** The tensors of a module's output: itself, or those in its arrays and plain objects, in order. */
function tensorsIn(y: unknown): Tensor[] {
  if (y instanceof Tensor) return [y];
  if (Array.isArray(y)) return y.flatMap(tensorsIn);
  if (y && typeof y === 'object' && Object.getPrototypeOf(y) === Object.prototype)
    return Object.values(y).flatMap(tensorsIn);
  return [];
}
const fmtShapes = (s: number[] | number[][]): string =>
  s.length && Array.isArray(s[0]) ? (s as number[][]).map(fmtShapes).join(' ') : `[${s.join(', ')}]`;

/** One row of summary(): a module call in a forward pass. */
export interface SummaryRow {
  /** The module's dotted name in the model (as its parameters are named); '' for the model itself. */
  name: string;
  /** The module's class name (Linear, Conv2d, ...). */
  type: string;
  /** The output's shape; a module returning several tensors (arrays or objects of them) has their shapes. */
  outputShape: number[] | number[][];
  /** Parameters the module holds itself (not its children's). */
  params: number;
}

/**
 * Runs model.call(...inputs) once without gradients, recording each module's call in the order they
 * finish, and returns the rows with a printable table (`text`). Modules the forward does not call
 * are not listed; a module called twice is listed twice.
 *
 * @example
 * ```ts
 * const { text, total } = nn.summary(model, zeros([1, 1, 28, 28]));
 * console.log(text);   // a table: module, type, output shape, params; then the total
 * ```
 */
export function summary(model: AnyModule, ...inputs: unknown[]): { rows: SummaryRow[]; total: number; text: string } {
  const rows: SummaryRow[] = [];
  const modules = [...model.namedModules()];
  const restore: (() => void)[] = [];
  for (const [name, m] of modules) {
    const own = [...m.namedParameters()].filter(([k]) => !k.includes('.')).reduce((n, [, p]) => n + p.size, 0);
    const call = m.call;
    const own_ = Object.prototype.hasOwnProperty.call(m, 'call');
    m.call = (...xs: unknown[]) => {
      const y = call.apply(m, xs);
      const shapes = tensorsIn(y).map((t) => [...t.shape]);
      rows.push({ name, type: m.constructor.name, outputShape: y instanceof Tensor ? shapes[0] : shapes, params: own });
      return y;
    };
    restore.push(() => {
      if (own_) m.call = call;
      else delete (m as { call?: unknown }).call;
    });
  }
  try {
    noGrad(() => tidy(() => void model.call(...inputs)));
  } finally {
    for (const r of restore) r();
  }
  const total = model.parameters().reduce((n, p) => n + p.size, 0);
  const cells = rows.map((r) => [
    r.name || '(model)',
    r.type,
    fmtShapes(r.outputShape),
    r.params.toLocaleString('en-US'),
  ]);
  const head = ['module', 'type', 'output', 'params'];
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 3 ? v.padStart(width[i]) : v.padEnd(width[i]))).join('  ');
  const text = [line(head), ...cells.map(line), `total parameters: ${total.toLocaleString('en-US')}`].join('\n');
  return { rows, total, text };
}
