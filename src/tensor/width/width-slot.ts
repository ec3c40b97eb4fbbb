/**
 * A width slot: where a {@link WidthSeed} grows k new units of hidden layer L
 * (DESIGN §8). It has the modes and methods of a depth slot ({@link SlotState}); the
 * host asks it for its contribution to layer L+1's pre-activation z, given
 * layer L's input h:
 *
 * | mode       | z becomes                                              | host gets seed-path gradient |
 * |------------|--------------------------------------------------------|------------------------------|
 * | DORMANT    | z (seed not run)                                       | —                            |
 * | TRAINING   | straight-through (default): z + (c − stop(c)), c = Ω·u(stop(h)) — forward is z exactly; live: z, and z + c in the train step's seed pass | no |
 * | BLENDING   | z + α·Ω·u(stop(h)) (u(h) with `detachInBlending: false`) | only if not detached       |
 * | HOLDING    | as BLENDING, α held                                    | as BLENDING                  |
 * | FOSSILIZED | z: the units were merged into layers L and L+1, which are wider now | (they are host units) |
 * | PRUNED     | z (seed disposed)                                      | —                            |
 *
 * How a TRAINING seed learns (`trainingForward`): `straight-through` (the
 * default) — one pass, z + (c − stop(c)): the forward is z, the seed gets the
 * task gradient as if it were added, and only Ω learns (Ψ and b wait for
 * BLENDING: through that gradient the units would collapse onto one
 * direction). `live` (opt-in; measured, not better: docs/benchmarks.md,
 * twenty-first session) — every train step
 * runs a second, seed pass whose forward includes the seed at full strength
 * and which differentiates only the seed's parameters (Ψ, b and Ω all learn,
 * each unit seeing what the others do); the host's step comes from the pass
 * without it, so the host is exactly as without the seed.
 *
 * Fossilising merges: the slot hands its seed to the host, which widens its
 * layers and disposes the seed; the slot keeps only a record of what it added.
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import { straightThrough } from '../ops/straight-through.ts';
import { widthBlend } from '../ops/width-blend.ts';
import { SlotState, type SlotMode } from '../slot-state.ts';
import { sameGeometry, type WidthGeometry, type WidthSeed } from './width-seed.ts';

/** What a width slot needs from its host. */
export interface WidthSlotHost {
  /** The geometry a seed in this slot must have now (it changes when a neighbouring layer grows). */
  geometry(): WidthGeometry;
  /** Merges `seed` into layers L and L+1 (and disposes it); throws, changing nothing, when it cannot now. */
  merge(slot: WidthSlot, seed: WidthSeed): void;
}

/** How a TRAINING width seed learns (see the module comment). */
export type WidthTrainingForward = 'live' | 'straight-through';

/** Options of a width slot. */
export interface WidthSlotOptions {
  /** Whether a BLENDING or HOLDING seed reads layer L's input through a gradient stop. @default true */
  detachInBlending?: boolean;
  /** How a TRAINING seed learns. @default 'straight-through' */
  trainingForward?: WidthTrainingForward;
}

/** What a slot's fossils added to the host, over its life. */
export interface MergedGrowth {
  /** Units (or channels) merged into layer L. */
  units: number;
  /** Scalars merged into the host (Ψ, b and Ω). */
  params: number;
}

/** One width slot on hidden layer `layer` (1-based). Modes, α, prune, reset and ablation: see {@link SlotState}. */
export class WidthSlot extends SlotState<WidthSeed> {
  readonly slotKind = 'width' as const;
  protected readonly label = 'WidthSlot';

  /** The hidden layer it widens (1-based, as `afterLayer` of depth slots). */
  readonly layer: number;
  readonly detachInBlending: boolean;
  readonly trainingForward: WidthTrainingForward;
  readonly #host: WidthSlotHost;
  #merged: MergedGrowth = { units: 0, params: 0 };
  #resident = false;
  /** True during a train step's seed pass (live TRAINING). */
  #seedPass = false;

  constructor(id: string, layer: number, host: WidthSlotHost, options: WidthSlotOptions = {}) {
    super(id);
    this.layer = layer;
    this.#host = host;
    this.detachInBlending = options.detachInBlending ?? true;
    this.trainingForward = options.trainingForward ?? 'straight-through';
  }

  /** Whether a train step must run a seed pass for this slot: a seed in TRAINING that learns live, not ablated. */
  get trainsLive(): boolean {
    return this.trainingForward === 'live' && this.mode === 'TRAINING' && this.seed !== undefined && !this.ablated;
  }

  /**
   * Switches the seed pass on or off: while on, {@link apply} adds a live
   * TRAINING seed's contribution at full strength. Only the train step calls
   * it (`trainStep`), around the pass that differentiates the seed alone.
   */
  setSeedPass(on: boolean): void {
    this.#seedPass = on;
  }

  /** The geometry a seed germinated here must have now. */
  get geometry(): WidthGeometry {
    return this.#host.geometry();
  }

  /** What this slot's merged seeds added to the host. */
  get merged(): MergedGrowth {
    return { ...this.#merged };
  }

  /**
   * True while the seed's units are resident in the host layers (the host
   * computes them: `resident-fusion.ts`); {@link apply} then adds nothing.
   */
  get resident(): boolean {
    return this.#resident;
  }

  /** Set by the host when it makes the seed resident and when it writes it back (nothing else may call it). */
  setResident(resident: boolean): void {
    if (resident && (this.seed === undefined || (this.mode !== 'BLENDING' && this.mode !== 'HOLDING'))) {
      throw new EsperError('ESPER_INTERNAL', `Error in WidthSlot.setResident: slot ${this.id} is ${this.mode}${this.seed ? '' : ' without a seed'}; only a BLENDING or HOLDING seed can be resident`);
    }
    this.#resident = resident;
  }

  /** Whether the seed's parameters are updated by a train step in the current mode (a merged seed trains as part of the host). */
  get trainable(): boolean {
    const m = this.mode;
    return this.seed !== undefined && (m === 'TRAINING' || m === 'BLENDING' || m === 'HOLDING');
  }

  /**
   * Indices of the seed's parameters a train step leaves alone now: none in
   * live TRAINING (the seed pass's forward includes the seed); in
   * straight-through TRAINING its incoming weights Ψ and b ([0, 1]), so only
   * Ω learns there. The straight-through gradient never shows a unit what
   * the others already do, so every unit chases the same direction: one
   * epoch of it collapsed 32 new units of Fashion-MNIST 784-4-10 onto about
   * one direction (effective rank of the merged layer's 36 units 1.5,
   * against 10–13 when Ψ waits for BLENDING, where the forward pass includes
   * the seed). Ψ keeps its init (gradient-aimed or random) until then.
   */
  override get frozenParams(): readonly number[] {
    if (this.mode === 'TRAINING') return this.trainingForward === 'live' ? [] : [0, 1];
    // Blending at α = 0 (its first epoch) the seed contributes nothing, so every gradient of it is zero: no step at all,
    // or Adam's step count would advance on zero gradients and inflate its first real updates 2–3× by bias correction.
    if (this.mode === 'BLENDING' && this.alpha === 0) return [0, 1, 2];
    return [];
  }

  /** Attaches a seed to an empty DORMANT slot (germination); its geometry must be the slot's current one (gate G0). */
  attach(seed: WidthSeed): void {
    this.checkEmpty('attach');
    const want = this.geometry;
    if (!sameGeometry(seed.geometry, want)) {
      throw new EsperError('ESPER_CONFIG_INVALID', `width slot ${this.id}: seed geometry ${JSON.stringify(seed.geometry)} does not fit layer ${this.layer} (${JSON.stringify(want)})`, {
        details: { slotId: this.id, seed: seed.geometry, slot: want },
      });
    }
    this.hold(seed);
  }

  /**
   * Takes `seed`, the live seed widened because a neighbouring layer grew
   * (`padWidthSeed`: the same units, zero weights where the new units meet
   * them), in place of the one it replaced; mode and α are unchanged. Only the
   * host calls it, during that merge.
   */
  replaceWidened(seed: WidthSeed): void {
    const held = this.seed;
    if (held === undefined || held.units !== seed.units || !sameGeometry(seed.geometry, this.geometry) || this.#resident) {
      throw new EsperError('ESPER_INTERNAL', `Error in WidthSlot.replaceWidened: slot ${this.id} cannot take a seed of ${seed.units} units for ${JSON.stringify(seed.geometry)}`, {
        details: { slotId: this.id, held: held?.units ?? null },
      });
    }
    this.hold(seed);
  }

  /**
   * FOSSILIZED merges the seed into the host (which disposes it); if the
   * host refuses (a neighbouring slot holds a seed sized for the current
   * width), nothing changes and the error propagates. A no-op once merged.
   */
  protected fossilize(): void {
    const seed = this.seed;
    if (seed === undefined) return;
    const added = { units: seed.units, params: seed.paramCount };
    this.#host.merge(this, seed);
    this.setState('FOSSILIZED', 1, undefined);
    this.#merged = { units: this.#merged.units + added.units, params: this.#merged.params + added.params };
  }

  /**
   * Puts the slot exactly in a checkpointed state (checkpoint restore only;
   * the host's layers are restored separately). A FOSSILIZED width slot has
   * no seed (it was merged). Reset, by contrast, keeps {@link merged}: the
   * merged units stay in the host, and the layer may grow again here.
   */
  restoreState(seed: WidthSeed | undefined, mode: SlotMode, alpha: number, merged: MergedGrowth = { units: 0, params: 0 }): void {
    this.checkAlpha('restoreState', alpha);
    const needsSeed = mode === 'TRAINING' || mode === 'BLENDING' || mode === 'HOLDING';
    if ((seed === undefined && needsSeed) || (seed !== undefined && mode === 'FOSSILIZED')) {
      throw new EsperError('ESPER_INTERNAL', `Error in WidthSlot.restoreState: slot ${this.id} cannot be ${mode} ${seed === undefined ? 'without' : 'with'} a seed`);
    }
    this.restore(seed, mode, alpha);
    this.#merged = { ...merged };
  }

  /**
   * Layer L+1's pre-activation `z` with this slot's contribution, for layer
   * L's (flattened) input `input`. Call inside `tf.tidy`; returns `z` itself
   * when the seed does not run.
   */
  apply(z: tf.Tensor, input: tf.Tensor): tf.Tensor {
    const seed = this.seed;
    if (seed === undefined || this.ablated || this.#resident) return z;
    switch (this.mode) {
      case 'TRAINING': {
        // Live: z, except in the train step's seed pass (which differentiates the seed alone), where the seed adds in full.
        if (this.trainingForward === 'live' && !this.#seedPass) return z;
        const c = seed.project(seed.activate(input, { detachInput: true }));
        // Straight-through: forward z exactly (c − c = 0); the seed gets the task gradient via c, the host none.
        return this.trainingForward === 'live' ? tf.add(z, c) : straightThrough(z, c);
      }
      case 'BLENDING':
      case 'HOLDING': {
        if (seed.geometry.layout === 'dense') {
          const [psi, bias, omega] = seed.params as [tf.Variable, tf.Variable, tf.Variable];
          return widthBlend(z as tf.Tensor2D, input as tf.Tensor2D, psi as tf.Tensor2D, bias as tf.Tensor1D, omega as tf.Tensor2D, this.alpha, { attachInput: !this.detachInBlending });
        }
        const c = seed.project(seed.activate(input, { detachInput: this.detachInBlending }));
        return tf.add(z, tf.mul(c, tf.scalar(this.alpha)));
      }
      default:
        return z;
    }
  }
}
