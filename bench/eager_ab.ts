// Eager elementwise and reduction kernels of two builds in one process, for comparing them (issue 30's
// "no row more than 3% slower"). Between processes on a shared 2-core CPU one bench row swings 10-25%
// and the minima of several processes still 2-4% (where the two builds run, in time and in memory), so
// both builds are loaded here side by side, each with its own Dawn device, and timed in turns: per
// kernel, rounds of 10 calls alternate A, B, A, B, ... and each build keeps its minimum round.
//   git worktree add /tmp/old <commit> && ln -s "$PWD/node_modules" /tmp/old/node_modules
//   npx tsx bench/eager_ab.ts /tmp/old . [--rounds=40] [--only=<substring>]
import { resolve } from 'node:path';

type Lib = typeof import('../src/index.ts');
const args = process.argv.slice(2);
const roots = args.filter((a) => !a.startsWith('--')).map((r) => resolve(r));
if (roots.length !== 2)
  throw new Error('usage: npx tsx bench/eager_ab.ts <rootA> <rootB> [--rounds=N] [--only=<substring>]');
const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 40);
const only = args.find((a) => a.startsWith('--only='))?.slice(7) ?? '';

const n = 1 << 22;
async function load(root: string) {
  const lib = (await import(`${root}/src/index.ts`)) as Lib;
  await lib.init({ backend: 'webgpu', dawnFlags: ['enable-dawn-features=disable_robustness'] });
  const a = lib.randn([n], { generator: new lib.Generator(1) });
  const b = lib.randn([n], { generator: new lib.Generator(2) });
  const rows = a.reshape([2048, 2048]);
  // 1,000 floats: the kernel is nothing, the call's JavaScript and Dawn's issue are what is timed.
  const sa = lib.randn([1000], { generator: new lib.Generator(3) });
  const sb = lib.randn([1000], { generator: new lib.Generator(4) });
  const cases: Record<string, () => { dispose(): void }> = {
    add: () => a.add(b),
    sigmoid: () => a.sigmoid(),
    'sum rows': () => rows.sum(1),
    'sum all': () => a.sum(),
    'add 1K': () => sa.add(sb),
    'sum 1K': () => sa.sum(),
  };
  return { root, lib, cases };
}
const builds = [await load(roots[0]), await load(roots[1])];

/** One round: 10 calls and a sync, in ms per call. */
async function round(build: (typeof builds)[number], name: string): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) build.cases[name]().dispose();
  await build.lib.sync();
  return (performance.now() - t0) / 10;
}

for (const name of Object.keys(builds[0].cases).filter((c) => c.includes(only))) {
  for (const b of builds) for (let i = 0; i < 3; i++) await round(b, name);
  const best = [Infinity, Infinity];
  for (let r = 0; r < rounds; r++) {
    // Which build goes first alternates too, so neither always follows the other's work.
    const order = r % 2 ? [1, 0] : [0, 1];
    for (const k of order) best[k] = Math.min(best[k], await round(builds[k], name));
  }
  const ratio = best[0] / best[1];
  console.log(
    `${name.padEnd(9)} A ${best[0].toPrecision(3)} ms  B ${best[1].toPrecision(3)} ms  B/A time ${(1 / ratio).toFixed(3)}`,
  );
}
console.log(`A = ${roots[0]}\nB = ${roots[1]}`);
for (const b of builds) b.lib.shutdown();
