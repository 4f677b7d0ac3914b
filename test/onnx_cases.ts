// The ONNX export cases shared by the Node suite (test/onnx.test.ts) and the browser one
// (test/onnx_browser.test.ts): the models' exported parts and a zoo of layers covering the primitives'
// lowerings, each run in onnxruntime-web (its WebAssembly CPU backend) against this project's own
// forward on the same inputs, on both backends. No Node imports: the page runs this file as it is.
import { expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { F, Generator, nn, tensor, withBackend, type Backend, type Tensor } from '../src/index.ts';
import { exportModuleOnnx, exportOnnx } from '../src/io/onnx.ts';
import { Classifier, ConvVAE, CycleGAN, DCGAN } from '../src/models/index.ts';
import type { Module } from '../src/nn/module.ts';
import { cpu, getGpu, randomData } from './helpers.ts';

/** Runs the ONNX bytes on `inputs` in onnxruntime; the outputs' values. */
export async function runOnnx(bytes: Uint8Array, inputs: Tensor[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of inputs.entries())
    feeds[session.inputNames[k]] = new ort.Tensor('float32', await t.toArray(), t.shape);
  const out = await session.run(feeds);
  return session.outputNames.map((n: string) => out[n].data as Float32Array);
}

/**
 * onnxruntime's outputs against ours, within `tol` of each output's largest magnitude: 1e-5 for the CPU
 * reference (which sums in float64); 1e-3 on WebGPU, whose float32 sums run in another order than
 * onnxruntime's, which tells for outputs much smaller than their terms (the DCGAN generator's N(0, 0.02)
 * weights give outputs near 1e-4 from terms near 1e-2).
 */
export async function expectSameAsOrt(
  bytes: Uint8Array,
  inputs: Tensor[],
  want: Tensor[],
  what: string,
): Promise<void> {
  const tol = inputs[0].backend.name === 'cpu' ? 1e-5 : 1e-3;
  const got = await runOnnx(bytes, inputs);
  expect(got.length, what).toBe(want.length);
  for (const [k, w] of want.entries()) {
    const ref = await w.toArray();
    expect(got[k].length, `${what} output ${k} size`).toBe(ref.length);
    const scale = Math.max(...ref.map(Math.abs), 1e-6);
    let worst = 0,
      at = 0;
    ref.forEach((v, i) => {
      const e = Math.abs(got[k][i] - v);
      if (!(e <= worst)) [worst, at] = [e, i];
    });
    expect(worst / scale, `${what} output ${k}: onnxruntime ${got[k][at]} for ${ref[at]} at ${at}`).toBeLessThanOrEqual(
      tol,
    );
  }
}

/** A module whose forward runs `f`. */
class Fn extends nn.Module {
  constructor(
    readonly f: (x: Tensor) => Tensor,
    readonly sub?: nn.Module,
  ) {
    super();
    if (sub) this.module('sub', sub);
  }
  forward(x: Tensor): Tensor {
    return this.f(x);
  }
}

/** Defines the shared cases (inside the caller's describe). */
export function onnxCases(): void {
  for (const which of ['cpu', 'webgpu'] as const) {
    const backend = async (): Promise<Backend> => (which === 'cpu' ? cpu : await getGpu());

    it(`the models' exported parts: VAE decoder, DCGAN and CycleGAN generators, classifier (${which})`, async () => {
      const b = await backend();
      await withBackend(b, async () => {
        const vae = new ConvVAE({ zDim: 6, hidden: 4, generator: new Generator(1) });
        const z = tensor(randomData(3 * 6, 2), [3, 6]);
        const dec = (t: Tensor) => vae.decode(t).sigmoid();
        await expectSameAsOrt(await exportModuleOnnx(vae, [z], { fn: dec }), [z], [dec(z)], 'VAE decoder');
        const dcgan = new DCGAN({ zDim: 8, width: 4, generator: new Generator(2) });
        const z8 = tensor(randomData(2 * 8, 3), [2, 8]);
        dcgan.eval();
        const g = dcgan.G.call(z8);
        dcgan.train();
        await expectSameAsOrt(
          await exportModuleOnnx(dcgan.G, [z8]),
          [z8],
          [g],
          'DCGAN generator (batch norm in eval mode)',
        );
        const cyc = new CycleGAN({ width: 4, resBlocks: 1, generator: new Generator(3) });
        const x = tensor(randomData(2 * 784, 4, -1, 1), [2, 1, 28, 28]);
        await expectSameAsOrt(await exportModuleOnnx(cyc.G, [x]), [x], [cyc.G.call(x)], 'CycleGAN generator');
        const clf = new Classifier({ width: 4, generator: new Generator(4) });
        const imgs = tensor(randomData(3 * 784, 5, 0, 1), [3, 784]);
        await expectSameAsOrt(
          await exportModuleOnnx(clf, [imgs], { inputNames: ['images'], outputNames: ['logits'] }),
          [imgs],
          [clf.call(imgs)],
          'classifier',
        );
      });
    });

    it(`a zoo of layers and ops covering the lowerings (${which})`, async () => {
      const b = await backend();
      await withBackend(b, async () => {
        const gen = new Generator(9);
        const x = tensor(randomData(2 * 6 * 7 * 5, 6, -2, 2), [2, 6, 7, 5]);
        const zoo: [string, Module][] = [
          [
            'grouped conv, same padding, GELU',
            new nn.Sequential(
              new nn.Conv2d(6, 4, [2, 3], { groups: 2, padding: 'same', generator: gen }),
              new nn.GELU(),
            ),
          ],
          [
            'depthwise conv, max pool, layer norm',
            new nn.Sequential(
              new nn.Conv2d(6, 6, 3, { groups: 6, padding: 1, generator: gen }),
              new nn.MaxPool2d(2, { ceilMode: true }),
              new nn.LayerNorm([4, 3]),
            ),
          ],
          [
            'transposed conv, group norm, SiLU, softplus',
            new nn.Sequential(
              new nn.ConvTranspose2d(6, 3, 3, { stride: 2, padding: 1, outputPadding: 1, generator: gen }),
              new nn.GroupNorm(3, 3),
              new nn.SiLU(),
              new nn.Softplus({ beta: 2 }),
            ),
          ],
          [
            'bilinear upsample, avg pool, ELU, instance norm',
            new nn.Sequential(
              new nn.Upsample({ scaleFactor: 1.5, mode: 'bilinear' }),
              new nn.AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
              new nn.ELU(),
              new nn.InstanceNorm2d(6),
            ),
          ],
          [
            'reflect and replicate pads, clamp, where, comparisons',
            new Fn((t) =>
              t
                .pad([1, 2, 2, 1], 'reflect')
                .pad([1, 1, 0, 0], 'replicate')
                .clamp(-1, 1.5)
                .where(t.pad([1, 2, 2, 1], 'reflect').pad([1, 1, 0, 0], 'replicate').gt(0), -0.5),
            ),
          ],
          [
            'softmax, log-softmax, logsumexp, amax, var',
            new Fn((t) =>
              t
                .softmax(1)
                .add(t.logSoftmax(-1))
                .add(t.logsumexp(2, true))
                .add(t.amax([2, 3], true))
                .add(t.var(1, true, true)),
            ),
          ],
          [
            'max along a dim, gather, cumsum, erf, pow, sign',
            new Fn((t) =>
              t
                .max(1, true)
                .values.add(t.gather(3, t.argmax(3, true)))
                .mul(t.cumsum(2).erf())
                .add(t.abs().pow(1.5))
                .sub(t.sign()),
            ),
          ],
          ['the int32 casts: int() truncating, float() a view', new Fn((t) => t.mul(2.5).int().float().add(t))],
          ['log1p and expm1 (composed in ONNX)', new Fn((t) => t.abs().log1p().add(t.expm1()))],
          [
            'linear, batch norm (eval), leaky ReLU, sigmoid, tanh, flatten',
            new nn.Sequential(
              new nn.BatchNorm2d(6),
              new nn.Flatten(),
              new nn.Linear(210, 5, { generator: gen }),
              new nn.LeakyReLU(0.1),
              new nn.Sigmoid(),
              new nn.Tanh(),
            ),
          ],
          [
            'cross-entropy with weights and smoothing against probabilities',
            new Fn((t) =>
              F.crossEntropy(t.flatten(2).mean(2), t.flatten(2).mean(2).softmax(1), {
                labelSmoothing: 0.1,
                weight: tensor([1, 2, 3, 1, 2, 3]),
              }),
            ),
          ],
        ];
        for (const [name, m] of zoo) {
          m.eval();
          const want = m.call(x);
          m.train();
          await expectSameAsOrt(await exportModuleOnnx(m, [x]), [x], [want], name);
        }
        // A function of two inputs with two outputs, names given.
        const y = tensor(randomData(7 * 3, 7), [7, 3]);
        const bytes = await exportOnnx(
          (a, c) => [a.flatten(2).matmul(c.add(1)), c.permute([1, 0]).mean(1)],
          [x.reshape([2, 6, 35]).slice(2, 0, 7), y],
          { inputNames: ['a', 'c'], outputNames: ['prod', 'mean'] },
        );
        const a = x.reshape([2, 6, 35]).slice(2, 0, 7);
        await expectSameAsOrt(
          bytes,
          [a, y],
          [a.flatten(2).matmul(y.add(1)), y.permute([1, 0]).mean(1)],
          'two inputs, two outputs',
        );
        const session = await ort.InferenceSession.create(bytes);
        expect([session.inputNames, session.outputNames]).toEqual([
          ['a', 'c'],
          ['prod', 'mean'],
        ]);
      });
    });
  }
}
