// A restricted Boltzmann machine (RBM from 'wgpu-gen/models') trained on MNIST digits by contrastive
// divergence, and its exact test log-likelihood before and after.
//
// An RBM over binary pixels v and binary hidden units h has the energy E(v, h) = -b.v - c.h - v W h,
// hence p(h_j = 1 | v) = sigmoid(c_j + (v W)_j), p(v_i = 1 | h) = sigmoid(b_i + (W h)_i), and the free
// energy F(v) = -b.v - sum_j softplus(c_j + (v W)_j) with p(v) = exp(-F(v)) / Z. CD-1 (Hinton 2002)
// follows the log-likelihood's gradient <v h>_data - <v h>_model with the model's term from one Gibbs
// step started at the batch: RBM.trainStep() builds that update from tensor ops and Philox draws and
// hands it to SGD with momentum.
//
// With few hidden units the partition function Z is exact: exactLogZ() sums over the 2^hidden hidden
// states (here 2^12), so log p(v) = -F(v) - log Z is the true test log-likelihood, in nats per digit.
// (For a large RBM, aisLogZ() estimates log Z by annealed importance sampling; `npm run train -- rbm`.)
//
// Run: npx tsx examples/rbm.ts        (WGPU_BACKEND=cpu for the CPU reference backend)
import { init, tensor, tidy, noGrad, Generator, shutdown, backendInfo, type Tensor } from 'wgpu-gen';
import { RBM, bernoulli } from 'wgpu-gen/models';
import { loadMnist } from 'wgpu-gen/data';

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
console.log('backend:', backendInfo().name);

const { train, test } = loadMnist();
const nTrain = 1000,
  nTest = 500,
  batch = 50;
const xTrain = tensor(train.images.subarray(0, nTrain * 784), [nTrain, 784]);
// Test digits binarized once by sampling each pixel with its intensity (Salakhutdinov & Murray's MNIST).
const vTest = noGrad(() => bernoulli(tensor(test.images.subarray(0, nTest * 784), [nTest, 784]), new Generator(5)));

const rbm = new RBM({ visible: 784, hidden: 12, k: 1, lr: 0.05, momentum: 0.5, generator: new Generator(1) });
const noise = new Generator(2); // every Gibbs draw and binarization of training: a seeded stream

/** The exact mean test log-likelihood, nats per digit: mean(-F(v)) - log Z. */
async function logLikelihood(): Promise<{ ll: number; logZ: number }> {
  const f = noGrad(() => tidy(() => rbm.freeEnergy(vTest).mean()));
  const meanF = await f.item();
  f.dispose();
  const logZ = await rbm.exactLogZ();
  return { ll: -meanF - logZ, logZ };
}

const before = await logLikelihood();
console.log(
  `before: test log-likelihood ${before.ll.toFixed(2)} nats per digit (log Z ${before.logZ.toFixed(2)}; 784 ln 2 = ${(784 * Math.LN2).toFixed(2)})`,
);

let after = before;
for (let epoch = 0; epoch < 3; epoch++) {
  let rec = 0;
  for (let i = 0; i < nTrain / batch; i++) {
    // One CD-1 step on a batch (trainStep binarizes it by sampling); returns [reconstruction error, F gap].
    const terms: Tensor = tidy(() => rbm.trainStep({ x: xTrain.slice(0, i * batch, (i + 1) * batch) }, noise));
    rec += (await terms.toArray())[0];
    terms.dispose();
  }
  after = await logLikelihood();
  console.log(
    `epoch ${epoch}: one-step reconstruction error ${(rec / (nTrain / batch)).toFixed(2)} pixels^2, test log-likelihood ${after.ll.toFixed(2)} nats`,
  );
}

// A few samples: 200 Gibbs steps from random states. An untrained RBM's average 0.5; a trained one's
// are mostly dark, as digits are (their last p(v | h), a blurry mean image, is brighter than the digits).
const samples = noGrad(() => rbm.sample(16, 200, new Generator(3)));
const sampleMean = await noGrad(() => samples.mean()).item();
const dataMean = await noGrad(() => vTest.mean()).item();
console.log(
  `16 samples after 200 Gibbs steps: mean pixel ${sampleMean.toFixed(3)} (binarized test digits: ${dataMean.toFixed(3)})`,
);

// What must hold, so that a broken runtime fails this example.
if (!(after.ll > before.ll + 150))
  throw new Error(`the test log-likelihood did not rise by 150 nats: ${before.ll} -> ${after.ll}`);
if (!(after.ll < 0)) throw new Error(`a log-likelihood of binary images must be negative, got ${after.ll}`);
if (!(sampleMean < 0.45))
  throw new Error(`the samples' mean intensity is ${sampleMean} (digits: ${dataMean}): the RBM learned nothing`);

shutdown(); // releases the device, so that Node exits
