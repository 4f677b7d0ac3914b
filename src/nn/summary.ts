// A model summary in the manner of torchinfo / Keras's model.summary(): one row per module that a
// forward pass calls, with its name, type, output shape and own parameter count, and the totals.
import { tidy, type Tensor } from '../tensor.ts';
import { noGrad } from '../autograd/engine.ts';
import type { Module } from './module.ts';

export interface SummaryRow {
  /** The module's dotted name in the model (as its parameters are named); '' for the model itself. */
  name: string;
  type: string;
  outputShape: number[];
  /** Parameters the module holds itself (not its children's). */
  params: number;
}

/**
 * Runs model.call(...inputs) once without gradients, recording each module's call in the order they
 * finish, and returns the rows with a printable table (`text`). Modules the forward does not call
 * are not listed; a module called twice is listed twice.
 */
export function summary(model: Module, ...inputs: Tensor[]): { rows: SummaryRow[]; total: number; text: string } {
  const rows: SummaryRow[] = [];
  const modules = [...model.namedModules()];
  const restore: (() => void)[] = [];
  for (const [name, m] of modules) {
    const own = [...m.namedParameters()].filter(([k]) => !k.includes('.')).reduce((n, [, p]) => n + p.size, 0);
    const call = m.call;
    const own_ = Object.prototype.hasOwnProperty.call(m, 'call');
    m.call = (...xs: Tensor[]) => {
      const y = call.apply(m, xs);
      rows.push({ name, type: m.constructor.name, outputShape: [...y.shape], params: own });
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
  const cells = rows.map((r) => [r.name || '(model)', r.type, `[${r.outputShape.join(', ')}]`, r.params.toLocaleString('en-US')]);
  const head = ['module', 'type', 'output', 'params'];
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 3 ? v.padStart(width[i]) : v.padEnd(width[i]))).join('  ');
  const text = [line(head), ...cells.map(line), `total parameters: ${total.toLocaleString('en-US')}`].join('\n');
  return { rows, total, text };
}
