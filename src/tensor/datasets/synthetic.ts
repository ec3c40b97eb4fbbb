/**
 * Small synthetic 2-D classification tasks for quick runs and tests. Both are
 * fully determined by the Rng they are given (same rng state → same points).
 */
import type { Rng } from '../rng.ts';
import { createDataset, type Dataset } from './dataset.ts';

/** Options for {@link twoSpirals}. */
export interface SpiralsOptions {
  /** Number of points (split evenly between the two classes; odd n gives class 0 one more). @default 1000 */
  n?: number;
  /** Standard deviation of Gaussian noise added to each coordinate (the spirals span about [-1, 1]). @default 0.05 */
  noise?: number;
  /** Turns each arm makes. @default 1.5 */
  turns?: number;
}

function checkCount(n: number, fn: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Error in ${fn}: n must be a positive integer, got ${n}`);
}

function checkNoise(noise: number, fn: string): void {
  if (!Number.isFinite(noise) || noise < 0) throw new RangeError(`Error in ${fn}: noise must be ≥ 0, got ${noise}`);
}

/**
 * Two interleaved spirals, one per class — not linearly separable, a classic
 * test that a network (and a seed grown into it) learns non-linear features.
 * Point i belongs to class i mod 2; its radius r ∈ (0, 1] and angle
 * r · turns · 2π (+π for class 1).
 */
export function twoSpirals(rng: Rng, options: SpiralsOptions = {}): Dataset {
  const n = options.n ?? 1000;
  const noise = options.noise ?? 0.05;
  const turns = options.turns ?? 1.5;
  checkCount(n, 'twoSpirals');
  checkNoise(noise, 'twoSpirals');
  if (!Number.isFinite(turns) || turns <= 0) throw new RangeError(`Error in twoSpirals: turns must be > 0, got ${turns}`);
  const features = new Float32Array(2 * n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    // sqrt spreads points evenly along the arm's length rather than bunching them at the centre.
    const r = Math.sqrt(1 - rng.next());
    const angle = r * turns * 2 * Math.PI + label * Math.PI;
    features[2 * i] = r * Math.cos(angle) + noise * rng.normal();
    features[2 * i + 1] = r * Math.sin(angle) + noise * rng.normal();
    labels[i] = label;
  }
  return createDataset({ name: 'spirals', features, labels, featureShape: [2], numClasses: 2 });
}

/** Options for {@link xor}. */
export interface XorOptions {
  /** Number of points. @default 1000 */
  n?: number;
  /** Standard deviation of Gaussian noise added to the coordinates after labelling (labels near the axes may then look wrong). @default 0 */
  noise?: number;
}

/**
 * XOR: points uniform in [-1, 1]², class 1 when exactly one coordinate is
 * positive. Needs one hidden layer.
 */
export function xor(rng: Rng, options: XorOptions = {}): Dataset {
  const n = options.n ?? 1000;
  const noise = options.noise ?? 0;
  checkCount(n, 'xor');
  checkNoise(noise, 'xor');
  const features = new Float32Array(2 * n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = 2 * rng.next() - 1;
    const y = 2 * rng.next() - 1;
    labels[i] = x > 0 !== y > 0 ? 1 : 0;
    features[2 * i] = noise === 0 ? x : x + noise * rng.normal();
    features[2 * i + 1] = noise === 0 ? y : y + noise * rng.normal();
  }
  return createDataset({ name: 'xor', features, labels, featureShape: [2], numClasses: 2 });
}
