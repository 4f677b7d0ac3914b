// Issue 31's reliability cases outside compile() (its first seven are test/compile_guards.test.ts): each
// misuse or edge case gives a clear error naming the op and the shapes, or the right value, on both
// backends where it applies.
//   A. an allocation the device cannot make (case 16) is reported naming its size and shape; the ops
//      after it work
//   B. .int() of values outside int32's exact range; tidy() of an async function or returning a Map;
//      loadStateDict of a plain object; a tensor from before a re-init; logsumexp over an empty dim;
//      BatchNorm2d's channel count; layer sizes; profile() then shutdown(); OneCycleLR's last step and
//      its momentum cycling (checked against PyTorch's formulas)
//   C. Dawn's timestamps unrounded in Node (exactTimestamps); WGPU_DEFAULTS, a GPU's or a CPU-like
//      adapter's kernel defaults on any adapter
import { describe, expect, it } from 'vitest';
import {
  conv2d,
  emptyCache,
  F,
  getBackend,
  matmul,
  profile,
  randn,
  setKernelChoices,
  kernelChoices,
  shutdown,
  sync,
  init,
  liveTensorCount,
  nn,
  ones,
  setBackend,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../src/index.ts';
import { WebGPUBackend } from '../src/backend/webgpu/index.ts';
import { cpu, forEachBackend, getGpu } from './helpers.ts';
import { exactTimestamps } from '../src/device/gpu.ts';

describe('.int() never holds a value outside the int32 range it represents exactly', () => {
  forEachBackend((which, backend) => {
    it(`${which}: 1e10, +-Inf and NaN saturate to +-2^24 (NaN to -2^24); values in range truncate toward zero`, async () => {
      const b = await backend();
      const x = tensor([1e10, -1e10, NaN, Infinity, -Infinity, 2 ** 24, -(2 ** 24) - 2, 3.9, -3.9, 0], [10], {
        backend: b,
      });
      const i = x.int();
      expect(i.dtype).toBe('int32');
      expect([...(await i.toInt32Array())]).toEqual([
        2 ** 24,
        -(2 ** 24),
        -(2 ** 24),
        2 ** 24,
        -(2 ** 24),
        2 ** 24,
        -(2 ** 24),
        3,
        -3,
        0,
      ]);
      // NaN's -2^24 is out of range for an index op, which gives NaN there (as for any bad position).
      const g = tensor([10, 20, 30], [3], { backend: b }).gather(0, tensor([NaN, 2], [2], { backend: b }).int());
      expect([...(await g.toArray())]).toEqual([NaN, 30]);
      for (const t of [x, i, g]) t.dispose();
    });
  });
});

describe('tidy() refuses async functions and keeps the tensors of a returned Map', () => {
  forEachBackend((which, backend) => {
    it(`${which}: an async function, or one returning a Promise, is refused and leaks nothing`, async () => {
      const b = await backend();
      const live = liveTensorCount();
      let ran = false;
      expect(() =>
        tidy(async () => {
          ran = true;
          const x = ones([2], { backend: b });
          await new Promise((r) => setTimeout(r, 1));
          return x.add(1);
        }),
      ).toThrow(/^tidy\(\): fn is an async function; tensors made after an await would outlive the scope/);
      expect(ran, 'refused before it ran').toBe(false);
      expect(() =>
        tidy(() => {
          ones([2], { backend: b });
          return new Promise<number>((r) => setTimeout(() => r(1), 1));
        }),
      ).toThrow(/^tidy\(\): fn returned a Promise;/);
      expect(liveTensorCount(), 'the tensor made before the Promise was returned is disposed').toBe(live);
    });

    it(`${which}: tensors in a returned Map (keys and values), Set, array or plain object are kept; the rest are disposed`, async () => {
      const b = await backend();
      const live = liveTensorCount();
      const { m, s, a, o } = tidy(() => {
        ones([3], { backend: b }); // not returned: disposed
        const k = ones([1], { backend: b });
        return {
          m: new Map<unknown, Tensor>([
            ['w', ones([2], { backend: b }).mul(2)],
            [k, ones([2], { backend: b })],
          ]),
          s: new Set([ones([1], { backend: b })]),
          a: [ones([1], { backend: b })],
          o: { nested: { t: ones([1], { backend: b }) } },
        };
      });
      expect([...(await m.get('w')!.toArray())]).toEqual([2, 2]);
      const kept = [...m.keys()].filter((k): k is Tensor => typeof k !== 'string');
      expect(kept[0].isDisposed).toBe(false);
      expect([...s][0].isDisposed || a[0].isDisposed || o.nested.t.isDisposed).toBe(false);
      // w, its ones() operand (disposed), the key, the key's value, the Set's, the array's and the object's tensor
      expect(liveTensorCount() - live).toBe(6);
      for (const t of [...m.values(), ...kept, ...s, ...a, o.nested.t]) t.dispose();
      expect(liveTensorCount()).toBe(live);
    });
  });
});

describe('loadStateDict takes a plain object as well as a Map', () => {
  forEachBackend((which, backend) => {
    it(`${which}: a Record<string, Tensor> loads as its Map would; other values are a clear error`, async () => {
      const b = await backend();
      const lin = new nn.Linear(2, 2, { backend: b });
      await lin.loadStateDict({
        weight: tensor([1, 2, 3, 4], [2, 2], { backend: b }),
        bias: { shape: [2], data: new Float32Array([5, 6]) },
      });
      expect([...(await lin.weight.toArray()), ...(await lin.bias!.toArray())]).toEqual([1, 2, 3, 4, 5, 6]);
      // the same checks as for a Map: a missing key, a wrong shape
      await expect(lin.loadStateDict({ weight: zeros([2, 2], { backend: b }) })).rejects.toThrow(
        /^loadStateDict: missing keys: bias$/,
      );
      await expect(
        lin.loadStateDict({ weight: zeros([2, 3], { backend: b }), bias: zeros([2], { backend: b }) }),
      ).rejects.toThrow(/^loadStateDict: weight has shape \[2, 3\] in the state dict but \[2, 2\] in the model$/);
      await expect(lin.loadStateDict([['weight', zeros([2, 2])]] as never)).rejects.toThrow(
        /^loadStateDict: the state dict is Array; pass a Map/,
      );
      await expect(lin.loadStateDict(null as never)).rejects.toThrow(
        /^loadStateDict: the state dict is null; pass a Map/,
      );
      expect([...(await lin.weight.toArray())], 'nothing written by a failed load').toEqual([1, 2, 3, 4]);
    });
  });
});

describe('setKernelChoices refuses a variant its shape class does not allow', () => {
  it('webgpu: vec4 for a class of reg and tiled is refused, naming both; an allowed choice is fixed and listed', async () => {
    const gpu = await getGpu();
    const key = 'mm:N:N:1:64:64:64:reg+tiled';
    expect(() => setKernelChoices({ [key]: 'vec4' }, gpu)).toThrow(
      "kernel choice 'vec4' for mm:N:N:1:64:64:64:reg+tiled is not one its shape class allows (reg, tiled)",
    );
    expect(() => setKernelChoices({ [key]: 'fast' }, gpu)).toThrow(/'fast' .* is not a kernel variant/);
    expect(kernelChoices(gpu).find((c) => c.key === key)).toBeUndefined();
    setKernelChoices({ [key]: 'tiled' }, gpu);
    expect(kernelChoices(gpu).find((c) => c.key === key)).toEqual({ key, timings: {}, chosen: 'tiled' });
    gpu.tuner.choices.delete(key);
  });
});

describe('a tensor from a previous backend instance', () => {
  it('cpu: after init() again, an op mixing old and new tensors says which is from the previous backend instance', async () => {
    const before = getBackend();
    try {
      await init({ backend: 'cpu' });
      const old = ones([2]);
      await init({ backend: 'cpu' });
      expect(() => old.sub(ones([2]))).toThrow(
        /^sub: input 0 and input 1 are on two different cpu backend instances: input 0 is from a previous cpu device or backend instance/,
      );
    } finally {
      setBackend(before);
    }
  });

  it('webgpu: after init() again, an op mixing old and new tensors says which is from the previous device', async () => {
    const before = getBackend();
    const first = await init({ quiet: true });
    try {
      const old = ones([2]);
      const second = await init({ quiet: true });
      try {
        const fresh = ones([2]);
        expect(() => fresh.add(old)).toThrow(
          /^add: input 0 and input 1 are on two different webgpu backend instances: input 1 is from a previous webgpu device or backend instance, made before init\(\) or createBackend\(\) made the current one; a tensor cannot move between them: make it again on the current backend/,
        );
        expect(() => old.mul(fresh)).toThrow(
          /^mul: input 0 and input 1 are on two different webgpu backend instances: input 0 is from a previous webgpu device/,
        );
        expect(() => conv2d(ones([1, 1, 2, 2]), ones([1, 1, 1, 1], { backend: first }))).toThrow(
          /^conv2d: the input and the weight are on two different webgpu backend instances: the weight is from a previous/,
        );
        expect(() => old.add(ones([2], { backend: cpu }))).toThrow(
          /^add: input 0 is on the webgpu backend and input 1 on the cpu backend; a tensor cannot move/,
        );
      } finally {
        second.dispose();
      }
    } finally {
      first.dispose();
      setBackend(before);
    }
  });
});

describe('logsumexp over an empty dim', () => {
  forEachBackend((which, backend) => {
    it(`${which}: gives -Inf as torch.logsumexp (was an error naming max); softmax over it gives the empty tensor`, async () => {
      const b = await backend();
      const x = zeros([2, 0], { backend: b, requiresGrad: true });
      // torch 1.13: logsumexp(zeros(2, 0), 1) = [-inf, -inf]; over dim 0: the empty tensor; the gradient is empty
      const y = x.logsumexp(1);
      expect(y.shape).toEqual([2]);
      expect([...(await y.toArray())]).toEqual([-Infinity, -Infinity]);
      expect(x.logsumexp(1, true).shape).toEqual([2, 1]);
      expect(x.logsumexp(0).shape).toEqual([0]);
      y.sum().backward();
      expect(x.grad!.shape).toEqual([2, 0]);
      expect(x.softmax(1).shape).toEqual([2, 0]);
      expect(x.logSoftmax(1).shape).toEqual([2, 0]);
      // a non-empty dim next to an empty one: nothing to reduce over per row, an empty result
      expect(zeros([0, 3], { backend: b }).logsumexp(1).shape).toEqual([0]);
    });
  });
});

describe('norm layers name themselves, their num_features and the input shape', () => {
  forEachBackend((which, backend) => {
    it(`${which}: BatchNorm2d and InstanceNorm2d with the wrong channel count or rank (was: 'add: shapes [3] and [4]')`, async () => {
      const b = await backend();
      const bn = new nn.BatchNorm2d(3, { backend: b });
      const msg = /^BatchNorm2d\(num_features=3\): input of shape \[2, 4, 2, 2\] has 4 channels \(dim 1\), expected 3$/;
      expect(() => bn.call(ones([2, 4, 2, 2], { backend: b }))).toThrow(msg);
      bn.eval();
      expect(() => bn.call(ones([2, 4, 2, 2], { backend: b }))).toThrow(msg);
      expect(() => bn.call(ones([2, 3], { backend: b }))).toThrow(
        /^BatchNorm2d\(num_features=3\): expected a 4-D input \[N, C, H, W\], got shape \[2, 3\]$/,
      );
      expect(bn.call(ones([2, 3, 2, 2], { backend: b })).shape).toEqual([2, 3, 2, 2]);
      expect(() =>
        new nn.InstanceNorm2d(3, { affine: true, backend: b }).call(ones([1, 5, 2, 2], { backend: b })),
      ).toThrow(
        /^InstanceNorm2d\(num_features=3\): input of shape \[1, 5, 2, 2\] has 5 channels \(dim 1\), expected 3$/,
      );
      // the functional form names itself and the mismatched statistic
      expect(() =>
        F.batchNorm(
          ones([2, 4, 2, 2], { backend: b }),
          zeros([3], { backend: b }),
          ones([3], { backend: b }),
          null,
          null,
          false,
        ),
      ).toThrow(/^batch_norm: input \[2, 4, 2, 2\] has 4 channels \(dim 1\) but running_mean is \[3\]$/);
    });
  });

  it('layer sizes must be positive integers, refused where the layer is made (was: reshape [1, NaN, 0])', () => {
    expect(() => new nn.Linear(0, 2)).toThrow(/^Linear: inFeatures must be a positive integer, got 0$/);
    expect(() => new nn.Linear(2, 2.5)).toThrow(/^Linear: outFeatures must be a positive integer, got 2.5$/);
    expect(() => new nn.Linear(NaN, 2)).toThrow(/^Linear: inFeatures must be a positive integer, got NaN$/);
    expect(() => new nn.Conv2d(1, 0, 3)).toThrow(/^Conv2d: outChannels must be a positive integer, got 0$/);
    expect(() => new nn.Conv2d(1, 2, [3, 0])).toThrow(/^Conv2d: kernelSize must be a positive integer, got \[3, 0\]$/);
    expect(() => new nn.ConvTranspose2d(-1, 2, 3)).toThrow(
      /^ConvTranspose2d: inChannels must be a positive integer, got -1$/,
    );
    expect(() => new nn.BatchNorm2d(0)).toThrow(/^BatchNorm2d: numFeatures must be a positive integer, got 0$/);
    expect(() => new nn.InstanceNorm2d(1.5)).toThrow(
      /^InstanceNorm2d: numFeatures must be a positive integer, got 1.5$/,
    );
    expect(() => new nn.LayerNorm([4, 0])).toThrow(
      /^LayerNorm: normalizedShape must be a positive integer, got \[4, 0\]$/,
    );
    expect(() => new nn.GroupNorm(0, 4)).toThrow(/^GroupNorm: numGroups must be a positive integer, got 0$/);
    expect(() => new nn.Embedding(0, 4)).toThrow(
      /^Embedding: numEmbeddings and embeddingDim must be positive integers, got 0 and 4$/,
    );
  });
});

describe('OneCycleLR: all totalSteps rounds, with the momentum cycled as PyTorch', () => {
  // torch.optim.lr_scheduler.OneCycleLR (1.13), two phases, cos annealing: phase ends at
  // pct_start * total - 1 and total - 1; step t > total raises.
  const torchOneCycle = (
    t: number,
    o: { maxLr: number; total: number; pct: number; div: number; finalDiv: number; base: number; max: number },
  ) => {
    const cos = (a: number, b: number, p: number) => b + ((a - b) / 2) * (1 + Math.cos(Math.PI * p));
    const up = o.pct * o.total - 1,
      last = o.total - 1,
      initial = o.maxLr / o.div,
      min = initial / o.finalDiv;
    return t <= up
      ? { lr: cos(initial, o.maxLr, t / up), m: cos(o.max, o.base, t / up) }
      : { lr: cos(o.maxLr, min, (t - up) / (last - up)), m: cos(o.base, o.max, (t - up) / (last - up)) };
  };

  forEachBackend((which, backend) => {
    it(`${which}: SGD runs totalSteps rounds of opt.step(); sched.step() (the last threw), its momentum going 0.95 -> 0.85 -> 0.95`, async () => {
      const b = await backend();
      const o = { maxLr: 0.5, total: 6, pct: 0.5, div: 25, finalDiv: 1e4, base: 0.85, max: 0.95 };
      const p = tensor([1, -2], [2], { backend: b, requiresGrad: true });
      const g = [0.5, 0.25];
      const opt = new nn.SGD([p], { lr: 0.1 });
      const sched = new nn.OneCycleLR(opt, { maxLr: o.maxLr, totalSteps: o.total, pctStart: o.pct });
      // the same SGD (torch: buf = g at the first step, then buf = m buf + g; p -= lr buf) in float64
      const want = [1, -2],
        buf = [0, 0];
      for (let t = 0; t < o.total; t++) {
        const { lr, m } = torchOneCycle(t, o);
        expect(opt.lr, `lr at ${t}`).toBeCloseTo(lr, 12);
        expect(opt.o.momentum, `momentum at ${t}`).toBeCloseTo(m, 12);
        opt.zeroGrad();
        p.mul(tensor(g, [2], { backend: b }))
          .sum()
          .backward();
        opt.step();
        for (let k = 0; k < 2; k++) {
          buf[k] = t === 0 ? g[k] : m * buf[k] + g[k];
          want[k] -= lr * buf[k];
        }
        sched.step(); // the last of these threw 'OneCycleLR: step 6 is past totalSteps 6'
      }
      const got = await p.toArray();
      want.forEach((v, k) => expect(got[k], `p[${k}]`).toBeCloseTo(v, 5));
      expect(opt.lr).toBeCloseTo(torchOneCycle(o.total, o).lr, 12);
      expect(() => sched.step()).toThrow(/^OneCycleLR: step\(\) called 7 times, more than totalSteps = 6/);
    });
  });

  it("Adam's beta1 is the momentum it cycles (its beta2 stays); cycleMomentum: false leaves both; an optimizer without either is refused", () => {
    const p = () => tensor([0], [1], { backend: cpu, requiresGrad: true });
    const adam = new nn.AdamW([p()], { lr: 0.1, betas: [0.9, 0.99] });
    const s = new nn.OneCycleLR(adam, { maxLr: 1, totalSteps: 4, pctStart: 0.5, baseMomentum: 0.8, maxMomentum: 0.9 });
    expect(adam.o.betas).toEqual([0.9, 0.99]);
    s.step();
    expect(adam.o.betas![0]).toBeCloseTo(0.8, 12); // the peak (t = pct * total - 1 = 1): baseMomentum
    expect(adam.o.betas![1]).toBe(0.99);
    const plain = new nn.SGD([p()], { lr: 0.1, momentum: 0.5 });
    new nn.OneCycleLR(plain, { maxLr: 1, totalSteps: 4, cycleMomentum: false }).step();
    expect(plain.o.momentum).toBe(0.5);
    class Other extends nn.SGD {}
    expect(new nn.OneCycleLR(new Other([p()], { lr: 1 }), { maxLr: 1, totalSteps: 10 }).momentumAt(0)).toBe(0.95);
    const fake = { paramGroups: [{ params: [], options: { lr: 1 } }], groupLr: () => 1 } as unknown as nn.Optimizer;
    expect(() => new nn.OneCycleLR(fake, { maxLr: 1, totalSteps: 2 })).toThrow(
      /^OneCycleLR: cycleMomentum needs an optimizer with a momentum \(SGD\) or a beta1 \(Adam, AdamW\); pass cycleMomentum: false$/,
    );
  });
});

describe('profile() then shutdown() without sync()', () => {
  it('webgpu: leaves no unhandled rejection (was an uncaught AbortError), and a profile cut short says why', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      // A finished profile whose matmul started a kernel measurement in the background (its readbacks
      // were still in flight at shutdown).
      const g1 = await WebGPUBackend.create({ quiet: true });
      const { kernels } = await profile(() => {
        const a = randn([256, 256], { backend: g1 });
        matmul(a, a);
      }, g1);
      expect(kernels.length).toBeGreaterThan(0);
      shutdown(g1);
      // A profile still running when the device goes.
      const g2 = await WebGPUBackend.create({ quiet: true });
      const running = profile(async () => {
        const a = randn([256, 256], { backend: g2 });
        matmul(a, a);
        await new Promise((r) => setTimeout(r, 20));
        return 1;
      }, g2);
      shutdown(g2);
      await expect(running).rejects.toThrow(/device (lost|was destroyed)/);
      await new Promise((r) => setTimeout(r, 300));
      expect(unhandled.map((e) => `${(e as Error)?.name}: ${(e as Error)?.message}`)).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('an allocation the device cannot make (case 16)', () => {
  // 16384^2 float32 is exactly 1 GiB, SwiftShader's maxBufferSize: the limits allow it, and SwiftShader
  // cannot allocate it (Dawn pads the buffer past 1 GiB), so the failing path runs here, with no hook.
  // On a GPU that has the memory the same calls must simply work.
  const OOM =
    'out of memory: a 1073741824-byte buffer \\(tensor#\\d+ for random \\(normal\\) of shape \\[16384, 16384\\]\\) could not be allocated';

  it('webgpu: randn([16384, 16384]) is reported naming its bytes, op and shape; the unrelated ops after it work (were "Invalid Buffer tensor#1", then the OOM)', async () => {
    const b = await getGpu();
    await sync(b);
    const x = randn([16384, 16384], { backend: b });
    // Unrelated work in the same tick: batched with randn's dispatch before, and lost with it.
    const a = ones([4], { backend: b }),
      c = ones([4], { backend: b }).add(1);
    expect([...(await a.toArray()), ...(await c.toArray())]).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    let err: Error | null = null;
    await sync(b).catch((e: Error) => (err = e));
    if (/swiftshader/i.test(b.description)) expect(err, 'SwiftShader allocated 1 GiB').not.toBeNull();
    if (err) {
      expect((err as Error).message).toMatch(
        new RegExp(`^${OOM} \\(other tensors live: .*\\); .*\\(vkAllocateMemory|\\(`),
      );
      await sync(b); // reported once
      // every use of the tensor names the allocation: a readback, an op (before it allocates its output)
      await expect(x.toArray()).rejects.toThrow(
        new RegExp(`^reading back a 1073741824-byte buffer: it could not be allocated: ${OOM}`),
      );
      expect(() => x.add(1)).toThrow(new RegExp(`^affine of shape \\[16384, 16384\\]: input 0 has no memory: ${OOM}`));
    } else {
      expect((await x.sum().item()) / 2 ** 28).toBeCloseTo(0, 2);
    }
    x.dispose();
    expect([...(await ones([4], { backend: b }).mul(3).toArray())]).toEqual([3, 3, 3, 3]);
    await sync(b);
    for (const t of [a, c]) t.dispose();
    emptyCache(b);
  });

  it('webgpu: a tensor used before its failure is known: the result is refused at the next check, naming the allocation; later work is right', async () => {
    const b = await getGpu();
    await sync(b);
    const y = randn([16384, 16384], { backend: b });
    const s = y.sum(); // runs in the same tick, before the report: its value is never computed
    const u = ones([2], { backend: b }).add(2);
    let failed = false;
    try {
      // Where 1 GiB is allocated (a GPU): a sum of 2^28 standard normals, whose mean is 0 +- 2^-14.
      expect((await s.item()) / 2 ** 28).toBeCloseTo(0, 2);
    } catch (e) {
      failed = true;
      expect((e as Error).message).toMatch(
        new RegExp(
          `^kernel [a-z_:]+ did not run: a buffer it used could not be allocated, which was not known yet: ${OOM}`,
        ),
      );
    }
    if (/swiftshader/i.test(b.description)) expect(failed, 'SwiftShader allocated 1 GiB').toBe(true);
    expect([...(await u.toArray())]).toEqual([3, 3]);
    await sync(b); // reported already
    for (const t of [y, s, u]) t.dispose();
    expect([...(await ones([2], { backend: b }).mul(5).toArray())]).toEqual([5, 5]);
    emptyCache(b);
  });
});

describe("Dawn's timestamps in Node are exact, not rounded to 65.536 us", () => {
  it("exactTimestamps turns Dawn's timestamp_quantization off, unless the flags name it", () => {
    const off = 'disable-dawn-features=timestamp_quantization';
    expect(exactTimestamps([])).toEqual([off]);
    expect(exactTimestamps(['enable-dawn-features=disable_robustness'])).toEqual([
      'enable-dawn-features=disable_robustness',
      off,
    ]);
    // Added to a disable list the flags already have: Dawn reads one list of each kind.
    expect(exactTimestamps(['backend=vulkan', 'disable-dawn-features=lazy_clear_resource_on_first_use'])).toEqual([
      'backend=vulkan',
      'disable-dawn-features=lazy_clear_resource_on_first_use,timestamp_quantization',
    ]);
    expect(exactTimestamps(['enable-dawn-features=timestamp_quantization'])).toEqual([
      'enable-dawn-features=timestamp_quantization',
    ]);
  });

  it("webgpu: kernel timings are not all multiples of 65.536 us (they were, every one, with Dawn's default)", async () => {
    const ctx = (await getGpu()).ctx;
    expect(ctx.hasTimestamps, 'an adapter with timestamp queries (SwiftShader has them)').toBe(true);
    const out = ctx.pool.acquire(64 * 16, 'timestamp test');
    try {
      const ns: number[] = [];
      for (let i = 0; i < 6; i++) {
        const ms = await ctx.timeGpu(() =>
          ctx.dispatch({
            kernel: 'alu_probe',
            buffers: [out],
            uniforms: new Uint32Array([64, 0, 0, 0]).buffer,
            workgroups: [1],
          }),
        );
        ns.push(Math.round(ms * 1e6));
      }
      expect(ns.filter((t) => t % 65536 !== 0).length, `timings in ns: ${ns.join(', ')}`).toBeGreaterThan(0);
    } finally {
      ctx.pool.release(out);
    }
  });
});

describe("WGPU_DEFAULTS: a GPU's kernel defaults on any adapter, or a CPU-like adapter's", () => {
  it("webgpu: the reductions' design, im2col's split and the tuner's guesses follow it; the description says so; a bad value is refused", async () => {
    const before = process.env.WGPU_DEFAULTS;
    const made: WebGPUBackend[] = [];
    try {
      for (const kind of ['gpu', 'software'] as const) {
        process.env.WGPU_DEFAULTS = kind;
        const b = await WebGPUBackend.create({ quiet: true });
        made.push(b);
        expect(b.ctx.kernelDefaults).toBe(kind);
        expect([b.reduceVariant, b.im2colVariant]).toEqual(
          kind === 'gpu' ? ['workgroup', 'elements'] : ['rows', 'runs'],
        );
        // Named where they are not the adapter's own.
        expect(b.description.includes(`[${kind} defaults]`)).toBe((kind === 'software') !== b.ctx.isSoftware);
        // The guess of a shape too small to measure: split-K (a GPU's, for a long sum into few outputs) or vec4.
        b.tuner.autotune = false;
        const x = randn([2, 512], { backend: b }),
          w = randn([512, 4], { backend: b });
        const { kernels } = await profile(() => x.matmul(w).dispose(), b);
        expect(kernels.map((k) => k.kernel)).toEqual([kind === 'gpu' ? 'matmul_splitk' : 'matmul_vec4']);
        for (const t of [x, w]) t.dispose();
      }
      process.env.WGPU_DEFAULTS = 'fast';
      await expect(WebGPUBackend.create({ quiet: true })).rejects.toThrow('WGPU_DEFAULTS=fast: use software or gpu');
    } finally {
      if (before === undefined) delete process.env.WGPU_DEFAULTS;
      else process.env.WGPU_DEFAULTS = before;
      for (const b of made) b.dispose();
    }
  });
});
