// The deep belief network (src/models/dbn.ts): its variational lower bound against the bound and the
// exact log p(v) enumerated in float64 from the same weights (a DBN small enough to sum over every
// hidden state), greedy stacking (stackOn copies the trained layer, only the top RBM trains, the layers
// below keep their weights), top-down samples, a compiled step equal to the eager one, the CLI's
// train dbn --lower (its bound, samples, eval, resume) and the errors.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { compile, Generator, tensor, withBackend, type Backend } from '../src/index.ts';
import { RBM, bernoulli } from '../src/models/rbm.ts';
import { DBN } from '../src/models/dbn.ts';
import { cpu, forEachBackend, getGpu, randomData } from './helpers.ts';
import { runCli } from './cli_helpers.ts';

const softplus = (a: number) => Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
const bits = (mask: number, n: number) => Array.from({ length: n }, (_, j) => (mask >> j) & 1);

/** A 2-layer DBN V -> H1 -> H2 with random weights and biases of scale s. */
async function small(b: Backend, V: number, H1: number, H2: number, seed: number, s = 1): Promise<DBN> {
  const m = withBackend(b, () => new DBN({ visible: V, layers: [H1, H2], generator: new Generator(seed) }));
  let k = 0;
  for (const rbm of [m.layer(0), m.layer(1)]) {
    b.write(rbm.W.storage, randomData(rbm.visible * rbm.hidden, seed + ++k, -s, s));
    b.write(rbm.vbias.storage, randomData(rbm.visible, seed + ++k, -s, s));
    b.write(rbm.hbias.storage, randomData(rbm.hidden, seed + ++k, -s, s));
  }
  return m;
}

/**
 * From the math, in float64: the exact log p(v) = log sum_h1 p(v | h1) p(h1) of a 2-layer DBN, with
 * p(h1) = exp(-F_top(h1)) / Z_top (Z_top enumerated over h1 and h2), and the exact variational bound
 * sum_h1 Q(h1 | v) [log p(v | h1) + log p(h1)] + H(Q). Also what the Monte Carlo estimate's error is
 * made of: the variance under Q of one draw's term log p(v | h1) + log p(h1) (with two layers the
 * entropy H(Q) depends on v alone, so it is the same in every draw), the largest |value| of a draw, and
 * the largest sum of the absolute values of a draw's terms (their float32 rounding).
 */
async function exact(
  m: DBN,
  v: number[],
): Promise<{
  logPv: number;
  bound: number;
  logZTop: number;
  drawVariance: number;
  drawMax: number;
  drawMagnitude: number;
}> {
  const [l0, l1] = [m.layer(0), m.layer(1)];
  const [W0, b0, c0, W1, b1, c1] = await Promise.all(
    [l0.W, l0.vbias, l0.hbias, l1.W, l1.vbias, l1.hbias].map((t) => t.toArray()),
  );
  const V = l0.visible,
    H1 = l0.hidden,
    H2 = l1.hidden;
  // Each term function also adds the absolute values of its terms to `mag`.
  let mag = 0;
  const freeTop = (h: number[]) => {
    let f = 0;
    for (let i = 0; i < H1; i++) {
      f -= b1[i] * h[i];
      mag += Math.abs(b1[i] * h[i]);
    }
    for (let j = 0; j < H2; j++) {
      let a = c1[j];
      for (let i = 0; i < H1; i++) a += h[i] * W1[i * H2 + j];
      f -= softplus(a);
      mag += softplus(a);
    }
    return f;
  };
  const lse = (xs: number[]) => {
    const mx = Math.max(...xs);
    return mx + Math.log(xs.reduce((s, x) => s + Math.exp(x - mx), 0));
  };
  const logZTop = lse(Array.from({ length: 2 ** H1 }, (_, mask) => -freeTop(bits(mask, H1))));
  const logPvGiven = (h: number[]) => {
    let s = 0;
    for (let i = 0; i < V; i++) {
      let a = b0[i];
      for (let j = 0; j < H1; j++) a += W0[i * H1 + j] * h[j];
      s += v[i] * a - softplus(a);
      mag += Math.abs(v[i] * a) + softplus(a);
    }
    return s;
  };
  const q = Array.from({ length: H1 }, (_, j) => {
    let a = c0[j];
    for (let i = 0; i < V; i++) a += v[i] * W0[i * H1 + j];
    return 1 / (1 + Math.exp(-a));
  });
  const entropy = -q.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0) + (p < 1 ? (1 - p) * Math.log(1 - p) : 0), 0);
  const joint: number[] = [],
    weight: number[] = [];
  let bound = 0,
    drawMax = 0,
    drawMagnitude = 0;
  for (let mask = 0; mask < 2 ** H1; mask++) {
    const h = bits(mask, H1);
    mag = Math.abs(entropy) + Math.abs(logZTop);
    const logJoint = logPvGiven(h) - freeTop(h) - logZTop;
    drawMagnitude = Math.max(drawMagnitude, mag);
    drawMax = Math.max(drawMax, Math.abs(entropy + logJoint));
    joint.push(logJoint);
    const logQ = h.reduce((s, x, j) => s + Math.log(x ? q[j] : 1 - q[j]), 0);
    weight.push(Math.exp(logQ));
    bound += Math.exp(logQ) * (logJoint - logQ);
  }
  const mean = joint.reduce((s, x, k) => s + weight[k] * x, 0);
  const drawVariance = joint.reduce((s, x, k) => s + weight[k] * (x - mean) ** 2, 0);
  return { logPv: lse(joint), bound, logZTop, drawVariance, drawMax, drawMagnitude };
}

describe('DBN', () => {
  forEachBackend((which, backend) => {
    it(`its lower bound estimate matches the enumerated bound, which is below the exact log p(v) (${which})`, async () => {
      const b = await backend();
      const V = 6,
        H1 = 4,
        H2 = 3;
      const m = await small(b, V, H1, H2, 20);
      const images = [
        [1, 0, 1, 1, 0, 0],
        [0, 0, 0, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
      ];
      const logZ = await m.layer(1).exactLogZ();
      const S = 20_000;
      const got = await withBackend(b, () =>
        m.lowerBound(tensor(images.flat(), [3, V]), logZ, S, new Generator(5)),
      ).toArray();
      for (const [r, v] of images.entries()) {
        const e = await exact(m, v);
        expect(Math.abs(e.logZTop - logZ), "the top RBM's log Z").toBeLessThan(1e-4);
        expect(e.bound, `image ${r}: the bound is below log p(v)`).toBeLessThan(e.logPv);
        // A mean over S draws of h1 from Q: 6 standard errors (a normal tail of 2e-9); its float32
        // rounding, a sum of S values in any order, (S - 1) u max|draw|, and each draw's own sums, under
        // 64 terms, 64 u times their absolute values (Higham 4.2, u = 2^-24); and log Z_top as the
        // backend computed it against the enumeration.
        const u = 2 ** -24;
        const tol =
          6 * Math.sqrt(e.drawVariance / S) +
          (S - 1) * u * e.drawMax +
          64 * u * e.drawMagnitude +
          Math.abs(e.logZTop - logZ);
        expect(
          Math.abs(got[r] - e.bound),
          `image ${r}: estimate ${got[r]} vs the bound ${e.bound} (log p(v) ${e.logPv}; tolerance ${tol})`,
        ).toBeLessThan(tol);
      }
    });
  });

  it('stacks greedily: stackOn copies the RBM below, only the top trains, the layer below keeps its weights', async () => {
    await withBackend(cpu, async () => {
      const V = 20,
        H1 = 8,
        H2 = 6,
        n = 16;
      // The RBM below, with strong weights: its posterior states of the data are nearly deterministic
      // (a trained layer's are structured; an untrained one's are coin flips, with nothing to learn).
      const rbm = new RBM({ visible: V, hidden: H1, generator: new Generator(1) });
      cpu.write(rbm.W.storage, randomData(V * H1, 4, -3, 3));
      cpu.write(rbm.hbias.storage, randomData(H1, 5, -1, 1));
      // Four images, each four times: the states below the top take four patterns, for the top to learn.
      const four = randomData(4 * V, 3).map((x) => (x > 0 ? 1 : 0));
      const data = tensor(
        Array.from({ length: n * V }, (_, i) => four[i % (4 * V)]),
        [n, V],
      );
      const dbn = new DBN({ visible: V, layers: [H1, H2], lr: 0.2, generator: new Generator(2) });
      await dbn.stackOn(rbm);
      const w0 = await rbm.W.toArray();
      expect(await dbn.layer(0).W.toArray()).toEqual(w0);
      expect(await dbn.layer(0).hbias.toArray()).toEqual(await rbm.hbias.toArray());
      expect(dbn.optimizers()).toEqual([dbn.top.opt]);
      const top0 = await dbn.top.W.toArray();
      // The top RBM's objective, exactly: the log-likelihood of the states below it (sampled once, 4 draws
      // per image), with log Z enumerated over its 2^6 hidden states.
      const states = bernoulli(
        dbn.layer(0).hiddenProb(
          tensor(
            Array.from({ length: 4 * n * V }, (_, i) => four[i % (4 * V)]),
            [4 * n, V],
          ),
        ),
        new Generator(77),
      );
      const ll0 = await dbn.top.logLikelihood(states, await dbn.top.exactLogZ());
      const recs: number[] = [];
      for (let s = 0; s < 100; s++) {
        const out = dbn.trainStep({ x: data }, new Generator(200 + s));
        recs.push((await out.toArray())[0]);
        out.dispose();
      }
      expect(await dbn.layer(0).W.toArray(), 'the layer below is frozen').toEqual(w0);
      expect(await dbn.top.W.toArray()).not.toEqual(top0);
      const mean = (xs: number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;
      expect(
        mean(recs.slice(-10)),
        `the top RBM's reconstruction error falls (${recs[0].toFixed(3)} -> ${recs.at(-1)!.toFixed(3)})`,
      ).toBeLessThan(mean(recs.slice(0, 5)));
      const ll1 = await dbn.top.logLikelihood(states, await dbn.top.exactLogZ());
      // Untrained, the top is near uniform (-8 log 2 = -5.55 nats); four patterns (and noise bits) are far more likely.
      expect(
        ll1 - ll0,
        `the top RBM's exact log-likelihood of the states below it: ${ll0.toFixed(3)} -> ${ll1.toFixed(3)} nats`,
      ).toBeGreaterThan(0.5);
      // Top-down samples are images in [0, 1]; recognition gives the top layer's probabilities.
      const x = await dbn.sample(5, 10, new Generator(9)).toArray();
      expect(x.length).toBe(5 * V);
      expect(x.every((p) => p >= 0 && p <= 1)).toBe(true);
      expect(dbn.forward(data).shape).toEqual([n, H2]);
      // A DBN stacks on a DBN too: its layers go below a new top.
      const deeper = new DBN({ visible: V, layers: [H1, H2, 4], generator: new Generator(3) });
      await deeper.stackOn(dbn);
      expect(await deeper.layer(1).W.toArray()).toEqual(await dbn.top.W.toArray());
    });
  });

  it('a compiled step equals the eager one (webgpu)', async () => {
    const b = await getGpu();
    const run = async (compiled: boolean) =>
      withBackend(b, async () => {
        const m = await small(b, 30, 10, 7, 40, 0.3);
        const x = tensor(
          randomData(8 * 30, 41).map((v) => (v + 1) / 2),
          [8, 30],
        );
        const step = compiled
          ? compile((g: Generator) => m.trainStep({ x }, g))
          : (g: Generator) => m.trainStep({ x }, g);
        const g = new Generator(7);
        const losses: number[] = [];
        for (let s = 0; s < 4; s++) losses.push(...(await step(g).toArray()));
        return { losses, W: await m.top.W.toArray() };
      });
    const [e, c] = [await run(false), await run(true)];
    c.losses.forEach((v, i) =>
      expect(Math.abs(v - e.losses[i])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(e.losses[i]))),
    );
    c.W.forEach((v, i) => expect(Math.abs(v - e.W[i])).toBeLessThanOrEqual(1e-5));
  });

  it('says what is wrong with its options and with a stack that does not fit', async () => {
    expect(() => new DBN({ layers: [500] })).toThrow(
      /at least 2 positive integer hidden sizes \(a 1-layer DBN is an RBM\), got \[500\]/,
    );
    expect(() => new DBN({ layers: [500, 0] })).toThrow(/got \[500, 0\]/);
    await withBackend(cpu, async () => {
      const dbn = new DBN({ visible: 10, layers: [6, 4] });
      await expect(dbn.stackOn(new RBM({ visible: 10, hidden: 5 }))).rejects.toThrow(
        /layer 0 is 10 x 5 in the stack below, 10 x 6 here/,
      );
      await expect(dbn.stackOn(new DBN({ visible: 10, layers: [6, 4] }))).rejects.toThrow(
        /a stack of 2 layer\(s\) goes under a DBN of 3 layers, this one has 2/,
      );
      expect(() => dbn.lowerBound(tensor([1, 0, 1, 0, 1, 0, 1, 0, 1, 0], [1, 10]), 0, 0)).toThrow(
        /samples must be a positive integer, got 0/,
      );
    });
  });

  it('the CLI stacks a DBN on a trained RBM (train dbn --lower), evaluates its bound, resumes it, and refuses what does not fit', async () => {
    const exactEval = (await getGpu()).ctx.kernelDefaults === 'software';
    const root = mkdtempSync(join(tmpdir(), 'wgpu-gen-dbn-'));
    const ais = ['--ais-betas', '100', '--ais-runs', '10'];
    const small = ['--epochs', '1', '--steps', '4', '--train-size', '400', ...ais];
    const [r1, d1] = [join(root, 'rbm'), join(root, 'dbn')];
    const t1 = runCli(['train', 'rbm', '--width', '24', ...small, '--out', r1]);
    expect(t1.status, t1.stderr).toBe(0);
    const t2 = runCli([
      'train',
      'dbn',
      '--lower',
      join(r1, 'checkpoint.safetensors'),
      '--width',
      '12',
      ...small,
      '--out',
      d1,
    ]);
    expect(t2.status, t2.stderr).toBe(0);
    expect(t2.stdout).toContain('(784-24): the DBN is 784-24-12, and only its top trains');
    const ckpt = decodeSafetensors(readFileSync(join(d1, 'checkpoint.safetensors')), 'dbn');
    expect(JSON.parse(ckpt.metadata.config)).toMatchObject({ layers: [24, 12], k: 1, chain: 'cd' });
    // The layer below is the RBM's, unchanged by the DBN's training.
    const rbmW = decodeSafetensors(readFileSync(join(r1, 'checkpoint.safetensors')), 'rbm').tensors.get('W')!;
    expect(Array.from(ckpt.tensors.get('layers.0.W')!.data)).toEqual(Array.from(rbmW.data));
    expect(ckpt.tensors.get('layers.1.W')!.shape).toEqual([24, 12]);
    const last = readFileSync(join(d1, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .at(-1);
    expect(last).toMatchObject({ ais_betas: 100, ais_runs: 10, bound_samples: 10, layers: 2 });
    expect(last.test_lower_bound).toBeLessThan(0);
    expect(last.test_lower_bound).toBeGreaterThan(-784 * Math.LN2 - 50);
    expect(existsSync(join(d1, 'samples.png'))).toBe(true);
    const e = runCli(['eval', 'dbn', '--ckpt', join(d1, 'checkpoint.safetensors'), ...ais, '--out', d1]);
    expect(e.status, e.stderr).toBe(0);
    const ev = JSON.parse(readFileSync(join(d1, 'eval.json'), 'utf8'));
    // The run's training set (the AIS base model's), kernel variants and seeds: the run's number (within
    // AIS's spread where the adapter takes a GPU's defaults: see rbm.test).
    if (exactEval) expect(ev.test_lower_bound).toBe(last.test_lower_bound);
    else
      expect(Math.abs(ev.test_lower_bound - last.test_lower_bound)).toBeLessThanOrEqual(
        Math.max(0.1, (3 * last.ais_log_w_std) / Math.sqrt(10)),
      );
    // export: the recognition pass (the top layer's p(h | v)) as ONNX.
    const x = runCli(['export', 'dbn', '--ckpt', join(d1, 'checkpoint.safetensors'), '--out', join(d1, 'dbn.onnx')]);
    expect(x.status, x.stderr).toBe(0);
    expect(x.stdout).toMatch(/images \[1x784\] -> top_hidden/);
    expect(readFileSync(join(d1, 'dbn.onnx')).length).toBeGreaterThan(4 * 784 * 24);
    // Resume continues the same DBN (its checkpoint holds the layer below); a different top width is refused.
    const rs = runCli([
      'train',
      'dbn',
      '--resume',
      join(d1, 'checkpoint.safetensors'),
      '--width',
      '12',
      '--epochs',
      '2',
      '--steps',
      '4',
      '--train-size',
      '400',
      ...ais,
      '--out',
      d1,
    ]);
    expect(rs.status, rs.stderr).toBe(0);
    expect(
      runCli([
        'train',
        'dbn',
        '--resume',
        join(d1, 'checkpoint.safetensors'),
        '--width',
        '13',
        '--epochs',
        '3',
        '--out',
        d1,
      ]).stderr,
    ).toContain('--lower and --width [24, 12] in the checkpoint, [24, 13] now');
    // What does not fit, named.
    expect(runCli(['train', 'dbn', '--out', join(root, 'x')]).stderr).toContain(
      'train dbn needs --lower CKPT: the trained RBM (or DBN) to stack a new top RBM on',
    );
    expect(
      runCli([
        'train',
        'dbn',
        '--lower',
        join(r1, 'checkpoint.safetensors'),
        '--resume',
        join(d1, 'checkpoint.safetensors'),
        '--out',
        d1,
      ]).stderr,
    ).toContain('--lower starts a DBN, --resume continues one');
    expect(
      runCli([
        'train',
        'dbn',
        '--lower',
        join(r1, 'checkpoint.safetensors'),
        '--dataset',
        'fashion',
        '--out',
        join(root, 'y'),
      ]).stderr,
    ).toContain('was trained on mnist, this run trains on fashion');
    expect(
      runCli(['train', 'rbm', '--lower', join(r1, 'checkpoint.safetensors'), '--out', join(root, 'z')]).stderr,
    ).toContain("--lower does not apply to model 'rbm'");
    rmSync(root, { recursive: true, force: true });
  }, 300_000);
});
