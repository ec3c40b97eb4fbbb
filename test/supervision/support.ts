// Shared fixtures of the supervision tests: an instrumented behaviour, spec builders, waits.
import { SupervisionError } from '../../src/errors/index.ts';
import type { Behaviour, ChildSpec, Strategy, SupervisorSpec, WorkerSpec, ExitReason } from '../../src/supervision/index.ts';

/** Lets nact's setImmediate turns and our promise chains run. */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Polls `predicate` (real time) until true; throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What the probe behaviour understands. */
export type ProbeMsg =
  | { type: 'inc' }
  | { type: 'get' }
  | { type: 'crash'; error?: Error }
  | { type: 'stop' }
  | { type: 'slow'; ms: number }
  | { type: 'hang' };

export interface ProbeState {
  count: number;
  /** Unique per incarnation, across every probe. */
  instance: number;
}

/** A log of lifecycle calls across probes: `init:a#3`, `terminate:a:shutdown`. */
export class Journal {
  readonly lines: string[] = [];
  readonly #inits = new Map<string, number>();

  init(name: string, instance: number): void {
    this.lines.push(`init:${name}#${instance}`);
    this.#inits.set(name, (this.#inits.get(name) ?? 0) + 1);
  }

  inits(name: string): number {
    return this.#inits.get(name) ?? 0;
  }

  /** Lines of one kind, without the instance suffix: `['init:a', 'init:b']`. */
  kinds(prefix: string): string[] {
    return this.lines.filter((line) => line.startsWith(prefix)).map((line) => line.replace(/#\d+$/, ''));
  }
}

let instances = 0;

export interface ProbeOptions {
  /** Throws from init while it returns true. */
  failInit?: () => boolean;
  /** terminate never settles. */
  hangOnTerminate?: boolean;
  /** init waits this long (real time). */
  initDelayMs?: number;
}

/** An instrumented behaviour: counts, replies, crashes, stops or stalls on command. */
export function probe(name: string, journal: Journal, options: ProbeOptions = {}): Behaviour<ProbeState, ProbeMsg> {
  return {
    async init() {
      if (options.initDelayMs !== undefined) await sleep(options.initDelayMs);
      if (options.failInit?.() === true) throw new SupervisionError('ESPER_START_FAILED', `${name} cannot start`);
      const instance = ++instances;
      journal.init(name, instance);
      return { count: 0, instance };
    },
    handle(state, msg, ctx) {
      switch (msg.type) {
        case 'inc':
          return { ...state, count: state.count + 1 };
        case 'get':
          ctx.reply(state);
          return state;
        case 'crash':
          throw msg.error ?? new SupervisionError('ESPER_ACTOR_CRASHED', `${name} crashed on purpose`);
        case 'stop':
          ctx.stop();
          return state;
        case 'slow':
          return sleep(msg.ms).then(() => state);
        case 'hang':
          return new Promise<ProbeState>(() => {});
      }
    },
    terminate(_state, reason: ExitReason) {
      journal.lines.push(`terminate:${name}:${reason.kind}`);
      if (options.hangOnTerminate === true) return new Promise<void>(() => {});
      return undefined;
    },
  };
}

export function worker(
  id: string,
  behaviour: Behaviour<ProbeState, ProbeMsg>,
  overrides: Partial<Omit<WorkerSpec<ProbeState, ProbeMsg>, 'id' | 'behaviour'>> = {},
): WorkerSpec<ProbeState, ProbeMsg> {
  return { id, restart: 'permanent', shutdownTimeoutMs: 1000, subsystem: 'test', behaviour, ...overrides };
}

export function tree(id: string, strategy: Strategy, children: readonly ChildSpec[], overrides: Partial<SupervisorSpec> = {}): SupervisorSpec {
  return {
    id,
    strategy,
    intensity: { maxRestarts: 10, periodMs: 60_000 },
    backoff: { initialMs: 0, maxMs: 0, factor: 1, jitter: 0 },
    children,
    ...overrides,
  };
}
