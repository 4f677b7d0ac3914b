// Eager elementwise and reduction kernels of one build, for comparing two builds (issue 30's "no row
// more than 3% slower"): per kernel the minimum over 7 rounds of 10 calls, in ms. The bench's own rows
// (bench/run.ts) take a median of 3 and swing 10-25% between processes on a shared CPU; run this for
// each build in turn, alternating and several times, and compare the minima:
//   git worktree add /tmp/old <commit> && ln -s "$PWD/node_modules" /tmp/old/node_modules
//   for i in 1 2 3 4; do npx tsx bench/eager_ab.ts /tmp/old; npx tsx bench/eager_ab.ts .; done
import { resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const lib = (await import(`${root}/src/index.ts`)) as typeof import('../src/index.ts');
await lib.init({ backend: 'webgpu', dawnFlags: ['enable-dawn-features=disable_robustness'] });
const n = 1 << 22;
const a = lib.randn([n], { generator: new lib.Generator(1) });
const b = lib.randn([n], { generator: new lib.Generator(2) });
const rows = a.reshape([2048, 2048]);
const cases: [string, () => { dispose(): void }][] = [
  ['add', () => a.add(b)],
  ['sigmoid', () => a.sigmoid()],
  ['sum rows', () => rows.sum(1)],
  ['sum all', () => a.sum()],
];
const out: string[] = [];
for (const [name, f] of cases) {
  for (let i = 0; i < 3; i++) f().dispose();
  await lib.sync();
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) f().dispose();
    await lib.sync();
    best = Math.min(best, (performance.now() - t0) / 10);
  }
  out.push(`${name} ${best.toFixed(2)} ms`);
}
console.log(`${root}: ${out.join(' | ')}`);
lib.shutdown();
