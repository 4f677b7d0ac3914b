// ONNX export (src/io/onnx.ts) checked by running the files in onnxruntime (npm onnxruntime-web, its
// WebAssembly CPU backend, which runs in Node too; onnxruntime-node's install script downloads binaries)
// against this project's own forward on the same inputs: the shared cases of test/onnx_cases.ts (the
// models' exported parts and a zoo of layers, within 1e-5 of each output's largest magnitude; the
// browser suite runs them in Chromium too), the CLI's export command, and the errors for what cannot
// be exported.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, Generator, nn, tensor, withBackend, type Tensor } from '../src/index.ts';
import { exportOnnx } from '../src/io/onnx.ts';
import { buildModel } from '../src/models/registry.ts';
import { checkpointTensors } from '../src/io/checkpoint.ts';
import { encodeSafetensors } from '../src/io/safetensors.ts';
import type { Module } from '../src/nn/module.ts';
import { cpu, randomData } from './helpers.ts';
import { expectSameAsOrt, onnxCases } from './onnx_cases.ts';

ort.env.wasm.numThreads = 1;

describe('ONNX export, run in onnxruntime', () => {
  onnxCases();

  it("the CLI exports a checkpoint's model (export <model> --ckpt FILE --format onnx): VAE decoder and DCGAN generator", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgpu-gen-onnx-'));
    const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
    for (const [model, config] of [
      ['vae', { arch: 'mlp', zDim: 5, seed: 3 }],
      ['dcgan', { zDim: 8, width: 4, seed: 4 }],
    ] as const) {
      const m = withBackend(cpu, () => buildModel(model, config)) as unknown as Module & {
        decode(z: Tensor): Tensor;
        forward(z: Tensor): Tensor;
      };
      const saved = await checkpointTensors(m, []);
      const ckpt = join(dir, `${model}.safetensors`);
      writeFileSync(ckpt, encodeSafetensors(saved.tensors, { model, config: JSON.stringify(config) }));
      const r = spawnSync(
        tsx,
        ['src/cli/train.ts', 'export', model, '--ckpt', ckpt, '--format', 'onnx', '--batch', '3', '--backend', 'cpu'],
        { encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`wrote ${join(dir, `${model}.onnx`)} (ONNX opset 17`);
      const z = tensor(randomData(3 * config.zDim, 8), [3, config.zDim], { backend: cpu });
      const want = withBackend(cpu, () => {
        m.eval();
        return model === 'vae' ? m.decode(z).sigmoid().reshape([3, 1, 28, 28]) : m.forward(z);
      });
      await expectSameAsOrt(readFileSync(join(dir, `${model}.onnx`)), [z], [want], `${model} exported by the CLI`);
    }
    const bad = spawnSync(
      tsx,
      ['src/cli/train.ts', 'export', 'vae', '--ckpt', join(dir, 'vae.safetensors'), '--format', 'tflite'],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("error: unknown format 'tflite': choose one of onnx");
    rmSync(dir, { recursive: true, force: true });
  });

  it('what cannot be exported is an error naming it', async () => {
    await withBackend(cpu, async () => {
      const x = tensor(randomData(12, 1), [3, 4]);
      await expect(exportOnnx((t) => t.add(F.dropout(t, 0.5, true, new Generator(1))), [x])).rejects.toThrow(
        /^ONNX export: the function draws random numbers/,
      );
      const bn = new nn.BatchNorm2d(2);
      await expect(exportOnnx((t) => bn.call(t), [tensor(randomData(16, 2), [2, 2, 2, 2])])).rejects.toThrow(
        /^ONNX export: the function updates state in place \(assign/,
      );
      await expect(exportOnnx(() => 3 as never, [x])).rejects.toThrow(/must return a tensor/);
      await expect(exportOnnx((t) => t, [])).rejects.toThrow(/give at least one example input/);
    });
  });
});
