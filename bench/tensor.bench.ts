// Training-step time on the tensor backends (DESIGN §8).
//   node --import tsx bench/tensor.bench.ts
// (1) The 784-256-128-10 MLP, batch 128, one step = forward + backward + Adam
// update, on wasm with `denseMatMul` (explicit-transpose gradient) against
// stock `tf.matMul` in the same run — rounds alternate so drift hits both —
// plus the pure-JS cpu backend for reference. (2) A small Fashion-MNIST-sized
// CNN (conv 3×3×16 → pool → conv 3×3×32 → pool → dense), batch 128, on wasm
// with the composite gradient kernels of src/tensor/wasm-gradients.ts, and
// with wasm's own Conv2DBackpropInput for comparison. Median ms/step over the
// rounds. Writes bench/results/tensor.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { quietCpuBackend, selectBackend } from '../src/tensor/backend.ts';
import { denseMatMul } from '../src/tensor/ops/dense-matmul.ts';
import { Rng } from '../src/tensor/rng.ts';

const BATCH = 128;
const MLP_ROUNDS = 5;
const MLP_STEPS = 20;
const CPU_STEPS = 8;
const CNN_ROUNDS = 3;
const CNN_STEPS = 4;
const WARMUP = 3;
/** Reference numbers from DESIGN §8 (ms/step, same MLP and batch). */
const DESIGN_REFERENCE = { wasmDenseMatMul: 7, wasmStockMatMul: 42, pytorchCpuOneCore: 1.8 };

type MatMul = (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;
const stockMatMul: MatMul = (x, w) => tf.matMul(x, w);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function normals(rng: Rng, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

interface Trainer {
  step: () => number;
  dispose: () => void;
}

/** Builds a model's variables, a fixed batch and an Adam optimizer; `step` runs one full training step and returns the loss. */
function trainer(shapes: number[][], input: number[], loss: (vars: tf.Variable[], xs: tf.Tensor, ys: tf.Tensor2D) => tf.Scalar): Trainer {
  const rng = new Rng(1);
  const vars = shapes.map((shape) => {
    const fanIn = shape.length === 1 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return tf.variable(tf.tensor(shape.length === 1 ? new Float32Array(shape[0]!) : normals(rng, shape.reduce((a, b) => a * b, 1), Math.sqrt(2 / fanIn)), shape));
  });
  const xs = tf.tensor(normals(rng, input.reduce((a, b) => a * b, 1), 1), input);
  const labels = Int32Array.from({ length: BATCH }, () => rng.int(10));
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D);
  const optimizer = tf.train.adam(1e-3);
  return {
    step: () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => loss(vars, xs, ys), vars);
        optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
        return value.dataSync()[0]!; // forces the step to finish
      }),
    dispose: () => {
      optimizer.dispose();
      tf.dispose([...vars, xs, ys]);
    },
  };
}

function mlp(matMul: MatMul): Trainer {
  return trainer([[784, 256], [256], [256, 128], [128], [128, 10], [10]], [BATCH, 784], (vars, xs, ys) => {
    const [w1, b1, w2, b2, w3, b3] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable];
    const h1 = tf.relu(tf.add<tf.Tensor2D>(matMul(xs as tf.Tensor2D, w1 as tf.Tensor2D), b1));
    const h2 = tf.relu(tf.add<tf.Tensor2D>(matMul(h1, w2 as tf.Tensor2D), b2));
    return tf.losses.softmaxCrossEntropy<tf.Tensor2D, tf.Scalar>(ys, tf.add<tf.Tensor2D>(matMul(h2, w3 as tf.Tensor2D), b3));
  });
}

function cnn(): Trainer {
  return trainer([[3, 3, 1, 16], [16], [3, 3, 16, 32], [32], [7 * 7 * 32, 10], [10]], [BATCH, 28, 28, 1], (vars, xs, ys) => {
    const [k1, b1, k2, b2, w, b] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable];
    let h = tf.relu(tf.add<tf.Tensor4D>(tf.conv2d(xs as tf.Tensor4D, k1 as tf.Tensor4D, 1, 'same'), b1));
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.relu(tf.add<tf.Tensor4D>(tf.conv2d(h, k2 as tf.Tensor4D, 1, 'same'), b2));
    h = tf.maxPool(h, 2, 2, 'valid');
    const logits = tf.add<tf.Tensor2D>(denseMatMul(tf.reshape(h, [BATCH, 7 * 7 * 32]), w as tf.Tensor2D), b);
    return tf.losses.softmaxCrossEntropy<tf.Tensor2D, tf.Scalar>(ys, logits);
  });
}

/** ms/step over `steps` steps after `warmup` untimed ones. */
function timeSteps(t: Trainer, steps: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) t.step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) t.step();
  return (performance.now() - t0) / steps;
}

interface Row {
  model: string;
  backend: string;
  variant: string;
  msPerStep: number;
  rounds: number[];
}

const rows: Row[] = [];
const [loadBefore = 0] = loadavg();

// wasm's own Conv2DBackpropInput, saved before selectBackend replaces it, so the CNN can be timed with both.
const nativeBackpropInput = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');

// --- MLP on wasm: denseMatMul vs stock matMul, alternating rounds ---------------------------------------------
await selectBackend('wasm');
const fast = mlp(denseMatMul);
const stock = mlp(stockMatMul);
const fastRounds: number[] = [];
const stockRounds: number[] = [];
for (let r = 0; r < MLP_ROUNDS; r++) {
  fastRounds.push(timeSteps(fast, MLP_STEPS, r === 0 ? WARMUP : 1));
  stockRounds.push(timeSteps(stock, MLP_STEPS, r === 0 ? WARMUP : 1));
}
fast.dispose();
stock.dispose();
rows.push({ model: 'MLP 784-256-128-10', backend: 'wasm', variant: 'denseMatMul', msPerStep: median(fastRounds), rounds: fastRounds });
rows.push({ model: 'MLP 784-256-128-10', backend: 'wasm', variant: 'stock tf.matMul', msPerStep: median(stockRounds), rounds: stockRounds });

// --- CNN on wasm: composite gradients, then with wasm's own Conv2DBackpropInput ---------------------------------
const cnnRounds: number[] = [];
const cnnNativeRounds: number[] = [];
const composite = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
const useBackpropInput = (config: tf.KernelConfig | undefined): void => {
  if (config === undefined) return;
  tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
  tf.registerKernel(config);
};
// selectBackend replaced the kernel before the backend initialised, so the native kernel's setup (its wasm binding) never ran.
nativeBackpropInput?.setupFunc?.(tf.backend());
const net = cnn();
for (let r = 0; r < CNN_ROUNDS; r++) {
  useBackpropInput(composite);
  cnnRounds.push(timeSteps(net, CNN_STEPS, r === 0 ? WARMUP : 1));
  if (nativeBackpropInput !== undefined && nativeBackpropInput !== composite) {
    useBackpropInput(nativeBackpropInput);
    cnnNativeRounds.push(timeSteps(net, CNN_STEPS, 1));
  }
}
useBackpropInput(composite);
net.dispose();
rows.push({ model: 'CNN conv16-pool-conv32-pool-dense', backend: 'wasm', variant: 'composite gradients (Esper)', msPerStep: median(cnnRounds), rounds: cnnRounds });
if (cnnNativeRounds.length > 0) {
  rows.push({ model: 'CNN conv16-pool-conv32-pool-dense', backend: 'wasm', variant: "wasm's own Conv2DBackpropInput", msPerStep: median(cnnNativeRounds), rounds: cnnNativeRounds });
}

// --- MLP on cpu, for reference (one round: it is slow) ----------------------------------------------------------
await selectBackend('cpu');
quietCpuBackend();
const cpu = mlp(stockMatMul);
const cpuMs = timeSteps(cpu, CPU_STEPS, 2);
cpu.dispose();
rows.push({ model: 'MLP 784-256-128-10', backend: 'cpu', variant: 'stock tf.matMul', msPerStep: cpuMs, rounds: [cpuMs] });
await selectBackend('wasm');

const [loadAfter = 0] = loadavg();
const ratio = median(stockRounds) / median(fastRounds);

const table = [
  `| model | backend | variant | ms/step (median) | rounds |`,
  `|---|---|---|---:|---|`,
  ...rows.map((r) => `| ${r.model} | ${r.backend} | ${r.variant} | ${r.msPerStep.toFixed(1)} | ${r.rounds.map((v) => v.toFixed(1)).join(', ')} |`),
].join('\n');
console.log(`\nTraining step, batch ${BATCH}, Adam (node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} cores, load ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)})\n`);
console.log(table);
console.log(`\nwasm stock/denseMatMul ratio: ${ratio.toFixed(2)}× (DESIGN §8: ${DESIGN_REFERENCE.wasmStockMatMul} / ${DESIGN_REFERENCE.wasmDenseMatMul} ms ≈ ${(DESIGN_REFERENCE.wasmStockMatMul / DESIGN_REFERENCE.wasmDenseMatMul).toFixed(1)}×; PyTorch CPU one core ${DESIGN_REFERENCE.pytorchCpuOneCore} ms)`);

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'tensor.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      benchmark: 'tensor',
      at: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      loadAverage1m: { before: loadBefore, after: loadAfter },
      config: { batch: BATCH, mlpRounds: MLP_ROUNDS, mlpSteps: MLP_STEPS, cpuSteps: CPU_STEPS, cnnRounds: CNN_ROUNDS, cnnSteps: CNN_STEPS, optimizer: 'adam' },
      results: rows,
      ratio: { wasmStockOverDenseMatMul: ratio },
      reference: DESIGN_REFERENCE,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${out}`);
