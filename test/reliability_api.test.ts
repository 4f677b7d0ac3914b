// Issue 31's reliability cases outside compile() (its first seven are test/compile_guards.test.ts): each
// misuse or edge case gives a clear error naming the op and the shapes, or the right value, on both
// backends where it applies.
//   A. an allocation the device cannot make (case 16) is reported naming its size and shape; the ops
//      after it work
//   B. .int() of values outside int32's exact range; tidy() of an async function or returning a Map;
//      loadStateDict of a plain object; a tensor from before a re-init; logsumexp over an empty dim;
//      BatchNorm2d's channel count; layer sizes; profile() then shutdown(); OneCycleLR's last step and
//      its momentum cycling (checked against PyTorch's formulas)
import { describe, expect, it } from 'vitest';
import { tensor, type Backend } from '../src/index.ts';
import { cpu, getGpu } from './helpers.ts';

const BACKENDS = ['cpu', 'webgpu'] as const;
const backendOf = async (which: (typeof BACKENDS)[number]): Promise<Backend> => (which === 'cpu' ? cpu : await getGpu());

describe('.int() never holds a value outside the int32 range it represents exactly', () => {
  for (const which of BACKENDS) {
    it(`${which}: 1e10, +-Inf and NaN saturate to +-2^24 (NaN to -2^24); values in range truncate toward zero`, async () => {
      const b = await backendOf(which);
      const x = tensor([1e10, -1e10, NaN, Infinity, -Infinity, 2 ** 24, -(2 ** 24) - 2, 3.9, -3.9, 0], [10], { backend: b });
      const i = x.int();
      expect(i.dtype).toBe('int32');
      expect([...(await i.toInt32Array())]).toEqual([2 ** 24, -(2 ** 24), -(2 ** 24), 2 ** 24, -(2 ** 24), 2 ** 24, -(2 ** 24), 3, -3, 0]);
      // NaN's -2^24 is out of range for an index op, which gives NaN there (as for any bad position).
      const g = tensor([10, 20, 30], [3], { backend: b }).gather(0, tensor([NaN, 2], [2], { backend: b }).int());
      expect([...(await g.toArray())]).toEqual([NaN, 30]);
      for (const t of [x, i, g]) t.dispose();
    });
  }
});
