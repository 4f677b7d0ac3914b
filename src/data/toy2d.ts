// The 2-D datasets of the GAN views (GAN Lab's set, poloclub.github.io/ganlab): the 8-Gaussian ring
// (src/models/gan.ts), a 5 x 5 grid of Gaussians, two moons (scikit-learn's make_moons: two interleaved
// half circles) and a two-armed spiral, each an endless stream drawn from Philox on the host (block
// offset + i of key (seed, the dataset's tag) gives point i), so a run and its resume see the same
// points; and what they score: mode coverage for the two mixtures, and for the two curves the fraction
// of generated points near the curve (precision) and of the curve near a generated point (recall).

import { boxMuller, philox4x32, uniformFromBits } from '../random/philox.ts';
import { centresCoverage, modeCoverage, ringBatch, ringCentres, type ModeReport } from '../models/gan.ts';

/** The names of the 2-D toy datasets, for command lines and menus. */
export const TOY_DATASETS = ['ring', 'grid', 'moons', 'spiral'] as const;
/** A 2-D toy dataset: 'ring' (8 Gaussians on a circle), 'grid' (25 Gaussians), 'moons' or 'spiral' (noisy curves). */
export type ToyDataset = (typeof TOY_DATASETS)[number];

/** Std of the grid's Gaussians, and of the noise around the two curves. */
const GRID_STD = 0.05,
  CURVE_NOISE = 0.05;
/** Philox key words naming each stream (so two datasets drawn with one seed are independent). */
const TAGS: Record<Exclude<ToyDataset, 'ring'>, number> = { grid: 0x67726964, moons: 0x6d6f6f6e, spiral: 0x73706972 };

/** The grid's 25 centres, at -2, -1, 0, 1, 2 on each axis. */
export function gridCentres(): [number, number][] {
  const c: [number, number][] = [];
  for (let i = -2; i <= 2; i++) for (let j = -2; j <= 2; j++) c.push([i, j]);
  return c;
}

/**
 * A point of a curve dataset, noiseless, from its curve parameter u in [0, 1) and its branch (0 or 1):
 * moons: the upper half circle (cos t, sin t) or the lower one (1 - cos t, 1/2 - sin t), t = pi u, as
 * make_moons draws them, then centred and scaled by 1.5 to fill the plane; spiral: radius 2.5 s and
 * angle 3 pi s with s = sqrt(u) (uniform along the arms' area), the second arm the first turned by pi.
 */
function curvePoint(kind: 'moons' | 'spiral', u: number, branch: number): [number, number] {
  if (kind === 'moons') {
    const t = Math.PI * u;
    const [x, y] = branch === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    return [1.5 * (x - 0.5), 1.5 * (y - 0.25)];
  }
  const s = Math.sqrt(u),
    a = 3 * Math.PI * s + (branch ? Math.PI : 0);
  return [2.5 * s * Math.cos(a), 2.5 * s * Math.sin(a)];
}

/** n points of the dataset: points offset .. offset + n - 1 of its stream for this seed. */
export function toyBatch(kind: ToyDataset, n: number, seed: number, offset: number): Float32Array {
  if (kind === 'ring') return ringBatch(n, seed, offset);
  const out = new Float32Array(2 * n);
  const grid = kind === 'grid' ? gridCentres() : null;
  for (let i = 0; i < n; i++) {
    const w = philox4x32([(offset + i) % 2 ** 32, Math.floor((offset + i) / 2 ** 32), 0, 0], [seed >>> 0, TAGS[kind]]);
    const [e1, e2] = boxMuller(w[2], w[3]);
    if (grid) {
      const c = grid[Math.floor(uniformFromBits(w[0]) * grid.length)];
      out[2 * i] = c[0] + GRID_STD * e1;
      out[2 * i + 1] = c[1] + GRID_STD * e2;
    } else {
      const [x, y] = curvePoint(kind as 'moons' | 'spiral', uniformFromBits(w[1]), w[0] & 1);
      out[2 * i] = x + CURVE_NOISE * e1;
      out[2 * i + 1] = y + CURVE_NOISE * e2;
    }
  }
  return out;
}

/** What a set of generated points scores on a dataset. */
export type ToyReport =
  ({ kind: 'modes'; modes: number } & ModeReport) | { kind: 'curve'; precision: number; recall: number };

/** Points along a curve dataset's noiseless curves (both branches), `per` per branch. */
function curveSamples(kind: 'moons' | 'spiral', per = 500): [number, number][] {
  const pts: [number, number][] = [];
  for (let b = 0; b < 2; b++) for (let i = 0; i < per; i++) pts.push(curvePoint(kind, (i + 0.5) / per, b));
  return pts;
}

/**
 * The dataset's score of `points` (x0, y0, x1, y1, ...). Mixtures: the ring's mode coverage (a mode
 * counts with >= minCount samples within `radius` of its centre; 3 of the grid's std, 0.15, for the
 * grid). Curves: precision, the fraction of points within 3 noise std (0.15) of the curve, and recall,
 * the fraction of the curve (1,000 points along it) with a generated point within that distance.
 */
export function toyScore(kind: ToyDataset, points: Float32Array, minCount = 100): ToyReport {
  if (kind === 'ring') return { kind: 'modes', modes: 8, ...modeCoverage(points, 8, 2, 0.06, minCount) };
  const n = points.length / 2;
  if (kind === 'grid') {
    const c = gridCentres();
    return { kind: 'modes', modes: c.length, ...centresCoverage(points, c, 3 * GRID_STD, minCount) };
  }
  const curve = curveSamples(kind),
    near = 3 * CURVE_NOISE;
  const reached = new Uint8Array(curve.length);
  let precise = 0;
  for (let i = 0; i < n; i++) {
    let hit = false;
    curve.forEach(([x, y], j) => {
      if (Math.hypot(points[2 * i] - x, points[2 * i + 1] - y) <= near) {
        hit = true;
        reached[j] = 1;
      }
    });
    if (hit) precise++;
  }
  return { kind: 'curve', precision: n ? precise / n : 0, recall: reached.reduce((a, v) => a + v, 0) / curve.length };
}

/** The centres a mixture dataset's view marks (none for the curves). */
export function toyCentres(kind: ToyDataset): [number, number][] {
  return kind === 'ring' ? ringCentres() : kind === 'grid' ? gridCentres() : [];
}

/** One line naming the dataset (the CLI's start line). */
export function describeToy(kind: ToyDataset): string {
  switch (kind) {
    case 'ring':
      return 'ring of 8 Gaussians (radius 2, std 0.02)';
    case 'grid':
      return `5 x 5 grid of Gaussians (spacing 1, std ${GRID_STD})`;
    case 'moons':
      return `two moons (make_moons, scaled by 1.5, noise std ${CURVE_NOISE})`;
    case 'spiral':
      return `two-armed spiral (radius 2.5, 1.5 turns, noise std ${CURVE_NOISE})`;
  }
}
