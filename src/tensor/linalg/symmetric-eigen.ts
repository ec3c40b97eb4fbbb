/**
 * Eigen-decomposition of a small real symmetric matrix by the cyclic Jacobi
 * method, in plain TypeScript over Float64Arrays (tfjs has no SVD or eigen
 * solver). Meant for the few-hundred-row matrices width-seed initialisation
 * needs (e.g. MᵀM for M = HᵀG); O(n³) per sweep, typically 6–10 sweeps.
 */

/** Eigenvalues (descending) and eigenvectors of a symmetric n×n matrix. */
export interface SymmetricEigen {
  /** Matrix size. */
  n: number;
  /** Eigenvalues, largest first. */
  values: Float64Array;
  /** n×n row-major; column j (entries j, n + j, 2n + j, …) is the unit eigenvector of values[j]. */
  vectors: Float64Array;
}

/** Options of {@link symmetricEigen}. */
export interface SymmetricEigenOptions {
  /** Stop when the off-diagonal Frobenius norm is below tolerance × the matrix's Frobenius norm. @default 1e-12 */
  tolerance?: number;
  /** Give up (and return the current estimate) after this many sweeps. @default 100 */
  maxSweeps?: number;
}

function frobenius(a: Float64Array, n: number, offDiagonalOnly: boolean): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (offDiagonalOnly && i === j) continue;
      const v = a[i * n + j] as number;
      sum += v * v;
    }
  }
  return Math.sqrt(sum);
}

/** One Jacobi rotation zeroing a[p][q] (p < q); updates `a` (full storage) and accumulates it into `v`. */
function rotate(a: Float64Array, v: Float64Array, n: number, p: number, q: number): void {
  const apq = a[p * n + q] as number;
  if (apq === 0) return;
  const app = a[p * n + p] as number;
  const aqq = a[q * n + q] as number;
  const theta = (aqq - app) / (2 * apq);
  const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < n; k++) {
    const akp = a[k * n + p] as number;
    const akq = a[k * n + q] as number;
    a[k * n + p] = c * akp - s * akq;
    a[k * n + q] = s * akp + c * akq;
  }
  for (let k = 0; k < n; k++) {
    const apk = a[p * n + k] as number;
    const aqk = a[q * n + k] as number;
    a[p * n + k] = c * apk - s * aqk;
    a[q * n + k] = s * apk + c * aqk;
  }
  a[p * n + q] = 0;
  a[q * n + p] = 0;
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p] as number;
    const vkq = v[k * n + q] as number;
    v[k * n + p] = c * vkp - s * vkq;
    v[k * n + q] = s * vkp + c * vkq;
  }
}

/**
 * Eigenvalues and orthonormal eigenvectors of the symmetric matrix `matrix`
 * (n×n, row-major; not modified). The input is symmetrised as (A + Aᵀ)/2.
 *
 * @throws RangeError when `matrix` does not hold n×n finite numbers.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number, options: SymmetricEigenOptions = {}): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1 || matrix.length !== n * n) throw new RangeError(`Error in symmetricEigen: ${matrix.length} values are not a ${n}×${n} matrix`);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) a[i * n + j] = ((matrix[i * n + j] as number) + (matrix[j * n + i] as number)) / 2;
  }
  if (!a.every(Number.isFinite)) throw new RangeError('Error in symmetricEigen: the matrix has a NaN or infinite entry');
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const tolerance = options.tolerance ?? 1e-12;
  const maxSweeps = options.maxSweeps ?? 100;
  const scale = frobenius(a, n, false);
  for (let sweep = 0; sweep < maxSweeps && frobenius(a, n, true) > tolerance * scale; sweep++) {
    for (let p = 0; p < n - 1; p++) for (let q = p + 1; q < n; q++) rotate(a, v, n, p, q);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (a[j * n + j] as number) - (a[i * n + i] as number));
  const values = Float64Array.from(order, (i) => a[i * n + i] as number);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    for (let k = 0; k < n; k++) vectors[k * n + to] = v[k * n + from] as number;
  });
  return { n, values, vectors };
}
