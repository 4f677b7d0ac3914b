// Chooses a matmul kernel per adapter and shape by measuring. The variants (shaders/matmul_*.wgsl):
//   reg    register-blocked 4x4 per invocation, scalar loads, any shape and transposes
//   vec4   register-blocked with vec4 loads/stores (no transposes, K and N multiples of 4)
//   tiled  workgroup-memory tiles of 32x32 (the usual GPU design)
//   splitk one workgroup per output element, K split over 64 invocations (small outputs, long K)
// A CPU-like adapter (SwiftShader) favours reg/vec4 by ~10x, a GPU favours tiled: so the first call of a
// shape class uses a heuristic guess and starts a measurement in the background; later calls use the
// measured winner. The measurement runs the candidates on a proxy of the shape capped at 256 per
// dimension, so tuning a large matmul never costs more than a few small ones.

import type { DispatchSpec, GPUContext } from '../../device/context.ts';
import type { MatmulSpec } from '../kernels.ts';

export const MATMUL_VARIANTS = ['reg', 'vec4', 'tiled', 'splitk'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

const bucket = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

export function eligibleVariants(s: MatmulSpec, maxGroups: number): MatmulVariant[] {
  const out: MatmulVariant[] = ['reg', 'tiled'];
  if (!s.transA && !s.transB && s.K % 4 === 0 && s.N % 4 === 0 && s.strideA % 4 === 0 && s.strideB % 4 === 0) {
    out.unshift('vec4');
  }
  if (s.M <= maxGroups && s.N <= maxGroups && s.M * s.N * s.batch <= 16384) out.push('splitk');
  return out;
}

export class MatmulTuner {
  /** Measured winners by shape class. */
  readonly choices = new Map<string, MatmulVariant>();
  /** Timings of the last measurements, by shape class and variant, in ms (for reports). */
  readonly timings = new Map<string, Partial<Record<MatmulVariant, number>>>();
  private pending = new Map<string, Promise<void>>();
  /** Force one variant (env WGPU_MATMUL); tests use it to check each variant. */
  forced: MatmulVariant | null = null;
  autotune = true;

  constructor(private readonly ctx: GPUContext) {
    const env = typeof process !== 'undefined' ? process.env?.WGPU_MATMUL : undefined;
    if (env) {
      if (!(MATMUL_VARIANTS as readonly string[]).includes(env)) {
        throw new Error(`WGPU_MATMUL=${env} is not a matmul variant: use one of ${MATMUL_VARIANTS.join(', ')}`);
      }
      this.forced = env as MatmulVariant;
    }
  }

  key(s: MatmulSpec, eligible: MatmulVariant[]): string {
    return [s.transA ? 'T' : 'N', s.transB ? 'T' : 'N', bucket(s.batch), bucket(s.M), bucket(s.N), bucket(s.K), eligible.join('+')].join(':');
  }

  private guess(s: MatmulSpec, eligible: MatmulVariant[]): MatmulVariant {
    const small = s.M * s.N * s.batch <= 1024 && s.K >= 256;
    if (small && eligible.includes('splitk')) return 'splitk';
    if (this.ctx.isSoftware) return eligible.includes('vec4') ? 'vec4' : 'reg';
    return 'tiled';
  }

  choose(s: MatmulSpec): MatmulVariant {
    const eligible = eligibleVariants(s, this.ctx.limits.maxComputeWorkgroupsPerDimension);
    if (this.forced) {
      if (!eligible.includes(this.forced)) {
        return this.forced === 'vec4' ? 'reg' : this.forced === 'splitk' ? 'tiled' : this.forced;
      }
      return this.forced;
    }
    const key = this.key(s, eligible);
    const known = this.choices.get(key);
    if (known) return known;
    // Tiny products are not worth measuring.
    if (this.autotune && s.batch * s.M * s.N * s.K >= 1 << 18 && !this.pending.has(key)) {
      // A failed measurement (e.g. the device was destroyed meanwhile) leaves the guess in place; a real
      // kernel fault still surfaces on the dispatch that uses the variant.
      const run = this.measure(key, s, eligible).catch(() => undefined);
      this.pending.set(key, run.finally(() => this.pending.delete(key)));
    }
    return this.guess(s, eligible);
  }

  /** Resolves when every measurement started so far has finished. */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending.values()]);
  }

  dispatchFor(v: MatmulVariant, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, s: MatmulSpec): DispatchSpec {
    const uniforms = new Uint32Array([s.M, s.N, s.K, s.batch, s.strideA, s.strideB, 0, 0]).buffer;
    const constants = { TRANS_A: s.transA, TRANS_B: s.transB };
    const flops = 2 * s.batch * s.M * s.N * s.K;
    const bytes = 4 * (s.batch * (s.M * s.K + s.K * s.N + s.M * s.N));
    const groups: Record<MatmulVariant, [number, number, number]> = {
      reg: [Math.ceil(s.N / 32), Math.ceil(s.M / 32), s.batch],
      vec4: [Math.ceil(s.N / 64), Math.ceil(s.M / 32), s.batch],
      tiled: [Math.ceil(s.N / 32), Math.ceil(s.M / 32), s.batch],
      splitk: [s.N, s.M, s.batch],
    };
    return {
      kernel: `matmul_${v}`, label: `matmul_${v}`, constants: v === 'vec4' ? {} : constants,
      buffers: [a, b, c], uniforms, workgroups: groups[v], flops, bytes,
    };
  }

  private async measure(key: string, s: MatmulSpec, eligible: MatmulVariant[]): Promise<void> {
    const cap = (n: number) => Math.min(n, 256);
    const p: MatmulSpec = { ...s, batch: Math.min(s.batch, 4), M: cap(s.M), N: cap(s.N), K: cap(s.K) };
    if (s.N % 4 === 0) p.N -= p.N % 4;
    if (s.K % 4 === 0) p.K -= p.K % 4;
    p.strideA = s.strideA === 0 ? 0 : p.M * p.K;
    p.strideB = s.strideB === 0 ? 0 : p.K * p.N;
    const pool = this.ctx.pool;
    const a = pool.acquire(4 * Math.max(1, p.batch * p.M * p.K), 'tune A');
    const b = pool.acquire(4 * Math.max(1, p.batch * p.K * p.N), 'tune B');
    const c = pool.acquire(4 * Math.max(1, p.batch * p.M * p.N), 'tune C');
    const times: Partial<Record<MatmulVariant, number>> = {};
    // Pooled buffers may hold anything; zeros keep denormals and NaNs out of the timings.
    for (const buf of [a, b, c]) this.ctx.write(buf, new Float32Array(buf.size / 4));
    try {
      for (const v of eligible) {
        const d = { ...this.dispatchFor(v, a, b, c, p), label: `tune:matmul_${v}` };
        this.ctx.dispatch(d); // warm-up: pipeline creation and first run
        await this.ctx.sync();
        let best = Infinity;
        for (let rep = 0; rep < 2; rep++) {
          const t0 = performance.now();
          this.ctx.dispatch(d);
          this.ctx.dispatch(d);
          await this.ctx.sync();
          best = Math.min(best, (performance.now() - t0) / 2);
        }
        times[v] = best;
      }
    } finally {
      pool.release(a);
      pool.release(b);
      pool.release(c);
    }
    const winner = (Object.entries(times) as [MatmulVariant, number][]).sort((x, y) => x[1] - y[1])[0][0];
    this.timings.set(key, times);
    this.choices.set(key, winner);
  }
}
