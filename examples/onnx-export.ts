// Export a model's forward to ONNX, to run it where wgpu-gen is not: onnxruntime (web, Node, Python,
// native), or any other ONNX runtime.
//
// exportModuleOnnx(model, exampleInputs, options) (from 'wgpu-gen/io') traces the forward once with
// compile()'s tracer and writes an opset-17 model: the shapes are the example's (here batch 1), the
// parameters and buffers are initializers under their state-dict names, and the module is traced in
// eval mode (batch norm uses its running statistics, dropout is off) and put back in train mode after.
// A forward that draws random numbers, or updates state in place, is refused with an error saying so.
//
// If the npm package onnxruntime-web is installed (`npm i onnxruntime-web`; its WebAssembly backend runs
// in Node), the example runs the file there and compares its outputs with wgpu-gen's; otherwise it says
// so and checks the file's size only.
//
// Run: npx tsx examples/onnx-export.ts [out.onnx]        (WGPU_BACKEND=cpu for the CPU backend)
// The model is written to the path given, or into a new temporary directory that is removed at the end.
import { init, nn, F, rand, tidy, noGrad, shutdown, backendInfo, type Tensor } from 'wgpu-gen';
import { exportModuleOnnx } from 'wgpu-gen/io';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small convolutional classifier of 28 x 28 images into 10 classes. */
class SmallCnn extends nn.Module {
  conv1 = new nn.Conv2d(1, 8, 3, { padding: 1 });
  bn1 = new nn.BatchNorm2d(8);
  conv2 = new nn.Conv2d(8, 16, 3, { stride: 2, padding: 1 });
  head = new nn.Linear(16 * 7 * 7, 10);

  forward(x: Tensor): Tensor {
    let h = F.maxPool2d(this.bn1.call(this.conv1.call(x)).relu(), 2); // [n, 8, 14, 14]
    h = this.conv2.call(h).relu(); // [n, 16, 7, 7]
    return this.head.call(h.flatten(1)); // [n, 10] logits
  }
}

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
const backend = backendInfo().name;
console.log('backend:', backend);

const model = new SmallCnn();
// A few forward passes in train mode give batch norm running statistics of its own (they are exported).
for (let i = 0; i < 3; i++)
  tidy(() => {
    model.call(rand([16, 1, 28, 28]));
  });

const example = rand([1, 1, 28, 28]);
const bytes = await exportModuleOnnx(model, [example], {
  inputNames: ['image'],
  outputNames: ['logits'],
  name: 'small_cnn',
});
const path = process.argv[2] ?? join(mkdtempSync(join(tmpdir(), 'wgpu-gen-onnx-')), 'small_cnn.onnx');
writeFileSync(path, bytes);

const values = model.parameters().reduce((s, p) => s + p.size, 0);
console.log(
  `wrote ${path}: ${statSync(path).size} bytes, ONNX opset 17, input 'image' [1, 1, 28, 28], output 'logits' [1, 10]`,
);
console.log(`initializers: ${[...model.stateDict().keys()].join(', ')}`);
if (!(bytes.length >= 4 * values))
  throw new Error(`the file holds ${bytes.length} bytes, less than the ${values} float32 parameters`);
if (!model.training) throw new Error('the module should be back in train mode after the export');

// The reference: this model's forward in eval mode on some other input of the exported shape.
const input = rand([1, 1, 28, 28]);
model.eval();
const want = await noGrad(() => model.call(input)).toArray();
model.train();
console.log('wgpu-gen logits:', Array.from(want.slice(0, 5), (v) => v.toFixed(4)).join(' '), '...');

// onnxruntime-web, if it is installed (a name in a variable: no type dependency on it).
const ortPackage = 'onnxruntime-web';
/** The part of onnxruntime-web's API used here. */
interface Ort {
  env: { wasm: { numThreads: number } };
  InferenceSession: {
    create(
      model: Uint8Array,
    ): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>> }>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}
let ort: Ort | null = null;
try {
  ort = (await import(ortPackage)) as Ort;
} catch {
  console.log(`${ortPackage} is not installed (npm i ${ortPackage}): the file was not run`);
}
if (ort) {
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(readFileSync(path));
  const feeds = { image: new ort.Tensor('float32', await input.toArray(), [1, 1, 28, 28]) };
  const got: Float32Array = (await session.run(feeds)).logits.data;
  const scale = Math.max(...want.map(Math.abs));
  const worst = want.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0) / scale;
  console.log('onnxruntime logits:', Array.from(got.slice(0, 5), (v) => v.toFixed(4)).join(' '), '...');
  console.log(`largest difference, relative to the largest logit: ${worst.toExponential(2)}`);
  // float32 on both sides; WebGPU's sums run in another order than onnxruntime's.
  const tolerance = backend === 'cpu' ? 1e-5 : 1e-3;
  if (!(worst <= tolerance))
    throw new Error(`onnxruntime's output differs from wgpu-gen's by ${worst} (allowed ${tolerance})`);
}

if (!process.argv[2]) rmSync(join(path, '..'), { recursive: true });
shutdown(); // releases the device, so that Node exits
