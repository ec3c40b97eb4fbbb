import { expect } from 'chai';
import { orthonormalCompletion, topLeftSingularVectors } from '../../src/tensor/linalg/singular-directions.ts';
import { symmetricEigen, symmetricEigenvalues } from '../../src/tensor/linalg/symmetric-eigen.ts';
import { Rng } from '../../src/tensor/rng.ts';

function randomMatrix(rng: Rng, rows: number, cols: number): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => rng.normal());
}

function column(m: Float64Array, n: number, j: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => m[i * n + j] as number);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** Mᵀ·u for M rows×cols. */
function transposeTimes(m: Float64Array, rows: number, cols: number, u: ArrayLike<number>): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] = (out[j] as number) + (m[i * cols + j] as number) * (u[i] as number);
  return out;
}

describe('linalg: symmetric Jacobi eigen-solver and singular directions (issue 11)', () => {
  it('diagonalises a diagonal matrix and [[2, 1], [1, 2]] exactly, eigenvalues largest first', () => {
    const diag = symmetricEigen([1, 0, 0, 0, 5, 0, 0, 0, 3], 3);
    expect(Array.from(diag.values)).to.deep.equal([5, 3, 1]);
    expect(Array.from(column(diag.vectors, 3, 0)).map(Math.abs)).to.deep.equal([0, 1, 0]);
    const two = symmetricEigen([2, 1, 1, 2], 2);
    expect(two.values[0]).to.be.closeTo(3, 1e-12);
    expect(two.values[1]).to.be.closeTo(1, 1e-12);
    const v = column(two.vectors, 2, 0);
    expect(Math.abs(v[0] as number)).to.be.closeTo(Math.SQRT1_2, 1e-12);
    expect((v[0] as number) * (v[1] as number)).to.be.greaterThan(0); // (1, 1)/√2 up to sign
  });

  it('returns orthonormal eigenvectors that reconstruct a random symmetric matrix (A = V Λ Vᵀ, A v = λ v)', () => {
    const n = 12;
    const rng = new Rng(3);
    const b = randomMatrix(rng, n, n);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = (b[i * n + j] as number) + (b[j * n + i] as number);
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 1; i < n; i++) expect(values[i - 1]).to.be.at.least(values[i] as number);
    for (let p = 0; p < n; p++) {
      for (let q = 0; q < n; q++) expect(dot(column(vectors, n, p), column(vectors, n, q))).to.be.closeTo(p === q ? 1 : 0, 1e-10);
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let k = 0; k < n; k++) sum += (vectors[i * n + k] as number) * (values[k] as number) * (vectors[j * n + k] as number);
        expect(sum).to.be.closeTo(a[i * n + j] as number, 1e-9);
      }
    }
    const v0 = column(vectors, n, 0);
    const av = Array.from({ length: n }, (_, i) => dot(a.subarray(i * n, (i + 1) * n), v0));
    av.forEach((x, i) => expect(x).to.be.closeTo((values[0] as number) * (v0[i] as number), 1e-9));
  });

  it('rejects a matrix of the wrong size or with a NaN', () => {
    expect(() => symmetricEigen([1, 2, 3], 2)).to.throw(RangeError, /2×2/);
    expect(() => symmetricEigen([1, Number.NaN, Number.NaN, 1], 2)).to.throw(RangeError, /NaN/);
    expect(() => symmetricEigenvalues([1, 2, 3], 2)).to.throw(RangeError, /symmetricEigenvalues: 3 values are not a 2×2/);
    expect(() => symmetricEigenvalues([1, Number.POSITIVE_INFINITY, 0, 1], 2)).to.throw(RangeError, /NaN or infinite/);
  });

  it('symmetricEigenvalues (Householder + QL) agrees with the Jacobi values: random, rank-deficient, repeated, diagonal, zero, 1×1', () => {
    const rng = new Rng(9);
    const symmetric = (n: number): Float64Array => {
      const b = randomMatrix(rng, n, n);
      return Float64Array.from({ length: n * n }, (_, k) => (b[k] as number) + (b[(k % n) * n + Math.floor(k / n)] as number));
    };
    /** Gram matrix BᵀB of a rows×n B: rank min(rows, n), eigenvalues ≥ 0. */
    const gram = (rows: number, n: number): Float64Array => {
      const b = randomMatrix(rng, rows, n);
      const col = (j: number): Float64Array => Float64Array.from({ length: rows }, (_, i) => b[i * n + j] as number);
      return Float64Array.from({ length: n * n }, (_, k) => dot(col(Math.floor(k / n)), col(k % n)));
    };
    const cases: [string, Float64Array, number][] = [
      ['random 2', symmetric(2), 2],
      ['random 7', symmetric(7), 7],
      ['random 40', symmetric(40), 40],
      ['rank 3 of 20', gram(3, 20), 20],
      ['repeated', Float64Array.from([2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 1, 0, 0, 1, 2]), 4],
      ['diagonal', Float64Array.from([1, 0, 0, 0, -5, 0, 0, 0, 3]), 3],
      ['zero', new Float64Array(25), 5],
      ['1×1', Float64Array.from([-4]), 1],
    ];
    for (const [name, a, n] of cases) {
      const values = symmetricEigenvalues(a, n);
      const reference = symmetricEigen(a, n).values;
      const scale = Math.max(1, ...Array.from(reference, Math.abs));
      expect(values.length, name).to.equal(n);
      for (let i = 0; i < n; i++) expect(values[i], `${name} λ${i}`).to.be.closeTo(reference[i] as number, 1e-10 * scale);
      for (let i = 1; i < n; i++) expect(values[i - 1], name).to.be.at.least(values[i] as number);
    }
    expect(Array.from(symmetricEigenvalues([2, 1, 1, 2], 2)).map((v) => Math.round(v * 1e12) / 1e12)).to.deep.equal([3, 1]);
    const input = symmetric(5);
    const copy = Float64Array.from(input);
    symmetricEigenvalues(input, 5);
    expect(input).to.deep.equal(copy); // not modified
  });

  it('finds the top left singular vectors through the smaller Gram matrix, either way round', () => {
    const rng = new Rng(5);
    for (const [rows, cols] of [
      [20, 4],
      [4, 20],
    ] as const) {
      const m = randomMatrix(rng, rows, cols);
      const { vectors, values } = topLeftSingularVectors(m, rows, cols, 3);
      expect(vectors).to.have.length(3);
      for (let j = 0; j < 3; j++) {
        const u = vectors[j] as Float64Array;
        expect(dot(u, u)).to.be.closeTo(1, 1e-10);
        const mtu = transposeTimes(m, rows, cols, u);
        expect(Math.sqrt(dot(mtu, mtu))).to.be.closeTo(values[j] as number, 1e-9); // ‖Mᵀu‖ = σ
        for (let k = 0; k < j; k++) expect(dot(u, vectors[k] as Float64Array)).to.be.closeTo(0, 1e-9);
      }
      expect(values[0]).to.be.at.least(values[1] as number);
      // No unit vector does better than the first: ‖Mᵀx‖ ≤ σ₁ for random unit x.
      for (let t = 0; t < 20; t++) {
        const x = Float64Array.from({ length: rows }, () => rng.normal());
        const norm = Math.sqrt(dot(x, x));
        const mtx = transposeTimes(m, rows, cols, x);
        expect(Math.sqrt(dot(mtx, mtx)) / norm).to.be.at.most((values[0] as number) + 1e-9);
      }
    }
  });

  it('returns only rank-many directions for a rank-deficient matrix, and completes them orthonormally', () => {
    const a = [1, 2, 3, 4, 5];
    const b = [2, -1, 0.5];
    const m = Float64Array.from({ length: 15 }, (_, i) => (a[Math.floor(i / 3)] as number) * (b[i % 3] as number)); // rank 1
    const { vectors } = topLeftSingularVectors(m, 5, 3, 3);
    expect(vectors).to.have.length(1);
    const u = vectors[0] as Float64Array;
    const norm = Math.sqrt(dot(a, a));
    expect(Math.abs(dot(u, a.map((x) => x / norm)))).to.be.closeTo(1, 1e-10);
    const rng = new Rng(9);
    const more = orthonormalCompletion(vectors, 6, 5, () => rng.normal());
    expect(more).to.have.length(6);
    const basis = [u, ...more.slice(0, 4)];
    for (let p = 0; p < basis.length; p++) {
      for (let q = 0; q < basis.length; q++) expect(dot(basis[p] as Float64Array, basis[q] as Float64Array)).to.be.closeTo(p === q ? 1 : 0, 1e-10);
    }
    // Past the dimension the extra vectors are plain unit draws.
    expect(dot(more[5] as Float64Array, more[5] as Float64Array)).to.be.closeTo(1, 1e-12);
  });
});
