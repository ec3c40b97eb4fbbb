/**
 * Operator actions: what the page may ask, checked here before anything
 * reaches the cluster. Each action is one control request on the same
 * subject `nats req` would use (`<prefix>.ctl.run.<run>.<verb>`,
 * `<prefix>.ctl.seed.<run>.<seed>.<verb>`), with the payload validated by the
 * same contract schema the node applies — so it is answered, and recorded,
 * exactly like an operator's own request.
 */
import type { z } from 'zod';
import { RUN_CONTROL_REQUESTS, SEED_CONTROL_REQUESTS } from '../contracts/control.ts';
import { formatZodIssues } from '../contracts/registry.ts';
import { assertSubjectToken } from '../contracts/subjects.ts';
import { HttpError } from './http-error.ts';

/** Run verbs the dashboard offers. */
export const RUN_ACTIONS = ['pause', 'resume', 'stop', 'checkpoint', 'rollback'] as const;
/** Seed verbs the dashboard offers. */
export const SEED_ACTIONS = ['prune', 'fossilize'] as const;

export type RunAction = (typeof RUN_ACTIONS)[number];
export type SeedAction = (typeof SEED_ACTIONS)[number];

/** An action ready to send: the control path after `<prefix>.ctl.` and its validated payload. */
export interface ControlAction {
  path: string;
  payload: unknown;
  runId: string;
  verb: RunAction | SeedAction;
  seedId?: string;
}

function token(value: string, what: string): string {
  try {
    return assertSubjectToken(value, what);
  } catch (error) {
    throw new HttpError(400, 'ESPER_SCHEMA_VIOLATION', (error as Error).message);
  }
}

function validate(schema: z.ZodType, body: unknown, what: string): unknown {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issues = formatZodIssues(parsed.error);
    throw new HttpError(400, 'ESPER_SCHEMA_VIOLATION', `invalid ${what} request: ${issues.join('; ')}`, { details: { issues } });
  }
  return body;
}

/** A run action from its route (`/api/runs/<run>/<verb>`) and body; throws a coded HttpError on anything wrong. */
export function runAction(runId: string, verb: string, body: unknown): ControlAction {
  if (!(RUN_ACTIONS as readonly string[]).includes(verb)) throw new HttpError(404, 'ESPER_UNKNOWN_VERB', `unknown run action ${JSON.stringify(verb.slice(0, 64))}; expected one of ${RUN_ACTIONS.join(', ')}`);
  const action = verb as RunAction;
  const id = token(runId, 'runId');
  const payload = validate(RUN_CONTROL_REQUESTS[action], body, action);
  return { path: `run.${id}.${action}`, payload, runId: id, verb: action };
}

/** A seed action from its route (`/api/runs/<run>/seeds/<seed>/<verb>`) and body. */
export function seedAction(runId: string, seedId: string, verb: string, body: unknown): ControlAction {
  if (!(SEED_ACTIONS as readonly string[]).includes(verb)) throw new HttpError(404, 'ESPER_UNKNOWN_VERB', `unknown seed action ${JSON.stringify(verb.slice(0, 64))}; expected one of ${SEED_ACTIONS.join(', ')}`);
  const action = verb as SeedAction;
  const run = token(runId, 'runId');
  const seed = token(seedId, 'seedId');
  const payload = validate(SEED_CONTROL_REQUESTS[action], body, action);
  return { path: `seed.${run}.${seed}.${action}`, payload, runId: run, seedId: seed, verb: action };
}
