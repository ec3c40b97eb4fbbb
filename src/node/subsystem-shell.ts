/**
 * The behaviour of a subsystem actor whose own logic has not landed yet
 * (Tolaria, Kasmina, … arrive with their issues). It is a real supervised
 * actor: it answers `status` and `drain` queries, counts what it handled, and
 * is restarted like any other child.
 */
import type { Behaviour } from '../supervision/index.ts';

/** Messages every subsystem actor understands. */
export type SubsystemMessage = { type: 'status' } | { type: 'drain' };

export interface SubsystemShellState {
  readonly subsystem: string;
  readonly startedAt: string;
  handled: number;
  draining: boolean;
}

/** What a subsystem actor reports about itself. */
export interface SubsystemStatus {
  subsystem: string;
  startedAt: string;
  handled: number;
  draining: boolean;
  /** False while the subsystem is an empty shell awaiting its implementation. */
  implemented: boolean;
}

export function subsystemShell(subsystem: string): Behaviour<SubsystemShellState, SubsystemMessage> {
  return {
    init: () => ({ subsystem, startedAt: new Date().toISOString(), handled: 0, draining: false }),
    handle: (state, message, ctx) => {
      state.handled++;
      if (message.type === 'drain') state.draining = true;
      const status: SubsystemStatus = { ...state, implemented: false };
      ctx.reply(status);
      return state;
    },
  };
}
