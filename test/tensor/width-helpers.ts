/** Shared fixtures of the width-seed tests: small hosts with width slots, batches, byte snapshots. */
import * as tf from '@tensorflow/tfjs';
import { cnnHost } from '../../src/tensor/hosts/cnn-host.ts';
import { mlpHost } from '../../src/tensor/hosts/mlp-host.ts';
import type { HostModel } from '../../src/tensor/hosts/model.ts';
import { trainStep, type Optimizer } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { forkSeedRng } from '../../src/tensor/seed-slot.ts';
import { initWidthSeed } from '../../src/tensor/width/width-init.ts';
import type { WidthSeed } from '../../src/tensor/width/width-seed.ts';
import type { WidthTrainingForward } from '../../src/tensor/width/width-slot.ts';

export function bytesOf(vars: readonly tf.Tensor[]): Buffer {
  return Buffer.concat(
    vars.map((v) => {
      const data = v.dataSync() as Float32Array;
      return Buffer.from(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    }),
  );
}

export function logits(model: HostModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => model.forward(x).dataSync() as Float32Array);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = a.length === b.length ? 0 : Number.POSITIVE_INFINITY;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

export function randomTensor(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

/** A batch of `n` examples of `shape` with labels in [0, classes): x random, y = a fixed function of x. */
export function batchOf(rng: Rng, n: number, shape: number[], classes: number): { xs: tf.Tensor; ys: tf.Tensor1D } {
  const per = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n * per }, () => rng.normal());
  const labels = Int32Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < per; j++) s += (values[i * per + j] as number) * Math.sin(j + 1);
    return Math.min(classes - 1, Math.max(0, Math.floor((s / Math.sqrt(per) + 1.5) * (classes / 3))));
  });
  return { xs: tf.tensor(values, [n, ...shape]), ys: tf.tensor1d(labels, 'int32') };
}

/** The hosts the tests grow: `mlp` 6-4-5-3 (width slots on both hidden layers), `cnn` 8×8×1 → conv 3 → conv 2 → dense 5 → 3. */
export type HostName = 'mlp' | 'cnn';

export const INPUT: Record<HostName, number[]> = { mlp: [6], cnn: [8, 8, 1] };

/** Builds a host with width slots `w1`, `w2` (and, for the CNN, `w3` on the dense layer) and a depth slot `d1` after layer 1. */
export function grownHost(name: HostName, seed = 1, detachInBlending?: boolean, trainingForward?: WidthTrainingForward): HostModel {
  const options =
    detachInBlending === undefined && trainingForward === undefined
      ? {}
      : { options: { ...(detachInBlending === undefined ? {} : { detachInBlending }), ...(trainingForward === undefined ? {} : { trainingForward }) } };
  const width = (id: string, afterLayer: number) => ({ id, afterLayer, kind: 'width' as const, ...options });
  if (name === 'mlp') return mlpHost({ widths: [6, 4, 5, 3], rng: new Rng(seed), slots: [width('w1', 1), width('w2', 2), { id: 'd1', afterLayer: 1 }] });
  return cnnHost({
    inputShape: [8, 8, 1],
    convs: [{ filters: 3 }, { filters: 2 }],
    dense: [5],
    classes: 3,
    rng: new Rng(seed),
    slots: [width('w1', 1), width('w2', 2), width('w3', 3), { id: 'd1', afterLayer: 1 }],
  });
}

/** Germinates a random-init width seed of `units` in `slotId`. */
export function germinate(model: HostModel, slotId: string, units: number, seed = 7): WidthSeed {
  const slot = model.widthSlot(slotId);
  const widthSeed = initWidthSeed(model, slot.layer, slot.geometry, { units }, forkSeedRng(new Rng(seed), slotId));
  slot.attach(widthSeed);
  return widthSeed;
}

/** Sets Ω to random values (a trained seed), so that the seed's contribution is not zero. */
export function loudOmega(seed: WidthSeed, rng: Rng): void {
  const omega = seed.params[2] as tf.Variable;
  tf.tidy(() => omega.assign(tf.mul(randomTensor(rng, omega.shape), 0.5)));
}

/** `steps` Adam steps on fixed batches drawn from `rng`. */
export function train(model: HostModel, optimizer: Optimizer, name: HostName, steps: number, rng: Rng): number[] {
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      const { xs, ys } = batchOf(rng, 16, INPUT[name], 3);
      losses.push(trainStep(model, optimizer, xs, ys).loss);
    });
  }
  return losses;
}
