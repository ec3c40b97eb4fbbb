/**
 * What depth slots ({@link SeedSlot}) and width slots ({@link WidthSlot})
 * share: the mode, α and seed a slot holds, and the lifecycle moves that do
 * not depend on the kind of seed (mode changes, α, prune, reset, restore,
 * ablation). A subclass says what fossilising does and how its seed enters
 * the forward pass.
 */
import { EsperError } from '../errors/index.ts';

/** What a slot does in the forward pass; one per lifecycle stage that has tensor behaviour. */
export const SLOT_MODES = ['DORMANT', 'TRAINING', 'BLENDING', 'HOLDING', 'FOSSILIZED', 'PRUNED'] as const;
/** A slot's forward-pass behaviour; GERMINATED is DORMANT with a seed attached, EMBARGOED and RESETTING are PRUNED. */
export type SlotMode = (typeof SLOT_MODES)[number];

/** A slot holding seeds of type `S`. */
const NONE_FROZEN: readonly number[] = Object.freeze([]);

export abstract class SlotState<S extends { dispose(): void }> {
  readonly id: string;
  /** The class name, for error messages. */
  protected abstract readonly label: string;
  #mode: SlotMode = 'DORMANT';
  #alpha = 0;
  #seed: S | undefined;
  #ablated = false;

  protected constructor(id: string) {
    this.id = id;
  }

  get mode(): SlotMode {
    return this.#mode;
  }

  /** Current blend weight: 0 in DORMANT, TRAINING and PRUNED, 1 when FOSSILIZED. */
  get alpha(): number {
    return this.#alpha;
  }

  /** The attached seed, if any (a DORMANT slot with a seed is a germinated one). */
  get seed(): S | undefined {
    return this.#seed;
  }

  /** True inside {@link ablate}. */
  protected get ablated(): boolean {
    return this.#ablated;
  }

  /** What setMode('FOSSILIZED') does once the generic checks passed (a seed is attached, or the slot is FOSSILIZED already). */
  protected abstract fossilize(): void;

  /** Sets mode, α and (when given) seed without checks or disposal: for subclasses' moves. */
  protected setState(mode: SlotMode, alpha: number, ...seed: [S | undefined] | []): void {
    this.#mode = mode;
    this.#alpha = alpha;
    if (seed.length === 1) this.#seed = seed[0];
  }

  /** Throws unless the slot is empty and DORMANT (germination's precondition). */
  protected checkEmpty(op: string): void {
    if (this.#seed !== undefined || this.#mode !== 'DORMANT') {
      throw new EsperError('ESPER_INTERNAL', `Error in ${this.label}.${op}: slot ${this.id} is ${this.#mode}${this.#seed ? ' with a seed' : ''}, not an empty DORMANT slot`);
    }
  }

  /** Holds `seed` (after the subclass checked it fits). */
  protected hold(seed: S): void {
    this.#seed = seed;
  }

  /**
   * Sets the mode. TRAINING, BLENDING, HOLDING and FOSSILIZED need a seed;
   * TRAINING and DORMANT set α to 0; BLENDING and HOLDING take `alpha` when
   * given and keep the current α otherwise. PRUNED disposes the seed
   * ({@link prune}). FOSSILIZED is terminal.
   */
  setMode(mode: SlotMode, alpha?: number): void {
    if (this.#mode === 'FOSSILIZED' && mode !== 'FOSSILIZED') {
      throw new EsperError('ESPER_INTERNAL', `Error in ${this.label}.setMode: slot ${this.id} is FOSSILIZED (terminal), cannot become ${mode}`);
    }
    if (mode === 'PRUNED') return this.prune();
    if (mode !== 'DORMANT' && this.#seed === undefined && this.#mode !== 'FOSSILIZED') {
      throw new EsperError('ESPER_INTERNAL', `Error in ${this.label}.setMode: slot ${this.id} has no seed attached, cannot become ${mode}`);
    }
    if (mode === 'FOSSILIZED') this.fossilize();
    else this.setState(mode, mode === 'DORMANT' || mode === 'TRAINING' ? 0 : this.#alpha);
    if (alpha !== undefined) this.setAlpha(alpha);
  }

  /** Sets α (BLENDING and HOLDING only; one tick of the schedule per epoch). */
  setAlpha(alpha: number): void {
    this.checkAlpha('setAlpha', alpha);
    if (this.#mode !== 'BLENDING' && this.#mode !== 'HOLDING') {
      throw new EsperError('ESPER_INTERNAL', `Error in ${this.label}.setAlpha: slot ${this.id} is ${this.#mode}; α is only set while BLENDING or HOLDING`);
    }
    this.#alpha = alpha;
  }

  /** @throws RangeError when α is not in [0, 1]. */
  protected checkAlpha(op: string, alpha: number): void {
    if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`Error in ${this.label}.${op}: alpha ${alpha} is not in [0, 1]`);
  }

  /** Removes the seed and disposes its variables; the slot becomes PRUNED (forward skips it). */
  prune(): void {
    if (this.#mode === 'FOSSILIZED') throw new EsperError('ESPER_INTERNAL', `Error in ${this.label}.prune: slot ${this.id} is FOSSILIZED and can never be pruned`);
    this.reset();
    this.#mode = 'PRUNED';
  }

  /**
   * Back to an empty DORMANT slot (after embargo), disposing any seed. Also
   * what a rollback uses to put a slot back the way a checkpoint had it, so
   * it may clear a FOSSILIZED slot.
   */
  reset(): void {
    this.#seed?.dispose();
    this.setState('DORMANT', 0, undefined);
  }

  /**
   * Puts the slot exactly in a checkpointed state (after the subclass checked
   * it), whatever its current one. Disposes the current seed unless it is
   * `seed` itself, and `seed` too when the state is PRUNED.
   */
  protected restore(seed: S | undefined, mode: SlotMode, alpha: number): void {
    if (this.#seed !== seed) this.#seed?.dispose();
    if (mode === 'PRUNED') seed?.dispose();
    this.setState(mode, alpha, mode === 'PRUNED' ? undefined : seed);
  }

  /**
   * Indices of the seed's parameters a train step leaves alone now (see
   * `ParamGroup.frozen`): none by default — a seed trains whole; a width
   * slot holds its incoming weights back in TRAINING.
   */
  get frozenParams(): readonly number[] {
    return NONE_FROZEN;
  }

  /**
   * Runs `fn` with this slot's seed switched off (as if α were 0) — how the
   * counterfactual contribution (accuracy with the seed minus accuracy
   * without it) is measured.
   */
  ablate<T>(fn: () => T): T {
    const before = this.#ablated;
    this.#ablated = true;
    try {
      return fn();
    } finally {
      this.#ablated = before;
    }
  }

  /** Disposes the seed (if any); the slot must not be used afterwards. */
  dispose(): void {
    this.#seed?.dispose();
    this.#seed = undefined;
  }
}
