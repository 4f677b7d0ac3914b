// ONNX export (src/io/onnx.ts) checked by running the files in onnxruntime (npm onnxruntime-web, its
// WebAssembly CPU backend, which runs in Node too; onnxruntime-node's install script downloads binaries)
// against this project's own forward on the same inputs: the models' exported parts (a VAE decoder, the
// DCGAN and CycleGAN generators, the classifier) and a zoo of layers covering the primitives' lowerings
// (within 1e-5 of each output's largest magnitude); and the errors for what cannot be exported.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, Generator, nn, tensor, withBackend, type Backend, type Tensor } from '../src/index.ts';
import { exportModuleOnnx, exportOnnx } from '../src/io/onnx.ts';
import { buildModel } from '../src/cli/jobs.ts';
import { checkpointTensors } from '../src/io/checkpoint.ts';
import { encodeSafetensors } from '../src/io/safetensors.ts';
import type { ConvVAE } from '../src/models/vae.ts';
import type { Module } from '../src/nn/module.ts';
import { cpu, getGpu, randomData } from './helpers.ts';

ort.env.wasm.numThreads = 1;

/** Runs the ONNX bytes on `inputs` in onnxruntime; the outputs' values. */
async function runOnnx(bytes: Uint8Array, inputs: Tensor[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of inputs.entries()) feeds[session.inputNames[k]] = new ort.Tensor('float32', await t.toArray(), t.shape);
  const out = await session.run(feeds);
  return session.outputNames.map((n: string) => out[n].data as Float32Array);
}

/**
 * onnxruntime's outputs against ours, within `tol` of each output's largest magnitude: 1e-5 for the CPU
 * reference (which sums in float64); 1e-3 on WebGPU, whose float32 sums run in another order than
 * onnxruntime's, which tells for outputs much smaller than their terms (the DCGAN generator's N(0, 0.02)
 * weights give outputs near 1e-4 from terms near 1e-2).
 */
async function expectSameAsOrt(bytes: Uint8Array, inputs: Tensor[], want: Tensor[], what: string): Promise<void> {
  const tol = inputs[0].backend.name === 'cpu' ? 1e-5 : 1e-3;
  const got = await runOnnx(bytes, inputs);
  expect(got.length, what).toBe(want.length);
  for (const [k, w] of want.entries()) {
    const ref = await w.toArray();
    expect(got[k].length, `${what} output ${k} size`).toBe(ref.length);
    const scale = Math.max(...ref.map(Math.abs), 1e-6);
    let worst = 0, at = 0;
    ref.forEach((v, i) => {
      const e = Math.abs(got[k][i] - v);
      if (!(e <= worst)) [worst, at] = [e, i];
    });
    expect(worst / scale, `${what} output ${k}: onnxruntime ${got[k][at]} for ${ref[at]} at ${at}`).toBeLessThanOrEqual(tol);
  }
}

/** A module whose forward runs `f`. */
class Fn extends nn.Module {
  constructor(readonly f: (x: Tensor) => Tensor, readonly sub?: nn.Module) {
    super();
    if (sub) this.module('sub', sub);
  }
  forward(x: Tensor): Tensor {
    return this.f(x);
  }
}

describe('ONNX export, run in onnxruntime', () => {
  for (const which of ['cpu', 'webgpu'] as const) {
    const backend = async (): Promise<Backend> => (which === 'cpu' ? cpu : await getGpu());

    it(`the models' exported parts: VAE decoder, DCGAN and CycleGAN generators, classifier (${which})`, async () => {
      const b = await backend();
      await withBackend(b, async () => {
        const vae = buildModel('vae', { arch: 'conv', zDim: 6, width: 4, seed: 1 }) as unknown as ConvVAE & Module;
        const z = tensor(randomData(3 * 6, 2), [3, 6]);
        const dec = (t: Tensor) => vae.decode(t).sigmoid();
        await expectSameAsOrt(await exportModuleOnnx(vae, [z], { fn: dec }), [z], [dec(z)], 'VAE decoder');
        const dcgan = buildModel('dcgan', { zDim: 8, width: 4, seed: 2 }) as unknown as { G: nn.Sequential } & Module;
        const z8 = tensor(randomData(2 * 8, 3), [2, 8]);
        dcgan.eval();
        const g = dcgan.G.call(z8);
        dcgan.train();
        await expectSameAsOrt(await exportModuleOnnx(dcgan.G, [z8]), [z8], [g], 'DCGAN generator (batch norm in eval mode)');
        const cyc = buildModel('cyclegan', { width: 4, resBlocks: 1, seed: 3 }) as unknown as { G: nn.Sequential } & Module;
        const x = tensor(randomData(2 * 784, 4, -1, 1), [2, 1, 28, 28]);
        await expectSameAsOrt(await exportModuleOnnx(cyc.G, [x]), [x], [cyc.G.call(x)], 'CycleGAN generator');
        const clf = buildModel('classifier', { width: 4, seed: 4 }) as unknown as Module;
        const imgs = tensor(randomData(3 * 784, 5, 0, 1), [3, 784]);
        await expectSameAsOrt(await exportModuleOnnx(clf, [imgs], { inputNames: ['images'], outputNames: ['logits'] }), [imgs], [clf.call(imgs)], 'classifier');
      });
    });

    it(`a zoo of layers and ops covering the lowerings (${which})`, async () => {
      const b = await backend();
      await withBackend(b, async () => {
        const gen = new Generator(9);
        const x = tensor(randomData(2 * 6 * 7 * 5, 6, -2, 2), [2, 6, 7, 5]);
        const zoo: [string, Module][] = [
          ['grouped conv, same padding, GELU', new nn.Sequential(new nn.Conv2d(6, 4, [2, 3], { groups: 2, padding: 'same', generator: gen }), new nn.GELU())],
          ['depthwise conv, max pool, layer norm', new nn.Sequential(new nn.Conv2d(6, 6, 3, { groups: 6, padding: 1, generator: gen }), new nn.MaxPool2d(2, { ceilMode: true }), new nn.LayerNorm([4, 3]))],
          ['transposed conv, group norm, SiLU, softplus', new nn.Sequential(new nn.ConvTranspose2d(6, 3, 3, { stride: 2, padding: 1, outputPadding: 1, generator: gen }), new nn.GroupNorm(3, 3), new nn.SiLU(), new nn.Softplus({ beta: 2 }))],
          ['bilinear upsample, avg pool, ELU, instance norm', new nn.Sequential(new nn.Upsample({ scaleFactor: 1.5, mode: 'bilinear' }), new nn.AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), new nn.ELU(), new nn.InstanceNorm2d(6))],
          ['reflect and replicate pads, clamp, where, comparisons', new Fn((t) => t.pad([1, 2, 2, 1], 'reflect').pad([1, 1, 0, 0], 'replicate').clamp(-1, 1.5).where(t.pad([1, 2, 2, 1], 'reflect').pad([1, 1, 0, 0], 'replicate').gt(0), -0.5))],
          ['softmax, log-softmax, logsumexp, amax, var', new Fn((t) => t.softmax(1).add(t.logSoftmax(-1)).add(t.logsumexp(2, true)).add(t.amax([2, 3], true)).add(t.var(1, true, true)))],
          ['max along a dim, gather, cumsum, erf, pow, sign', new Fn((t) => t.max(1, true).values.add(t.gather(3, t.argmax(3, true))).mul(t.cumsum(2).erf()).add(t.abs().pow(1.5)).sub(t.sign()))],
          ['linear, batch norm (eval), leaky ReLU, sigmoid, tanh, flatten', new nn.Sequential(new nn.BatchNorm2d(6), new nn.Flatten(), new nn.Linear(210, 5, { generator: gen }), new nn.LeakyReLU(0.1), new nn.Sigmoid(), new nn.Tanh())],
          ['cross-entropy with weights and smoothing against probabilities', new Fn((t) => F.crossEntropy(t.flatten(2).mean(2), t.flatten(2).mean(2).softmax(1), { labelSmoothing: 0.1, weight: tensor([1, 2, 3, 1, 2, 3]) }))],
        ];
        for (const [name, m] of zoo) {
          m.eval();
          const want = m.call(x);
          m.train();
          await expectSameAsOrt(await exportModuleOnnx(m, [x]), [x], [want], name);
        }
        // A function of two inputs with two outputs, names given.
        const y = tensor(randomData(7 * 3, 7), [7, 3]);
        const bytes = await exportOnnx((a, c) => [a.flatten(2).matmul(c.add(1)), c.permute([1, 0]).mean(1)], [x.reshape([2, 6, 35]).slice(2, 0, 7), y], { inputNames: ['a', 'c'], outputNames: ['prod', 'mean'] });
        const a = x.reshape([2, 6, 35]).slice(2, 0, 7);
        await expectSameAsOrt(bytes, [a, y], [a.flatten(2).matmul(y.add(1)), y.permute([1, 0]).mean(1)], 'two inputs, two outputs');
        const session = await ort.InferenceSession.create(bytes);
        expect([session.inputNames, session.outputNames]).toEqual([['a', 'c'], ['prod', 'mean']]);
      });
    });
  }

  it('the CLI exports a checkpoint\'s model (export <model> --ckpt FILE --format onnx): VAE decoder and DCGAN generator', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgpu-gen-onnx-'));
    const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
    for (const [model, config] of [['vae', { arch: 'mlp', zDim: 5, seed: 3 }], ['dcgan', { zDim: 8, width: 4, seed: 4 }]] as const) {
      const m = withBackend(cpu, () => buildModel(model, config)) as unknown as Module & { decode(z: Tensor): Tensor; forward(z: Tensor): Tensor };
      const saved = await checkpointTensors(m, []);
      const ckpt = join(dir, `${model}.safetensors`);
      writeFileSync(ckpt, encodeSafetensors(saved.tensors, { model, config: JSON.stringify(config) }));
      const r = spawnSync(tsx, ['src/cli/train.ts', 'export', model, '--ckpt', ckpt, '--format', 'onnx', '--batch', '3', '--backend', 'cpu'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`wrote ${join(dir, `${model}.onnx`)} (ONNX opset 17`);
      const z = tensor(randomData(3 * config.zDim, 8), [3, config.zDim], { backend: cpu });
      const want = withBackend(cpu, () => {
        m.eval();
        return model === 'vae' ? m.decode(z).sigmoid().reshape([3, 1, 28, 28]) : m.forward(z);
      });
      await expectSameAsOrt(readFileSync(join(dir, `${model}.onnx`)), [z], [want], `${model} exported by the CLI`);
    }
    const bad = spawnSync(tsx, ['src/cli/train.ts', 'export', 'vae', '--ckpt', join(dir, 'vae.safetensors'), '--format', 'tflite'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("error: unknown format 'tflite': choose one of onnx");
    rmSync(dir, { recursive: true, force: true });
  });

  it('what cannot be exported is an error naming it', async () => {
    await withBackend(cpu, async () => {
      const x = tensor(randomData(12, 1), [3, 4]);
      await expect(exportOnnx((t) => t.add(F.dropout(t, 0.5, true, new Generator(1))), [x])).rejects.toThrow(/^ONNX export: the function draws random numbers/);
      const bn = new nn.BatchNorm2d(2);
      await expect(exportOnnx((t) => bn.call(t), [tensor(randomData(16, 2), [2, 2, 2, 2])])).rejects.toThrow(/^ONNX export: the function updates state in place \(assign/);
      await expect(exportOnnx(() => 3 as never, [x])).rejects.toThrow(/must return a tensor/);
      await expect(exportOnnx((t) => t, [])).rejects.toThrow(/give at least one example input/);
    });
  });
});
