// Frechet distance between two Gaussians fitted to feature sets (the FID of Heusel et al., 2017,
// eq. 6; Dowson & Landau, 1982):  d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).
// The trace of the matrix square root is computed as Tr((S1^(1/2) S2 S1^(1/2))^(1/2)) (the two are similar,
// so they share eigenvalues), i.e. the sum of square roots of the eigenvalues of a symmetric PSD
// matrix, from the cyclic Jacobi eigenvalue method (Golub & Van Loan, Matrix Computations, 4th ed.,
// section 8.5.2). Host-side float64: the feature dimension is small (128).

/** Mean and covariance (divided by n - 1, as numpy.cov) of n rows of d features. */
export function gaussianStats(
  features: Float32Array | Float64Array,
  n: number,
  d: number,
): { mean: Float64Array; cov: Float64Array } {
  if (features.length !== n * d || n < 2)
    throw new Error(`frechet: ${features.length} values are not ${n} >= 2 rows of ${d} features`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = features[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += ra * row[b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) cov[b * d + a] = cov[a * d + b] /= n - 1;
  return { mean, cov };
}

/** Eigen-decomposition of a symmetric d x d matrix: values, and vectors as the columns of a row-major matrix. */
export function symmetricEigen(
  m: Float64Array,
  d: number,
  sweeps = 60,
): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < sweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (apq === 0) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.5.1, sym.schur2).
        const tau = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t),
          s = t * c;
        // (m[i], m[j]) rotated: the columns p and q of a, then its rows (after all of the columns), then v's columns.
        const rot = (m: Float64Array, i: number, j: number) => {
          const x = m[i],
            y = m[j];
          m[i] = c * x - s * y;
          m[j] = s * x + c * y;
        };
        for (let k = 0; k < d; k++) rot(a, k * d + p, k * d + q);
        for (let k = 0; k < d; k++) rot(a, p * d + k, q * d + k);
        for (let k = 0; k < d; k++) rot(v, k * d + p, k * d + q);
      }
    }
  }
  return { values: Float64Array.from({ length: d }, (_, i) => a[i * d + i]), vectors: v };
}

/** The symmetric PSD square root V diag(sqrt(max(l, 0))) V^T. */
function sqrtPsd(m: Float64Array, d: number): Float64Array {
  const { values, vectors: v } = symmetricEigen(m, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < d; i++) {
      const vik = v[i * d + k] * s;
      for (let j = 0; j < d; j++) out[i * d + j] += vik * v[j * d + k];
    }
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k];
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += aik * b[k * d + j];
    }
  return out;
}

/** Squared Frechet distance between N(mu1, S1) and N(mu2, S2). */
export function frechetDistance(
  s1: { mean: Float64Array; cov: Float64Array },
  s2: { mean: Float64Array; cov: Float64Array },
): number {
  const d = s1.mean.length;
  let diff = 0,
    trace = 0;
  for (let i = 0; i < d; i++) {
    diff += (s1.mean[i] - s2.mean[i]) ** 2;
    trace += s1.cov[i * d + i] + s2.cov[i * d + i];
  }
  const r = sqrtPsd(s1.cov, d);
  const inner = matmul(matmul(r, s2.cov, d), r, d);
  // Symmetrize against rounding before the eigen-decomposition.
  for (let i = 0; i < d; i++)
    for (let j = i + 1; j < d; j++) inner[i * d + j] = inner[j * d + i] = 0.5 * (inner[i * d + j] + inner[j * d + i]);
  const { values } = symmetricEigen(inner, d);
  let trSqrt = 0;
  for (const l of values) trSqrt += Math.sqrt(Math.max(l, 0));
  return diff + trace - 2 * trSqrt;
}
