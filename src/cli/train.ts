// The training CLI (the project's main job):
//   npm run train -- train vae [--dataset mnist|fashion] [--epochs N] [--batch N] [--lr X] [--zdim N]
//                              [--seed N] [--backend webgpu|cpu] [--out DIR] [--resume CKPT]
//   npm run train -- eval vae --ckpt CKPT [--dataset ...]      test negative ELBO, printed and as JSON
//   npm run train -- sample vae --ckpt CKPT [--out DIR]        a PNG grid of samples
// A run writes metrics.jsonl, PNG grids (samples, reconstructions, the 2-D latent manifold for z = 2)
// and safetensors checkpoints (written atomically; optimizer state and RNG offsets included, so
// --resume continues the same trajectory) to its out directory. A NaN or Inf loss stops the run with a
// clear message and leaves the last good checkpoint in place. Uses only the public API, src/data and src/io.

import { parseArgs } from 'node:util';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { init, nn, tidy, noGrad, tensor, randn, stack, Generator, sync, shutdown, backendInfo, kernelChoices, setKernelChoices, type Tensor } from '../index.ts';
import { MlpVAE } from '../models/vae.ts';
import { loadMnist, loadFashionMnist, Batches, type Split } from '../data/index.ts';
import { saveSafetensors, loadSafetensors, type NamedArray } from '../io/safetensors.ts';
import { writeImageGrid } from '../io/png.ts';
import { writeLossCurves, type Series } from '../io/plot.ts';

const COMMANDS = ['train', 'eval', 'sample'] as const;
const MODELS = ['vae', 'gan', 'dcgan', 'cyclegan'] as const;
const READY_MODELS = ['vae'];
const DATASETS = ['mnist', 'fashion'] as const;
const BACKENDS = ['webgpu', 'cpu'] as const;

class UsageError extends Error {}

function choice<T extends string>(name: string, value: string, valid: readonly T[]): T {
  if (!valid.includes(value as T)) throw new UsageError(`unknown ${name} '${value}': choose one of ${valid.join(', ')}`);
  return value as T;
}

function num(name: string, v: string | undefined, dflt: number, integer = false, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n <= min) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} greater than ${min}, got '${v}'`);
  }
  return n;
}

function parse(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        dataset: { type: 'string' }, epochs: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
        zdim: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' },
        resume: { type: 'string' }, ckpt: { type: 'string' }, 'train-size': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help || positionals.length === 0) throw new UsageError('');
  // `npm run train -- vae` is short for `train vae`.
  const [cmdRaw, modelRaw] = (COMMANDS as readonly string[]).includes(positionals[0]) ? positionals : ['train', ...positionals];
  const command = choice('command', cmdRaw, COMMANDS);
  if (!modelRaw) throw new UsageError(`missing model: choose one of ${MODELS.join(', ')}`);
  const model = choice('model', modelRaw, MODELS);
  if (!READY_MODELS.includes(model)) throw new UsageError(`model '${model}' is not available yet: the trainable models are ${READY_MODELS.join(', ')}`);
  if (positionals.length > 2 + ((COMMANDS as readonly string[]).includes(positionals[0]) ? 0 : -1)) {
    throw new UsageError(`unexpected argument '${positionals.at(-1)}'`);
  }
  const opts = {
    command, model,
    dataset: choice('dataset', v.dataset ?? 'mnist', DATASETS),
    epochs: num('epochs', v.epochs, 3, true),
    batch: num('batch', v.batch, 128, true),
    lr: num('lr', v.lr, 1e-3),
    zdim: num('zdim', v.zdim, 20, true),
    seed: v.seed === undefined ? 0 : num('seed', v.seed, 0, true, -1),
    backend: choice('backend', v.backend ?? 'webgpu', BACKENDS),
    out: v.out ?? `runs/${model}-${v.dataset ?? 'mnist'}`,
    resume: v.resume,
    ckpt: v.ckpt,
    trainSize: v['train-size'] === undefined ? undefined : num('train-size', v['train-size'], 0, true),
  };
  if (command !== 'train' && !opts.ckpt) throw new UsageError(`${command} needs --ckpt <checkpoint.safetensors>`);
  return opts;
}
type Opts = ReturnType<typeof parse>;

const USAGE = `usage: npm run train -- [train|eval|sample] <${MODELS.join('|')}> [options]
  --dataset ${DATASETS.join('|')} (mnist)   --epochs N (3)   --batch N (128)   --lr X (1e-3)
  --zdim N (20)   --seed N (0)   --backend ${BACKENDS.join('|')} (webgpu)   --out DIR (runs/<model>-<dataset>)
  --resume CKPT (continue a run)   --ckpt CKPT (for eval and sample)
  --train-size N (train on the first N training images only: quick runs and tests)`;

function loadData(name: Opts['dataset']): Split {
  return name === 'mnist' ? loadMnist() : loadFashionMnist();
}

async function toNamed(t: Tensor): Promise<NamedArray> {
  return { shape: t.shape, data: await t.toArray() };
}

/** Model parameters by their PyTorch-style names, plus optimizer slots as optim.<name>.<m|v>. */
async function checkpointTensors(model: nn.Module, opt: nn.Adam | null): Promise<Map<string, NamedArray>> {
  const out = new Map<string, NamedArray>();
  for (const [k, t] of model.stateDict()) out.set(k, await toNamed(t));
  if (opt) {
    const names = [...model.namedParameters()].map(([k]) => k);
    const state = opt.stateTensors();
    for (let i = 0; i < names.length; i++) {
      const [m, v] = state[i];
      if (m) out.set(`optim.${names[i]}.m`, await toNamed(m));
      if (v) out.set(`optim.${names[i]}.v`, await toNamed(v));
    }
  }
  return out;
}

async function restore(path: string, model: nn.Module, opt: nn.Adam | null) {
  const { tensors, metadata } = loadSafetensors(path);
  const own = new Map([...tensors].filter(([k]) => !k.startsWith('optim.')));
  try {
    await model.loadStateDict(own as Map<string, { shape: number[]; data: Float32Array }>);
  } catch (e) {
    throw new Error(`${path} does not fit this model (a different architecture or --zdim?): ${(e as Error).message}`);
  }
  if (opt) {
    const names = [...model.namedParameters()].map(([k]) => k);
    const slots = names.map((n) => [tensors.get(`optim.${n}.m`), tensors.get(`optim.${n}.v`)] as const);
    opt.loadState(slots.map(([m, v]) => (m && v ? [m.data, v.data] : null)), Number(metadata.optimizer_step ?? 0));
  }
  return metadata;
}

interface EvalResult {
  negElbo: number;
  rec: number;
  kl: number;
}

/**
 * Test negative ELBO in nats per image over every test image, in chunks of 100 (independent of the
 * training batch size), with one z sample per image from a fixed generator.
 */
async function evaluate(vae: MlpVAE, data: Split): Promise<EvalResult> {
  const gen = new Generator(12345);
  const chunk = 100, set = data.test;
  let rec = 0, kl = 0;
  for (let start = 0; start < set.n; start += chunk) {
    const m = Math.min(chunk, set.n - start);
    const t = noGrad(() => tidy(() => vae.elbo(tensor(set.images.subarray(start * 784, (start + m) * 784), [m, 784]), gen)));
    rec += (await t.rec.item()) * m;
    kl += (await t.kl.item()) * m;
    for (const x of Object.values(t)) x.dispose();
  }
  return { negElbo: (rec + kl) / set.n, rec: rec / set.n, kl: kl / set.n };
}

async function writePictures(vae: MlpVAE, data: Split, out: string): Promise<string[]> {
  const files: string[] = [];
  await noGrad(async () => {
    const z = randn([64, vae.zDim], { generator: new Generator(777) });
    const samples = tidy(() => vae.decode(z).sigmoid());
    writeImageGrid(join(out, 'samples.png'), await samples.toArray(), 64, 28, 28, 8);
    files.push('samples.png');
    const x = tensor(data.test.images.subarray(0, 32 * 784), [32, 784]);
    const recon = tidy(() => vae.forward(x));
    const both = new Float32Array(64 * 784);
    const r = await recon.toArray();
    for (let i = 0; i < 4; i++) {
      both.set(data.test.images.subarray(i * 8 * 784, (i + 1) * 8 * 784), i * 16 * 784);
      both.set(r.subarray(i * 8 * 784, (i + 1) * 8 * 784), (i * 16 + 8) * 784);
    }
    writeImageGrid(join(out, 'reconstructions.png'), both, 64, 28, 28, 8);
    files.push('reconstructions.png');
    if (vae.zDim === 2) {
      // Kingma-Welling's manifold figure: decoder means on a 20x20 grid of Gaussian quantiles.
      const k = 20, grid = new Float32Array(k * k * 2);
      const probit = (p: number) => Math.SQRT2 * erfinv(2 * p - 1);
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
        grid[2 * (i * k + j)] = probit((j + 0.5) / k);
        grid[2 * (i * k + j) + 1] = probit(1 - (i + 0.5) / k);
      }
      const m = tidy(() => vae.decode(tensor(grid, [k * k, 2])).sigmoid());
      writeImageGrid(join(out, 'manifold.png'), await m.toArray(), k * k, 28, 28, k, 1);
      files.push('manifold.png');
    }
  });
  return files;
}

/** Inverse error function (Giles, "Approximating the erfinv function", GPU Computing Gems, 2011). */
function erfinv(x: number): number {
  let w = -Math.log((1 - x) * (1 + x)), p: number;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-8;
    for (const c of [3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]) p = c + p * w;
  } else {
    w = Math.sqrt(w) - 3;
    p = -0.000200214257;
    for (const c of [0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]) p = c + p * w;
  }
  return p * x;
}

async function train(o: Opts): Promise<void> {
  mkdirSync(o.out, { recursive: true });
  const data = loadData(o.dataset);
  if (o.trainSize !== undefined) {
    const n = Math.min(o.trainSize, data.train.n);
    data.train = { ...data.train, n, images: data.train.images.subarray(0, n * 784), labels: data.train.labels.subarray(0, n) };
  }
  const vae = new MlpVAE({ zDim: o.zdim, generator: new Generator(o.seed) });
  const opt = new nn.Adam(vae.parameters(), { lr: o.lr });
  const batches = new Batches(data.train, o.batch, o.seed);
  const eps = new Generator(o.seed + 1);
  let startEpoch = 0;
  const ckptPath = join(o.out, 'checkpoint.safetensors');
  if (o.resume) {
    const meta = await restore(o.resume, vae, opt);
    startEpoch = Number(meta.epoch ?? 0);
    eps.setState(JSON.parse(meta.eps_generator ?? '{"seed":"0","offset":0}'));
    setKernelChoices(JSON.parse(meta.kernel_choices ?? '{}'));
    console.log(`resumed from ${o.resume} at epoch ${startEpoch}`);
  } else {
    writeFileSync(join(o.out, 'metrics.jsonl'), '');
  }
  // Warm-up: one forward/backward and one evaluation batch, with a throwaway generator and no update,
  // so the kernel tuner has measured every shape before the first real step (kernel choices are then
  // fixed for the run, and saved with the checkpoints for --resume).
  {
    const { images } = batches.load(0, 0);
    tidy(() => vae.elbo(images, new Generator(0)).loss.backward());
    vae.zeroGrad();
    await evaluate(vae, { ...data, test: { ...data.test, n: Math.min(100, data.test.n) } });
    await sync();
  }
  const info = backendInfo();
  console.log(`training vae (z=${o.zdim}) on ${o.dataset}: ${data.train.n} train / ${data.test.n} test images, batch ${o.batch}, ` +
    `${o.epochs} epochs, Adam lr ${o.lr}, on ${info.name} (${info.description})`);
  // Loss curves: per-step training -ELBO (from the resumed step on, after --resume) and per-epoch test
  // -ELBO (earlier epochs read back from metrics.jsonl on resume).
  const curves: Series[] = [{ name: 'train -ELBO (per step)', points: [] }, { name: 'test -ELBO (per epoch)', points: [] }];
  if (o.resume && existsSync(join(o.out, 'metrics.jsonl'))) {
    for (const line of readFileSync(join(o.out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as { epoch: number; step: number; test_neg_elbo: number };
      if (r.epoch <= startEpoch) curves[1].points.push([r.step, r.test_neg_elbo]);
    }
  }
  const bar = new cliProgress.SingleBar({
    format: 'epoch {epoch} |{bar}| {value}/{total} steps | loss {loss} (rec {rec} + kl {kl}) | {ips} img/s | ETA {eta_formatted}',
    hideCursor: true, noTTYOutput: true, notTTYSchedule: 5000,
  }, cliProgress.Presets.shades_classic);
  for (let epoch = startEpoch; epoch < o.epochs; epoch++) {
    bar.start(batches.perEpoch, 0, { epoch: epoch + 1, loss: '-', rec: '-', kl: '-', ips: '-' });
    const t0 = performance.now();
    let sum = { loss: 0, rec: 0, kl: 0 };
    for (const { images, index } of batches.epoch(epoch)) {
      const terms = tidy(() => {
        opt.zeroGrad();
        const t = vae.elbo(images, eps);
        t.loss.backward();
        opt.step();
        return t;
      });
      // One readback per step for the three numbers (each readback waits for the queue).
      const both = stack([terms.loss, terms.rec, terms.kl]);
      const [loss, rec, kl] = await both.toArray();
      both.dispose();
      for (const x of Object.values(terms)) x.dispose();
      if (!Number.isFinite(loss)) {
        bar.stop();
        throw new Error(`the loss became ${loss} at epoch ${epoch + 1}, step ${index + 1} (rec ${rec}, kl ${kl}): stopping; ` +
          `the last good checkpoint is ${ckptPath} (try a lower --lr)`);
      }
      sum = { loss: sum.loss + loss, rec: sum.rec + rec, kl: sum.kl + kl };
      curves[0].points.push([epoch * batches.perEpoch + index + 1, loss]);
      const ips = ((index + 1) * o.batch) / ((performance.now() - t0) / 1e3);
      bar.update(index + 1, { loss: loss.toFixed(2), rec: rec.toFixed(2), kl: kl.toFixed(2), ips: ips.toFixed(0) });
    }
    bar.stop();
    const seconds = (performance.now() - t0) / 1e3;
    const test = await evaluate(vae, data);
    const n = batches.perEpoch;
    const record = {
      epoch: epoch + 1, step: (epoch + 1) * n, train_neg_elbo: sum.loss / n, train_rec: sum.rec / n, train_kl: sum.kl / n,
      test_neg_elbo: test.negElbo, test_rec: test.rec, test_kl: test.kl, images_per_s: (n * o.batch) / seconds,
    };
    appendFileSync(join(o.out, 'metrics.jsonl'), JSON.stringify(record) + '\n');
    curves[1].points.push([record.step, test.negElbo]);
    writeLossCurves(join(o.out, 'loss.svg'), `VAE z=${o.zdim} on ${o.dataset}: negative ELBO (nats per image)`, curves);
    console.log(`epoch ${epoch + 1}: train -ELBO ${record.train_neg_elbo.toFixed(2)}, test -ELBO ${test.negElbo.toFixed(2)} nats ` +
      `(rec ${test.rec.toFixed(2)} + KL ${test.kl.toFixed(2)}), ${record.images_per_s.toFixed(0)} img/s`);
    saveSafetensors(ckptPath, await checkpointTensors(vae, opt), {
      model: 'vae', zdim: String(o.zdim), dataset: o.dataset, epoch: String(epoch + 1),
      optimizer_step: String(opt.stepCount), eps_generator: JSON.stringify(eps.getState()),
      kernel_choices: JSON.stringify(Object.fromEntries(kernelChoices().map((c) => [c.key, c.chosen]))),
    });
  }
  const files = await writePictures(vae, data, o.out);
  console.log(`wrote ${join(o.out, 'metrics.jsonl')}, ${join(o.out, 'loss.svg')}, ${ckptPath} and ${files.map((f) => join(o.out, f)).join(', ')}`);
}

async function evalCmd(o: Opts): Promise<void> {
  const data = loadData(o.dataset);
  const meta = loadSafetensors(o.ckpt!).metadata;
  const vae = new MlpVAE({ zDim: Number(meta.zdim ?? o.zdim) });
  await restore(o.ckpt!, vae, null);
  const r = await evaluate(vae, data);
  const out = { model: 'vae', dataset: o.dataset, checkpoint: o.ckpt, test_neg_elbo: r.negElbo, test_rec: r.rec, test_kl: r.kl };
  console.log(JSON.stringify(out, null, 2));
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify(out, null, 2));
}

async function sampleCmd(o: Opts): Promise<void> {
  const meta = loadSafetensors(o.ckpt!).metadata;
  const vae = new MlpVAE({ zDim: Number(meta.zdim ?? o.zdim) });
  await restore(o.ckpt!, vae, null);
  mkdirSync(o.out, { recursive: true });
  const files = await writePictures(vae, loadData(o.dataset), o.out);
  console.log(`wrote ${files.map((f) => join(o.out, f)).join(', ')}`);
}

async function main(): Promise<number> {
  let o: Opts;
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message ? `error: ${e.message}\n${USAGE}` : USAGE);
      return 2;
    }
    throw e;
  }
  await init({ backend: o.backend });
  try {
    if (o.command === 'train') await train(o);
    else if (o.command === 'eval') await evalCmd(o);
    else await sampleCmd(o);
  } finally {
    await sync();
    shutdown();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
