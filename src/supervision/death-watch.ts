/**
 * Death watch: a watcher learns, exactly once, that an actor (or a supervisor)
 * stopped for good. Restarts are not deaths: a child that crashes and is
 * restarted keeps its watchers and sends nothing.
 */
import type { Logger } from '../infra/logger.ts';
import { EsperError } from '../errors/index.ts';
import type { Terminated, Watcher } from './types.ts';

/** The watchers of one actor and whether it has died. */
export class DeathWatch {
  #watchers: Set<Watcher> | null = null;
  #terminated: Terminated | null = null;
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** The termination, once it happened. */
  get terminated(): Terminated | null {
    return this.#terminated;
  }

  /** Adds a watcher; an already-dead target is reported to it at once. Returns an unwatch function. */
  add(watcher: Watcher): () => void {
    if (this.#terminated !== null) {
      this.#deliver(watcher, this.#terminated);
      return () => {};
    }
    this.#watchers ??= new Set();
    this.#watchers.add(watcher);
    return () => {
      this.#watchers?.delete(watcher);
    };
  }

  /** Records the death and tells every watcher; later calls do nothing (exactly once). */
  notify(terminated: Terminated): void {
    if (this.#terminated !== null) return;
    this.#terminated = terminated;
    const watchers = this.#watchers;
    this.#watchers = null;
    if (watchers === null) return;
    for (const watcher of watchers) this.#deliver(watcher, terminated);
  }

  #deliver(watcher: Watcher, terminated: Terminated): void {
    try {
      if (typeof watcher === 'function') watcher(terminated);
      else watcher.dispatch(terminated);
    } catch (error) {
      // A watcher's own bug must not stop the others from hearing about the death.
      this.#log.error({ err: error, target: terminated.path }, 'death-watch callback threw');
    }
  }
}

const watchables = new WeakMap<object, DeathWatch>();

/** Makes `target` (an ActorRef or a Supervisor) watchable through `watch`. @internal */
export function registerWatchable(target: object, deathWatch: DeathWatch): void {
  watchables.set(target, deathWatch);
}

/**
 * Watches `target` (an `ActorRef` or a `Supervisor`): `watcher` receives
 * `{ type: 'Terminated', id, path, reason }` exactly once when the target stops
 * for good — at once if it already has. Returns a function that unwatches.
 */
export function watch(target: object, watcher: Watcher): () => void {
  const deathWatch = watchables.get(target);
  if (deathWatch === undefined) {
    throw new EsperError('ESPER_NOT_FOUND', 'watch target is not a supervised actor or supervisor');
  }
  return deathWatch.add(watcher);
}
