/**
 * Eigen-decomposition of a small real symmetric matrix by the cyclic Jacobi
 * method, in plain TypeScript over Float64Arrays (tfjs has no SVD or eigen
 * solver). Meant for the few-hundred-row matrices width-seed initialisation
 * needs (e.g. MᵀM for M = HᵀG); O(n³) per sweep, typically 6–10 sweeps.
 * When only the eigenvalues are needed (the per-epoch layer signals),
 * {@link symmetricEigenvalues} is about 30× faster at n = 256: Householder
 * tridiagonalisation, then the implicit QL method.
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

/** (A + Aᵀ)/2 as a fresh n×n array, after checking that `matrix` holds n×n finite numbers. */
function symmetrised(caller: string, matrix: ArrayLike<number>, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 1 || matrix.length !== n * n) throw new RangeError(`Error in ${caller}: ${matrix.length} values are not a ${n}×${n} matrix`);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) a[i * n + j] = ((matrix[i * n + j] as number) + (matrix[j * n + i] as number)) / 2;
  }
  if (!a.every(Number.isFinite)) throw new RangeError(`Error in ${caller}: the matrix has a NaN or infinite entry`);
  return a;
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
  const a = symmetrised('symmetricEigen', matrix, n);
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

/**
 * Householder reduction of the symmetric `a` (n×n, row-major, overwritten) to
 * tridiagonal form: returns its diagonal `d` and subdiagonal `e` (e[i] couples
 * rows i − 1 and i; e[0] = 0). Eigenvalues only: no transformation is kept.
 * Works on the lower triangle only, row by row (the symmetric product A·u
 * reads each stored entry once for both of its uses).
 */
function tridiagonalise(a: Float64Array, n: number): { d: Float64Array; e: Float64Array } {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    const row = i * n;
    let scale = 0;
    for (let k = 0; k <= l; k++) scale += Math.abs(a[row + k] as number);
    if (l === 0 || scale === 0) {
      e[i] = a[row + l] as number;
      continue;
    }
    // u = row i's leading part, scaled; the reflector is I − u·uᵀ/h.
    let h = 0;
    for (let k = 0; k <= l; k++) {
      const v = (a[row + k] as number) / scale;
      a[row + k] = v;
      h += v * v;
    }
    const f = a[row + l] as number;
    const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
    e[i] = scale * g;
    h -= f * g;
    a[row + l] = f - g;
    // p = A·u / h (held in e[0..l]), K = uᵀp / 2h, q = p − K·u; A ← A − u·qᵀ − q·uᵀ (lower triangle).
    e.fill(0, 0, i);
    for (let j = 0; j <= l; j++) {
      const rj = j * n;
      const uj = a[row + j] as number;
      let sum = 0;
      for (let k = 0; k < j; k++) {
        const ajk = a[rj + k] as number;
        sum += ajk * (a[row + k] as number);
        e[k] = (e[k] as number) + ajk * uj;
      }
      e[j] = (e[j] as number) + sum + (a[rj + j] as number) * uj;
    }
    let up = 0;
    for (let j = 0; j <= l; j++) {
      e[j] = (e[j] as number) / h;
      up += (e[j] as number) * (a[row + j] as number);
    }
    const hh = up / (h + h);
    for (let j = 0; j <= l; j++) e[j] = (e[j] as number) - hh * (a[row + j] as number);
    for (let j = 0; j <= l; j++) {
      const uj = a[row + j] as number;
      const qj = e[j] as number;
      const rj = j * n;
      for (let k = 0; k <= j; k++) a[rj + k] = (a[rj + k] as number) - (uj * (e[k] as number) + qj * (a[row + k] as number));
    }
  }
  for (let i = 0; i < n; i++) d[i] = a[i * n + i] as number;
  e[0] = 0;
  return { d, e };
}

/** Eigenvalues of the symmetric tridiagonal matrix (d, e) by the implicit QL method with Wilkinson shifts; `d` is overwritten with them (unordered). */
function tridiagonalQl(d: Float64Array, e: Float64Array, n: number, maxIterations: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i] as number;
  e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    for (let iteration = 0; ; iteration++) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m] as number) + Math.abs(d[m + 1] as number);
        if (Math.abs(e[m] as number) <= Number.EPSILON * dd) break;
      }
      if (m === l || iteration >= maxIterations) break;
      let g = ((d[l + 1] as number) - (d[l] as number)) / (2 * (e[l] as number));
      let r = Math.hypot(g, 1);
      g = (d[m] as number) - (d[l] as number) + (e[l] as number) / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * (e[i] as number);
        const b = c * (e[i] as number);
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = (d[i + 1] as number) - p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = (d[i + 1] as number) - p;
        r = ((d[i] as number) - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (r === 0 && i >= l) continue;
      d[l] = (d[l] as number) - p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/**
 * The eigenvalues (largest first) of the symmetric matrix `matrix` (n×n,
 * row-major; not modified, symmetrised as (A + Aᵀ)/2), without eigenvectors:
 * Householder tridiagonalisation (about 4n³/3 flops) then implicit QL.
 * Agrees with {@link symmetricEigen}'s values to rounding.
 *
 * @throws RangeError when `matrix` does not hold n×n finite numbers.
 */
export function symmetricEigenvalues(matrix: ArrayLike<number>, n: number): Float64Array {
  const a = symmetrised('symmetricEigenvalues', matrix, n);
  const { d, e } = tridiagonalise(a, n);
  tridiagonalQl(d, e, n, 60);
  return d.sort((x, y) => y - x);
}
