// conv2d and conv_transpose2d: every kernel (forward, grad input, grad weight, on each GEMM core)
// against the CPU reference on odd sizes, stride 2, padding, dilation and batch 1; gradcheck in
// float64; and conv_transpose2d as the adjoint of conv2d: <conv(x), y> = <x, convT(y)>.
import { describe, expect, it } from 'vitest';
import {
  conv2d,
  conv2dInput,
  conv2dWeight,
  convTranspose2d,
  gradcheck,
  kernelChoices,
  tensor,
  Tensor,
  type Backend,
  type Storage,
} from '../src/index.ts';
import { convGeom } from '../src/ops/conv.ts';
import { CONV_VARIANTS } from '../src/backend/webgpu/tuner.ts';
import { cpu, expectClose, getGpu, pair, randomInput } from './helpers.ts';

const CASES: { x: number[]; w: number[]; o: { stride?: number; padding?: number; dilation?: number } }[] = [
  { x: [2, 3, 9, 7], w: [5, 3, 3, 3], o: { padding: 1 } },
  { x: [1, 4, 10, 11], w: [6, 4, 4, 4], o: { stride: 2, padding: 1 } },
  { x: [3, 2, 8, 8], w: [3, 2, 3, 2], o: { dilation: 2, padding: 2 } },
  { x: [1, 1, 5, 5], w: [1, 1, 1, 1], o: {} },
  { x: [2, 5, 7, 6], w: [4, 5, 2, 3], o: { stride: 3 } },
  { x: [2, 3, 6, 13], w: [2, 3, 5, 3], o: { stride: 2, padding: 3 } },
];

describe('conv kernels match the cpu reference', () => {
  // im2col twice: its patch kernels split the work in runs (CPU-like adapters) or by element (GPUs).
  type Core = [(typeof CONV_VARIANTS)[number], 'runs' | 'elements' | undefined];
  const cores = CONV_VARIANTS.flatMap((v): Core[] =>
    v === 'im2col'
      ? [
          [v, 'runs'],
          [v, 'elements'],
        ]
      : [[v, undefined]],
  );
  for (const [variant, split] of cores) {
    it(`conv2d forward, grad input and grad weight (${variant} core${split ? `, patches by ${split}` : ''})`, async () => {
      const gpu = await getGpu();
      gpu.tuner.forced = variant;
      const before = gpu.im2colVariant;
      if (split) gpu.im2colVariant = split;
      try {
        for (const [i, c] of CASES.entries()) {
          const g = convGeom(c.x, c.w, c.o);
          const [cx, gx] = pair(c.x, 10 + i, gpu);
          const [cw, gw] = pair(c.w, 20 + i, gpu);
          const [cdy, gdy] = pair([g.n, g.O, g.OH, g.OW], 30 + i, gpu);
          const t = (b: Backend, s: Storage, shape: number[]) => new Tensor(b, s, shape);
          const K = g.C * g.KH * g.KW;
          await expectClose(
            t(gpu, gpu.conv('conv2d', gx.storage, gw.storage, g), [g.n, g.O, g.OH, g.OW]),
            t(cpu, cpu.conv('conv2d', cx.storage, cw.storage, g), [g.n, g.O, g.OH, g.OW]),
            1e-5 * Math.sqrt(K),
            1e-4,
            `fwd ${i}`,
          );
          await expectClose(
            t(gpu, gpu.conv('conv2d_grad_input', gdy.storage, gw.storage, g), c.x),
            t(cpu, cpu.conv('conv2d_grad_input', cdy.storage, cw.storage, g), c.x),
            1e-5 * Math.sqrt(K),
            1e-4,
            `dx ${i}`,
          );
          await expectClose(
            t(gpu, gpu.conv('conv2d_grad_weight', gdy.storage, gx.storage, g), c.w),
            t(cpu, cpu.conv('conv2d_grad_weight', cdy.storage, cx.storage, g), c.w),
            1e-5 * Math.sqrt(g.n * g.OH * g.OW),
            1e-4,
            `dw ${i}`,
          );
        }
      } finally {
        gpu.tuner.forced = null;
        gpu.im2colVariant = before;
      }
    });
  }

  // The Winograd forward pass and input gradient apply when every stride phase has at most 2x2 taps. Shapes: DCGAN's
  // 4x4 stride 2 with odd sizes (phases of unequal extent), tiles not a multiple of 4 (the Tp padding),
  // a 3x3 stride-2 kernel (phases of 2x2, 2x1, 1x2 and 1x1 taps), a kernel smaller than the stride
  // (phases with no taps write zeros), 2x2 stride 1, unequal strides, padding wider than the kernel,
  // batch 1, a 1x1 output; and large values.
  const WINO: {
    x: number[];
    w: number[];
    o: { stride?: number | [number, number]; padding?: number | [number, number] };
    scale?: number;
  }[] = [
    { x: [3, 5, 13, 11], w: [7, 5, 4, 4], o: { stride: 2, padding: 1 } },
    { x: [1, 3, 9, 10], w: [4, 3, 3, 3], o: { stride: 2, padding: 1 } },
    { x: [2, 2, 7, 9], w: [3, 2, 2, 1], o: { stride: 3 } },
    { x: [2, 3, 6, 7], w: [5, 3, 2, 2], o: {} },
    { x: [1, 2, 9, 8], w: [3, 2, 4, 2], o: { stride: [2, 1], padding: [3, 0] } },
    { x: [1, 1, 2, 2], w: [1, 1, 2, 2], o: { stride: 2 } },
    { x: [2, 4, 8, 8], w: [8, 4, 4, 4], o: { stride: 2, padding: 1 }, scale: 1e4 },
  ];
  for (const split of ['runs', 'elements'] as const)
    it(`the Winograd forward pass and input gradient (tiles by ${split}) match the cpu reference, and run where they apply`, async () => {
      const gpu = await getGpu();
      gpu.tuner.forced = 'winograd';
      const before = gpu.im2colVariant;
      gpu.im2colVariant = split;
      const gemms = new Set<string>();
      try {
        for (const [i, c] of WINO.entries()) {
          const g = convGeom(c.x, c.w, c.o);
          expect(Math.ceil(g.KH / g.sh) <= 2 && Math.ceil(g.KW / g.sw) <= 2, `case ${i} is a Winograd shape`).toBe(
            true,
          );
          const s = c.scale ?? 1;
          const [cdy, gdy] = pair([g.n, g.O, g.OH, g.OW], 50 + i, gpu, -s, s);
          const [cw, gw] = pair(c.w, 60 + i, gpu, -s, s);
          const [cx, gx] = pair(c.x, 70 + i, gpu, -s, s);
          const y = [g.n, g.O, g.OH, g.OW];
          const t = (b: Backend, st: Storage, shape: number[]) => new Tensor(b, st, shape);
          for (const [name, run, want, shape, terms] of [
            [
              'conv2d',
              () => gpu.conv('conv2d', gx.storage, gw.storage, g),
              () => cpu.conv('conv2d', cx.storage, cw.storage, g),
              y,
              g.C * g.KH * g.KW,
            ],
            [
              'conv2d_grad_input',
              () => gpu.conv('conv2d_grad_input', gdy.storage, gw.storage, g),
              () => cpu.conv('conv2d_grad_input', cdy.storage, cw.storage, g),
              c.x,
              g.O * Math.ceil(g.KH / g.sh) * Math.ceil(g.KW / g.sw),
            ],
          ] as const) {
            gpu.ctx.profiler.start({ cpuTiming: true });
            const got = t(gpu, run(), shape as number[]);
            const ran = (await gpu.ctx.profiler.stop()).map((r) => r.kernel);
            expect(ran, `${name} case ${i}`).toContain(`${name}:winograd_output`);
            for (const k of ran) if (k.startsWith('matmul_')) gemms.add(k);
            await expectClose(
              got,
              t(cpu, want(), shape as number[]),
              1e-5 * s * s * Math.sqrt(terms),
              1e-4,
              `winograd ${name} ${i}`,
            );
          }
        }
        // The batched GEMM is the adapter's usual choice (forcing 'winograd' does not force it): on a
        // CPU-like adapter the vec4 core where K is a multiple of 4, else 'reg'.
        if (gpu.ctx.kernelDefaults === 'software') expect([...gemms].sort()).toEqual(['matmul_reg', 'matmul_vec4']);
      } finally {
        gpu.tuner.forced = null;
        gpu.im2colVariant = before;
      }
    });

  it('conv2d with bias and conv_transpose2d with output_padding, through the ops', async () => {
    const gpu = await getGpu();
    const [cx, gx] = pair([2, 3, 6, 5], 40, gpu);
    const [cw, gw] = pair([3, 4, 3, 3], 41, gpu);
    const [cb, gb] = pair([4], 42, gpu);
    await expectClose(
      convTranspose2d(gx, gw, gb, { stride: 2, padding: 1, outputPadding: 1 }),
      convTranspose2d(cx, cw, cb, { stride: 2, padding: 1, outputPadding: 1 }),
      1e-5,
      1e-4,
      'convT',
    );
    expect(convTranspose2d(gx, gw, gb, { stride: 2, padding: 1, outputPadding: 1 }).shape).toEqual([2, 4, 12, 10]);
    const [cw2, gw2] = pair([7, 3, 3, 3], 43, gpu);
    const [cb2, gb2] = pair([7], 44, gpu);
    await expectClose(
      conv2d(gx, gw2, gb2, { padding: 1 }),
      conv2d(cx, cw2, cb2, { padding: 1 }),
      1e-5,
      1e-4,
      'conv bias',
    );
  });

  it("names the tuner's convolution shape classes as the checkpoints store them (conv:<conv.wgsl MODE>:...)", async () => {
    // A checkpoint saves the tuner's choices under these keys (kernel_choices, since v0.2.0) and a resumed
    // run sets them back, so the text must not change: the kind as conv.wgsl's MODE number, then KH, KW,
    // stride, dilation, and the sizes n, C, O, H, W rounded up to powers of 2.
    const gpu = await getGpu();
    const forced = gpu.tuner.forced;
    gpu.tuner.forced = null;
    try {
      const [, x] = pair([4, 8, 16, 16], 50, gpu);
      const [, w] = pair([16, 8, 4, 4], 51, gpu);
      const [, dy] = pair([4, 16, 8, 8], 52, gpu);
      const o = { stride: 2, padding: 1 };
      // Each is over 2^18 multiply-adds, so each starts a measurement; sync waits for them.
      for (const t of [conv2d(x, w, null, o), conv2dInput(x.shape, w, dy, o), conv2dWeight(x, w.shape, dy, o)])
        t.dispose();
      await gpu.sync();
      const keys = kernelChoices(gpu).map((c) => c.key);
      for (const mode of [0, 1, 2])
        expect(
          keys.filter((k) => k.startsWith(`conv:${mode}:4:4:2:1:4:8:16:16:16:`)),
          keys.join(' '),
        ).toHaveLength(1);
    } finally {
      gpu.tuner.forced = forced;
    }
  });

  it('gives clear errors on channel and size mismatches', () => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4], { backend: cpu });
    expect(() => conv2d(x, tensor(new Float32Array(5 * 2 * 3 * 3), [5, 2, 3, 3], { backend: cpu }))).toThrow(
      /input \[2, 3, 4, 4\] has 3 channels but weight \[5, 2, 3, 3\] expects 2/,
    );
    expect(() => conv2d(x, tensor(new Float32Array(5 * 3 * 5 * 5), [5, 3, 5, 5], { backend: cpu }))).toThrow(
      /too small for kernel 5x5/,
    );
  });
});

describe('conv gradients', () => {
  it('gradcheck conv2d (stride, padding, dilation, bias)', () => {
    for (const c of CASES.slice(0, 3)) {
      const r = gradcheck(
        (x, w, b) => conv2d(x, w, b, c.o),
        [randomInput(c.x, 1), randomInput(c.w, 2), randomInput([c.w[0]], 3)],
      );
      expect(r.ok, `${JSON.stringify(c)}: ${r.maxRelError} ${JSON.stringify(r.worst)}`).toBe(true);
    }
  });
  it('gradcheck conv_transpose2d (stride, padding, output_padding, bias)', () => {
    const r = gradcheck(
      (x, w, b) => convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }),
      [randomInput([2, 3, 4, 3], 4), randomInput([3, 2, 3, 3], 5), randomInput([2], 6)],
    );
    expect(r.ok, `${r.maxRelError} ${JSON.stringify(r.worst)}`).toBe(true);
  });
  it('conv_transpose2d is the adjoint of conv2d on both backends', async () => {
    const gpu = await getGpu();
    for (const b of [cpu, gpu]) {
      const [, x] = pair([2, 3, 9, 8], 50, b);
      const [, w] = pair([4, 3, 3, 3], 51, b);
      const y = conv2d(x, w, null, { stride: 2, padding: 1 });
      const [, v] = pair(y.shape, 52, b);
      const lhs = await y.mul(v).sum().item();
      const back = convTranspose2d(v, w, null, { stride: 2, padding: 1, outputPadding: [0, 1] });
      expect(back.shape).toEqual(x.shape);
      const rhs = await x.mul(back).sum().item();
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * (1 + Math.abs(lhs)));
    }
  });
});
