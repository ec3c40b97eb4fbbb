/**
 * The blueprint interpreter (DESIGN §1 Tezzeret, §2): turns a BlueprintIR —
 * data, never code — into a {@link SeedModule} a slot can host. Every
 * blueprint goes through Karn's static analysis first (`analyzeBlueprint`),
 * and the weights are the ones the layer table (`layer-specs.ts`) lists, in
 * its order: nodes in IR order, each node's weights in the table's order. So
 * the module's parameter count is the analysis' count by construction, and a
 * mismatch is a bug (`ESPER_INTERNAL`).
 *
 * ## Two views of one module
 *
 * - `forward(x)` is the blueprint's function f(x): the value of the IR's
 *   output node. A blueprint that "starts as the identity" has f(x) = x at
 *   initialisation.
 * - `apply(x)` is the seed contribution the {@link SeedModule} contract asks
 *   for: s(x) = f(x) − x, so a slot computes h + α·s(h) = (1 − α)·h + α·f(h)
 *   and a FOSSILIZED slot computes f(h). An identity-start blueprint gives
 *   s = 0 at initialisation, like the built-in adapters. When the output node
 *   is `residual(input, b)` (every catalog blueprint), s is `b` itself —
 *   exact, and without the subtraction. `apply` needs a shape-preserving
 *   interface.
 *
 * ## Op semantics (x is `[batch, ...shape]`; "last axis" is features or channels)
 *
 * - `dense`, `low_rank`: matmuls over the last axis ({@link denseMatMul}, with
 *   the wasm-friendly gradient); on a conv2d slot they act pointwise (the
 *   positions are folded into the batch).
 * - `activation`: relu, gelu (exact, x·Φ(x) via erf), tanh, sigmoid, identity.
 * - `norm` `layer`: normalises over the last axis, then γ, β. `batch`: always
 *   in inference mode — it normalises with its moving statistics (mean 0,
 *   variance 1 at init, never updated: they are non-trainable weights), i.e. a
 *   fixed per-channel affine map followed by γ, β.
 * - `residual`: a + b.
 * - `attention` `squeeze_excitation`: x ⊙ σ(W₂·relu(W₁·pool(x) + b₁) + b₂),
 *   pool = mean over the positions (none on a dense slot).
 *   `self`: multi-head scaled dot-product attention over the positions as
 *   tokens (h·w on conv2d, one token on a dense slot), Q/K/V/O projections
 *   with biases.
 * - `conv`: conv2d (+ bias); `depthwise`: depthwiseConv2d + bias.
 *
 * ## Initialisation
 *
 * Drawn from an explicit {@link Rng}, weight by weight in the order above
 * (zeros and ones draw nothing). Fans: `[in, out]` matrices use in and out;
 * conv kernels `[k, k, cin, cout]` use k²·cin and k²·cout; depthwise kernels
 * `[k, k, cin, mult]` use k² (what one output sees) and k²·mult. `glorot_uniform`
 * is U(±√(6/(fanIn+fanOut))), `he_normal` N(0, 2/fanIn), `lecun_normal`
 * N(0, 1/fanIn).
 */
import * as tf from '@tensorflow/tfjs';
import { BlueprintLimitsSchema, analyzeBlueprint, type BlueprintLimitsInput, type BlueprintReport } from '../blueprint/blueprint-analysis.ts';
import { inferLayer, shapeSize, type Shape, type WeightInit } from '../blueprint/layer-specs.ts';
import type { SlotInterface } from '../contracts/common.ts';
import { BLUEPRINT_INPUT, type BlueprintIR, type BlueprintNode, type BlueprintNodeOf } from '../contracts/karn.ts';
import { EsperError } from '../errors/index.ts';
import { denseMatMul } from './ops/dense-matmul.ts';
import type { Rng } from './rng.ts';
import type { SeedModule } from './seed-slot.ts';

/** The `kind` of every blueprint module. */
export const BLUEPRINT_MODULE_KIND = 'blueprint';

/** One weight of a blueprint, where it sits in the module's `params`. */
export interface BlueprintWeight {
  /** The node that owns it. */
  readonly nodeId: string;
  /** Its name inside the node (`kernel`, `bias`, `gamma`, `A`, `wq`, …). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: WeightInit;
  /** False for batch-norm moving statistics (never updated by gradient). */
  readonly trainable: boolean;
  /** Number of scalars. */
  readonly size: number;
  /** Offset (in scalars) of this weight in the concatenation of all weights. */
  readonly offset: number;
  readonly fanIn: number;
  readonly fanOut: number;
}

/** A blueprint that passed analysis, with its weight layout: what the interpreter and the compiler share. */
export interface BlueprintPlan {
  /** The parsed IR (defaults filled; its `interface` is the slot's). */
  readonly ir: BlueprintIR;
  readonly interface: SlotInterface;
  /** Karn's static report (irHash, paramCount, flops, startsAsIdentity, …). */
  readonly report: BlueprintReport;
  /** Every weight, in `params` order. */
  readonly weights: readonly BlueprintWeight[];
  /** Input shapes of each node, by node id (per example, no batch axis). */
  readonly inputShapes: ReadonlyMap<string, readonly Shape[]>;
}

/** A seed module built from a blueprint. */
export interface BlueprintModule extends SeedModule {
  readonly kind: typeof BLUEPRINT_MODULE_KIND;
  readonly ir: BlueprintIR;
  readonly interface: SlotInterface;
  /** sha256 of the parsed IR's canonical JSON. */
  readonly irHash: string;
  /** The static analysis it was built from. */
  readonly report: BlueprintReport;
  /** The layout of `params` (same order). */
  readonly weights: readonly BlueprintWeight[];
  /** The trainable subset of `params` (batch-norm moving statistics excluded). */
  readonly trainableParams: tf.Variable[];
  /** The blueprint's function f(x) (the output node's value); call inside `tf.tidy`. */
  forward(x: tf.Tensor): tf.Tensor;
  /** Copies of the current weights, in `params` order (for artifacts and tests). */
  readWeights(): Float32Array[];
}

/** Options of {@link planBlueprint} and the builders. */
export interface BlueprintBuildOptions {
  /** Budgets for the analysis; omitted ones take the defaults. */
  limits?: BlueprintLimitsInput;
}

function analysisFailure(errors: readonly EsperError[], what: string): EsperError {
  const [first] = errors;
  if (first === undefined) return new EsperError('ESPER_INTERNAL', `${what}: analysis failed without an error`);
  if (errors.length === 1) return first;
  return new EsperError(first.code, `${what}: ${errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`, {
    details: { errors: errors.map((e) => e.toWire()) },
  });
}

function fans(node: BlueprintNode, shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 4) {
    const [kh = 1, kw = 1, cin = 1, cout = 1] = shape;
    const receptive = kh * kw;
    return node.op === 'depthwise' ? { fanIn: receptive, fanOut: receptive * cout } : { fanIn: receptive * cin, fanOut: receptive * cout };
  }
  if (shape.length === 2) return { fanIn: shape[0] ?? 1, fanOut: shape[1] ?? 1 };
  const n = shapeSize(shape);
  return { fanIn: n, fanOut: n };
}

/**
 * Analyses `ir` (raw JSON or a parsed IR) for slot `iface` and lays out its
 * weights. Throws the analysis' coded error (`ESPER_SCHEMA_VIOLATION`,
 * `ESPER_BLUEPRINT_*`; several problems are joined in one error whose
 * `details.errors` lists them all).
 */
export function planBlueprint(ir: unknown, iface?: SlotInterface, options: BlueprintBuildOptions = {}): BlueprintPlan {
  const analysis = analyzeBlueprint(ir, {
    ...(iface === undefined ? {} : { interface: iface }),
    limits: BlueprintLimitsSchema.parse(options.limits ?? {}),
  });
  if (!analysis.ok) throw analysisFailure(analysis.errors, 'blueprint analysis failed');
  const { ir: parsed, report } = analysis;
  const shapes = new Map<string, Shape>([[BLUEPRINT_INPUT, parsed.interface.inputShape]]);
  for (const node of report.perNode) shapes.set(node.id, node.outputShape);
  const weights: BlueprintWeight[] = [];
  const inputShapes = new Map<string, readonly Shape[]>();
  let offset = 0;
  for (const node of parsed.nodes) {
    const inputs = node.inputs.map((i) => shapes.get(i));
    if (inputs.some((s) => s === undefined)) throw new EsperError('ESPER_INTERNAL', `planBlueprint: node '${node.id}' has an input without a shape after analysis`);
    const result = inferLayer(node, inputs as Shape[]);
    if (!result.ok) throw new EsperError('ESPER_INTERNAL', `planBlueprint: node '${node.id}' failed shape inference after analysis passed: ${result.problem.message}`);
    inputShapes.set(node.id, inputs as Shape[]);
    for (const w of result.facts.weights) {
      const size = shapeSize(w.shape);
      weights.push({ nodeId: node.id, name: w.name, shape: [...w.shape], init: w.init, trainable: w.trainable, size, offset, ...fans(node, w.shape) });
      offset += size;
    }
  }
  if (offset !== report.paramCount) {
    throw new EsperError('ESPER_INTERNAL', `planBlueprint: the layer table lists ${offset} weights, the analysis counted ${report.paramCount}`);
  }
  return { ir: parsed, interface: parsed.interface, report, weights, inputShapes };
}

/** Initial values of a plan's weights, drawn from `rng` in `params` order (see the module comment). */
export function initialWeights(plan: BlueprintPlan, rng: Rng): Float32Array[] {
  return plan.weights.map((w) => {
    const values = new Float32Array(w.size);
    switch (w.init) {
      case 'zeros':
        break;
      case 'ones':
        values.fill(1);
        break;
      case 'glorot_uniform': {
        const limit = Math.sqrt(6 / (w.fanIn + w.fanOut));
        for (let i = 0; i < values.length; i++) values[i] = (rng.next() * 2 - 1) * limit;
        break;
      }
      case 'he_normal': {
        const std = Math.sqrt(2 / w.fanIn);
        for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
        break;
      }
      case 'lecun_normal': {
        const std = Math.sqrt(1 / w.fanIn);
        for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
        break;
      }
    }
    return values;
  });
}

// --- the interpreter ------------------------------------------------------------

type Run = (inputs: readonly tf.Tensor[], weights: readonly tf.Variable[]) => tf.Tensor;

function first(inputs: readonly tf.Tensor[], nodeId: string): tf.Tensor {
  const [x] = inputs;
  if (x === undefined) throw new EsperError('ESPER_INTERNAL', `blueprint node '${nodeId}' got no input`);
  return x;
}

function weight(weights: readonly tf.Variable[], i: number, nodeId: string): tf.Tensor {
  const w = weights[i];
  if (w === undefined) throw new EsperError('ESPER_INTERNAL', `blueprint node '${nodeId}' is missing weight ${i}`);
  return w;
}

/** x [..., in] · w [in, out] → [..., out]; positions are folded into the batch for the matmul. */
function lastAxisMatMul(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const inner = x.shape[x.rank - 1] ?? 0;
  const out = w.shape[1] ?? 0;
  if (x.rank === 2) return denseMatMul(x as tf.Tensor2D, w as tf.Tensor2D);
  const flat = tf.reshape<tf.Rank.R2>(x, [-1, inner]);
  return tf.reshape(denseMatMul(flat, w as tf.Tensor2D), [...x.shape.slice(0, -1), out]);
}

const SQRT1_2 = Math.SQRT1_2;

function activate(fn: BlueprintNodeOf<'activation'>['params']['fn'], x: tf.Tensor): tf.Tensor {
  switch (fn) {
    case 'identity':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'gelu':
      // Exact GELU: x·Φ(x) = ½·x·(1 + erf(x/√2)).
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
  }
}

/** Axes of the positions (all but batch and the last axis). */
function positionAxes(x: tf.Tensor): number[] {
  return Array.from({ length: Math.max(0, x.rank - 2) }, (_, i) => i + 1);
}

function selfAttention(x: tf.Tensor, w: readonly tf.Tensor[], heads: number, keyDim: number): tf.Tensor {
  const [wq, bq, wk, bk, wv, bv, wo, bo] = w as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const n = x.shape[0] ?? 0;
  const c = x.shape[x.rank - 1] ?? 0;
  const t = x.size / (n * c);
  const flat = tf.reshape<tf.Rank.R2>(x, [n * t, c]);
  // [n·t, h·d] → [n·h, t, d]
  const project = (wm: tf.Tensor, b: tf.Tensor): tf.Tensor3D =>
    tf.reshape(tf.transpose(tf.reshape(tf.add(denseMatMul(flat, wm as tf.Tensor2D), b), [n, t, heads, keyDim]), [0, 2, 1, 3]), [n * heads, t, keyDim]);
  const q = project(wq, bq);
  const k = project(wk, bk);
  const v = project(wv, bv);
  // An explicit transpose keeps the forward matmul untransposed (the wasm fast path).
  const scores = tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), 1 / Math.sqrt(keyDim));
  const context = tf.matMul(tf.softmax(scores), v); // [n·h, t, d]
  const merged = tf.reshape<tf.Rank.R2>(tf.transpose(tf.reshape(context, [n, heads, t, keyDim]), [0, 2, 1, 3]), [n * t, heads * keyDim]);
  return tf.reshape(tf.add(denseMatMul(merged, wo as tf.Tensor2D), bo), x.shape);
}

function runner(node: BlueprintNode, inputShapes: readonly Shape[]): Run {
  const id = node.id;
  switch (node.op) {
    case 'dense': {
      const p = node.params;
      return (inputs, w) => {
        const y = lastAxisMatMul(first(inputs, id), weight(w, 0, id));
        return p.useBias ? tf.add(y, weight(w, 1, id)) : y;
      };
    }
    case 'low_rank':
      return (inputs, w) => lastAxisMatMul(lastAxisMatMul(first(inputs, id), weight(w, 0, id)), weight(w, 1, id));
    case 'activation': {
      const fn = node.params.fn;
      return (inputs) => activate(fn, first(inputs, id));
    }
    case 'norm': {
      const p = node.params;
      if (p.kind === 'layer') {
        return (inputs, w) => {
          const x = first(inputs, id);
          const { mean, variance } = tf.moments(x, -1, true);
          const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, p.epsilon)));
          return tf.add(tf.mul(normed, weight(w, 0, id)), weight(w, 1, id));
        };
      }
      return (inputs, w) => {
        const x = first(inputs, id);
        const [gamma, beta, movingMean, movingVariance] = [0, 1, 2, 3].map((i) => weight(w, i, id)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const scale = tf.mul(gamma, tf.rsqrt(tf.add(movingVariance, p.epsilon)));
        return tf.add(tf.mul(tf.sub(x, movingMean), scale), beta);
      };
    }
    case 'residual':
      return (inputs) => {
        const [a, b] = inputs;
        if (a === undefined || b === undefined) throw new EsperError('ESPER_INTERNAL', `blueprint node '${id}' (residual) needs two inputs`);
        return tf.add(a, b);
      };
    case 'attention': {
      const p = node.params;
      if (p.kind === 'squeeze_excitation') {
        return (inputs, w) => {
          const x = first(inputs, id);
          const axes = positionAxes(x);
          const pooled = axes.length > 0 ? tf.mean(x, axes) : x; // [n, c]
          const squeezed = tf.relu(tf.add(denseMatMul(pooled as tf.Tensor2D, weight(w, 0, id) as tf.Tensor2D), weight(w, 1, id))) as tf.Tensor2D;
          const gate = tf.sigmoid(tf.add(denseMatMul(squeezed, weight(w, 2, id) as tf.Tensor2D), weight(w, 3, id)));
          const c = x.shape[x.rank - 1] ?? 0;
          const broadcast = axes.length > 0 ? tf.reshape(gate, [x.shape[0] ?? -1, ...axes.map(() => 1), c]) : gate;
          return tf.mul(x, broadcast);
        };
      }
      const [xShape = []] = inputShapes;
      const channels = xShape[xShape.length - 1] ?? 0;
      const heads = p.heads;
      const keyDim = p.keyDim ?? Math.floor(channels / heads);
      return (inputs, w) =>
        selfAttention(
          first(inputs, id),
          [0, 1, 2, 3, 4, 5, 6, 7].map((i) => weight(w, i, id)),
          heads,
          keyDim,
        );
    }
    case 'conv': {
      const p = node.params;
      return (inputs, w) => {
        const y = tf.conv2d(first(inputs, id) as tf.Tensor4D, weight(w, 0, id) as tf.Tensor4D, p.stride, p.padding);
        return p.useBias ? tf.add(y, weight(w, 1, id)) : y;
      };
    }
    case 'depthwise': {
      const p = node.params;
      return (inputs, w) =>
        tf.add(tf.depthwiseConv2d(first(inputs, id) as tf.Tensor4D, weight(w, 0, id) as tf.Tensor4D, p.stride, p.padding), weight(w, 1, id));
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Builds the module of a plan with the given weight values (in `params`
 * order). Throws `ESPER_CHECKPOINT_MISMATCH` when the values do not fit the
 * layout (count or sizes).
 */
export function moduleFromPlan(plan: BlueprintPlan, values: readonly Float32Array[]): BlueprintModule {
  if (values.length !== plan.weights.length || plan.weights.some((w, i) => values[i]?.length !== w.size)) {
    throw new EsperError(
      'ESPER_CHECKPOINT_MISMATCH',
      `blueprint '${plan.ir.name}' has ${plan.weights.length} weights of sizes [${plan.weights.map((w) => w.size).join(', ')}], got ${values.length} of sizes [${values.map((v) => v.length).join(', ')}]`,
      { details: { blueprint: plan.ir.name, expected: plan.weights.map((w) => w.size), actual: values.map((v) => v.length) } },
    );
  }
  const params: tf.Variable[] = [];
  try {
    plan.weights.forEach((w, i) => {
      params.push(tf.tidy(() => tf.variable(tf.tensor(values[i] as Float32Array, [...w.shape], 'float32'), w.trainable)));
    });
  } catch (error) {
    params.forEach((p) => p.dispose());
    throw error;
  }
  const byNode = new Map<string, tf.Variable[]>();
  plan.weights.forEach((w, i) => {
    const list = byNode.get(w.nodeId) ?? [];
    list.push(params[i] as tf.Variable);
    byNode.set(w.nodeId, list);
  });
  const steps = plan.ir.nodes.map((node) => ({
    id: node.id,
    inputs: node.inputs,
    weights: byNode.get(node.id) ?? [],
    run: runner(node, plan.inputShapes.get(node.id) ?? []),
  }));
  const iface = plan.interface;
  const output = plan.ir.output;
  const outputNode = plan.ir.nodes.find((n) => n.id === output);
  // s(x) = b exactly when f = residual(input, b) (or residual(b, input)).
  const branch =
    outputNode?.op === 'residual' ? (outputNode.inputs[0] === BLUEPRINT_INPUT ? outputNode.inputs[1] : outputNode.inputs[1] === BLUEPRINT_INPUT ? outputNode.inputs[0] : undefined) : undefined;
  const preserving = sameShape(iface.inputShape, iface.outputShape);

  const evaluate = (x: tf.Tensor, target: string): tf.Tensor => {
    if (!sameShape(x.shape.slice(1), iface.inputShape)) {
      throw new RangeError(`Error in blueprint '${plan.ir.name}': x ${JSON.stringify(x.shape)} is not [batch, ${iface.inputShape.join(', ')}]`);
    }
    const values = new Map<string, tf.Tensor>([[BLUEPRINT_INPUT, x]]);
    if (target === BLUEPRINT_INPUT) return x;
    for (const step of steps) {
      const inputs = step.inputs.map((i) => values.get(i));
      if (inputs.some((t) => t === undefined)) throw new EsperError('ESPER_INTERNAL', `blueprint node '${step.id}' reads a value not computed yet`);
      values.set(step.id, step.run(inputs as tf.Tensor[], step.weights));
      if (step.id === target) break;
    }
    const result = values.get(target);
    if (result === undefined) throw new EsperError('ESPER_INTERNAL', `blueprint '${plan.ir.name}': node '${target}' was not computed`);
    return result;
  };

  const paramCount = params.reduce((n, p) => n + p.size, 0);
  if (paramCount !== plan.report.paramCount) {
    params.forEach((p) => p.dispose());
    throw new EsperError('ESPER_INTERNAL', `blueprint '${plan.ir.name}': the module has ${paramCount} parameters, the analysis counted ${plan.report.paramCount}`);
  }
  return {
    kind: BLUEPRINT_MODULE_KIND,
    // Numbers only (SeedModuleConfig): the first 48 bits of the IR hash identify the structure for checkpoint matching.
    config: Object.freeze({ irHashPrefix: Number.parseInt(plan.report.irHash.slice(0, 12), 16), paramCount }),
    params,
    paramCount,
    ir: plan.ir,
    interface: iface,
    irHash: plan.report.irHash,
    report: plan.report,
    weights: plan.weights,
    trainableParams: params.filter((p) => p.trainable),
    forward: (x) => evaluate(x, output),
    apply: (x) => {
      if (!preserving) {
        throw new EsperError('ESPER_INTERNAL', `blueprint '${plan.ir.name}' maps ${JSON.stringify(iface.inputShape)} to ${JSON.stringify(iface.outputShape)}; a seed contribution f(x) − x needs equal shapes`);
      }
      if (branch === undefined) return tf.sub(evaluate(x, output), x);
      // residual(input, input): s(x) = x.
      return branch === BLUEPRINT_INPUT ? tf.clone(evaluate(x, BLUEPRINT_INPUT)) : evaluate(x, branch);
    },
    readWeights: () => params.map((p) => p.dataSync<'float32'>().slice()),
    dispose: () => params.forEach((p) => p.dispose()),
  };
}

/**
 * Builds the module of blueprint `ir` for slot `iface` with fresh weights
 * drawn from `rng` (analysis first; throws its coded error).
 */
export function blueprintModule(ir: unknown, iface: SlotInterface | undefined, rng: Rng, options: BlueprintBuildOptions = {}): BlueprintModule {
  const plan = planBlueprint(ir, iface, options);
  return moduleFromPlan(plan, initialWeights(plan, rng));
}

/**
 * Rebuilds the module of blueprint `ir` for slot `iface` from stored weights
 * (in `params` order, e.g. a kernel artifact's or a checkpoint's).
 */
export function fromWeights(ir: unknown, iface: SlotInterface | undefined, weights: readonly Float32Array[], options: BlueprintBuildOptions = {}): BlueprintModule {
  return moduleFromPlan(planBlueprint(ir, iface, options), weights);
}
