/**
 * A seed slot sits on one host activation and decides, by its mode, how (and
 * whether) the seed attached to it enters the forward pass (DESIGN §2, digest
 * §2C). Which mode follows which is the lifecycle's business (a pure
 * `transition()` elsewhere); the slot only checks what it physically needs
 * (a seed attached, α in range) and does the tensor work.
 *
 * | mode       | output                      | host gets seed-path gradient |
 * |------------|-----------------------------|------------------------------|
 * | DORMANT    | h (seed not run)            | —                            |
 * | TRAINING   | h + (s − stop(s)), s = seed(stop(h)) — forward is h exactly | no |
 * | BLENDING   | h + α·seed(stop(h)) (or seed(h) with `detachInBlending: false`) | only if not detached |
 * | HOLDING    | as BLENDING, α held         | as BLENDING                  |
 * | FOSSILIZED | h + seed(h), α = 1          | yes (part of the host now)   |
 * | PRUNED     | h (seed disposed)           | —                            |
 */
import * as tf from '@tensorflow/tfjs';
import type { SeedStage } from '../contracts/kasmina.ts';
import { EsperError } from '../errors/index.ts';
import { countParams, glorotUniform, heNormal, zerosVariable } from './hosts/init.ts';
import { denseMatMul } from './ops/dense-matmul.ts';
import { stopGradient } from './ops/stop-gradient.ts';
import { straightThrough } from './ops/straight-through.ts';
import type { Rng } from './rng.ts';
import { SlotState, type SlotMode } from './slot-state.ts';

export { SLOT_MODES, type SlotMode } from './slot-state.ts';

/** The slot mode that realises lifecycle stage `stage`. */
export function slotModeForStage(stage: SeedStage): SlotMode {
  switch (stage) {
    case 'DORMANT':
    case 'GERMINATED':
      return 'DORMANT';
    case 'PRUNED':
    case 'EMBARGOED':
    case 'RESETTING':
      return 'PRUNED';
    default:
      return stage;
  }
}


/** Options of a slot. */
export interface SeedSlotOptions {
  /**
   * Whether the seed keeps reading the host through a gradient stop in
   * BLENDING and HOLDING (CNN-style isolation; transformers drop it).
   * @default true
   */
  detachInBlending?: boolean;
  /**
   * Whether a FOSSILIZED seed keeps training jointly with the host; when
   * false it is frozen.
   * @default false
   */
  trainFossil?: boolean;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A derived Rng for the seed germinated in `slotId` (the `generation`-th one there); consumes nothing from `rng`. */
export function forkSeedRng(rng: Rng, slotId: string, generation = 0): Rng {
  let hash = 0x811c9dc5; // FNV-1a over the slot id: a stable label per slot.
  for (let i = 0; i < slotId.length; i++) hash = Math.imul(hash ^ slotId.charCodeAt(i), 0x01000193) >>> 0;
  return rng.fork((hash ^ Math.imul(generation, 0x9e3779b1)) >>> 0);
}

/** One seed slot on a host activation of shape `[batch, ...shape]`. Modes, α, prune, reset and ablation: see {@link SlotState}. */
export class SeedSlot extends SlotState<SeedModule> {
  readonly slotKind = 'depth' as const;
  protected readonly label = 'SeedSlot';
  /** The activation's shape without the batch dimension (the slot's interface). */
  readonly shape: readonly number[];
  readonly detachInBlending: boolean;
  readonly trainFossil: boolean;

  constructor(id: string, shape: readonly number[], options: SeedSlotOptions = {}) {
    super(id);
    this.shape = Object.freeze([...shape]);
    this.detachInBlending = options.detachInBlending ?? true;
    this.trainFossil = options.trainFossil ?? false;
  }

  /** Whether the seed's parameters are updated by a train step in the current mode. */
  get trainable(): boolean {
    if (this.seed === undefined) return false;
    const m = this.mode;
    return m === 'TRAINING' || m === 'BLENDING' || m === 'HOLDING' || (m === 'FOSSILIZED' && this.trainFossil);
  }

  /**
   * Attaches a seed to an empty DORMANT slot (germination). A shape probe
   * checks the seed maps the slot's interface onto itself (gate G0).
   */
  attach(seed: SeedModule): void {
    this.checkEmpty('attach');
    let probeShape: number[] | undefined;
    let cause: unknown;
    try {
      probeShape = tf.tidy(() => seed.apply(tf.zeros([1, ...this.shape])).shape);
    } catch (error) {
      cause = error;
    }
    if (probeShape === undefined || !sameShape(probeShape, [1, ...this.shape])) {
      const got = probeShape === undefined ? `an error (${String(cause)})` : JSON.stringify(probeShape);
      throw new EsperError('ESPER_INTERNAL', `Error in SeedSlot.attach: seed ${seed.kind} maps ${JSON.stringify([1, ...this.shape])} to ${got} in slot ${this.id}`, {
        details: { slotId: this.id, kind: seed.kind },
        cause,
      });
    }
    this.hold(seed);
  }

  /** FOSSILIZED: the seed stays, at α = 1. */
  protected fossilize(): void {
    this.setState('FOSSILIZED', 1);
  }

  /**
   * Puts the slot exactly in a checkpointed state, whatever its current one
   * (rollback may undo a fossilisation). Disposes the current seed unless it
   * is `seed` itself. Not a lifecycle move: only checkpoint restore uses it.
   */
  restoreState(seed: SeedModule | undefined, mode: SlotMode, alpha: number): void {
    this.checkAlpha('restoreState', alpha);
    if (seed === undefined && mode !== 'DORMANT' && mode !== 'PRUNED') {
      throw new EsperError('ESPER_INTERNAL', `Error in SeedSlot.restoreState: slot ${this.id} cannot be ${mode} without a seed`);
    }
    this.restore(seed, mode, alpha);
  }

  /**
   * The slot's output for host activation `h` ([batch, ...shape]). Call it
   * inside `tf.tidy`; in DORMANT and PRUNED it returns `h` itself and runs nothing.
   */
  apply(h: tf.Tensor): tf.Tensor {
    if (!sameShape(h.shape.slice(1), this.shape)) {
      throw new RangeError(`Error in SeedSlot.apply: slot ${this.id} expects [batch, ${this.shape.join(', ')}], got h ${JSON.stringify(h.shape)}`);
    }
    const seed = this.seed;
    const mode = this.mode;
    if (seed === undefined || this.ablated || mode === 'DORMANT' || mode === 'PRUNED') return h;
    switch (mode) {
      case 'TRAINING': {
        // Straight-through: the forward value is h exactly, the seed gets
        // the task gradient via s, the host gets none via stop(h).
        return straightThrough(h, seed.apply(stopGradient(h)));
      }
      case 'BLENDING':
      case 'HOLDING': {
        const s = seed.apply(this.detachInBlending ? stopGradient(h) : h);
        return tf.add(h, tf.mul(s, tf.scalar(this.alpha)));
      }
      case 'FOSSILIZED':
        return tf.add(h, seed.apply(h));
    }
  }
}

// --- seed modules -------------------------------------------------------------

/** A seed module's constructor arguments, as JSON (numbers only). */
export type SeedModuleConfig = Readonly<Record<string, number>>;

/**
 * A trainable module a slot can host: maps `[batch, ...shape]` onto itself.
 * Blueprint compilation will produce these too; the built-ins below are the
 * hand-written ones. Every built-in starts as an identity contribution (its
 * last layer is zero), so blending it in cannot shock the host.
 */
export interface SeedModule {
  /** Which constructor built it, e.g. `residual-dense`; with `config`, enough to rebuild its structure (a checkpoint then fills the weights). */
  readonly kind: string;
  readonly config: SeedModuleConfig;
  /** Blueprint modules only: the IR it was built from (with `kind` and `config`, what a checkpoint needs to rebuild it). */
  readonly ir?: unknown;
  /** Its trainable variables, in a fixed order (checkpoints and optimizer state rely on it). */
  readonly params: tf.Variable[];
  /** Number of scalars in `params`. */
  readonly paramCount: number;
  /** The seed's contribution s(x), same shape as x; call inside `tf.tidy`. */
  apply(x: tf.Tensor): tf.Tensor;
  /** Disposes its variables. */
  dispose(): void;
}

function makeModule(kind: string, config: SeedModuleConfig, params: tf.Variable[], apply: (x: tf.Tensor) => tf.Tensor): SeedModule {
  return {
    kind,
    config: Object.freeze({ ...config }),
    params,
    paramCount: countParams(params),
    apply,
    dispose: () => params.forEach((p) => p.dispose()),
  };
}

function expectShape(op: string, x: tf.Tensor, rank: number, last: number): void {
  if (x.rank !== rank || x.shape[rank - 1] !== last) {
    throw new RangeError(`Error in ${op}: x ${JSON.stringify(x.shape)} is not rank ${rank} with last dimension ${last}`);
  }
}

function positiveInt(op: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Error in ${op}: ${name} ${value} is not a positive integer`);
}

/**
 * x [n, width] → relu(x·W1 + b1)·W2 + b2, with W2 and b2 zero at start. With
 * `depth` > 1 the ReLU layers of width `hidden` are stacked `depth` times
 * (x → hidden → … → hidden → width; each inner layer He-initialised), the
 * output layer still zero at start. Config: `{ width, hidden }`, plus
 * `depth` when it is above 1 (so depth-1 configs and checkpoints are unchanged).
 */
export function residualDenseAdapter(width: number, hidden: number, rng: Rng, depth = 1): SeedModule {
  positiveInt('residualDenseAdapter', 'width', width);
  positiveInt('residualDenseAdapter', 'hidden', hidden);
  positiveInt('residualDenseAdapter', 'depth', depth);
  const layers: [tf.Variable, tf.Variable][] = [];
  for (let i = 0; i < depth; i++) {
    const fanIn = i === 0 ? width : hidden;
    layers.push([heNormal(rng, [fanIn, hidden], fanIn), zerosVariable([hidden])]);
  }
  const wOut = zerosVariable([hidden, width]);
  const bOut = zerosVariable([width]);
  const config = depth === 1 ? { width, hidden } : { width, hidden, depth };
  return makeModule('residual-dense', config, [...layers.flat(), wOut, bOut], (x) => {
    expectShape('residualDenseAdapter', x, 2, width);
    let a = x as tf.Tensor2D;
    for (const [w, b] of layers) a = tf.relu(tf.add(denseMatMul(a, w as tf.Tensor2D), b)) as tf.Tensor2D;
    return tf.add(denseMatMul(a, wOut as tf.Tensor2D), bOut);
  });
}

/** x [n, width] → x·A·B with A [width, rank] (Glorot) and B [rank, width] zero at start. */
export function lowRankAdapter(width: number, rank: number, rng: Rng): SeedModule {
  positiveInt('lowRankAdapter', 'width', width);
  positiveInt('lowRankAdapter', 'rank', rank);
  const a = glorotUniform(rng, [width, rank], width, rank);
  const b = zerosVariable([rank, width]);
  return makeModule('low-rank', { width, rank }, [a, b], (x) => {
    expectShape('lowRankAdapter', x, 2, width);
    return denseMatMul(denseMatMul(x as tf.Tensor2D, a as tf.Tensor2D), b as tf.Tensor2D);
  });
}

/** Options of {@link convAdapter}. */
export interface ConvAdapterOptions {
  /** Size of the first conv's square kernel. @default 3 */
  kernelSize?: 1 | 3;
  /** Channels between the two convs. @default channels */
  hidden?: number;
}

/**
 * x [n, h, w, channels] (NHWC) → conv1x1(relu(conv_k(x) + b1)) + b2, padding
 * 'same'; the 1×1 output conv and its bias are zero at start.
 */
export function convAdapter(channels: number, rng: Rng, options: ConvAdapterOptions = {}): SeedModule {
  const kernelSize = options.kernelSize ?? 3;
  const hidden = options.hidden ?? channels;
  positiveInt('convAdapter', 'channels', channels);
  positiveInt('convAdapter', 'hidden', hidden);
  if (kernelSize !== 1 && kernelSize !== 3) throw new RangeError(`Error in convAdapter: kernelSize ${String(kernelSize)} is not 1 or 3`);
  const k1 = heNormal(rng, [kernelSize, kernelSize, channels, hidden], kernelSize * kernelSize * channels);
  const b1 = zerosVariable([hidden]);
  const k2 = zerosVariable([1, 1, hidden, channels]);
  const b2 = zerosVariable([channels]);
  return makeModule('conv', { channels, hidden, kernelSize }, [k1, b1, k2, b2], (x) => {
    expectShape('convAdapter', x, 4, channels);
    const a = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, k1 as tf.Tensor4D, 1, 'same'), b1)) as tf.Tensor4D;
    return tf.add(tf.conv2d(a, k2 as tf.Tensor4D, 1, 'same'), b2);
  });
}

/**
 * Rebuilds a built-in seed module from its `kind` and `config` (weights are
 * fresh; a checkpoint restore overwrites them). Undefined for other kinds.
 */
export function builtinSeedModule(kind: string, config: SeedModuleConfig, rng: Rng): SeedModule | undefined {
  const n = (key: string): number => config[key] ?? Number.NaN;
  switch (kind) {
    case 'residual-dense':
      return residualDenseAdapter(n('width'), n('hidden'), rng, config['depth'] ?? 1);
    case 'low-rank':
      return lowRankAdapter(n('width'), n('rank'), rng);
    case 'conv':
      return convAdapter(n('channels'), rng, { kernelSize: n('kernelSize') as 1 | 3, hidden: n('hidden') });
    default:
      return undefined;
  }
}
