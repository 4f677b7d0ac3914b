// Weights in PyTorch's names, both ways, through safetensors files.
//
// A model built from the same layers in the same order has the same state-dict names and shapes here
// and in PyTorch: a Sequential's children are 0, 1, 2, ..., a Linear holds weight [out, in] and bias.
// So `torch.nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))` loads this example's file with
// a strict load_state_dict, and its state dict saved as safetensors loads back here with a strict
// loadStateDict().
//
// With a python3 that has PyTorch (set PYTHON, or have `python3`; on Debian, `apt-get install
// python3-torch` puts it in /usr/bin/python3), the example runs PyTorch on the file: PyTorch computes
// the model's outputs and takes 5 SGD steps, wgpu-gen takes the same 5 steps, and the two must agree.
// The Python side reads and writes safetensors with the 20-line reader of the package's python/
// directory (python/wgpu_gen.py, which needs PyTorch only; `safetensors.torch.load_file` reads the same
// files). Without PyTorch it says so and checks the TypeScript side alone.
//
// Run: npx tsx examples/pytorch-interop.ts [directory]        (WGPU_BACKEND=cpu for the CPU backend)
// The files go into the directory given, or a new temporary one that is removed at the end.
import { init, nn, F, randn, tidy, noGrad, manualSeed, Generator, shutdown, backendInfo, type Tensor } from 'wgpu-gen';
import { checkpointTensors, saveSafetensors, loadSafetensors, type NamedArray } from 'wgpu-gen/io';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
const backend = backendInfo().name;
console.log('backend:', backend);
const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'wgpu-gen-interop-'));

/** torch.nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3)), layer for layer. */
const makeModel = () => new nn.Sequential(new nn.Linear(4, 16), new nn.Tanh(), new nn.Linear(16, 3));
manualSeed(0);
const model = makeModel();
const data = new Generator(1);
const x = randn([8, 4], { generator: data }),
  y = randn([8, 3], { generator: data });

/** Tensors as named arrays (what the safetensors functions take). */
const named = async (ts: Record<string, Tensor>) =>
  new Map<string, NamedArray>(
    await Promise.all(
      Object.entries(ts).map(
        async ([k, t]) => [k, { shape: t.shape, data: await t.toArray() }] as [string, NamedArray],
      ),
    ),
  );
/** The largest difference between two arrays, relative to the first's largest magnitude. */
const relDiff = (want: Float32Array, got: Float32Array) =>
  want.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0) / Math.max(...want.map(Math.abs), 1e-6);
const tolerance = backend === 'cpu' ? 1e-5 : 1e-4;

// 1. The model's weights under PyTorch's names (checkpointTensors without optimizers: the state dict).
const modelPath = join(dir, 'model.safetensors'),
  dataPath = join(dir, 'data.safetensors');
const { tensors } = await checkpointTensors(model);
saveSafetensors(modelPath, tensors, { note: 'written by wgpu-gen' });
saveSafetensors(dataPath, await named({ x, y }));
console.log(`wrote ${modelPath}:`, [...tensors].map(([k, v]) => `${k} [${v.shape.join(', ')}]`).join(', '));

// 2. A file as PyTorch's safetensors writes it (no wgpu-gen metadata, no checksum), read back here: the
// format is an 8-byte little-endian header length, a JSON header (name -> dtype, shape, byte offsets)
// and the raw little-endian values.
function writeAsPyTorch(path: string, arrays: Map<string, NamedArray>): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [k, v] of arrays) {
    header[k] = { dtype: 'F32', shape: v.shape, data_offsets: [offset, offset + 4 * v.data.length] };
    offset += 4 * v.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the header is padded to 8 bytes
  const bytes = new Uint8Array(8 + json.length + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const v of arrays.values()) {
    bytes.set(new Uint8Array(v.data.buffer, v.data.byteOffset, 4 * v.data.length), at);
    at += 4 * v.data.length;
  }
  writeFileSync(path, bytes);
}
const ptPath = join(dir, 'as_pytorch.safetensors');
writeAsPyTorch(ptPath, tensors);
const fromPt = makeModel();
await fromPt.loadStateDict(loadSafetensors(ptPath).tensors); // strict: every name, every shape
const [a, b] = noGrad(() => [model.call(x), fromPt.call(x)]);
const sameOutputs = relDiff(await a.toArray(), await b.toArray());
console.log(
  `a PyTorch-style file (metadata ${JSON.stringify(loadSafetensors(ptPath).metadata)}) loads strictly: outputs differ by ${sameOutputs}`,
);
if (sameOutputs !== 0) throw new Error('the model loaded from the PyTorch-style file computes other outputs');

// 3. PyTorch itself, if a python3 with torch is here.
const PYTHON_SIDE = `
import sys, torch
sys.path.insert(0, sys.argv[1])                   # the wgpu-gen package's python/ directory
from wgpu_gen import load_safetensors, save_safetensors
model_path, data_path, out_path, trained_path = sys.argv[2:6]
m = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
weights, meta = load_safetensors(model_path)
m.load_state_dict(weights, strict=True)           # the same names and shapes, or an error
t, _ = load_safetensors(data_path)
with torch.no_grad():
    before = m(t['x'])
opt = torch.optim.SGD(m.parameters(), lr=0.1)
for _ in range(5):
    opt.zero_grad()
    torch.nn.functional.mse_loss(m(t['x']), t['y']).backward()
    opt.step()
with torch.no_grad():
    after = m(t['x'])
save_safetensors(out_path, {'before': before, 'after': after}, {})
save_safetensors(trained_path, m.state_dict(), {'trained_by': f'PyTorch {torch.__version__}'})
print(f"PyTorch {torch.__version__}: loaded {meta.get('note')!r} strictly, took 5 SGD steps")
`;
const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
const python = candidates.find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
if (!python) {
  console.log(`no python3 with PyTorch found (tried ${candidates.join(', ')}): the PyTorch side is skipped`);
} else {
  // python/ ships in the package: find it from the package's own package.json.
  const pythonDir = join(dirname(createRequire(import.meta.url).resolve('wgpu-gen/package.json')), 'python');
  const script = join(dir, 'torch_side.py'),
    outPath = join(dir, 'torch_out.safetensors'),
    trainedPath = join(dir, 'torch_trained.safetensors');
  writeFileSync(script, PYTHON_SIDE);
  const r = spawnSync(python, [script, pythonDir, modelPath, dataPath, outPath, trainedPath], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${python} ${script} failed:\n${r.stderr}`);
  console.log(r.stdout.trim());
  const torchOut = loadSafetensors(outPath).tensors;

  // PyTorch's outputs of our weights against ours.
  const ours = await noGrad(() => model.call(x)).toArray();
  const dBefore = relDiff(torchOut.get('before')!.data, ours);

  // The same 5 SGD steps here, then the weights and the outputs compared.
  const opt = new nn.SGD(model.parameters(), { lr: 0.1 });
  for (let s = 0; s < 5; s++)
    tidy(() => {
      opt.zeroGrad();
      F.mse(model.call(x), y).backward();
      opt.step();
    });
  const trained = loadSafetensors(trainedPath);
  let dWeights = 0;
  for (const [k, t] of model.stateDict())
    dWeights = Math.max(dWeights, relDiff(trained.tensors.get(k)!.data, await t.toArray()));
  // PyTorch's trained state dict, loaded strictly into a fresh model here, computes PyTorch's outputs.
  const fromTorch = makeModel();
  await fromTorch.loadStateDict(trained.tensors);
  const dAfter = relDiff(torchOut.get('after')!.data, await noGrad(() => fromTorch.call(x)).toArray());
  console.log(
    `${trained.metadata.trained_by}'s numbers against wgpu-gen's (relative): outputs ${dBefore.toExponential(2)}, ` +
      `weights after 5 SGD steps ${dWeights.toExponential(2)}, outputs of PyTorch's weights loaded here ${dAfter.toExponential(2)}`,
  );
  if (!(dBefore <= tolerance && dWeights <= tolerance && dAfter <= tolerance))
    throw new Error(`PyTorch and wgpu-gen disagree beyond ${tolerance}`);
}

if (!process.argv[2]) rmSync(dir, { recursive: true });
shutdown(); // releases the device, so that Node exits
