/**
 * The message registry: every namespaced event/command type, its current
 * schema version and the zod schema of its `data`. `parseMessage` is the one
 * way an envelope from the wire becomes a typed message.
 */
import type { z } from 'zod';
import { InputError } from '../errors/index.ts';
import { EnvelopeSchema, createEnvelope, type Envelope, type EnvelopeInit } from './envelope.ts';
import { BlueprintSubmittedSchema } from './karn.ts';
import { SeedTelemetrySchema, SeedTransitionedSchema } from './kasmina.ts';
import { OperatorActionSchema, TelemetryPacketSchema } from './nissa.ts';
import { BreakerStateChangedSchema, ChildRestartedSchema, ChildTerminatedSchema, EscalatedSchema } from './supervision.ts';
import { AdaptationCommandSchema, FieldReportSchema, TamiyoDecisionSchema } from './tamiyo.ts';
import { CompileFailedSchema, CompileJobSchema, KernelCompiledSchema } from './tezzeret.ts';
import {
  CheckpointMetadataSchema,
  EpochCompletedSchema,
  HostRevivedSchema,
  RunRolledBackSchema,
  RunStateChangedSchema,
  SystemStatePacketSchema,
} from './tolaria.ts';
import { ValidationJobSchema, ValidationReportSchema } from './urabrask.ts';
import { formatZodIssues } from './zod-issues.ts';

// The issue formatters live in zod-issues.ts; re-exported here for the modules that import them from the registry.
export { formatIssuePath, formatZodIssues, type IssueList } from './zod-issues.ts';

/** What the registry knows of one message type. */
export interface MessageSpec {
  /** Current schema version; envelopes must carry exactly this `v`. */
  readonly v: number;
  /** Schema of the envelope's `data`. */
  readonly schema: z.ZodType;
  /** One line for docs. */
  readonly summary: string;
}

/** The first segment of every message type. */
export const MESSAGE_NAMESPACES = ['kasmina', 'tolaria', 'tamiyo', 'karn', 'tezzeret', 'urabrask', 'urza', 'nissa', 'supervision'] as const;

/**
 * Every message type. Append only: to change a message's shape, bump its `v`
 * (and keep accepting the old one where a stored event may still carry it).
 */
export const MESSAGE_TYPES = {
  'kasmina.seed.transitioned': { v: 1, schema: SeedTransitionedSchema, summary: 'A seed moved between lifecycle stages at an epoch boundary.' },
  'kasmina.seed.telemetry': { v: 1, schema: SeedTelemetrySchema, summary: "One live seed's measurements for one epoch." },
  'tolaria.state.published': { v: 1, schema: SystemStatePacketSchema, summary: 'The SystemStatePacket of an epoch boundary, sent to Tamiyo.' },
  'tolaria.epoch.completed': { v: 1, schema: EpochCompletedSchema, summary: 'An epoch ended: losses, accuracy, parameter count.' },
  'tolaria.checkpoint.saved': { v: 1, schema: CheckpointMetadataSchema, summary: 'A checkpoint was written.' },
  'tolaria.run.rolled_back': { v: 1, schema: RunRolledBackSchema, summary: 'The run was restored from a checkpoint and its live seeds pruned.' },
  'tolaria.host.revived': { v: 1, schema: HostRevivedSchema, summary: 'Hidden layers whose units were all dead were given new incoming weights (a HOST REVIVE command).' },
  'tolaria.run.state_changed': { v: 1, schema: RunStateChangedSchema, summary: 'The run changed state (running, paused, stopped, …).' },
  'tamiyo.decision.made': { v: 1, schema: TamiyoDecisionSchema, summary: "Tamiyo's answer to a SystemStatePacket: zero or more commands." },
  'tamiyo.command.issued': { v: 1, schema: AdaptationCommandSchema, summary: 'One adaptation command, addressed to Tolaria or a seed.' },
  'tamiyo.field_report': { v: 1, schema: FieldReportSchema, summary: "How a command's seed fared over its observation window." },
  'karn.blueprint.submitted': { v: 1, schema: BlueprintSubmittedSchema, summary: 'A blueprint IR entered the library.' },
  'tezzeret.compile.requested': { v: 1, schema: CompileJobSchema, summary: 'A compile job (work queue `job.compile`).' },
  'tezzeret.kernel.compiled': { v: 1, schema: KernelCompiledSchema, summary: 'A kernel was compiled and stored, pending validation.' },
  'tezzeret.compile.failed': { v: 1, schema: CompileFailedSchema, summary: 'A compile job failed.' },
  'urabrask.validation.requested': { v: 1, schema: ValidationJobSchema, summary: 'A validation job (work queue `job.validate`).' },
  'urabrask.kernel.validated': { v: 1, schema: ValidationReportSchema, summary: 'Validation finished: the kernel is VALIDATED or REJECTED.' },
  'nissa.telemetry.reported': { v: 1, schema: TelemetryPacketSchema, summary: 'A batch of telemetry measurements.' },
  'nissa.operator.action': { v: 1, schema: OperatorActionSchema, summary: 'An operator action on a run and its outcome: recorded by the node that served it (pause, resume, stop) and by the dashboard that forwarded it.' },
  'supervision.breaker.state': { v: 1, schema: BreakerStateChangedSchema, summary: 'A circuit breaker changed state.' },
  'supervision.child.restarted': { v: 1, schema: ChildRestartedSchema, summary: 'A supervisor restarted a crashed child.' },
  'supervision.child.terminated': { v: 1, schema: ChildTerminatedSchema, summary: 'A supervised child ended.' },
  'supervision.escalated': { v: 1, schema: EscalatedSchema, summary: 'A supervisor gave up and escalated to its parent.' },
} as const satisfies Record<string, MessageSpec>;

/** A registered message type. */
export type MessageType = keyof typeof MESSAGE_TYPES;
/** The parsed `data` of a message type. */
export type MessageData<T extends MessageType> = z.output<(typeof MESSAGE_TYPES)[T]['schema']>;
/** The `data` a producer may write for a type (fields with defaults may be omitted). */
export type MessageInput<T extends MessageType> = z.input<(typeof MESSAGE_TYPES)[T]['schema']>;
/** An envelope of one type with its data typed. */
export type TypedEnvelope<T extends MessageType> = Omit<Envelope<MessageData<T>>, 'type'> & { type: T };
/** Any registered message: a union discriminated on `type`. */
export type AnyMessage = { [T in MessageType]: TypedEnvelope<T> }[MessageType];

/** Every registered type, in registry order. */
export const MESSAGE_TYPE_NAMES = Object.keys(MESSAGE_TYPES) as MessageType[];

/** True when `type` is a registered message type. */
export function isMessageType(type: unknown): type is MessageType {
  return typeof type === 'string' && Object.hasOwn(MESSAGE_TYPES, type);
}

/** Outcome of {@link safeParseMessage}. */
export type ParseMessageResult = { ok: true; message: AnyMessage } | { ok: false; error: InputError };

/**
 * Validates an envelope and its `data` against the registered schema of its
 * type and version. Never throws: an invalid envelope or data gives an
 * ESPER_SCHEMA_VIOLATION (all issues in `details.issues`); an unregistered type
 * or version gives ESPER_UNKNOWN_TYPE.
 */
export function safeParseMessage(input: unknown): ParseMessageResult {
  const envelope = EnvelopeSchema.safeParse(input);
  if (!envelope.success) {
    const issues = formatZodIssues(envelope.error);
    return { ok: false, error: new InputError('ESPER_SCHEMA_VIOLATION', `invalid envelope: ${issues.join('; ')}`, { details: { issues } }) };
  }
  const { type, v } = envelope.data;
  if (!isMessageType(type)) {
    return { ok: false, error: new InputError('ESPER_UNKNOWN_TYPE', `unknown message type '${type}'`, { details: { type, v } }) };
  }
  const spec: MessageSpec = MESSAGE_TYPES[type];
  if (v !== spec.v) {
    return {
      ok: false,
      error: new InputError('ESPER_UNKNOWN_TYPE', `unsupported version ${v} of '${type}' (supported: ${spec.v})`, {
        details: { type, v, supportedVersions: [spec.v] },
      }),
    };
  }
  const data = spec.schema.safeParse(envelope.data.data);
  if (!data.success) {
    const issues = formatZodIssues(data.error, ['data']);
    return {
      ok: false,
      error: new InputError('ESPER_SCHEMA_VIOLATION', `invalid '${type}' v${v}: ${issues.join('; ')}`, { details: { type, v, issues } }),
    };
  }
  // The registry pairs each type with its schema, so this data is MessageData<typeof type>.
  return { ok: true, message: { ...envelope.data, data: data.data } as AnyMessage };
}

/** Like {@link safeParseMessage} but throws the InputError. */
export function parseMessage(input: unknown): AnyMessage {
  const result = safeParseMessage(input);
  if (!result.ok) throw result.error;
  return result.message;
}

/**
 * Builds an envelope for a registered type: stamps the registered `v`,
 * validates `data` (throwing ESPER_SCHEMA_VIOLATION — a producer bug) and
 * stores the parsed data, defaults filled in.
 */
export function createMessage<T extends MessageType>(
  type: T,
  data: MessageInput<T>,
  init: Omit<EnvelopeInit<unknown>, 'type' | 'data' | 'v'>,
): TypedEnvelope<T> {
  const spec: MessageSpec = MESSAGE_TYPES[type];
  const parsed = spec.schema.safeParse(data);
  if (!parsed.success) {
    const issues = formatZodIssues(parsed.error, ['data']);
    throw new InputError('ESPER_SCHEMA_VIOLATION', `invalid '${type}' v${spec.v}: ${issues.join('; ')}`, { details: { type, v: spec.v, issues } });
  }
  // Parsed by T's own schema, so the data is MessageData<T>.
  return createEnvelope({ ...init, type, v: spec.v, data: parsed.data as MessageData<T> }) as TypedEnvelope<T>;
}
