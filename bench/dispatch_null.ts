// The pure-JS cost of issuing one MLP VAE (batch 128) training step: the same trainStep as
// bench/dispatch_step.ts on a backend whose kernels do nothing (each returns an empty storage of the right
// length), so what is timed is the runtime's own dispatch (shape rules, tensor construction, graph
// recording, the backward walk, tidy), free of the GPU driver's threads competing for the CPU.
// Median over STEPS - 100 steps after 100 warm-up steps. Run: npx tsx bench/dispatch_null.ts
import { tensor, Generator, withBackend, type Backend } from '../src/index.ts';
import { MlpVAE } from '../src/models/vae.ts';

const st = (n: number) => ({ length: n });
const nullBackend = {
  name: 'cpu',
  description: 'null backend (kernels do nothing)',
  alloc: (x: number | ArrayLike<number>) => st(typeof x === 'number' ? x : x.length),
  read: async (s: { length: number }, o?: object) => (o ? new Uint32Array(s.length) : new Float32Array(s.length)),
  write: () => {},
  free: () => {},
  memory: () => ({ liveBytes: 0, pooledBytes: 0 }),
  elementwise: (k: { n: number; out?: unknown }) => k.out ?? st(k.n),
  reduce: (s: { rows?: number; geom?: { rows: number } }) => st(s.rows ?? s.geom!.rows),
  move: (m: {
    kind: string;
    dst?: { storage: unknown };
    shape: number[];
    before: number[];
    after: number[];
    dims: { O: number; D: number; I: number; K: number };
  }) =>
    m.kind === 'copy'
      ? m.dst!.storage
      : m.kind === 'pad'
        ? st(m.shape.reduce((p, s, i) => p * (s + m.before[i] + m.after[i]), 1))
        : st(m.dims.O * (m.kind === 'gather' ? m.dims.K : m.dims.D) * m.dims.I),
  random: (n: number) => st(n),
  matmul: (_a: unknown, _b: unknown, s: { batch: number; M: number; N: number }) => st(s.batch * s.M * s.N),
  conv: (kind: string, _a: unknown, _b: unknown, g: Record<string, number>) =>
    st(
      kind === 'conv2d'
        ? g.n * g.O * g.OH * g.OW
        : kind === 'conv2d_grad_input'
          ? g.n * g.C * g.H * g.W
          : g.O * g.C * g.KH * g.KW,
    ),
  sync: async () => {},
  dispose: () => {},
} as unknown as Backend;

// Kernel calls per step, by kernel (the same on either side of a dispatch refactor, or the refactor changed
// what runs).
const counts: Record<string, number> = {};
for (const [k, f] of Object.entries(nullBackend as unknown as Record<string, unknown>)) {
  if (typeof f === 'function')
    (nullBackend as unknown as Record<string, unknown>)[k] = (...a: unknown[]) => (
      (counts[k] = (counts[k] ?? 0) + 1),
      (f as (...a: unknown[]) => unknown)(...a)
    );
}
const STEPS = Number(process.env.STEPS ?? 1100);
const times: number[] = [];
withBackend(nullBackend, () => {
  const model = new MlpVAE({ zDim: 20, generator: new Generator(1n), backend: nullBackend } as never);
  const x = tensor(new Float32Array(128 * 784), [128, 784], { backend: nullBackend });
  const noise = new Generator(2n);
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    const out = model.trainStep({ x } as never, noise);
    const t1 = performance.now();
    out.dispose();
    if (i >= 100) times.push(t1 - t0);
  }
});
times.sort((a, b) => a - b);
console.log(
  'backend calls per step:',
  Object.entries(counts)
    .map(([k, v]) => `${k} ${(v / STEPS).toFixed(1)}`)
    .join(', '),
);
const q = (f: number) => times[Math.floor(f * (times.length - 1))].toFixed(4);
console.log(`null backend: median issue time ${q(0.5)} ms, p10 ${q(0.1)}, p90 ${q(0.9)} over ${times.length} steps`);
