// Quality run of the MLP GAN on the 8-Gaussian ring (issue settings: MLPs 2-128-128, Adam 1e-3 betas
// (0.5, 0.999), batch 256, 5,000 steps): prints and writes runs/quality-gan-ring/eval.json with the
// mode coverage of 10,000 samples (modes with >= 100 samples within 0.06 of their centre, and the
// fraction of samples that close). ~15 minutes on SwiftShader.
import { mkdirSync, writeFileSync } from 'node:fs';
import { init, tensor, Generator, sync, shutdown } from '../index.ts';
import { MlpGAN, ringBatch, modeCoverage } from '../models/gan.ts';

const steps = Number(process.env.GAN_STEPS ?? 5000);
const out = 'runs/quality-gan-ring';
await init();
const gan = new MlpGAN({ generator: new Generator(1) });
const gen = new Generator(2);
const t0 = performance.now();
for (let s = 0; s < steps; s++) {
  const real = tensor(ringBatch(256, 3, s * 256), [256, 2]);
  const { dLoss, gLoss } = gan.step(real, gen);
  if (s % 1000 === 0 || s === steps - 1) {
    const [d, g] = [await dLoss.item(), await gLoss.item()];
    if (!Number.isFinite(d) || !Number.isFinite(g)) throw new Error(`GAN losses became ${d}, ${g} at step ${s}`);
    console.log(`step ${s}: D loss ${d.toFixed(3)}, G loss ${g.toFixed(3)}, ${((performance.now() - t0) / (s + 1)).toFixed(0)} ms/step`);
  }
  for (const t of [dLoss, gLoss, real]) t.dispose();
}
const pts = await gan.sample(10000, new Generator(9)).toArray();
const report = { steps, ...modeCoverage(pts), secondsPerStep: (performance.now() - t0) / 1e3 / steps };
console.log(JSON.stringify(report));
mkdirSync(out, { recursive: true });
writeFileSync(`${out}/eval.json`, JSON.stringify(report, null, 2));
await sync();
shutdown();
