// The device layer: kernels compile, limits are checked with clear errors, the pool keeps memory flat,
// the profiler reports kernels, bad input gets errors that name the op and shapes.
import { describe, expect, it } from 'vitest';
import { tensor, tidy, memoryStats, profile, formatProfile, zeros, randn, Generator } from '../src/index.ts';
import { sizeClass } from '../src/device/pool.ts';
import { getGpu } from './helpers.ts';

describe('the WebGPU device layer', () => {
  it('runs on a real adapter (SwiftShader in CI) and compiles every kernel', async () => {
    const gpu = await getGpu();
    expect(gpu.ctx.description.length).toBeGreaterThan(0);
    await gpu.ctx.validateKernels();
  });

  it('requests the adapter limits rather than the defaults', async () => {
    const gpu = await getGpu();
    const adapterLimits = gpu.ctx.device.limits;
    expect(gpu.ctx.limits.maxStorageBufferBindingSize).toBe(adapterLimits.maxStorageBufferBindingSize);
    expect(gpu.ctx.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
  });

  it('checks each dispatch against the limits, naming the kernel and the limit', async () => {
    const gpu = await getGpu();
    const max = gpu.ctx.limits.maxComputeWorkgroupsPerDimension;
    const buf = gpu.ctx.pool.acquire(16);
    expect(() =>
      gpu.ctx.dispatch({ kernel: 'cumsum', buffers: [buf], uniforms: new ArrayBuffer(16), workgroups: [max + 1] }),
    ).toThrow(
      new RegExp(`kernel cumsum: ${max + 1} workgroups in dimension x exceed maxComputeWorkgroupsPerDimension=${max}`),
    );
    expect(() => gpu.ctx.pool.acquire(gpu.ctx.limits.maxBufferSize + 16)).toThrow(
      /exceeds the adapter's maxBufferSize/,
    );
    gpu.ctx.pool.release(buf);
  });

  it('times only the work it is given, not what the program queues while the timing is awaited', async () => {
    // The tuner measures while the program runs, so a step issued between its awaits must not count.
    // Both ways: timestamp queries (SwiftShader has them), and the wall-clock path of adapters without
    // them, which timed from one queue drain to the next and so counted the step too.
    const ctx = (await getGpu()).ctx;
    const adapterHas = ctx.hasTimestamps;
    const out = ctx.pool.acquire(1024 * 64 * 16, 'timeGpu test');
    const probe = (iters: number, groups: number) => () =>
      ctx.dispatch({
        kernel: 'alu_probe',
        buffers: [out],
        uniforms: new Uint32Array([iters, 0, 0, 0]).buffer,
        workgroups: [groups],
      });
    // 16 rounds of the probe's multiply-adds in one workgroup against 2048 (or more) in 1,024: 131,072x
    // the work. A GPU runs 2048 rounds in well under a millisecond, as short as the wall-clock path's
    // queue latencies, so the rounds grow until the large dispatch takes 20 ms (SwiftShader: ~1.7 s).
    const small = probe(16, 1);
    let rounds = 2048;
    while ((await ctx.timeGpu(probe(rounds, 1024))) < 20 && rounds < 2 ** 22) rounds *= 4;
    const large = probe(rounds, 1024);
    try {
      for (const timestamps of [adapterHas, false]) {
        (ctx as { hasTimestamps: boolean }).hasTimestamps = timestamps;
        await ctx.timeGpu(small); // the pipeline
        const measuring = ctx.timeGpu(small);
        large(); // the program's work, issued while the measurement is awaited
        ctx.flush();
        const smallMs = await measuring;
        const largeMs = await ctx.timeGpu(large);
        // Counted alone, the small dispatch is a ten-thousandth of the large one; with it, more than all of it.
        expect(largeMs, `timestamps: ${timestamps}`).toBeGreaterThan(0);
        expect(smallMs, `timestamps: ${timestamps}`).toBeLessThan(largeMs / 4);
      }
    } finally {
      (ctx as { hasTimestamps: boolean }).hasTimestamps = adapterHas;
      ctx.pool.release(out);
    }
  });

  it('folds large 1-D dispatches into two grid dimensions', async () => {
    const gpu = await getGpu();
    const max = gpu.ctx.limits.maxComputeWorkgroupsPerDimension;
    const [x, y] = gpu.ctx.grid(max * 3 + 5);
    expect(x).toBeLessThanOrEqual(max);
    expect(x * y).toBeGreaterThanOrEqual(max * 3 + 5);
    // A tensor long enough to need y > 1 with 256 invocations of 4 values each.
    const n = 256 * 4 * (max + 7);
    const t = zeros([n], { backend: gpu }).add(1.5);
    const s = await t.sum().item();
    expect(s).toBeCloseTo(1.5 * n, -2);
    t.dispose();
  });

  it('keeps memory flat over many iterations of a scope (buffer pool)', async () => {
    const gpu = await getGpu();
    const w = randn([64, 64], { backend: gpu, generator: new Generator(5) });
    const step = () => tidy(() => w.matmul(w).relu().sum(1).mean());
    await step().item();
    (await step()).dispose();
    await gpu.tuner.settle();
    const before = memoryStats(gpu);
    for (let i = 0; i < 300; i++) {
      const r = step();
      if (i % 100 === 0) await r.item();
      r.dispose();
    }
    await gpu.sync();
    const after = memoryStats(gpu);
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.pooledBytes).toBe(before.pooledBytes);
  });

  it('rounds buffer sizes to size classes that bound the waste', () => {
    for (const b of [1, 15, 17, 1000, 65536, 65537, 1e6, 12345678]) {
      const c = sizeClass(b);
      expect(c).toBeGreaterThanOrEqual(b);
      expect(c % 16).toBe(0);
      if (b > 65536) expect(c / b).toBeLessThan(1.13);
    }
  });

  it('profiles kernels: count, time, GFLOP/s', async () => {
    const gpu = await getGpu();
    const a = randn([128, 128], { backend: gpu });
    a.matmul(a).dispose();
    await gpu.tuner.settle();
    const { kernels } = await profile(async () => {
      for (let i = 0; i < 3; i++) a.matmul(a).dispose();
      a.exp().dispose();
    }, gpu);
    const mm = kernels.find((k) => k.kernel.startsWith('matmul_'));
    expect(mm?.count).toBe(3);
    expect(mm!.totalMs).toBeGreaterThan(0);
    expect(mm!.gflops).toBeGreaterThan(0);
    expect(kernels.find((k) => k.kernel === 'unary:exp')?.count).toBe(1);
    expect(formatProfile(kernels)).toMatch(/kernel\s+count\s+total ms/);
    // The fallback without timestamp queries: CPU timing between queue completions.
    const cpuTimed = await profile(
      async () => {
        for (let i = 0; i < 2; i++) a.matmul(a).dispose();
      },
      gpu,
      { cpuTiming: true },
    );
    const mm2 = cpuTimed.kernels.find((k) => k.kernel.startsWith('matmul_'));
    expect(mm2?.count).toBe(2);
    expect(mm2!.totalMs).toBeGreaterThan(0);
  });
});

describe('errors name the op and the shapes', () => {
  it('shape mismatches', async () => {
    const gpu = await getGpu();
    const a = tensor([[1, 2, 3]], undefined, { backend: gpu });
    const b = tensor([[1, 2]], undefined, { backend: gpu });
    expect(() => a.add(b)).toThrow('add: shapes [1, 3] and [1, 2] cannot be broadcast together');
    expect(() => a.matmul(b)).toThrow(/matmul: shapes \[1, 3\] and \[1, 2\] cannot be multiplied/);
    expect(() => a.reshape([2, 2])).toThrow(/reshape: shape \[2, 2\] is invalid for a tensor of shape \[1, 3\]/);
    expect(() => a.sum(3)).toThrow(/sum: dim 3 is out of range for a tensor of rank 2/);
    expect(() => a.pad([3, 3], 'reflect')).toThrow(/reflect padding 3 must be less than the size 3/);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
  });
  it('use after dispose', async () => {
    const gpu = await getGpu();
    const a = tensor([1, 2], undefined, { backend: gpu });
    a.dispose();
    expect(() => a.exp()).toThrow(/was disposed/);
  });
  it('an unknown adapter choice', async () => {
    const { acquireDevice } = await import('../src/device/gpu.ts');
    await expect(acquireDevice({ adapter: 'tpu' as never, quiet: true })).rejects.toThrow(
      /unknown adapter choice 'tpu'/,
    );
  });
});

describe('the browser device', () => {
  // A fake navigator.gpu: the first adapter has expired (Chromium's rejection after a GPU-process
  // restart), the second works; a third failure is not retried again.
  function fakeGpu(failures: number) {
    let asked = 0;
    const adapter = (n: number) => ({
      features: new Set<string>(),
      limits: new Proxy({}, { get: () => 1 }),
      info: { vendor: 'fake', architecture: '', device: `adapter ${n}`, description: '' },
      requestDevice: async () => {
        if (n <= failures)
          throw new Error(
            "Failed to execute 'requestDevice' on 'GPUAdapter': A valid external Instance reference no longer exists.",
          );
        return { label: `device of adapter ${n}` };
      },
    });
    return { gpu: { requestAdapter: async () => adapter(++asked) } as unknown as GPU, asked: () => asked };
  }

  it('asks for a fresh adapter once when the first one has expired', async () => {
    const { acquireBrowser } = await import('../src/device/gpu.ts');
    const one = fakeGpu(1);
    const got = await acquireBrowser(one.gpu);
    expect(got.description).toBe('fake / adapter 2');
    expect(one.asked()).toBe(2);
    const two = fakeGpu(2);
    await expect(acquireBrowser(two.gpu)).rejects.toThrow(/A valid external Instance reference no longer exists/);
    expect(two.asked()).toBe(2);
  });

  it('asks again once, after a moment, when no adapter was returned', async () => {
    const { acquireBrowser } = await import('../src/device/gpu.ts');
    const nullThen = (nulls: number) => {
      let asked = 0;
      const gpu = {
        requestAdapter: async () => (++asked <= nulls ? null : fakeGpu(0).gpu.requestAdapter()),
      } as unknown as GPU;
      return { gpu, asked: () => asked };
    };
    const once = nullThen(1);
    expect((await acquireBrowser(once.gpu)).description).toBe('fake / adapter 1');
    expect(once.asked()).toBe(2);
    const twice = nullThen(2);
    await expect(acquireBrowser(twice.gpu)).rejects.toThrow(/no adapter was returned \(asked twice/);
    expect(twice.asked()).toBe(2);
  });
});
