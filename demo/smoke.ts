// Browser smoke page: the same runtime and the same shaders/ as in Node, loaded by Vite. Runs a few
// kernels on WebGPU against the CPU reference and prints the kernel profile. (The training demo of the
// models builds on this page.)
import {
  init,
  createBackend,
  tensor,
  randn,
  Generator,
  profile,
  formatProfile,
  backendInfo,
  type Tensor,
} from '../src/index.ts';

const status = document.getElementById('status')!;
const out = document.getElementById('out')!;
const log = (s: string) => (out.textContent += s + '\n');

async function main() {
  const gpu = await init({ backend: 'webgpu' });
  const cpu = await createBackend({ backend: 'cpu' });
  status.textContent = `WebGPU adapter: ${backendInfo(gpu).description}`;
  const a = randn([129, 65], { generator: new Generator(1) });
  const ac = tensor(await a.toArray(), a.shape, { backend: cpu });
  const diff = async (g: Tensor, c: Tensor) => {
    const [x, y] = [await g.toArray(), await c.toArray()];
    return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
  };
  log(`matmul max |webgpu - cpu| = ${(await diff(a.matmul(a.t()), ac.matmul(ac.t()))).toExponential(2)}`);
  log(`logsumexp max |webgpu - cpu| = ${(await diff(a.logsumexp(1), ac.logsumexp(1))).toExponential(2)}`);
  const { kernels } = await profile(async () => {
    for (let i = 0; i < 3; i++) a.matmul(a.t()).relu().sum(1).dispose();
  });
  log(formatProfile(kernels));
  document.body.dataset.done = 'ok';
}

main().catch((e) => {
  status.textContent = `Error: ${e instanceof Error ? e.message : e}`;
  document.body.dataset.done = 'error';
});
