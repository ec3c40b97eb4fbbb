/**
 * The leading left singular vectors of a small dense matrix, and orthonormal
 * completion of a set of directions: what the gradient-aimed width-seed
 * initialisation needs (GradMax / NORTH style, growth-notes §3–4). Plain
 * TypeScript over Float64Arrays, built on {@link symmetricEigen}.
 */
import { symmetricEigen } from './symmetric-eigen.ts';

/** Unit vectors with their singular values, largest first. */
export interface SingularDirections {
  /** Each of length `rows`, unit norm, mutually orthogonal. */
  vectors: Float64Array[];
  /** σ of each vector (positive). */
  values: number[];
}

/**
 * Up to `k` leading left singular vectors of M (rows×cols, row-major): those
 * whose σ exceeds `relativeTolerance` × σ_max (so at most rank(M) of them).
 * Solves the eigenproblem of the smaller of MMᵀ and MᵀM; in the second case
 * u = M·v / σ.
 */
export function topLeftSingularVectors(m: ArrayLike<number>, rows: number, cols: number, k: number, relativeTolerance = 1e-6): SingularDirections {
  if (m.length !== rows * cols) throw new RangeError(`Error in topLeftSingularVectors: ${m.length} values are not a ${rows}×${cols} matrix`);
  const at = (i: number, j: number): number => m[i * cols + j] as number;
  const small = Math.min(rows, cols);
  const gram = new Float64Array(small * small);
  for (let i = 0; i < small; i++) {
    for (let j = i; j < small; j++) {
      let sum = 0;
      if (rows <= cols) for (let t = 0; t < cols; t++) sum += at(i, t) * at(j, t);
      else for (let t = 0; t < rows; t++) sum += at(t, i) * at(t, j);
      gram[i * small + j] = sum;
      gram[j * small + i] = sum;
    }
  }
  const eig = symmetricEigen(gram, small);
  const top = Math.max(eig.values[0] ?? 0, 0);
  const vectors: Float64Array[] = [];
  const values: number[] = [];
  for (let j = 0; j < small && vectors.length < k; j++) {
    const lambda = eig.values[j] as number;
    if (!(top > 0) || lambda <= 0 || Math.sqrt(lambda) <= relativeTolerance * Math.sqrt(top)) break;
    const sigma = Math.sqrt(lambda);
    const u = new Float64Array(rows);
    if (rows <= cols) {
      for (let i = 0; i < rows; i++) u[i] = eig.vectors[i * small + j] as number;
    } else {
      for (let i = 0; i < rows; i++) {
        let sum = 0;
        for (let t = 0; t < cols; t++) sum += at(i, t) * (eig.vectors[t * small + j] as number);
        u[i] = sum / sigma;
      }
    }
    normalise(u);
    vectors.push(u);
    values.push(sigma);
  }
  return { vectors, values };
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

function normalise(u: Float64Array): number {
  const norm = Math.sqrt(dot(u, u));
  if (norm > 0) for (let i = 0; i < u.length; i++) u[i] = (u[i] as number) / norm;
  return norm;
}

/**
 * `count` further unit vectors of length `dim`, drawn by `draw` (e.g. normal
 * samples) and orthogonalised by Gram-Schmidt (twice, for stability) against
 * `basis` and each other. Once the basis spans the whole space, the remaining
 * vectors are plain normalised draws.
 */
export function orthonormalCompletion(basis: readonly Float64Array[], count: number, dim: number, draw: () => number): Float64Array[] {
  const all = [...basis];
  const out: Float64Array[] = [];
  while (out.length < count) {
    const u = Float64Array.from({ length: dim }, draw);
    const before = Math.sqrt(dot(u, u));
    if (all.length < dim) {
      for (let pass = 0; pass < 2; pass++) {
        for (const b of all) {
          const c = dot(u, b);
          for (let i = 0; i < dim; i++) u[i] = (u[i] as number) - c * (b[i] as number);
        }
      }
      // A draw (nearly) inside the span: draw again.
      if (Math.sqrt(dot(u, u)) <= 1e-6 * before) continue;
    }
    if (normalise(u) === 0) continue;
    all.push(u);
    out.push(u);
  }
  return out;
}
