/**
 * Adam and SGD over explicit parameter groups, written with plain tf ops so
 * that their whole state (moments, step counts) can be exported and restored
 * bit-exactly by a checkpoint. Each group (the host, each seed) has its own
 * state and step count, so host updates never depend on a seed, and a seed
 * added or removed later leaves the host's state untouched.
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../errors/index.ts';
import { seedGroupId, type HostModel, type ParamGroup } from './hosts/model.ts';
import { adamUpdate, adamUpdateColumns, type ColumnClock } from './ops/adam-update.ts';
import { withSharedTransposes } from './ops/shared-transpose.ts';
import { lineageOf, type Lineage } from './param-lineage.ts';
import type { FusedParam, ResidentFusion } from './resident-fusion.ts';

/** Adam (Kingma & Ba), with bias correction. */
export interface AdamConfig {
  kind: 'adam';
  learningRate: number;
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.999 */
  beta2?: number;
  /** @default 1e-8 */
  epsilon?: number;
}

/** Stochastic gradient descent, with optional heavy-ball momentum. */
export interface SgdConfig {
  kind: 'sgd';
  learningRate: number;
  /** @default 0 (no momentum buffer) */
  momentum?: number;
}

/** Which optimizer, and its hyper-parameters (shared by every group). */
export type OptimizerConfig = AdamConfig | SgdConfig;

/** A config with every default filled in. */
export type ResolvedOptimizerConfig = Required<AdamConfig> | Required<SgdConfig>;

/** One group's state: step count and, per parameter, its buffers (Adam: m, v; SGD with momentum: velocity). */
export interface OptimizerGroupState {
  id: string;
  step: number;
  /** Steps over which the group's learning rate ramps up from 0 (0: none); see {@link OptimizerOptions.freshWarmupSteps}. */
  warmupSteps?: number;
  params: { shape: number[]; buffers: Float32Array[] }[];
}

/** Everything needed to continue optimisation exactly where it was. */
export interface OptimizerState {
  config: ResolvedOptimizerConfig;
  groups: OptimizerGroupState[];
}

interface Group {
  params: readonly tf.Variable[];
  step: number;
  /** Its learning rate is scaled by min(1, step / warmupSteps) while step < warmupSteps (0: never). */
  warmupSteps: number;
  /** Per parameter, its buffers (created with the group, zero). */
  buffers: tf.Variable[][];
}

/** A fused group's own parameters and buffers, kept while it trains the wide ones. */
interface Fused {
  fusion: ResidentFusion;
  params: readonly tf.Variable[];
  buffers: tf.Variable[][];
}

function resolve(config: OptimizerConfig): ResolvedOptimizerConfig {
  if (!(config.learningRate > 0 && Number.isFinite(config.learningRate))) {
    throw new EsperError('ESPER_CONFIG_INVALID', `optimizer: learningRate ${config.learningRate} must be a positive number`);
  }
  if (config.kind === 'adam') return { kind: 'adam', learningRate: config.learningRate, beta1: config.beta1 ?? 0.9, beta2: config.beta2 ?? 0.999, epsilon: config.epsilon ?? 1e-8 };
  return { kind: 'sgd', learningRate: config.learningRate, momentum: config.momentum ?? 0 };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * What a group's state becomes when the model rebuilt some of its
 * parameters (a width seed merged into the host): `carry` builds their
 * buffers out of the old ones (training continues exactly as the unmerged
 * model would), `restart` starts the whole group afresh — zero moments,
 * step 0, so Adam's bias correction re-warms it (SPARKLING, growth-notes
 * §1: moments gathered on the narrow network hold the wider one back).
 */
export type AfterMerge = 'carry' | 'restart';

/** Options of an {@link Optimizer}. */
export interface OptimizerOptions {
  /** @default 'carry' */
  afterMerge?: AfterMerge;
  /**
   * A group whose state starts fresh after training has begun — a new seed's,
   * a width seed's when it starts blending ({@link Optimizer.restartGroup}),
   * the host's after a merge with `afterMerge: 'restart'` — has its learning
   * rate ramped linearly from 0 over this many of its steps. Fresh Adam
   * moments make the first steps full-sized whatever the gradient's
   * reliability: on Fashion-MNIST 784-12-10 (batch 64) they pushed about 70%
   * of 96 new units into ReLU death, against 19% of a static layer's units.
   * 0 = no ramp. @default 0
   */
  freshWarmupSteps?: number;
  /** The ramp of a group restarted by a merge (`afterMerge: 'restart'`), in its steps. @default freshWarmupSteps */
  mergeWarmupSteps?: number;
}

/** `value`, checked to be a whole number of steps (an option named `name`). */
function wholeSteps(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new EsperError('ESPER_CONFIG_INVALID', `optimizer: ${name} ${value} must be a whole number ≥ 0`);
  return value;
}

/** An optimizer over named parameter groups. Dispose it when done (its buffers are variables). */
export class Optimizer {
  #config: ResolvedOptimizerConfig;
  readonly #groups = new Map<string, Group>();
  readonly #afterMerge: AfterMerge;
  readonly #freshWarmupSteps: number;
  readonly #mergeWarmupSteps: number;
  #fused: Fused | undefined;

  constructor(config: OptimizerConfig, groups: readonly ParamGroup[] = [], options: OptimizerOptions = {}) {
    this.#config = resolve(config);
    this.#afterMerge = options.afterMerge ?? 'carry';
    this.#freshWarmupSteps = wholeSteps('freshWarmupSteps', options.freshWarmupSteps ?? 0);
    this.#mergeWarmupSteps = wholeSteps('mergeWarmupSteps', options.mergeWarmupSteps ?? this.#freshWarmupSteps);
    this.setGroups(groups);
  }

  /** The warm-up a group starting fresh now gets: none before the first step of training. */
  #warmupForFresh(steps = this.#freshWarmupSteps): number {
    if (steps === 0) return 0;
    for (const g of this.#groups.values()) if (g.step > 0) return steps;
    return 0;
  }

  get config(): ResolvedOptimizerConfig {
    return this.#config;
  }

  /** Changes the learning rate (e.g. a schedule); other settings are fixed. */
  setLearningRate(learningRate: number): void {
    this.#config = resolve({ ...this.#config, learningRate });
  }

  /** Ids of the groups it currently updates. */
  groupIds(): string[] {
    return [...this.#groups.keys()];
  }

  /**
   * Rebinds to `groups` after a structural change: a group whose id is kept
   * and whose parameters are the same variables keeps its state (so the host's Adam
   * moments survive a seed being added or pruned); new groups start fresh;
   * groups no longer listed are dropped and their buffers disposed.
   *
   * A kept group whose parameters the model rebuilt out of older variables
   * (a width seed merged into the host: see `param-lineage.ts`) keeps its
   * step count and the buffers of its unchanged parameters, and each rebuilt
   * parameter gets buffers built the same way from its sources' buffers (zero
   * for a source no group held). Adam moments coming from another group (the
   * seed's) are rescaled by (1 − β^t) / (1 − β^s), t this group's step count
   * and s theirs, so their bias-corrected values are unchanged by the move.
   * With `afterMerge: 'restart'` such a group starts afresh instead.
   */
  setGroups(groups: readonly ParamGroup[]): void {
    const next = new Map<string, Group>();
    const warmup = this.#warmupForFresh();
    const mergeWarmup = this.#warmupForFresh(this.#mergeWarmupSteps);
    const kept = new Set<tf.Variable>();
    const owners = new Map<tf.Variable, { group: Group; index: number }>();
    for (const old of this.#groups.values()) old.params.forEach((p, index) => owners.set(p, { group: old, index }));
    for (const g of groups) {
      if (next.has(g.id)) throw new EsperError('ESPER_INTERNAL', `Error in Optimizer.setGroups: group ${g.id} listed twice`);
      const old = this.#groups.get(g.id);
      // Only the very same variables (or ones rebuilt from them) keep their state: a new seed in a slot that once held another starts fresh.
      // A merge rebuilt some of its parameters (a seed's zero-padded ones are the same parameters, and carry on).
      const rebuilt = old !== undefined && g.params.some((p) => !old.params.includes(p) && lineageOf(p) !== undefined && lineageOf(p)?.kind !== 'pad');
      if (rebuilt && this.#afterMerge === 'restart') {
        next.set(g.id, { params: g.params, step: 0, warmupSteps: mergeWarmup, buffers: g.params.map((p) => this.#newBuffers(p)) });
        continue;
      }
      if (old !== undefined && g.params.every((p) => old.params.includes(p) || lineageOf(p) !== undefined)) {
        const buffers = g.params.map((p) => {
          const index = old.params.indexOf(p);
          if (index < 0) return this.#derivedBuffers(lineageOf(p) as Lineage, old.step, owners);
          const own = old.buffers[index] ?? [];
          own.forEach((b) => kept.add(b));
          return own;
        });
        next.set(g.id, { params: g.params, step: old.step, warmupSteps: old.warmupSteps, buffers });
      } else {
        next.set(g.id, { params: g.params, step: 0, warmupSteps: warmup, buffers: g.params.map((p) => this.#newBuffers(p)) });
      }
    }
    // Resident groups are not listed (their parameters are inside the fused ones) but keep their state until unfused.
    for (const [id, group] of this.#groups) {
      if (this.#residentSeed(id) === undefined || next.has(id)) continue;
      next.set(id, group);
      for (const buffers of group.buffers) buffers.forEach((b) => kept.add(b));
    }
    for (const group of this.#groups.values()) for (const buffers of group.buffers) buffers.forEach((b) => kept.has(b) || b.dispose());
    this.#groups.clear();
    for (const [id, group] of next) this.#groups.set(id, group);
  }

  /** Buffers of a parameter rebuilt by `lineage`, out of its sources' buffers (see {@link setGroups}). */
  #derivedBuffers(lineage: Lineage, step: number, owners: ReadonlyMap<tf.Variable, { group: Group; index: number }>): tf.Variable[] {
    const cfg = this.#config;
    const count = cfg.kind === 'adam' ? 2 : cfg.momentum > 0 ? 1 : 0;
    return Array.from({ length: count }, (_, b) =>
      tf.tidy(() => {
        const parts = lineage.sources.map((source) => {
          const owner = owners.get(source);
          const buffer = owner?.group.buffers[owner.index]?.[b];
          if (owner === undefined || buffer === undefined || owner.group.step === 0) return tf.zeros(source.shape);
          const from = owner.group.step;
          if (cfg.kind !== 'adam' || from === step || step === 0) return buffer;
          const beta = b === 0 ? cfg.beta1 : cfg.beta2;
          return tf.mul(buffer, (1 - beta ** step) / (1 - beta ** from));
        });
        return tf.variable(lineage.combine(parts), false);
      }),
    );
  }

  /**
   * Starts group `groupId` afresh: zero moments, step 0 (a no-op for a group
   * it does not hold). For a width seed entering BLENDING: the moments it
   * gathered on straight-through gradients (a forward pass that never showed
   * its effect, so they never shrink) would hold its blended training back.
   */
  restartGroup(groupId: string): void {
    this.#checkNotFused('restartGroup');
    const group = this.#groups.get(groupId);
    if (group === undefined) return;
    const warmup = this.#warmupForFresh();
    for (const buffers of group.buffers) buffers.forEach((b) => b.dispose());
    this.#groups.set(groupId, { params: group.params, step: 0, warmupSteps: warmup, buffers: group.params.map((p) => this.#newBuffers(p)) });
  }

  #checkNotFused(op: string): void {
    if (this.#fused !== undefined) throw new EsperError('ESPER_INTERNAL', `Error in Optimizer.${op}: seeds are resident (call unfuse first)`);
  }

  /** The fusion in effect ({@link fuse}), if any. */
  get fusion(): ResidentFusion | undefined {
    return this.#fused?.fusion;
  }

  /**
   * Trains the wide variables of `fusion` in place of the fused group's own
   * (width seeds resident in host layers: `resident-fusion.ts`): each wide
   * variable's buffers are joined from its parts' buffers, and each column
   * is updated on its owner's clock — the host's step count and learning
   * rate for host columns, each resident seed group's (which advances only
   * while it is not frozen) for its columns — so the values and states are
   * those the separate groups would reach. Every group named must be bound.
   */
  fuse(fusion: ResidentFusion): void {
    this.#checkNotFused('fuse');
    const host = this.#groups.get(fusion.groupId);
    const missing = [fusion.groupId, ...fusion.seeds.map((s) => s.groupId)].find((id) => !this.#groups.has(id));
    if (host === undefined || missing !== undefined) throw new EsperError('ESPER_INTERNAL', `Error in Optimizer.fuse: no group ${JSON.stringify(missing)} (call setGroups first)`);
    const params = [...host.params];
    const buffers = [...host.buffers];
    for (const [index, fused] of fusion.params) {
      const parts = fused.parts.map((part) => {
        const found = this.#groups.get(part.groupId)?.buffers[part.index];
        if (found === undefined) throw new EsperError('ESPER_INTERNAL', `Error in Optimizer.fuse: group ${part.groupId} has no parameter ${part.index}`);
        return found;
      });
      buffers[index] = (parts[0] ?? []).map((_, b) => tf.tidy(() => tf.variable(fused.join(parts.map((bs) => bs[b] as tf.Variable)), false)));
      params[index] = fused.wide;
    }
    this.#fused = { fusion, params: host.params, buffers: host.buffers };
    host.params = params;
    host.buffers = buffers;
  }

  /** The resident seed whose optimizer group is `groupId` (its parameters are inside the fused ones), if any. */
  #residentSeed(groupId: string): ResidentFusion['seeds'][number] | undefined {
    return this.#fused?.fusion.seeds.find((seed) => seed.groupId === groupId);
  }

  /** Writes the wide buffers back into each part's own and returns to the separate groups (a no-op when not fused). */
  unfuse(): void {
    const fused = this.#fused;
    if (fused === undefined) return;
    const host = this.#groups.get(fused.fusion.groupId) as Group;
    for (const [index, param] of fused.fusion.params) {
      const targets = param.parts.map((part, j) => (j === 0 ? fused.buffers[index] : this.#groups.get(part.groupId)?.buffers[part.index]) ?? []);
      (host.buffers[index] ?? []).forEach((wide, b) => {
        tf.tidy(() => param.split(wide).forEach((part, j) => targets[j]?.[b]?.assign(part)));
        wide.dispose();
      });
    }
    host.params = fused.params;
    host.buffers = fused.buffers;
    this.#fused = undefined;
  }

  /** A group's learning rate now (its warm-up ramp applied; `step` already counts the update being made). */
  #learningRate(group: Group): number {
    return this.#config.learningRate * (group.warmupSteps > 0 ? Math.min(1, group.step / group.warmupSteps) : 1);
  }

  /** Each part's clock for one update of a fused parameter. */
  #clocks(param: FusedParam, host: Group): ColumnClock[] {
    return param.parts.map((part, j) => {
      const group = j === 0 ? host : this.#groups.get(part.groupId);
      if (group === undefined || this.#residentSeed(part.groupId)?.frozen === true) return 'frozen';
      return { step: group.step, learningRate: this.#learningRate(group) };
    });
  }

  #newBuffers(p: tf.Variable): tf.Variable[] {
    const count = this.#config.kind === 'adam' ? 2 : this.#config.momentum > 0 ? 1 : 0;
    return Array.from({ length: count }, () => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  }

  /**
   * One update of group `groupId` with `grads` (one per parameter, in order;
   * undefined = no gradient reached it, so that parameter and its buffers are
   * left alone). Runs inside its own tidy.
   */
  step(groupId: string, grads: readonly (tf.Tensor | null | undefined)[]): void {
    const group = this.#groups.get(groupId);
    if (group === undefined) throw new EsperError('ESPER_INTERNAL', `Error in Optimizer.step: no group ${JSON.stringify(groupId)} (call setGroups first)`);
    if (grads.length !== group.params.length) {
      throw new RangeError(`Error in Optimizer.step: group ${groupId} has ${group.params.length} parameters, got ${grads.length} gradients`);
    }
    // A group none of whose parameters got a gradient (all frozen) takes no step: its count stays that of its updates.
    if (grads.every((g) => g === undefined || g === null)) return;
    group.step += 1;
    const fusion = this.#fused?.fusion.groupId === groupId ? this.#fused.fusion : undefined;
    // A resident seed steps with the group it is fused into, unless frozen.
    for (const seed of fusion?.seeds ?? []) {
      const resident = this.#groups.get(seed.groupId);
      if (resident !== undefined && !seed.frozen) resident.step += 1;
    }
    const cfg = this.#config;
    const learningRate = this.#learningRate(group);
    tf.tidy(() => {
      group.params.forEach((p, i) => {
        const g = grads[i];
        if (g === undefined || g === null) return; // non-trainable variables (batch-norm statistics) get a null gradient
        if (!sameShape(g.shape, p.shape)) throw new RangeError(`Error in Optimizer.step: gradient ${i} of group ${groupId} is ${JSON.stringify(g.shape)}, parameter is ${JSON.stringify(p.shape)}`);
        const buffers = group.buffers[i] ?? [];
        const fused = fusion?.params.get(i);
        if (fused !== undefined) {
          this.#stepColumns(p, g, buffers, fused, this.#clocks(fused, group));
        } else if (cfg.kind === 'adam') {
          const [m, v] = buffers as [tf.Variable, tf.Variable];
          const next = adamUpdate(p, m, v, g, { beta1: cfg.beta1, beta2: cfg.beta2, epsilon: cfg.epsilon, learningRate, step: group.step });
          m.assign(next.m);
          v.assign(next.v);
          p.assign(next.param);
        } else if (cfg.momentum > 0) {
          const [velocity] = buffers as [tf.Variable];
          velocity.assign(tf.add(tf.mul(velocity, cfg.momentum), g));
          p.assign(tf.sub(p, tf.mul(velocity, learningRate)));
        } else {
          p.assign(tf.sub(p, tf.mul(g, learningRate)));
        }
      });
    });
  }

  /** One update of a fused parameter, each column on its owner's clock. */
  #stepColumns(p: tf.Variable, g: tf.Tensor, buffers: tf.Variable[], fused: FusedParam, clocks: ColumnClock[]): void {
    const cfg = this.#config;
    if (cfg.kind === 'adam') {
      const [m, v] = buffers as [tf.Variable, tf.Variable];
      const next = adamUpdateColumns(p, m, v, g, cfg, fused.layout, clocks);
      m.assign(next.m);
      v.assign(next.v);
      p.assign(next.param);
      return;
    }
    const { outer, inner, owners } = fused.layout;
    const shape3 = [outer, owners.length, inner];
    const rates = Float32Array.from(owners, (o) => {
      const clock = clocks[o];
      return clock === undefined || clock === 'frozen' ? 0 : clock.learningRate;
    });
    const rate = tf.tensor(rates, [1, owners.length, 1], 'float32');
    let direction = g;
    if (cfg.momentum > 0) {
      const [velocity] = buffers as [tf.Variable];
      const active = tf.broadcastTo(tf.tensor(Uint8Array.from(owners, (o) => (clocks[o] === 'frozen' ? 0 : 1)), [1, owners.length, 1], 'bool'), shape3);
      const v3 = tf.reshape(velocity, shape3);
      const next = tf.where(active, tf.add(tf.mul(v3, cfg.momentum), tf.reshape(g, shape3)), v3);
      velocity.assign(tf.reshape(next, velocity.shape));
      direction = velocity;
    }
    p.assign(tf.reshape(tf.sub(tf.reshape(p, shape3), tf.mul(tf.reshape(direction, shape3), rate)), p.shape));
  }

  /** A copy of the whole state (config, and per group its step count and buffers). */
  exportState(): OptimizerState {
    this.#checkNotFused('exportState');
    return {
      config: { ...this.#config },
      groups: [...this.#groups].map(([id, group]) => ({
        id,
        step: group.step,
        ...(group.warmupSteps === 0 ? {} : { warmupSteps: group.warmupSteps }),
        params: group.params.map((p, i) => ({ shape: [...p.shape], buffers: (group.buffers[i] ?? []).map((b) => (b.dataSync() as Float32Array).slice()) })),
      })),
    };
  }

  /**
   * Restores `state` into the groups currently bound (see {@link setGroups}):
   * the config is taken from `state`; a bound group found in `state` gets its
   * step count and buffers back exactly, one not found starts fresh; groups
   * of `state` not bound (e.g. of a pruned seed) are ignored.
   *
   * @throws EsperError `ESPER_CHECKPOINT_MISMATCH` when the kind differs or a
   *   group's parameter shapes or buffer counts do not match.
   */
  restoreState(state: OptimizerState): void {
    this.#checkNotFused('restoreState');
    if (state.config.kind !== this.#config.kind) {
      throw new EsperError('ESPER_CHECKPOINT_MISMATCH', `optimizer state is ${state.config.kind}, this optimizer is ${this.#config.kind}`);
    }
    const config = resolve(state.config);
    const saved = new Map(state.groups.map((g) => [g.id, g]));
    const wantBuffers = config.kind === 'adam' ? 2 : config.momentum > 0 ? 1 : 0;
    for (const [id, group] of this.#groups) {
      const s = saved.get(id);
      if (s === undefined) continue;
      const fits = s.params.length === group.params.length && s.params.every((sp, i) => sameShape(sp.shape, (group.params[i] as tf.Variable).shape) && sp.buffers.length === wantBuffers);
      if (!fits) throw new EsperError('ESPER_CHECKPOINT_MISMATCH', `optimizer group ${id}: saved parameter shapes or buffers do not match the model`, { details: { group: id } });
    }
    this.#config = config;
    // A bound group the state does not hold starts fresh, warmed up as it would have been when training had begun.
    const freshWarmup = state.groups.some((g) => g.step > 0) ? this.#freshWarmupSteps : 0;
    for (const [id, group] of this.#groups) {
      for (const buffers of group.buffers) buffers.forEach((b) => b.dispose());
      const s = saved.get(id);
      group.step = s?.step ?? 0;
      group.warmupSteps = s === undefined ? freshWarmup : (s.warmupSteps ?? 0);
      group.buffers = group.params.map((p, i) => {
        const sp = s?.params[i];
        if (sp === undefined) return this.#newBuffers(p);
        return sp.buffers.map((values) => tf.tidy(() => tf.variable(tf.tensor(values, sp.shape, 'float32'), false)));
      });
    }
  }

  #disposeGroups(): void {
    for (const group of this.#groups.values()) for (const buffers of group.buffers) buffers.forEach((b) => b.dispose());
    this.#groups.clear();
  }

  /** Disposes every buffer. */
  dispose(): void {
    this.unfuse();
    this.#disposeGroups();
  }
}

/**
 * Mean softmax cross-entropy of `logits` [n, classes] against `labels`:
 * integer class ids [n] or one-hot / probabilities [n, classes].
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    const classes = logits.shape[1];
    const target = labels.rank === 1 ? tf.oneHot(tf.cast(labels, 'int32'), classes) : labels;
    if (!sameShape(target.shape, logits.shape)) {
      throw new RangeError(`Error in softmaxCrossEntropy: labels ${JSON.stringify(labels.shape)} do not fit logits ${JSON.stringify(logits.shape)}`);
    }
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.cast(target, 'float32'), tf.logSoftmax(logits)), -1))) as tf.Scalar;
  });
}

/**
 * One training step: forward, softmax cross-entropy, gradients for every
 * trainable group (host, trainable seeds), and one optimizer update per
 * group. The optimizer is rebound to the model's current groups first
 * (keeping existing groups' state). Creates no lasting tensors; the loss (and,
 * with `gradNorms`, each group's global gradient L2 norm, frozen parameters
 * included) is read once, synchronously. Without `gradNorms`, frozen
 * parameters' gradients are not computed at all.
 *
 * Width seeds that train live in TRAINING ({@link WidthSlot.trainsLive}) get
 * their gradients from a second, seed pass: the forward with those seeds
 * added at full strength, differentiated for their parameters only. Every
 * other group's gradients, and the reported loss, come from the first pass,
 * where those seeds add nothing — so the host steps exactly as without them.
 */
export function trainStep(
  model: HostModel,
  optimizer: Optimizer,
  xBatch: tf.Tensor,
  yBatch: tf.Tensor,
  options: { gradNorms?: boolean } = {},
): { loss: number; gradNorms?: Record<string, number> } {
  const groups = model.paramGroups();
  optimizer.setGroups(groups); // cheap when nothing changed; keeps every surviving group's state
  const live = model.widthSlots.filter((slot) => slot.trainsLive);
  const liveGroups = new Set(live.map((slot) => seedGroupId(slot.id)));
  return tf.tidy(() => {
    // A frozen parameter's gradient is only read for its group's norm: without norms the tape skips it (and the
    // backward pass that only leads to it — in straight-through TRAINING, a width seed's units and incoming weights).
    const varsOf = (pass: readonly ParamGroup[]): tf.Variable[] =>
      pass.flatMap((g) => (options.gradNorms === true || g.frozen === undefined ? [...g.params] : g.params.filter((_, j) => g.frozen?.includes(j) !== true)));
    const lossOf = (): tf.Scalar => softmaxCrossEntropy(model.forward(xBatch), yBatch);
    const { value, grads } = withSharedTransposes(() => tf.variableGrads(lossOf, varsOf(groups.filter((g) => !liveGroups.has(g.id)))));
    if (live.length > 0) {
      live.forEach((slot) => slot.setSeedPass(true));
      try {
        const seedPass = withSharedTransposes(() => tf.variableGrads(lossOf, varsOf(groups.filter((g) => liveGroups.has(g.id)))));
        Object.assign(grads, seedPass.grads);
      } finally {
        live.forEach((slot) => slot.setSeedPass(false));
      }
    }
    const perGroup = groups.map((g) => g.params.map((p) => grads[p.name]));
    // A frozen parameter gets no update: the optimizer leaves it (and its moments) alone when its gradient is undefined.
    const updates = groups.map((g, i) => perGroup[i]?.map((grad, j) => (g.frozen?.includes(j) === true ? undefined : grad)) ?? []);
    // Norms are computed before the update (which may reuse gradient buffers) and read with the loss in one sync.
    const norms = options.gradNorms === true ? groupGradNorms(groups, perGroup, optimizer.fusion) : new Map<string, tf.Scalar>();
    groups.forEach((g, i) => optimizer.step(g.id, updates[i] ?? []));
    const values = tf.stack([value, ...norms.values()]).dataSync();
    const loss = values[0] ?? Number.NaN;
    if (options.gradNorms !== true) return { loss };
    const gradNorms: Record<string, number> = {};
    [...norms.keys()].forEach((id, i) => {
      gradNorms[id] = values[i + 1] ?? Number.NaN;
    });
    return { loss, gradNorms };
  });
}

/**
 * Runs `fn` (training steps) with every width seed that can be resident in
 * its host layers resident (`resident-fusion.ts`): the model builds the wide
 * variables, the optimizer carries their state column by column; afterwards
 * (also on a throw) every value and optimizer state is written back into the
 * model's own variables and groups, so nothing else ever sees the resident
 * form. Without such seeds `fn` just runs.
 */
export function withResidentSeeds<T>(model: HostModel, optimizer: Optimizer, fn: () => T): T {
  optimizer.setGroups(model.paramGroups());
  const fusion = model.fuseResidentSeeds();
  if (fusion === undefined) return fn();
  try {
    optimizer.fuse(fusion);
  } catch (error) {
    model.unfuseResidentSeeds();
    throw error;
  }
  try {
    return fn();
  } finally {
    optimizer.unfuse();
    model.unfuseResidentSeeds();
  }
}

/**
 * Each group's global gradient L2 norm; a fused parameter's gradient is split
 * into its parts, so resident seeds get their norms (and the host only its
 * own columns'), as with separate groups.
 */
function groupGradNorms(groups: readonly ParamGroup[], perGroup: readonly (tf.Tensor | null | undefined)[][], fusion: ResidentFusion | undefined): Map<string, tf.Scalar> {
  const squares = new Map<string, tf.Tensor[]>();
  const add = (id: string, grad: tf.Tensor | null | undefined): void => {
    const list = squares.get(id) ?? [];
    list.push(grad === undefined || grad === null ? tf.scalar(0) : tf.sum(tf.square(grad)));
    squares.set(id, list);
  };
  groups.forEach((g, i) =>
    (perGroup[i] ?? []).forEach((grad, j) => {
      const fused = g.id === fusion?.groupId ? fusion.params.get(j) : undefined;
      if (fused === undefined || grad === undefined || grad === null) return add(g.id, grad);
      fused.split(grad).forEach((part, k) => add(fused.parts[k]?.groupId ?? g.id, part));
    }),
  );
  return new Map([...squares].map(([id, list]) => [id, tf.sqrt(tf.addN(list)) as tf.Scalar]));
}

/** Loss and number of correct predictions on one batch (no gradients, no updates). */
export function evaluateBatch(model: HostModel, xBatch: tf.Tensor, yBatch: tf.Tensor): { loss: number; correct: number; count: number } {
  return tf.tidy(() => {
    const logits = model.forward(xBatch);
    const loss = softmaxCrossEntropy(logits, yBatch).dataSync()[0] ?? Number.NaN;
    const truth = yBatch.rank === 1 ? tf.cast(yBatch, 'int32') : tf.argMax(yBatch, -1);
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), truth), 'int32')).dataSync()[0] ?? 0;
    return { loss, correct, count: logits.shape[0] };
  });
}
