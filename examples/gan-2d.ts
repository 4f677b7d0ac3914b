// A generative adversarial network (Goodfellow et al., "Generative Adversarial Nets", 2014) on a 2-D
// toy distribution: eight Gaussians on a ring of radius 2 (std 0.02), drawn by toyBatch() of
// 'wgpu-gen/data'.
//
// The generator G maps noise z ~ N(0, I) to points; the discriminator D maps a point to a logit, the
// log-odds that it is real. Each iteration alternates two steps, each with its own Adam:
//   discriminator: minimize BCE(D(x), 1) + BCE(D(G(z)), 0), i.e. maximize log D(x) + log(1 - D(G(z))),
//     with G(z) detached, so that this step updates D alone;
//   generator: the non-saturating loss BCE(D(G(z)), 1) = -log D(G(z)) (the paper's section 3): its
//     gradient is strong where D confidently rejects G's points, where log(1 - D(G(z))) would saturate.
// 400 steps (a few seconds) move the samples from a blob near the origin to the ring, spread around it;
// sharp modes take longer: the CLI's `gan` trains 5,000 steps (`npm run train -- gan`).
//
// Run: npx tsx examples/gan-2d.ts        (WGPU_BACKEND=cpu for the CPU reference backend)
import {
  init,
  nn,
  F,
  compile,
  tensor,
  randn,
  onesLike,
  zerosLike,
  tidy,
  noGrad,
  Generator,
  shutdown,
  backendInfo,
  type Tensor,
} from 'wgpu-gen';
import { toyBatch } from 'wgpu-gen/data';

const zDim = 2,
  hidden = 32,
  batch = 64,
  steps = 400;

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
console.log('backend:', backendInfo().name);

const G = new nn.Sequential(
  new nn.Linear(zDim, hidden),
  new nn.ReLU(),
  new nn.Linear(hidden, hidden),
  new nn.ReLU(),
  new nn.Linear(hidden, 2),
);
const D = new nn.Sequential(
  new nn.Linear(2, hidden),
  new nn.LeakyReLU(0.2),
  new nn.Linear(hidden, hidden),
  new nn.LeakyReLU(0.2),
  new nn.Linear(hidden, 1),
);
// beta1 = 0.5, as DCGAN's authors advise for the adversarial game.
const optD = new nn.Adam(D.parameters(), { lr: 5e-3, betas: [0.5, 0.999] });
const optG = new nn.Adam(G.parameters(), { lr: 5e-3, betas: [0.5, 0.999] });
const noise = new Generator(3); // every z of the run: a seeded stream, so the run repeats exactly

/** Statistics of 1,000 generated points: mean distance from the ring, and how the angles spread. */
async function describe(): Promise<{ ringError: number; sectors: number; points: Float32Array }> {
  const g = noGrad(() => G.call(randn([1000, zDim], { generator: new Generator(99) })));
  const p = await g.toArray();
  g.dispose();
  let err = 0;
  const perSector = new Array(8).fill(0);
  for (let i = 0; i < 1000; i++) {
    const [x, y] = [p[2 * i], p[2 * i + 1]];
    err += Math.abs(Math.hypot(x, y) - 2);
    // The ring's modes sit at angles k * 45 degrees: the sector around the nearest one.
    perSector[((Math.round(Math.atan2(y, x) / (Math.PI / 4)) % 8) + 8) % 8]++;
  }
  return { ringError: err / 1000, sectors: perSector.filter((c) => c >= 30).length, points: p };
}

const before = await describe();
console.log(
  `before: mean distance of samples from the ring ${before.ringError.toFixed(3)}, ${before.sectors} of 8 sectors hold >= 3% of them`,
);

// One iteration, both steps, compiled: traced at its second call, replayed after (the noise draws take
// new Philox counters each call, as eager ones do). Without compile() it is the same, only slower.
const iteration = compile((real: Tensor) =>
  tidy(() => {
    // The discriminator's step: real points toward 1, generated ones (detached) toward 0.
    optD.zeroGrad();
    const realLogits = D.call(real);
    const fakeLogits = D.call(G.call(randn([batch, zDim], { generator: noise })).detach());
    const lD = F.bceWithLogits(realLogits, onesLike(realLogits)).add(
      F.bceWithLogits(fakeLogits, zerosLike(fakeLogits)),
    );
    lD.backward();
    optD.step();
    // The generator's step, non-saturating: -log D(G(z)). D's gradients it leaves are cleared by
    // optD.zeroGrad() at the next step; only optG steps here.
    optG.zeroGrad();
    const logits = D.call(G.call(randn([batch, zDim], { generator: noise })));
    const lG = F.bceWithLogits(logits, onesLike(logits));
    lG.backward();
    optG.step();
    return [lD, lG];
  }),
);

for (let step = 0; step < steps; step++) {
  const real = tensor(toyBatch('ring', batch, 1, step * batch), [batch, 2]); // the next points of the stream
  const [lossD, lossG] = iteration(real);
  real.dispose();
  if (step % 100 === 0 || step === steps - 1) {
    console.log(
      `step ${String(step).padStart(3)}  D loss ${(await lossD.item()).toFixed(4)}  G loss ${(await lossG.item()).toFixed(4)}`,
    );
  }
  lossD.dispose();
  lossG.dispose();
}

const after = await describe();
console.log(
  `after:  mean distance of samples from the ring ${after.ringError.toFixed(3)}, ${after.sectors} of 8 sectors hold >= 3% of them`,
);
console.log(
  'a few samples:',
  Array.from(
    { length: 4 },
    (_, i) => `(${after.points[2 * i].toFixed(2)}, ${after.points[2 * i + 1].toFixed(2)})`,
  ).join(' '),
);

// What must hold, so that a broken runtime fails this example. (A GAN's last step is noisy: over
// other noise seeds these 400 steps end at a distance of 0.29 to 0.74, from 1.67, with 7 or 8 sectors.)
if (!(after.ringError < before.ringError / 2))
  throw new Error(`the samples did not move to the ring: distance ${before.ringError} -> ${after.ringError}`);
if (!(after.sectors >= 6)) throw new Error(`the samples collapsed onto ${after.sectors} of 8 sectors`);

shutdown(); // releases the device, so that Node exits
