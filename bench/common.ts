// What the bench files share: the median of their timings, and the main block of a file run alone
// (`npx tsx bench/<file>.ts [--quick] [--only=<model>] [--null]`): WebGPU with the bench's Dawn toggles
// (`--null`: Dawn's null backend, every call made and validated, nothing executed, so that host costs are
// timed without SwiftShader's threads on the same cores).
import type { WebGPUBackend } from '../src/backend/webgpu/index.ts';

/** The median of `v` (the upper one of an even count). */
export const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

export interface BenchOptions {
  quick?: boolean;
  only?: string;
}

/** Runs `bench` when `url` (the caller's import.meta.url) is the file Node was started with. */
export async function runAlone(url: string, bench: (gpu: WebGPUBackend, opts: BenchOptions) => Promise<unknown>) {
  if (url !== `file://${process.argv[1]}`) return;
  const { init, shutdown } = await import('../src/index.ts');
  const args = process.argv.slice(2);
  const gpu = (await init({
    backend: 'webgpu',
    dawnFlags: [...(args.includes('--null') ? ['backend=null'] : []), 'enable-dawn-features=disable_robustness'],
  })) as WebGPUBackend;
  await bench(gpu, { quick: args.includes('--quick'), only: args.find((a) => a.startsWith('--only='))?.slice(7) });
  shutdown(gpu);
  process.exit(0);
}
