// What a newcomer writing a model of their own meets (issue 28): PyTorch's habits work.
//   - `this.fc = new nn.Linear(...)` registers the module (and a tensor that requires grad, a
//     parameter) under the attribute's name, in assignment order, as torch.nn.Module.__setattr__ does
//   - a module's forward may return several tensors (Module<In, Out>), and nn.summary lists them
//   - tensors have trunc, floor, ceil and round (halves to even, as torch.round), on both backends
//   - a TensorDataset takes Int32Array labels (an int32 field)
//   - a Node run on a machine without a GPU driver prints no Vulkan loader warning; tensors made before
//     any init() say once that they run on the CPU reference
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, nn, randn, tensor, tidy, type Tensor, type Backend } from '../src/index.ts';
import { TensorDataset, DataLoader } from '../src/data/index.ts';
import { readFileSync } from 'node:fs';
import { MlpVAE, ConvVAE } from '../src/models/vae.ts';
import { MlpGAN } from '../src/models/gan.ts';
import { DCGAN } from '../src/models/dcgan.ts';
import { Classifier } from '../src/models/classifier.ts';
import { CycleGAN } from '../src/models/cyclegan.ts';
import { RBM } from '../src/models/rbm.ts';
import { DBN } from '../src/models/dbn.ts';
import { cpu, forEachBackend } from './helpers.ts';
import { runTsx } from './cli_helpers.ts';

class TinyVAE extends nn.Module<[Tensor], { recon: Tensor; mu: Tensor; logvar: Tensor }> {
  enc: nn.Linear;
  mu: nn.Linear;
  logvar: nn.Linear;
  dec: nn.Sequential;
  scale: Tensor;
  constructor(b: Backend) {
    super();
    const o = { backend: b, generator: new Generator(1) };
    this.enc = new nn.Linear(6, 4, o);
    this.mu = new nn.Linear(4, 2, o);
    this.logvar = new nn.Linear(4, 2, o);
    this.dec = new nn.Sequential(new nn.Linear(2, 4, o), new nn.Tanh(), new nn.Linear(4, 6, o));
    this.scale = tensor([1], [1], { backend: b }).requiresGrad_();
  }
  forward(x: Tensor) {
    const h = this.enc.call(x).tanh();
    const mu = this.mu.call(h),
      logvar = this.logvar.call(h);
    return { recon: this.dec.call(mu).mul(this.scale), mu, logvar };
  }
}

describe("writing a model of one's own, PyTorch-style", () => {
  it('attributes holding modules and trainable tensors are registered under their names, in assignment order', async () => {
    const m = new TinyVAE(cpu);
    // torch's state_dict order for the same class: children's entries in assignment order, then `scale`
    // (PyTorch lists a module's own parameters before its children's: so does this)
    expect([...m.stateDict().keys()]).toEqual([
      'scale',
      'enc.weight',
      'enc.bias',
      'mu.weight',
      'mu.bias',
      'logvar.weight',
      'logvar.bias',
      'dec.0.weight',
      'dec.0.bias',
      'dec.2.weight',
      'dec.2.bias',
    ]);
    expect([...m.namedModules()].map(([n]) => n)).toEqual([
      '',
      'enc',
      'mu',
      'logvar',
      'dec',
      'dec.0',
      'dec.1',
      'dec.2',
    ]);
    // an optimizer sees every parameter (it said "Adam: got an empty parameter list" before)
    const opt = new nn.Adam(m.parameters(), { lr: 0.05 });
    expect(opt.params.length).toBe(11);
    const x = randn([5, 6], { backend: cpu, generator: new Generator(2) });
    const loss = () => {
      const { recon, mu, logvar } = m.call(x);
      return recon.sub(x).square().mean().add(mu.square().mean()).add(logvar.square().mean());
    };
    const first = await tidy(loss).item();
    for (let i = 0; i < 30; i++) {
      tidy(() => {
        opt.zeroGrad();
        const l = loss();
        l.backward();
        opt.step();
      });
    }
    expect(await tidy(loss).item()).toBeLessThan(first * 0.8);
    // eval() reaches the adopted children
    m.eval();
    expect([...m.namedModules()].every(([, c]) => !c.training)).toBe(true);
    // a plain tensor (not requiring grad) is not registered, as in PyTorch; a replaced trainable one is
    const plain = tensor([2], [1], { backend: cpu });
    (m as unknown as { constant: Tensor }).constant = plain;
    expect([...m.stateDict().keys()]).not.toContain('constant');
    m.scale = tensor([3], [1], { backend: cpu }).requiresGrad_();
    expect(m.stateDict().get('scale')).toBe(m.scale);
    // a tensor assigned over a registered buffer of the same name replaces it (the attribute's name is
    // the buffer's: a module that registers `this.stats = this.buffer('stats', ...)`)
    class WithStats extends nn.Module {
      stats: Tensor;
      constructor() {
        super();
        this.stats = this.buffer('stats', tensor([0, 0], [2], { backend: cpu }));
      }
      forward(x: Tensor) {
        return x.add(this.stats);
      }
    }
    const w = new WithStats();
    w.stats = tensor([5, 6], [2], { backend: cpu });
    expect([...w.namedBuffers()].map(([n, t]) => [n, t])).toEqual([['stats', w.stats]]);
    expect([...m.stateDict().keys()].filter((k) => k === 'scale')).toHaveLength(1);
  });

  it('the built-in models keep the state-dict names and shapes of v0.2.0 (its checkpoints still load)', () => {
    // test/fixtures/model_state_keys.json: namedParameters (name:shape), namedBuffers and namedModules of
    // each model at the commit before attribute registration (3678ace^), at these configs.
    const want = JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/model_state_keys.json'), 'utf8'));
    const g = () => new Generator(1),
      b = { backend: cpu };
    const models: Record<string, nn.AnyModule> = {
      mlpvae: new MlpVAE({ generator: g(), ...b }),
      convvae: new ConvVAE({ hidden: 2, generator: g(), ...b }),
      gan: new MlpGAN({ hidden: 8, generator: g(), ...b }),
      dcgan: new DCGAN({ width: 2, zDim: 4, generator: g(), ...b }),
      clf: new Classifier({ width: 2, generator: g(), ...b }),
      clfmlp: new Classifier({ arch: 'mlp', generator: g(), ...b }),
      cycle: new CycleGAN({ width: 2, generator: g(), ...b }),
      rbm: new RBM({ hidden: 8, generator: g(), ...b }),
      dbn: new DBN({ generator: g(), ...b }),
    };
    expect(Object.keys(models)).toEqual(Object.keys(want));
    for (const [k, m] of Object.entries(models)) {
      expect(
        {
          p: [...m.namedParameters()].map(([n, t]) => `${n}:${t.shape}`),
          b: [...m.namedBuffers()].map(([n]) => n),
          m: [...m.namedModules()].map(([n]) => n),
        },
        k,
      ).toEqual(want[k]);
    }
  });

  it('nn.summary lists a module returning several tensors with each shape', () => {
    const m = new TinyVAE(cpu);
    const s = nn.summary(m, randn([3, 6], { backend: cpu }));
    const top = s.rows.find((r) => r.name === '')!;
    expect(top.outputShape).toEqual([
      [3, 6],
      [3, 2],
      [3, 2],
    ]);
    expect(s.text).toMatch(/\[3, 6\] \[3, 2\] \[3, 2\]/);
    expect(s.total).toBe(6 * 4 + 4 + 2 * (4 * 2 + 2) + 2 * 4 + 4 + 4 * 6 + 6 + 1);
  });

  it('a TensorDataset takes Int32Array labels as an int32 field', () => {
    const ds = new TensorDataset({
      x: { data: new Float32Array(6 * 2), itemShape: [2] },
      y: { data: Int32Array.from([0, 1, 2, 3, 4, 5]), itemShape: [] },
    });
    const loader = new DataLoader(ds, { batchSize: 3, seed: 1, backend: cpu });
    const batches = [...loader];
    expect(batches).toHaveLength(2);
    expect(batches[0].y.dtype).toBe('int32');
    expect(ds.fields.y.dtype).toBe('int32');
  });
});

/** Round half to even, from the definition (the reference for torch.round). */
function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x),
    d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

describe('trunc, floor, ceil and round', () => {
  const values = [
    0,
    -0,
    0.5,
    1.5,
    2.5,
    -0.5,
    -1.5,
    -2.5,
    0.49999997,
    -0.49999997,
    1.2,
    -1.2,
    2.7,
    -2.7,
    1e-30,
    -1e-30,
    8388607.5,
    8388609,
    -8388609,
    16777215,
    3.4e38,
    -3.4e38,
    Infinity,
    -Infinity,
    NaN,
  ];
  const expected = {
    trunc: Math.trunc,
    floor: Math.floor,
    ceil: Math.ceil,
    round: roundHalfEven,
  } as const;
  forEachBackend((which, backend) => {
    for (const op of ['trunc', 'floor', 'ceil', 'round'] as const) {
      it(`${which}: ${op} on halves, near-halves, signed zeros, 2^23 and beyond, +-Inf and NaN`, async () => {
        const b = await backend();
        const x = tensor(Float32Array.from(values), [values.length], { backend: b });
        const y = await x[op]().toArray();
        const f32 = Float32Array.from(values);
        f32.forEach((v, i) => {
          const want = expected[op](v);
          if (Number.isNaN(want)) expect(y[i], `${op}(${v})`).toBeNaN();
          else expect(y[i] === want || (y[i] === 0 && want === 0), `${op}(${v}) = ${y[i]}, want ${want}`).toBe(true);
        });
        // int32 stays int32 and unchanged
        const i32 = tensor(Int32Array.from([-3, 0, 7]), [3], { backend: b });
        const r = i32[op]();
        expect(r.dtype).toBe('int32');
        expect([...(await r.toArray())]).toEqual([-3, 0, 7]);
      });
    }
    it(`${which}: no gradient flows through rounding (torch's is zero)`, async () => {
      const b = await backend();
      const x = tensor([0.3, -1.7], [2], { backend: b }).requiresGrad_();
      const l = x.floor().add(x.round()).add(x.ceil()).sum().add(x.sum());
      l.backward();
      expect([...(await x.grad!.toArray())]).toEqual([1, 1]);
    });
  });
});

describe('a quiet start', () => {
  it('init() in Node prints the adapter line and nothing from the Vulkan loader', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quiet-'));
    const script = join(dir, 'run.mts');
    writeFileSync(
      script,
      `import { init, randn, shutdown } from ${JSON.stringify(join(process.cwd(), 'src/index.ts'))};\n` +
        'await init();\nconsole.log((await randn([3]).toArray()).length);\nshutdown();\n',
    );
    const r = runTsx(script);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[wgpu-gen\] adapter: .*\n3\n$/);
    // (Dawn's loader printed "Warning: vkCreateInstance: Found no drivers!" and a stack line from the
    // binding's build machine on every run without a GPU driver)
    expect(r.stderr).not.toMatch(/vkCreateInstance|VulkanError|Warning/);
  }, 60_000);

  it("tensors made before any init() say once that they are on the CPU reference backend; init({ backend: 'cpu' }) is silent", () => {
    const dir = mkdtempSync(join(tmpdir(), 'noinit-'));
    const src = JSON.stringify(join(process.cwd(), 'src/index.ts'));
    const run = (body: string) => {
      writeFileSync(join(dir, 'run.mts'), `import { init, randn } from ${src};\n${body}\n`);
      return runTsx(join(dir, 'run.mts'));
    };
    const bare = run('randn([2]); randn([3]);');
    expect(bare.status, bare.stderr).toBe(0);
    expect(bare.stderr.match(/no init\(\) before the first tensor: using the CPU reference backend/g)).toHaveLength(1);
    const chosen = run("await init({ backend: 'cpu' }); randn([2]);");
    expect(chosen.status, chosen.stderr).toBe(0);
    expect(chosen.stderr).toBe('');
  }, 60_000);
});
