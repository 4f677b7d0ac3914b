// Headless smoke run: picks the adapter (a GPU if present, else SwiftShader), runs a few kernels on
// WebGPU, checks them against the CPU reference, and prints a kernel profile. Uses only the public API.
import {
  init,
  createBackend,
  tensor,
  randn,
  Generator,
  profile,
  formatProfile,
  backendInfo,
  shutdown,
  sync,
  matmul,
  type Tensor,
} from '../index.ts';

const maxDiff = async (a: Tensor, b: Tensor) => {
  const [x, y] = [await a.toArray(), await b.toArray()];
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
};

async function main() {
  const gpu = await init({ backend: 'webgpu' });
  const cpu = await createBackend({ backend: 'cpu' });
  const info = backendInfo(gpu);
  console.log(`backend: ${info.name} on ${info.description}; timestamp-query: ${info.timestampQuery}`);

  const a = randn([257, 129], { generator: new Generator(1) });
  const b = randn([129, 65], { generator: new Generator(2) });
  const [ac, bc] = [
    tensor(await a.toArray(), a.shape, { backend: cpu }),
    tensor(await b.toArray(), b.shape, { backend: cpu }),
  ];
  const checks: [string, Tensor, Tensor][] = [
    ['matmul 257x129 @ 129x65', matmul(a, b), matmul(ac, bc)],
    ['sigmoid(a) + tanh(a)', a.sigmoid().add(a.tanh()), ac.sigmoid().add(ac.tanh())],
    ['logsumexp(a, 1)', a.logsumexp(1), ac.logsumexp(1)],
    [
      'pad reflect + permute',
      a.reshape([1, 1, 257, 129]).pad([2, 2, 1, 1], 'reflect').permute([0, 3, 2, 1]),
      ac.reshape([1, 1, 257, 129]).pad([2, 2, 1, 1], 'reflect').permute([0, 3, 2, 1]),
    ],
  ];
  let ok = true;
  for (const [name, g, c] of checks) {
    const d = await maxDiff(g, c);
    ok &&= d < 1e-3;
    console.log(`${d < 1e-3 ? 'ok  ' : 'FAIL'} ${name}: max |webgpu - cpu| = ${d.toExponential(2)}`);
  }
  const x = randn([512, 512]);
  const { kernels } = await profile(async () => {
    for (let i = 0; i < 4; i++) x.matmul(x).relu().sum(1).dispose();
  });
  console.log('\nkernel profile (4 x matmul 512 + relu + sum):\n' + formatProfile(kernels));
  await sync();
  shutdown(gpu);
  if (!ok) process.exit(1);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
