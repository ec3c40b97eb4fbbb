/**
 * Recycles the Float32Arrays of the native backend's tensors. A fresh large
 * typed array costs more than the kernel that fills it (measured: three
 * 200k-element outputs 0.4–1 ms to allocate, the fused Adam pass over them
 * 0.1 ms), because each allocation gets new zeroed pages from the OS and the
 * old ones wait for V8's GC. So a buffer a native kernel made goes back to a
 * free list when its tensor is disposed, and the next kernel of that size
 * reuses it.
 *
 * Only buffers nobody else can still see are recycled. A buffer is *owned*
 * from the native kernel that made it until it escapes: read out through
 * `dataSync`/`data` (the cpu backend hands out its own array, not a copy), or
 * given to a JS kernel (some alias their input: Slice returns a subarray
 * view). An escaped buffer is left to the GC as before.
 */

/** Smallest buffer worth pooling (elements); smaller ones are cheap to allocate. */
export const POOL_MIN_ELEMENTS = 4096;

/** A free list of Float32Arrays by length, and the set of buffers it may take back. */
export class BufferPool {
  readonly #free = new Map<number, Float32Array[]>();
  readonly #owned = new WeakSet<Float32Array>();
  #bytes = 0;

  /** @param maxBytes upper bound of the memory held in free lists. */
  constructor(readonly maxBytes: number = 64 << 20) {}

  /** A buffer of `length` elements with ARBITRARY contents (the kernel must write every element), owned by the pool. */
  take(length: number): Float32Array {
    const list = this.#free.get(length);
    const reused = list?.pop();
    if (reused !== undefined) {
      this.#bytes -= reused.byteLength;
      this.#owned.add(reused);
      return reused;
    }
    const fresh = new Float32Array(length);
    if (length >= POOL_MIN_ELEMENTS) this.#owned.add(fresh);
    return fresh;
  }

  /** Marks `values` as seen outside the native kernels: it is never recycled. */
  escape(values: unknown): void {
    if (values instanceof Float32Array) this.#owned.delete(values);
  }

  /** Whether `values` would be recycled on release. */
  owns(values: unknown): boolean {
    return values instanceof Float32Array && this.#owned.has(values);
  }

  /** Takes back `values` when the pool owns it (its tensor is gone) and there is room. */
  release(values: unknown): void {
    if (!(values instanceof Float32Array) || !this.#owned.has(values)) return;
    this.#owned.delete(values);
    if (this.#bytes + values.byteLength > this.maxBytes) return;
    const list = this.#free.get(values.length);
    if (list === undefined) this.#free.set(values.length, [values]);
    else list.push(values);
    this.#bytes += values.byteLength;
  }

  /** Bytes held in free lists. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Drops every free buffer (to the GC). */
  clear(): void {
    this.#free.clear();
    this.#bytes = 0;
  }
}
