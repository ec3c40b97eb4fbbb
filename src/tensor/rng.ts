/**
 * A small seeded PRNG (sfc32) whose whole state is four 32-bit words, so a
 * checkpoint can capture and restore it exactly. Every random draw in
 * training (initialisation, shuffling, dropout) goes through one of these —
 * never Math.random — which is what makes runs reproducible.
 */

/** The exportable state of an Rng. */
export type RngState = readonly [number, number, number, number];

export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** Seeds from a 32-bit integer (any number is folded to 32 bits). */
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  /** A child generator with an independent stream (e.g. one per seed slot), derived without consuming this one's draws. */
  fork(label: number): Rng {
    return new Rng((this.#a ^ Math.imul(label + 1, 0x85ebca6b) ^ this.#d) >>> 0);
  }

  state(): RngState {
    return [this.#a, this.#b, this.#c, this.#d];
  }

  setState(state: RngState): void {
    [this.#a, this.#b, this.#c, this.#d] = state.map((word) => word >>> 0) as [number, number, number, number];
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = (this.#b ^ (this.#b >>> 9)) >>> 0;
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}
