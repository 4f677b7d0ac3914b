// Interop with PyTorch both ways (python/wgpu_gen.py, run with Debian's python3-torch, which
// scripts/setup.sh installs): for every model of src/models, a checkpoint trained here for a few steps
// loads into the PyTorch twin with a strict load_state_dict and gives the same outputs on the same
// inputs (the "test numbers": each model's outputs in eval mode, and its losses); and a state dict that
// PyTorch trained for a few steps of its own, with its own Adam and random numbers, loads here (strict)
// and gives PyTorch's outputs, on the CPU reference and on WebGPU. Tolerance: 1e-4 relative to each
// output's largest magnitude.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, Generator, tensor, tidy, withBackend, type Backend, type Tensor } from '../src/index.ts';
import { buildModel, type ModelConfig, type ModelName } from '../src/models/registry.ts';
import { checkpointTensors, restoreCheckpoint } from '../src/io/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../src/io/safetensors.ts';
import type { MlpVAE } from '../src/models/vae.ts';
import type { GAN } from '../src/models/gan.ts';
import type { DCGAN } from '../src/models/dcgan.ts';
import type { CycleGAN } from '../src/models/cyclegan.ts';
import type { Classifier } from '../src/models/classifier.ts';
import type { Trainable } from '../src/models/model.ts';
import type { Module } from '../src/nn/module.ts';
import { cpu, getGpu, randomData } from './helpers.ts';

const PYTHON = '/usr/bin/python3';
const python = (...args: string[]) => {
  const r = spawnSync(PYTHON, ['python/wgpu_gen.py', ...args], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    throw new Error(
      `python/wgpu_gen.py ${args[0]} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}\n(PyTorch comes from Debian's python3-torch: bash scripts/setup.sh installs it)`,
    );
};

const CASES: { model: ModelName; config: ModelConfig; zDim: number }[] = [
  { model: 'vae', config: { arch: 'mlp', zDim: 8, lr: 1e-3, seed: 1 }, zDim: 8 },
  { model: 'vae', config: { arch: 'conv', zDim: 6, width: 4, lr: 1e-3, seed: 2 }, zDim: 6 },
  { model: 'gan', config: { lr: 1e-3, seed: 3 }, zDim: 2 },
  { model: 'dcgan', config: { zDim: 16, width: 4, lr: 2e-4, seed: 4 }, zDim: 16 },
  { model: 'classifier', config: { width: 4, lr: 1e-3, seed: 5 }, zDim: 0 },
  { model: 'cyclegan', config: { width: 4, resBlocks: 1, lambda: 10, identity: 0.1, lr: 2e-4, seed: 6 }, zDim: 0 },
];

const N = 4;
/** The inputs both sides evaluate and train on: images x, y in [0, 1], codes z, noise eps, labels. */
function inputs(model: ModelName, zDim: number): Map<string, NamedArray> {
  const m = new Map<string, NamedArray>();
  const put = (k: string, shape: number[], data: Float32Array) => m.set(k, { shape, data });
  if (model === 'gan') put('x', [N, 2], randomData(2 * N, 11, -1, 1));
  else put('x', model === 'cyclegan' ? [N, 1, 28, 28] : [N, 784], randomData(784 * N, 12, 0, 1));
  put('y', [N, 1, 28, 28], randomData(784 * N, 13, 0, 1));
  if (zDim) {
    put('z', [N, zDim], randomData(zDim * N, 14, -2, 2));
    put('eps', [N, zDim], randomData(zDim * N, 15, -2, 2));
  }
  put('labels', [N], Float32Array.from([3, 0, 9, 3]));
  return m;
}

/** The outputs python/wgpu_gen.py's evaluate() gives, computed here (eval mode). */
function evaluate(model: ModelName, m: Trainable & Module, t: Map<string, Tensor>): Map<string, Tensor> {
  m.eval();
  const out = new Map<string, Tensor>();
  const x = t.get('x')!;
  if (model === 'vae') {
    const v = m as unknown as MlpVAE;
    const { mu, logvar } = v.encode(x);
    const logits = v.decode(mu.add(logvar.mul(0.5).exp().mul(t.get('eps')!)));
    out
      .set('mu', mu)
      .set('logvar', logvar)
      .set('logits', logits)
      .set('rec', F.bceWithLogits(logits, x, 'none').sum(1).mean().reshape([1]))
      .set('kl', F.gaussianKL(mu, logvar).mean().reshape([1]));
  } else if (model === 'gan' || model === 'dcgan') {
    const g = m as unknown as GAN & DCGAN;
    const real = model === 'gan' ? x : x.reshape([N, 1, 28, 28]).mul(2).sub(1);
    out
      .set('fake', g.G.call(t.get('z')!))
      .set('real_logits', g.D.call(real))
      .set('fake_logits', g.D.call(g.G.call(t.get('z')!)));
  } else if (model === 'classifier') {
    const logits = (m as unknown as Classifier).forward(x);
    out.set('logits', logits).set('loss', F.crossEntropy(logits, t.get('labels')!).reshape([1]));
  } else {
    const c = m as unknown as CycleGAN;
    const sx = x.mul(2).sub(1),
      sy = t.get('y')!.mul(2).sub(1);
    const gx = c.G.call(sx);
    out
      .set('gx', gx)
      .set('fy', c.F.call(sy))
      .set('fgx', c.F.call(gx))
      .set('dx', c.D_X.call(sx))
      .set('dy', c.D_Y.call(sy));
  }
  m.train();
  return out;
}

async function expectSame(got: Map<string, Tensor>, want: Map<string, NamedArray>, what: string): Promise<void> {
  expect([...got.keys()].sort(), what).toEqual([...want.keys()].sort());
  for (const [k, w] of want) {
    const g = got.get(k)!;
    expect(g.size, `${what} ${k} size`).toBe(w.data.length);
    const a = await g.toArray();
    const scale = Math.max(...w.data.map(Math.abs), 1e-6);
    let worst = 0,
      at = 0;
    w.data.forEach((v, i) => {
      const e = Math.abs(a[i] - v);
      if (!(e <= worst)) [worst, at] = [e, i];
    });
    expect(
      worst / scale,
      `${what} ${k}: ${a[at]} for ${w.data[at]} at ${at} (max |value| ${scale})`,
    ).toBeLessThanOrEqual(1e-4);
  }
}

describe('PyTorch interop (python/wgpu_gen.py with python3-torch)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgpu-gen-interop-'));
  for (const c of CASES) {
    const name = `${c.model}${c.config.arch ? ` (${c.config.arch})` : ''}`;
    it(`${name}: trained here, evaluated by PyTorch; trained by PyTorch, loaded and evaluated here`, async () => {
      const data = inputs(c.model, c.zDim);
      const ins = join(dir, `${name}.in.safetensors`),
        ckpt = join(dir, `${name}.ckpt.safetensors`);
      writeFileSync(ins, encodeSafetensors(data));
      const asTensors = (b: Backend) =>
        new Map([...data].map(([k, v]) => [k, tensor(v.data, v.shape, { backend: b })]));
      // Three training steps here (CPU reference), then the checkpoint as the CLI writes it.
      const here = withBackend(cpu, () => buildModel(c.model, c.config)) as Trainable & Module;
      const t = asTensors(cpu);
      const batch = { x: t.get('x')!, y: t.get('y')!, labels: t.get('labels')! };
      for (let s = 0; s < 3; s++)
        withBackend(cpu, () => tidy(() => here.trainStep(batch, new Generator(20 + s)).dispose()));
      const saved = await checkpointTensors(here, here.optimizers());
      writeFileSync(
        ckpt,
        encodeSafetensors(saved.tensors, { ...saved.metadata, model: c.model, config: JSON.stringify(c.config) }),
      );
      python('eval', '--ckpt', ckpt, '--inputs', ins, '--out', join(dir, `${name}.torch-eval.safetensors`));
      const torchEval = decodeSafetensors(readFileSync(join(dir, `${name}.torch-eval.safetensors`))).tensors;
      await expectSame(
        withBackend(cpu, () => evaluate(c.model, here, t)),
        torchEval,
        `${name} trained here`,
      );

      // PyTorch trains on from that checkpoint; its state dict loads here (strict) and gives its numbers.
      const trained = join(dir, `${name}.torch-trained.safetensors`);
      python('train', '--ckpt', ckpt, '--inputs', ins, '--steps', '3', '--out', trained);
      python('eval', '--ckpt', trained, '--inputs', ins, '--out', join(dir, `${name}.torch-trained-eval.safetensors`));
      const back = decodeSafetensors(readFileSync(trained), trained);
      expect(back.metadata.trained_by).toMatch(/^PyTorch /);
      // PyTorch's steps moved the weights (so loading them back is not the checkpoint of before).
      const moved = [...back.tensors].some(([k, v]) => v.data.some((x, i) => x !== saved.tensors.get(k)!.data[i]));
      expect(moved, `${name}: PyTorch's training changed no weight`).toBe(true);
      const want = decodeSafetensors(readFileSync(join(dir, `${name}.torch-trained-eval.safetensors`))).tensors;
      for (const b of [cpu, await getGpu()] as Backend[]) {
        const m = withBackend(b, () => buildModel(c.model, c.config)) as Trainable & Module;
        await restoreCheckpoint(back, m, [], trained);
        await expectSame(
          withBackend(b, () => evaluate(c.model, m, asTensors(b))),
          want,
          `${name} trained by PyTorch, on ${b.name}`,
        );
      }
    });
  }
  it("trained under torchrun's environment (2 processes, gloo, the batch sharded): the weights of one process's whole-batch training", async () => {
    // Debian's torchrun (PyTorch 1.13 on Python 3.11) fails in its elastic agent before starting a
    // worker, so the two workers are started here with the variables torchrun gives them.
    const data = inputs('classifier', 0),
      ins = join(dir, 'ddp.in.safetensors'),
      ckpt = join(dir, 'ddp.ckpt.safetensors');
    writeFileSync(ins, encodeSafetensors(data));
    const config = { width: 4, seed: 7 };
    const m = withBackend(cpu, () => buildModel('classifier', config)) as Trainable & Module;
    const saved = await checkpointTensors(m, []);
    writeFileSync(ckpt, encodeSafetensors(saved.tensors, { model: 'classifier', config: JSON.stringify(config) }));
    const one = join(dir, 'ddp.one.safetensors'),
      first = join(dir, 'ddp.first.safetensors'),
      two = join(dir, 'ddp.two.safetensors');
    const lr = 1e-3;
    const trainArgs = (steps: number, out: string) => [
      'train',
      '--ckpt',
      ckpt,
      '--inputs',
      ins,
      '--steps',
      String(steps),
      '--lr',
      String(lr),
      '--out',
      out,
    ];
    python(...trainArgs(2, one));
    python(...trainArgs(1, first));
    const workers = [0, 1].map((rank) =>
      spawn(PYTHON, ['python/wgpu_gen.py', ...trainArgs(2, two)], {
        env: {
          ...process.env,
          WORLD_SIZE: '2',
          RANK: String(rank),
          LOCAL_RANK: String(rank),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(29500 + (process.pid % 400)),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    const codes = await Promise.all(
      workers.map(
        (w) =>
          new Promise<[number | null, string]>((resolve) => {
            let err = '';
            w.stderr!.on('data', (d) => (err += d));
            w.on('close', (code) => resolve([code, err]));
          }),
      ),
    );
    codes.forEach(([code, err], rank) => expect(code, `worker ${rank}: ${err}`).toBe(0));
    const a = decodeSafetensors(readFileSync(one)).tensors,
      b = decodeSafetensors(readFileSync(two)).tensors,
      a1 = decodeSafetensors(readFileSync(first)).tensors;
    expect([...b.keys()]).toEqual([...a.keys()]);
    // Adam's first update is lr g / (|g| + eps) (eps 1e-8), so where a gradient is within a thousand eps
    // of 0 but not 0 (0 < |update| < lr 1000/1001) the float32 rounding of g, which differs between the
    // whole batch and the two shards' averaged halves, moves the update by up to lr |dg| / eps (a CI run
    // saw 1.07e-5 of the tensor's largest weight): such an element is held only to what Adam can move
    // it by, 2 lr (1 + 1.0014) over the two steps (|m^/sqrt(v^)| <= 1 at step 1 and <= 1.0014 at step 2
    // for betas 0.9, 0.999, by Cauchy-Schwarz). Elsewhere the update is
    // insensitive to that rounding (or g is 0 in both: a unit no example reaches), and the two runs agree
    // to 1e-5 of the tensor's largest weight.
    let tight = 0,
      loose = 0;
    for (const [k, v] of a) {
      const scale = Math.max(...v.data.map(Math.abs), 1e-6);
      const w0 = saved.tensors.get(k)!.data,
        w1 = a1.get(k)!.data;
      v.data.forEach((x, i) => {
        const d = Math.abs(b.get(k)!.data[i] - x);
        const u1 = Math.abs(w1[i] - w0[i]);
        if (u1 > 0 && u1 < (lr * 1000) / 1001) {
          loose++;
          expect(d, `${k}[${i}], a gradient near 0`).toBeLessThanOrEqual(2 * lr * (1 + 1.0014));
        } else {
          tight++;
          expect(d / scale, `${k}[${i}]`).toBeLessThanOrEqual(1e-5);
        }
      });
    }
    // The check's power is in the elements held tightly: a gradient averaged wrongly moves all of them.
    expect(tight, `${tight} elements held to 1e-5, ${loose} near a zero gradient`).toBeGreaterThan(loose);
    await restoreCheckpoint(
      decodeSafetensors(readFileSync(two), two),
      withBackend(cpu, () => buildModel('classifier', config)) as Trainable & Module,
      [],
      two,
    );
  });

  it('a file of another architecture is refused by the strict load, naming the keys', () => {
    const data = inputs('vae', 8),
      ins = join(dir, 'bad.in.safetensors'),
      ckpt = join(dir, 'bad.ckpt.safetensors');
    writeFileSync(ins, encodeSafetensors(data));
    writeFileSync(
      ckpt,
      encodeSafetensors(new Map([['enc.weight', { shape: [2, 2], data: new Float32Array(4) }]]), {
        model: 'vae',
        config: '{"zDim":8}',
      }),
    );
    expect(() => python('eval', '--ckpt', ckpt, '--inputs', ins, '--out', join(dir, 'bad.out.safetensors'))).toThrow(
      /Missing key\(s\) in state_dict: "enc.bias"/,
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
