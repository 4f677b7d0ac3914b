// A Module of your own, written PyTorch's way, trained with Adam.
//
// The task: classify 2-D points as on the inner or the outer of two noisy concentric rings (a problem no
// linear model solves). The model is a subclass of nn.Module whose layers are plain attributes:
// `this.fc1 = new nn.Linear(...)` registers fc1 as a child, as torch.nn.Module.__setattr__ does, and a
// tensor that requires grad assigned to an attribute becomes a parameter. Its state dict then has
// PyTorch's names, in PyTorch's order (a module's own parameters first, then its children's).
//
// Run: npx tsx examples/custom-module.ts        (WGPU_BACKEND=cpu for the CPU reference backend)
import { init, nn, F, tensor, zeros, tidy, noGrad, shutdown, backendInfo, type Tensor } from 'wgpu-gen';

/** A two-layer residual MLP with dropout and a learned output scale (a "temperature"). */
class RingClassifier extends nn.Module {
  logScale: Tensor;
  fc1: nn.Linear;
  fc2: nn.Linear;
  drop: nn.Dropout;
  head: nn.Linear;

  constructor(hidden = 32, classes = 2) {
    super();
    // A tensor that requires grad, assigned to an attribute: registered as the parameter `logScale`.
    this.logScale = zeros([1]).requiresGrad_();
    // Modules assigned to attributes: registered as children fc1, fc2, drop, head, in this order.
    this.fc1 = new nn.Linear(2, hidden);
    this.fc2 = new nn.Linear(hidden, hidden);
    this.drop = new nn.Dropout(0.1); // active in train(), the identity in eval()
    this.head = new nn.Linear(hidden, classes);
  }

  forward(x: Tensor): Tensor {
    const h = F.gelu(this.fc1.call(x));
    const r = h.add(this.drop.call(F.gelu(this.fc2.call(h)))); // a residual branch
    return this.head.call(r).mul(this.logScale.exp()); // class logits, scaled
  }
}

/** n points: label 0 on a ring of radius 1, label 1 on one of radius 2, radial noise 0.25 (host data). */
function rings(n: number, seed: number): { x: Tensor; y: Tensor } {
  let s = seed >>> 0;
  const uniform = () => ((s = (s + 0x6d2b79f5) >>> 0), (((s ^ (s >>> 15)) * (s | 1)) >>> 0) / 2 ** 32); // a tiny seeded PRNG
  const xs = new Float32Array(2 * n),
    ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    ys[i] = i % 2;
    const r = 1 + ys[i] + 0.25 * (uniform() * 2 - 1),
      a = 2 * Math.PI * uniform();
    xs[2 * i] = r * Math.cos(a);
    xs[2 * i + 1] = r * Math.sin(a);
  }
  return { x: tensor(xs, [n, 2]), y: tensor(ys, [n]) }; // y: an int32 tensor of class indices
}

await init(); // WebGPU, or the backend WGPU_BACKEND names (webgpu | cpu)
console.log('backend:', backendInfo().name);

const model = new RingClassifier();
const names = [...model.stateDict().keys()];
console.log('parameters:', names.join(' '));
const expected = ['logScale', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'head.weight', 'head.bias'];
if (names.join() !== expected.join())
  throw new Error(`unexpected parameter names: ${names.join()} (expected ${expected.join()})`);
const count = model.parameters().reduce((s, p) => s + p.size, 0);
console.log('trainable values:', count);

const train = rings(512, 1),
  test = rings(512, 2);
const opt = new nn.Adam(model.parameters(), { lr: 1e-2 });

/** Test accuracy in eval mode (no dropout), without recording a graph. */
async function accuracy(): Promise<number> {
  model.eval();
  const acc = noGrad(() => tidy(() => model.call(test.x).argmax(1).eq(test.y).float().mean()));
  const value = await acc.item();
  acc.dispose();
  model.train();
  return value;
}

const accBefore = await accuracy();
let first = NaN,
  last = NaN;
for (let step = 0; step < 100; step++) {
  // One step: the graph of the forward, backward and the update freed by tidy(), the loss kept.
  const loss = tidy(() => {
    opt.zeroGrad();
    const l = F.crossEntropy(model.call(train.x), train.y);
    l.backward();
    opt.step();
    return l;
  });
  if (step === 0 || step === 99 || step % 50 === 0) {
    const v = await loss.item(); // a readback waits for the device: only every few steps
    if (step === 0) first = v;
    last = v;
    console.log(`step ${String(step).padStart(3)}  loss ${v.toFixed(4)}`);
  }
  loss.dispose();
}
const accAfter = await accuracy();
const scale = Math.exp(await model.logScale.item());
console.log(
  `test accuracy ${(100 * accBefore).toFixed(1)}% -> ${(100 * accAfter).toFixed(1)}%; learned output scale ${scale.toFixed(3)}`,
);

// What must hold, so that a broken runtime fails this example.
if (!(last < first / 4)) throw new Error(`the loss did not fall enough: ${first} -> ${last}`);
if (!(accAfter > 0.95)) throw new Error(`test accuracy ${accAfter} after training (expected > 95%)`);
if (!Number.isFinite(scale) || scale === 1) throw new Error(`logScale was not trained (scale ${scale})`);

shutdown(); // releases the device, so that Node exits
