// The DCGAN quality row's class fractions on more samples than the job's 1,000 (issue 29): is a class
// below 2% a property of the weights, or the 1,000-sample estimate's noise (standard error about 0.44
// points at 2%)? Scores DCGAN checkpoints as the job does (src/models/score.ts scoreGenerator, the
// classifier of runs/classifier-mnist) on n samples drawn from seed 99.
//   npx tsx scripts/dcgan_classes.ts 10000 project=runs/quality-dcgan/checkpoint.safetensors \
//     twin=runs/quality-dcgan/twin/checkpoint.safetensors
// The twin at other seeds (its own shuffle and noise, the same initial weights and images):
//   /usr/bin/python3 python/wgpu_gen.py fit --ckpt runs/quality-dcgan/twin/init.safetensors \
//     --inputs runs/quality-dcgan/twin/train.safetensors --epochs 5 --batch 64 --seed 1 --out twin-seed1.safetensors
import { init, shutdown } from '../src/index.ts';
import { loadSafetensors, restoreCheckpoint } from '../src/io/node.ts';
import { buildModel } from '../src/models/registry.ts';
import { loadClassifier, loadImages } from '../src/cli/jobs.ts';
import { realStats, scoreGenerator } from '../src/models/score.ts';
import type { DCGAN } from '../src/models/index.ts';

const [count, ...named] = process.argv.slice(2);
const n = Number(count);
if (!Number.isInteger(n) || n <= 0 || named.some((a) => !a.includes('=')))
  throw new Error('usage: tsx scripts/dcgan_classes.ts N name=checkpoint.safetensors ...');
await init({ backend: 'webgpu' });
const clf = await loadClassifier('runs/classifier-mnist/checkpoint.safetensors', 'mnist');
const real = await realStats(clf, loadImages('mnist').test);
for (const arg of named) {
  const [name, path] = arg.split('=');
  const ckpt = loadSafetensors(path);
  // The twin's file has the run's config too (python/wgpu_gen.py fit copies the initial weights' metadata).
  const g = buildModel('dcgan', JSON.parse(ckpt.metadata.config ?? '{}')) as DCGAN;
  await restoreCheckpoint(ckpt, g, [], path);
  const s = await scoreGenerator(g, clf, real, n, 99);
  const pct = s.class_fractions.map((f) => (100 * f).toFixed(2)).join(' ');
  console.log(`${name}, ${n} samples: Frechet distance ${s.fd.toFixed(1)}; classes 0-9 (%) ${pct}`);
}
shutdown();
