// Prints the elementwise op table's PyTorch column as JSON (src/backend/elementwise_table.ts: per op its
// `torch` expression, and for a unary op the parameter sets of its special-value cases), which
// scripts/special_values.py reads, so a new op's special-value cases come from its row.
//   npx tsx scripts/elementwise_rows.ts
import { BINARY, TERNARY, UNARY, type UnaryRow } from '../src/backend/elementwise_table.ts';

const unary = Object.fromEntries(
  Object.entries(UNARY as Record<string, UnaryRow>).map(([op, r]) => [
    op,
    { torch: r.torch, special: r.special ?? [[0, 0]] },
  ]),
);
const pick = (rows: Record<string, { torch: string }>) =>
  Object.fromEntries(Object.entries(rows).map(([op, r]) => [op, { torch: r.torch }]));
console.log(JSON.stringify({ unary, binary: pick(BINARY), ternary: pick(TERNARY) }));
