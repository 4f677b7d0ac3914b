// A page that trains a model in the browser: a plain Vite app (no Vite config) that imports the package
// by its name, 'wgpu-gen' (its browser entry: WebGPU through navigator.gpu, the WGSL kernels inside the
// JavaScript, no Node module), calls `await init()`, and trains an MLP to tell apart the points of two
// noisy concentric rings, writing the loss into the page as it falls. At the end it draws the classes
// the model gives the plane under the test points, and sets `document.body.dataset.done` (what
// test/vite_example.test.ts waits for in headless Chromium; any error is in #error).
//
// Run: npm run build (in this repository 'wgpu-gen' resolves to the built dist/), then
// npx vite examples/vite-page, and open the address it prints in a browser with WebGPU (a recent Chrome
// or Edge; Chromium on Linux with --enable-unsafe-webgpu, as the test runs it). In a project of your own:
// npm i wgpu-gen, and this index.html and main.ts in a Vite app, as they are.
import { init, nn, F, tensor, compile, tidy, noGrad, manualSeed, backendInfo, type Tensor } from 'wgpu-gen';

const STEPS = 60;

const el = (id: string): HTMLElement => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`index.html has no element #${id}`);
  return e;
};
const log = (line: string) => {
  const pre = el('log');
  pre.textContent += line + '\n';
  pre.scrollTop = pre.scrollHeight;
};

/** n points: label 0 on a ring of radius 1, label 1 on one of radius 2, radial noise 0.25 (host data). */
function rings(n: number, seed: number): { xs: Float32Array; ys: Int32Array } {
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
  return { xs, ys };
}

/** The test points over the class the model gives each pixel of the square [-3, 3]^2. */
async function draw(model: nn.Module<[Tensor], Tensor>, test: { xs: Float32Array; ys: Int32Array }) {
  const canvas = el('plane') as HTMLCanvasElement;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const side = 60,
    px = canvas.width / side,
    toPlane = (k: number) => -3 + (6 * (k + 0.5)) / side;
  const grid = new Float32Array(2 * side * side);
  for (let i = 0; i < side; i++)
    for (let j = 0; j < side; j++) {
      grid[2 * (i * side + j)] = toPlane(j);
      grid[2 * (i * side + j) + 1] = toPlane(side - 1 - i);
    }
  const classes = noGrad(() => tidy(() => model.call(tensor(grid, [side * side, 2])).argmax(1)));
  const c = await classes.toArray();
  classes.dispose();
  for (let k = 0; k < side * side; k++) {
    ctx.fillStyle = c[k] === 0 ? '#dbe8f7' : '#f7e3d3';
    ctx.fillRect((k % side) * px, Math.floor(k / side) * px, px, px);
  }
  for (let i = 0; i < test.ys.length; i++) {
    ctx.fillStyle = test.ys[i] === 0 ? '#1f5fa8' : '#c45a10';
    const [x, y] = [test.xs[2 * i], test.xs[2 * i + 1]];
    ctx.fillRect(((x + 3) / 6) * canvas.width - 1, ((3 - y) / 6) * canvas.height - 1, 2, 2);
  }
}

async function main(): Promise<void> {
  await init(); // WebGPU (it throws where the browser has none: the message says so in #error)
  const info = backendInfo();
  el('backend').textContent = `backend: ${info.name} (${info.description})`;
  document.body.dataset.backend = info.name;

  manualSeed(1); // the weights' initialization, as torch.manual_seed
  const model = new nn.Sequential(
    new nn.Linear(2, 32),
    new nn.Tanh(),
    new nn.Linear(32, 32),
    new nn.Tanh(),
    new nn.Linear(32, 2),
  );
  const opt = new nn.Adam(model.parameters(), { lr: 0.01 });
  const train = rings(512, 1),
    test = rings(512, 2);
  const x = tensor(train.xs, [512, 2]),
    y = tensor(train.ys, [512]); // int32 class indices
  // The training step, compiled: traced on its first calls, then replayed (one recorded submission).
  const step = compile((x: Tensor, y: Tensor) =>
    tidy(() => {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.call(x), y);
      loss.backward();
      opt.step();
      return loss;
    }),
  );

  const losses: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) {
    const loss = step(x, y);
    losses.push(await loss.item()); // reading the loss waits for the GPU; the page redraws meanwhile
    loss.dispose();
    log(`step ${String(i + 1).padStart(2)}: loss ${losses[i].toPrecision(4)}`);
    el('last').textContent = losses[i].toPrecision(4);
    if (i === 0) el('first').textContent = losses[0].toPrecision(4);
  }
  const ms = (performance.now() - t0) / STEPS;
  const { traces, replays } = step.stats;
  log(`${STEPS} steps, ${ms.toFixed(1)} ms each (compiled: ${traces} trace, ${replays} replays)`);

  const xt = tensor(test.xs, [512, 2]),
    yt = tensor(test.ys, [512]);
  const acc = noGrad(() => tidy(() => model.call(xt).argmax(1).eq(yt).float().mean()));
  el('accuracy').textContent = `${(100 * (await acc.item())).toFixed(1)}%`;
  await draw(model, test);
  for (const t of [x, y, xt, yt, acc]) t.dispose();
  step.dispose();
}

main()
  .catch((e: unknown) => {
    el('error').textContent = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    console.error(e);
  })
  .finally(() => {
    document.body.dataset.done = 'true';
  });
