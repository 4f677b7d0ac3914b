// Chooses a kernel variant per adapter and shape class by measuring. GEMM variants
// (shaders/gemm_*.wgsl, matmul_vec4.wgsl):
//   reg    register-blocked 4x4 per invocation, scalar loads, any layout (hooks)
//   vec4   register-blocked 8x4 with vec4 loads/stores (plain matmul without transposes, K, N % 4 == 0)
//   vec4t  register-blocked 4x4 with vec4 loads for A^T B (M, N % 4 == 0) or A B^T (K % 4 == 0)
//   tiled  workgroup-memory tiles of 32x32 (the usual GPU design)
//   splitk one workgroup per output element, K split over 64 invocations (small outputs, long K)
// Convolutions add 'im2col' (explicit patches, then the best matmul) and, for input gradients whose
// stride phases have at most 2x2 taps, 'winograd' (F(2x2, 2x2) transforms around a batched matmul).
// A CPU-like adapter (SwiftShader) favours reg/vec4 by ~10x, a GPU favours tiled: so the first call of a
// shape class uses a heuristic guess and starts a measurement in the background; later calls use the
// measured winner. Measurements run on a smaller proxy of the problem (matmul dims capped at 512, conv
// batch capped at 8), so tuning a large op costs about as much as a few small ones. Every core decodes
// its tile from a flat workgroup index (DispatchSpec.flatGroups), so no variant is ruled out by the
// device's workgroups-per-dimension limit.

import type { DispatchSpec, GPUContext } from '../../device/context.ts';
import type { MatmulSpec } from '../kernels.ts';

export const MATMUL_VARIANTS = ['reg', 'vec4', 'vec4t', 'tiled', 'splitk'] as const;
/** Convolutions add 'im2col' (explicit patches then the adapter's best matmul) and 'winograd'. */
export const CONV_VARIANTS = ['reg', 'tiled', 'splitk', 'im2col', 'winograd'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number] | 'im2col' | 'winograd';

export const bucket = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** A proxy problem on scratch buffers: how to run each candidate on it, and how to free it. */
export interface Trial {
  run(v: MatmulVariant): void;
  release(): void;
}

export class KernelTuner {
  /** Measured winners by shape class. */
  readonly choices = new Map<string, MatmulVariant>();
  /** Timings of the measurements, by shape class and variant, in ms (for reports and tests). */
  readonly timings = new Map<string, Partial<Record<MatmulVariant, number>>>();
  private pending = new Map<string, Promise<void>>();
  /** Force one variant where eligible (env WGPU_MATMUL); tests use it to check each variant. */
  forced: MatmulVariant | null = null;
  autotune = true;

  constructor(private readonly ctx: GPUContext) {
    const env = typeof process !== 'undefined' ? process.env?.WGPU_MATMUL : undefined;
    if (env) {
      const all: string[] = [...MATMUL_VARIANTS, ...CONV_VARIANTS];
      if (!all.includes(env)) {
        throw new Error(`WGPU_MATMUL=${env} is not a kernel variant: use one of ${[...new Set(all)].join(', ')}`);
      }
      this.forced = env as MatmulVariant;
    }
  }

  /**
   * The variant to run for a problem of shape class `key`. `work` (multiply-adds) below 2^18 is not
   * worth measuring; `trial` builds the proxy problem when a measurement starts.
   */
  choose(
    key: string,
    eligible: MatmulVariant[],
    guess: MatmulVariant,
    work: number,
    trial: () => Trial,
  ): MatmulVariant {
    // A forced conv-only variant (im2col, winograd) leaves the matmuls it runs to the usual choice, so
    // they are the ones it runs in production (tests force each variant).
    const convOnly = this.forced === 'im2col' || this.forced === 'winograd';
    if (this.forced && !(convOnly && key.startsWith('mm:'))) {
      if (eligible.includes(this.forced)) return this.forced;
      return this.forced === 'tiled' || this.forced === 'splitk' ? 'tiled' : 'reg';
    }
    const known = this.choices.get(key);
    if (known) return known;
    if (this.autotune && work >= 1 << 18 && eligible.length > 1 && !this.pending.has(key)) {
      // A failed measurement (e.g. the device was destroyed meanwhile) leaves the guess in place; a real
      // kernel fault still surfaces on the dispatch that uses the variant.
      // Started from a microtask, never inside the caller: a trial run may itself choose kernels (the
      // im2col conv runs a matmul), and a measurement must not start inside another's timing.
      const run = Promise.resolve()
        .then(() => this.measure(key, eligible, trial))
        .catch(() => undefined);
      this.pending.set(
        key,
        run.finally(() => this.pending.delete(key)),
      );
    }
    // A compiled step recorded now keeps this variant: it re-records once the measurement picks another.
    this.ctx.noteGuess(key, guess);
    return guess;
  }

  /** Resolves when every measurement started so far has finished. */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending.values()]);
  }

  private async measure(key: string, eligible: MatmulVariant[], makeTrial: () => Trial): Promise<void> {
    const trial = makeTrial();
    const times: Partial<Record<MatmulVariant, number>> = {};
    // GPU time from timestamp queries where the adapter has them, so work the program queues meanwhile
    // does not count.
    const timed = async (v: MatmulVariant, runs: number) => {
      const ms = await this.ctx.timeGpu(() => {
        this.ctx.labelPrefix = 'tune:';
        try {
          for (let i = 0; i < runs; i++) trial.run(v);
        } finally {
          this.ctx.labelPrefix = '';
        }
      });
      return ms / runs;
    };
    try {
      // The warm-up (pipeline creation and first run) also screens: a candidate 4x slower than the best
      // is not measured further (on SwiftShader the tiled core is ~10x slower).
      for (const v of eligible) times[v] = await timed(v, 1);
      const best = Math.min(...Object.values(times));
      const finalists = eligible.filter((v) => times[v]! < 4 * best);
      // Then rounds over the finalists in turn, keeping each one's best: a machine whose speed drifts
      // (a shared VM here varied by +-40% within minutes) then slows or speeds all of them alike,
      // where timing one candidate after the other would favour whichever ran in a fast spell.
      for (let round = 0; round < 2; round++) {
        for (const v of finalists) times[v] = Math.min(times[v]!, await timed(v, 2));
      }
    } finally {
      trial.release();
    }
    const winner = (Object.entries(times) as [MatmulVariant, number][]).sort((x, y) => x[1] - y[1])[0][0];
    this.timings.set(key, times);
    this.choices.set(key, winner);
  }

  /** Scratch buffers for a trial, zero-filled so denormals and NaNs stay out of the timings. */
  scratch(...floats: number[]): GPUBuffer[] {
    return floats.map((n, i) => {
      const b = this.ctx.pool.acquire(4 * Math.max(n, 1), `tune ${i}`);
      this.ctx.write(b, new Float32Array(b.size / 4));
      return b;
    });
  }
  releaseScratch(bufs: GPUBuffer[]): void {
    for (const b of bufs) this.ctx.pool.release(b);
  }
}

// ---- matmul ----

export function matmulVariants(s: MatmulSpec): (typeof MATMUL_VARIANTS)[number][] {
  const out: (typeof MATMUL_VARIANTS)[number][] = ['reg', 'tiled'];
  if (!s.transA && !s.transB && s.K % 4 === 0 && s.N % 4 === 0 && s.strideA % 4 === 0 && s.strideB % 4 === 0) {
    out.unshift('vec4');
  }
  const aligned = s.strideA % 4 === 0 && s.strideB % 4 === 0;
  if (aligned && s.transA && !s.transB && s.M % 4 === 0 && s.N % 4 === 0) out.unshift('vec4t');
  if (aligned && !s.transA && s.transB && s.K % 4 === 0) out.unshift('vec4t');
  if (s.M * s.N * s.batch <= 16384) out.push('splitk');
  return out;
}

export function matmulDispatch(
  v: (typeof MATMUL_VARIANTS)[number],
  a: GPUBuffer,
  b: GPUBuffer,
  c: GPUBuffer,
  s: MatmulSpec,
): DispatchSpec {
  const uniforms = new Uint32Array([s.M, s.N, s.K, s.batch, s.strideA, s.strideB, 0, 0]).buffer;
  const groups: Record<(typeof MATMUL_VARIANTS)[number], [number, number, number]> = {
    reg: [Math.ceil(s.N / 32), Math.ceil(s.M / 32), s.batch],
    vec4: [Math.ceil(s.N / 64), Math.ceil(s.M / 32), s.batch],
    vec4t: [Math.ceil(s.N / 32), Math.ceil(s.M / 32), s.batch],
    tiled: [Math.ceil(s.N / 32), Math.ceil(s.M / 32), s.batch],
    splitk: [s.N, s.M, s.batch],
  };
  return {
    kernel: `matmul_${v}`,
    label: `matmul_${v}`,
    constants: v === 'vec4' ? {} : v === 'vec4t' ? { TRANS_A: s.transA } : { TRANS_A: s.transA, TRANS_B: s.transB },
    // Every core decodes its tile from its flat workgroup index: the context refolds a grid past the limit.
    buffers: [a, b, c],
    uniforms,
    workgroups: groups[v],
    flatGroups: true,
    flops: 2 * s.batch * s.M * s.N * s.K,
    bytes: 4 * (s.batch * (s.M * s.K + s.K * s.N + s.M * s.N)),
  };
}

export function chooseMatmul(tuner: KernelTuner, ctx: GPUContext, s: MatmulSpec): (typeof MATMUL_VARIANTS)[number] {
  const eligible = matmulVariants(s);
  // (Stored in checkpoints' kernel_choices: the text must not change.)
  const sizes = [s.batch, s.M, s.N, s.K].map(bucket);
  const key = ['mm', s.transA ? 'T' : 'N', s.transB ? 'T' : 'N', ...sizes, eligible.join('+')].join(':');
  // Split-K only as a GPU guess: on CPU-like adapters its barriers make it the slowest variant by far
  // (measured 0.01 GFLOP/s on SwiftShader for a [1, 128] x 256 weight gradient).
  const small = s.M * s.N * s.batch <= 1024 && s.K >= 256;
  const guess: (typeof MATMUL_VARIANTS)[number] =
    ctx.kernelDefaults === 'software'
      ? (eligible.find((v) => v.startsWith('vec4')) ?? 'reg')
      : small && eligible.includes('splitk')
        ? 'splitk'
        : 'tiled';
  const v = tuner.choose(key, eligible, guess, s.batch * s.M * s.N * s.K, () => {
    const cap = (n: number) => Math.min(n, 512);
    const p: MatmulSpec = { ...s, batch: Math.min(s.batch, 4), M: cap(s.M), N: cap(s.N), K: cap(s.K) };
    p.strideA = s.strideA === 0 ? 0 : p.M * p.K;
    p.strideB = s.strideB === 0 ? 0 : p.K * p.N;
    const bufs = tuner.scratch(p.batch * p.M * p.K, p.batch * p.K * p.N, p.batch * p.M * p.N);
    return {
      run: (vv) => ctx.dispatch(matmulDispatch(vv as typeof guess, bufs[0], bufs[1], bufs[2], p)),
      release: () => tuner.releaseScratch(bufs),
    };
  });
  return v as typeof guess;
}
