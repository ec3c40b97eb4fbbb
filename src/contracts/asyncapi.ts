/**
 * The AsyncAPI 3.0.0 description of every subject Esper serves or publishes
 * (DESIGN §4), generated from the zod schemas of this folder with zod's own
 * `z.toJSONSchema` and carrying the canonical examples of `examples.ts`.
 * `npm run docs:asyncapi` writes it to docs/asyncapi.json; a test checks that
 * file is current, valid AsyncAPI 3.0.0, and that every control route a node
 * serves has a channel here.
 *
 * Conversion choices:
 * - JSON Schema draft-07 (`target: 'draft-07'`), the dialect AsyncAPI 3.0's
 *   Schema Object extends.
 * - Every exported `…Schema` of this folder is a named component
 *   (`RunStatusSchema` → `#/components/schemas/RunStatus`) and is referenced
 *   wherever it is used; payloads with no export name (replies, envelopes of
 *   one type) are components named after their message. Only components a
 *   message reaches are kept.
 * - Requests are converted with `io: 'input'` (a field with a default may be
 *   left out), replies, events and jobs with `io: 'output'` (what a reader
 *   gets); a named schema whose input side differs gets a `<Name>Input` twin.
 * - Cross-field rules (`.refine`/`.superRefine`, e.g. "a transition must change
 *   the stage") have no JSON Schema form and are left out; anything else with
 *   no JSON Schema form would become `{}` (`unrepresentable: 'any'`). The zod
 *   schemas stay the authority: the document describes, it does not replace them.
 */
import { z } from 'zod';
import * as contracts from './index.ts';
import { ERROR_CODES, type ErrorCode } from '../errors/index.ts';
import { DEFAULT_SUBJECT_PREFIX, TELEMETRY_KINDS } from './subjects.ts';
import { CLUSTER_CONTROL_REPLIES, CLUSTER_CONTROL_REQUESTS, NODE_CONTROL_REPLIES, NODE_CONTROL_REQUESTS, RUN_CONTROL_REPLIES, RUN_CONTROL_REQUESTS, RunStartRequestSchema, SEED_CONTROL_REPLIES, SEED_CONTROL_REQUESTS } from './control.ts';
import { EnvelopeSchema } from './envelope.ts';
import {
  CLUSTER_CONTROL_EXAMPLES,
  EXAMPLE_ENVELOPE,
  LIBRARY_CONTROL_EXAMPLES,
  MESSAGE_EXAMPLES,
  NODE_CONTROL_EXAMPLES,
  RUN_CONTROL_EXAMPLES,
  RUN_START_EXAMPLE,
  SEED_CONTROL_EXAMPLES,
  type ControlExample,
} from './examples.ts';
import { KarnSubmitReplySchema, KarnSubmitRequestSchema } from './karn.ts';
import { MESSAGE_TYPES, MESSAGE_TYPE_NAMES, type MessageType } from './registry.ts';
import { WireErrorSchema, replyOf } from './reply.ts';
import { CompileJobSchema } from './tezzeret.ts';
import { RunStatusSchema } from './tolaria.ts';
import { ValidationJobSchema } from './urabrask.ts';
import { BlueprintQueryReplySchema, BlueprintQuerySchema, KernelQueryReplySchema, KernelQuerySchema } from './urza.ts';

/** A JSON value, as the document holds them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** The generated document (an AsyncAPI 3.0.0 object). */
export interface AsyncApiDocument extends JsonObject {
  asyncapi: '3.0.0';
  info: JsonObject;
  channels: { [channelId: string]: JsonObject };
  operations: { [operationId: string]: JsonObject };
  components: { schemas: { [id: string]: JsonObject }; messages: { [id: string]: JsonObject } };
}

export interface AsyncApiOptions {
  /** `info.version`: Esper's version (package.json). @default '0.0.0' */
  version?: string;
  /** Subject prefix of the addresses. @default 'esper' */
  prefix?: string;
  /** The example NATS server, `host:port`. @default '127.0.0.1:4222' */
  host?: string;
}

/** Message types published on `<prefix>.sys.<type>` (they belong to no run); every other type goes on `<prefix>.evt.<runId>.<type>`. */
export const SYSTEM_EVENT_TYPES = [
  'karn.blueprint.submitted',
  'supervision.breaker.state',
  'supervision.child.restarted',
  'supervision.child.terminated',
  'supervision.escalated',
] as const satisfies readonly MessageType[];

/** The address of a control route: `run.:runId.pause` → `esper.ctl.run.{runId}.pause`. */
export function controlChannelAddress(pattern: string, prefix: string = DEFAULT_SUBJECT_PREFIX): string {
  return `${prefix}.ctl.${pattern.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
}

/** Channel parameters (AsyncAPI 3 Parameter Objects: no schema, just enum/examples/description). */
const PARAMETERS: Readonly<Record<string, JsonObject>> = {
  nodeId: { description: 'Name of a node (one subject token); `esper.ctl.cluster.nodes` lists them.', examples: ['node-a'] },
  runId: { description: 'Id of a run (one subject token of letters, digits, `_` or `-`).', examples: ['r1'] },
  seedId: { description: 'Id of a seed of the run (one per slot).', examples: ['s0'] },
  kind: { description: 'Telemetry kind.', enum: [...TELEMETRY_KINDS], examples: ['epoch'] },
};

/** One line per control verb (the route table's own summaries live with the node). */
const VERB_SUMMARIES: Readonly<Record<string, string>> = {
  'node.status': 'Status of one node: roles, load, runs and supervised actors.',
  'node.drain': 'Stop taking new work and finish in-flight work; the node stays up. Answered at once.',
  'node.shutdown': 'Drain, leave the cluster and exit 0; the reply is sent before the node stops.',
  'cluster.nodes': 'Every node in the membership bucket (down ones until forgotten); any one node answers.',
  'cluster.runs': 'Runs hosted by live nodes, each with its status; any one node answers.',
  'run.start': 'Start a run: one trainer node (queue group) validates the spec and starts it; the reply is its first status.',
  'run.status': 'Status of a run (answered by the node hosting it).',
  'run.pause': 'Pause the run at the next epoch boundary.',
  'run.resume': 'Resume a paused run.',
  'run.stop': 'Stop the run at the next epoch boundary, after a last checkpoint.',
  'run.checkpoint': 'Write a checkpoint at the next epoch boundary; the reply comes then.',
  'run.rollback': 'Restore a checkpoint (the latest good one by default) and prune live seeds; the reply comes at the next boundary.',
  'seed.status': 'State of one seed.',
  'seed.germinate': 'Germinate the seed (Tamiyo bypassed, gates not) at the next epoch boundary.',
  'seed.advance': 'Advance the seed to its next stage if its gate passes.',
  'seed.prune': 'Prune the seed (a reason is required: it goes into the audit trail).',
  'seed.fossilize': 'Fossilize the seed if its gate passes.',
  'karn.submit': "Submit a blueprint IR to the library (a node with the `controller` role answers).",
  'urza.blueprints': "Query the library's blueprints (a node with the `library` role answers).",
  'urza.kernels': "Query the library's compiled kernels (a node with the `library` role answers).",
};

/** The error every control subject answers to a payload that is not JSON (docs/operations.md quotes it). */
const INVALID_JSON_REPLY = {
  ok: false,
  error: {
    code: 'ESPER_INVALID_JSON' satisfies ErrorCode,
    message: 'payload is not JSON: Unexpected token \'o\', "not json" is not valid JSON',
    retryable: ERROR_CODES.ESPER_INVALID_JSON.retryable,
  },
};

/** The `code` of a failed reply: described, with every known code as an example (a newer node may send others). */
const ERROR_CODE_SCHEMA = WireErrorSchema.shape.code;
const ERROR_CODE_DOCS = {
  description: 'A stable error code (docs/errors.md); codes are never renamed or reused, new ones may appear.',
  examples: Object.keys(ERROR_CODES).sort(),
};

interface ControlSpec {
  /** Route pattern after `<prefix>.ctl.`, e.g. `run.:runId.pause`. */
  pattern: string;
  request: z.ZodType;
  reply: z.ZodType;
  example: ControlExample<unknown, unknown>;
}

function verbTable(
  scope: string,
  params: string,
  requests: Record<string, z.ZodType>,
  replies: Record<string, z.ZodType>,
  examples: Record<string, ControlExample<unknown, unknown>>,
): ControlSpec[] {
  return Object.keys(requests).map((verb) => ({
    pattern: `${scope}.${params}${verb}`,
    request: requests[verb] as z.ZodType,
    reply: replies[verb] as z.ZodType,
    example: examples[verb] as ControlExample<unknown, unknown>,
  }));
}

/** Every control subject, from the contract tables. */
function controlSpecs(): ControlSpec[] {
  return [
    ...verbTable('node', ':nodeId.', NODE_CONTROL_REQUESTS, NODE_CONTROL_REPLIES, NODE_CONTROL_EXAMPLES),
    ...verbTable('cluster', '', CLUSTER_CONTROL_REQUESTS, CLUSTER_CONTROL_REPLIES, CLUSTER_CONTROL_EXAMPLES),
    { pattern: 'run.start', request: RunStartRequestSchema, reply: RunStatusSchema, example: RUN_START_EXAMPLE },
    ...verbTable('run', ':runId.', RUN_CONTROL_REQUESTS, RUN_CONTROL_REPLIES, RUN_CONTROL_EXAMPLES),
    ...verbTable('seed', ':runId.:seedId.', SEED_CONTROL_REQUESTS, SEED_CONTROL_REPLIES, SEED_CONTROL_EXAMPLES),
    { pattern: 'karn.submit', request: KarnSubmitRequestSchema, reply: KarnSubmitReplySchema, example: LIBRARY_CONTROL_EXAMPLES.karnSubmit },
    { pattern: 'urza.blueprints', request: BlueprintQuerySchema, reply: BlueprintQueryReplySchema, example: LIBRARY_CONTROL_EXAMPLES.urzaBlueprints },
    { pattern: 'urza.kernels', request: KernelQuerySchema, reply: KernelQueryReplySchema, example: LIBRARY_CONTROL_EXAMPLES.urzaKernels },
  ];
}

const SCHEMAS = '#/components/schemas/';
/** Marks input-side refs until the input and output sides are compared. */
const INPUT_MARK = '~input';
const INPUT_REF = new RegExp(`"\\$ref":"${SCHEMAS}([^"~]+)${INPUT_MARK}"`, 'g');
const ANY_REF = new RegExp(`"\\$ref":"${SCHEMAS}([^"]+)"`, 'g');
const ref = (path: string): JsonObject => ({ $ref: path });

/** Sorts an object's keys (the document's maps are emitted in a stable order). */
function sorted<T extends JsonValue>(map: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(map).sort().map((key) => [key, map[key] as T]));
}

/** The `{name}` parameters of an address. */
function parametersOf(address: string): JsonObject | undefined {
  const names = [...address.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] ?? '');
  if (names.length === 0) return undefined;
  return Object.fromEntries(
    names.map((name) => {
      const parameter = PARAMETERS[name];
      if (parameter === undefined) throw new Error(`asyncapi: no description of the address parameter {${name}}`);
      return [name, parameter];
    }),
  );
}

/** Every exported `…Schema` of src/contracts, by name without the suffix (the first name in sorted order wins for an alias). */
function contractSchemaNames(): Map<z.ZodType, string> {
  const names = new Map<z.ZodType, string>();
  const exports = contracts as Record<string, unknown>;
  for (const name of Object.keys(exports).sort()) {
    const value = exports[name];
    if (name.endsWith('Schema') && value instanceof z.ZodType && !names.has(value)) names.set(value, name.slice(0, -'Schema'.length));
  }
  return names;
}

type Io = 'input' | 'output';
interface Payload {
  /** The message id, also the component id of a payload schema that has no contract name. */
  id: string;
  schema: z.ZodType;
  io: Io;
}

/**
 * Converts every payload with `z.toJSONSchema` over a registry of the named
 * contract schemas, so a schema used in many places is one component
 * (`$ref: '#/components/schemas/RunStatus'`). Requests are converted on the
 * input side, the rest on the output side; a named schema whose two sides
 * differ (defaults make input fields optional) gets a second component
 * `<Name>Input`. Returns the components reachable from the payloads and each
 * payload's component id.
 */
function convertPayloads(payloads: readonly Payload[]): { schemas: Record<string, JsonObject>; componentOf: Map<string, string> } {
  const named = contractSchemaNames();
  const converted = {} as Record<Io, Record<string, JsonObject>>;
  const idOf = {} as Record<Io, Map<string, string>>;
  for (const io of ['output', 'input'] as const) {
    const registry = z.registry<{ id: string }>();
    for (const [schema, name] of named) registry.add(schema, { id: name });
    idOf[io] = new Map();
    for (const payload of payloads.filter((p) => p.io === io)) {
      if (!registry.has(payload.schema)) registry.add(payload.schema, { id: payload.id });
      idOf[io].set(payload.id, registry.get(payload.schema)?.id ?? payload.id);
    }
    const { schemas } = z.toJSONSchema(registry, {
      target: 'draft-07',
      io,
      unrepresentable: 'any',
      uri: (id) => `${SCHEMAS}${id}${io === 'input' ? INPUT_MARK : ''}`,
      override: ({ zodSchema, jsonSchema: json }) => {
        if (zodSchema === ERROR_CODE_SCHEMA) Object.assign(json, ERROR_CODE_DOCS);
      },
    });
    converted[io] = Object.fromEntries(
      Object.entries(schemas).map(([id, schema]) => {
        if (id === '__shared') throw new Error('asyncapi: a contract schema is recursive; give it a name (export it) so it converts to a $ref');
        const { $schema: _dialect, $id: _id, ...rest } = schema as JsonObject;
        return [id, rest];
      }),
    );
  }
  const { input, output } = converted;
  // The input side of a named schema is its own component only where it differs (found as a greatest fixed point: assume equal, then refute).
  const distinct = new Set<string>();
  const inputId = (id: string): string => (output[id] === undefined ? id : distinct.has(id) ? `${id}Input` : id);
  const unmark = (schema: JsonObject): JsonObject =>
    JSON.parse(JSON.stringify(schema).replace(INPUT_REF, (_all, id: string) => `"$ref":"${SCHEMAS}${inputId(id)}"`)) as JsonObject;
  for (let changed = true; changed; ) {
    changed = false;
    for (const id of Object.keys(input)) {
      if (output[id] === undefined || distinct.has(id) || JSON.stringify(unmark(input[id] as JsonObject)) === JSON.stringify(output[id])) continue;
      distinct.add(id);
      changed = true;
    }
  }
  const all: Record<string, JsonObject> = { ...output };
  for (const [id, schema] of Object.entries(input)) all[inputId(id)] ??= unmark(schema);
  const componentOf = new Map<string, string>();
  for (const payload of payloads) {
    const id = idOf[payload.io].get(payload.id) ?? payload.id;
    componentOf.set(payload.id, payload.io === 'input' ? inputId(id) : id);
  }
  return { schemas: reachable(all, [...componentOf.values()]), componentOf };
}

/** The components reachable from `roots` through `$ref`s. */
function reachable(all: Record<string, JsonObject>, roots: readonly string[]): Record<string, JsonObject> {
  const kept: Record<string, JsonObject> = {};
  const queue = [...roots];
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    if (kept[id] !== undefined) continue;
    const schema = all[id];
    if (schema === undefined) throw new Error(`asyncapi: no component schema ${id}`);
    kept[id] = schema;
    for (const match of JSON.stringify(schema).matchAll(ANY_REF)) queue.push(match[1] ?? '');
  }
  return kept;
}

/** Collects channels, operations and messages as they are declared; payload schemas are converted together at the end. */
class DocumentBuilder {
  readonly channels: Record<string, JsonObject> = {};
  readonly operations: Record<string, JsonObject> = {};
  readonly #messages: Record<string, JsonObject> = {};
  readonly #payloads: Payload[] = [];

  /** A message whose payload is `schema`. */
  message(id: string, fields: { title: string; summary: string; schema: z.ZodType; io: Io; examples: JsonObject[] }): void {
    if (this.#messages[id] !== undefined) throw new Error(`asyncapi: message ${id} declared twice`);
    this.#payloads.push({ id, schema: fields.schema, io: fields.io });
    this.#messages[id] = { name: id, title: fields.title, summary: fields.summary, contentType: 'application/json', examples: fields.examples };
  }

  /** A channel; `address` null for the dynamic reply inbox. */
  channel(id: string, address: string | null, fields: { title: string; description: string; messages: readonly string[]; tags: readonly string[] }): void {
    const parameters = address === null ? undefined : parametersOf(address);
    this.channels[id] = {
      address,
      title: fields.title,
      description: fields.description,
      ...(parameters === undefined ? {} : { parameters }),
      messages: Object.fromEntries(fields.messages.map((message) => [message, ref(`#/components/messages/${message}`)])),
      tags: fields.tags.map((name) => ({ name })),
    };
  }

  operation(id: string, fields: { action: 'send' | 'receive'; channel: string; summary: string; messages: readonly string[]; reply?: { channel: string; messages: readonly string[] } }): void {
    const refs = (channel: string, messages: readonly string[]): JsonObject[] => messages.map((m) => ref(`#/channels/${channel}/messages/${m}`));
    this.operations[id] = {
      action: fields.action,
      channel: ref(`#/channels/${fields.channel}`),
      summary: fields.summary,
      messages: refs(fields.channel, fields.messages),
      ...(fields.reply === undefined ? {} : { reply: { channel: ref(`#/channels/${fields.reply.channel}`), messages: refs(fields.reply.channel, fields.reply.messages) } }),
    };
  }

  /** components.schemas and components.messages, each message's payload a reference to its schema. */
  components(): { schemas: Record<string, JsonObject>; messages: Record<string, JsonObject> } {
    const { schemas, componentOf } = convertPayloads(this.#payloads);
    const messages = Object.fromEntries(
      Object.entries(this.#messages).map(([id, message]) => [id, { ...message, payload: ref(`${SCHEMAS}${componentOf.get(id) ?? id}`) }]),
    );
    return { schemas: sorted(schemas), messages: sorted(messages) };
  }
}

const REPLY_CHANNEL = 'reply';

function addControl(doc: DocumentBuilder, prefix: string): void {
  const replies: string[] = [];
  for (const spec of controlSpecs()) {
    const verb = spec.pattern.replace(/:[A-Za-z0-9_]+\./g, '');
    const summary = VERB_SUMMARIES[verb] ?? verb;
    const id = `ctl.${verb}`;
    const address = controlChannelAddress(spec.pattern, prefix);
    const body = JSON.stringify(spec.example.request);
    doc.message(`${id}.request`, {
      title: `${verb} request`,
      summary: `Request on ${address} (plain JSON; an empty payload reads as {}).`,
      schema: spec.request,
      io: 'input',
      examples: [{ name: 'request', summary: `nats req ${spec.example.subject} '${body}'`, payload: spec.example.request as JsonValue }],
    });
    doc.message(`${id}.reply`, {
      title: `${verb} reply`,
      summary: `Reply to ${address}: {ok: true, data} or {ok: false, error}.`,
      schema: replyOf(spec.reply),
      io: 'output',
      examples: [
        { name: 'ok', payload: { ok: true, data: spec.example.reply as JsonValue } },
        { name: 'invalid-json', summary: 'Any control subject, payload `not json`.', payload: INVALID_JSON_REPLY },
      ],
    });
    doc.channel(id, address, { title: address, description: summary, messages: [`${id}.request`], tags: ['control'] });
    doc.operation(id, {
      action: 'receive',
      channel: id,
      summary,
      messages: [`${id}.request`],
      reply: { channel: REPLY_CHANNEL, messages: [`${id}.reply`] },
    });
    replies.push(`${id}.reply`);
  }
  doc.channel(REPLY_CHANNEL, null, {
    title: 'Control replies',
    description: "Replies go to the request's NATS reply subject (an inbox such as `_INBOX.…`, set by `nats req` or any NATS client's request).",
    messages: replies,
    tags: ['control'],
  });
}

/** The envelope a registered type travels in, `type` and `v` fixed. */
function envelopeSchema(type: MessageType): z.ZodType {
  const spec = MESSAGE_TYPES[type];
  return EnvelopeSchema.extend({ type: z.literal(type), v: z.literal(spec.v), data: spec.schema });
}

/** The canonical envelope (EXAMPLE_ENVELOPE) carrying another type's example data; system events have no run. */
function envelopeExample(type: MessageType, system: boolean): JsonObject {
  const { id, ts, correlationId, causationId } = EXAMPLE_ENVELOPE;
  const envelope =
    type === EXAMPLE_ENVELOPE.type
      ? EXAMPLE_ENVELOPE
      : { id, type, v: MESSAGE_TYPES[type].v, ts, source: `node-a/${type.split('.')[0] ?? ''}`, ...(system ? {} : { runId: 'r1' }), correlationId, causationId, data: MESSAGE_EXAMPLES[type] };
  return { name: type, payload: envelope as unknown as JsonValue };
}

function addEvents(doc: DocumentBuilder, prefix: string): void {
  for (const type of MESSAGE_TYPE_NAMES) {
    const system = (SYSTEM_EVENT_TYPES as readonly string[]).includes(type);
    const { summary } = MESSAGE_TYPES[type];
    doc.message(type, { title: type, summary, schema: envelopeSchema(type), io: 'output', examples: [envelopeExample(type, system)] });
    const id = system ? `sys.${type}` : `evt.${type}`;
    const address = system ? `${prefix}.sys.${type}` : `${prefix}.evt.{runId}.${type}`;
    doc.channel(id, address, {
      title: address,
      description: system
        ? `${summary} In an envelope, on core NATS (no run: supervision and library events).`
        : `${summary} In an envelope; persisted in the JetStream stream \`${prefix}_events\` (de-duplicated by envelope id) and recorded in the event store.`,
      messages: [type],
      tags: [system ? 'system' : 'events'],
    });
    doc.operation(id, { action: 'send', channel: id, summary: `Publishes ${type}.`, messages: [type] });
  }
  const telemetry = 'nissa.telemetry.reported';
  doc.channel('tel', `${prefix}.tel.{runId}.{kind}`, {
    title: `${prefix}.tel.{runId}.{kind}`,
    description: 'Telemetry of a run, one subject per kind, in envelopes of `nissa.telemetry.reported`. Core NATS: loss is acceptable.',
    messages: [telemetry],
    tags: ['telemetry'],
  });
  doc.operation('tel', { action: 'send', channel: 'tel', summary: 'Publishes telemetry.', messages: [telemetry] });
}

function addJobs(doc: DocumentBuilder, prefix: string): void {
  const jobs = [
    { id: 'job.compile', schema: CompileJobSchema, example: MESSAGE_EXAMPLES['tezzeret.compile.requested'], what: 'compile', worker: 'tezzeret' },
    { id: 'job.validate', schema: ValidationJobSchema, example: MESSAGE_EXAMPLES['urabrask.validation.requested'], what: 'validation', worker: 'urabrask' },
  ];
  for (const job of jobs) {
    const address = `${prefix}.${job.id}`;
    doc.message(job.id, {
      title: `${job.what} job`,
      summary: `A ${job.what} job (plain JSON, no envelope).`,
      schema: job.schema,
      io: 'output',
      examples: [{ name: job.id, payload: job.example as JsonValue }],
    });
    doc.channel(job.id, address, {
      title: address,
      description: `Work queue of ${job.what} jobs: JetStream stream \`${prefix}_jobs\`, durable consumer \`${job.worker}\`, explicit ack, redelivery after the ack wait, dead-lettered on \`${prefix}.dlq.${prefix}_jobs\` after the last delivery.`,
      messages: [job.id],
      tags: ['jobs'],
    });
    doc.operation(`${job.id}.submit`, { action: 'send', channel: job.id, summary: `Queues a ${job.what} job.`, messages: [job.id] });
    doc.operation(`${job.id}.work`, { action: 'receive', channel: job.id, summary: `A ${job.worker} worker takes a ${job.what} job.`, messages: [job.id] });
  }
}

/** Builds the AsyncAPI 3.0.0 document of every subject (pure and deterministic). */
export function buildAsyncApiDocument(options: AsyncApiOptions = {}): AsyncApiDocument {
  const prefix = options.prefix ?? DEFAULT_SUBJECT_PREFIX;
  const doc = new DocumentBuilder();
  addControl(doc, prefix);
  addEvents(doc, prefix);
  addJobs(doc, prefix);
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Esper',
      version: options.version ?? '0.0.0',
      description: [
        `Every subject of an Esper cluster (DESIGN §4), using the subject prefix \`${prefix}\` (configurable: \`subjectPrefix\`, default \`esper\`).`,
        `Control requests are plain JSON on \`${prefix}.ctl.…\` (an empty payload reads as \`{}\`); every reply is \`{"ok": true, "data": …}\` or \`{"ok": false, "error": {"code", "message", "retryable", "details"}}\` (docs/errors.md lists the codes). Events and telemetry travel in envelopes (\`id\`, \`type\`, \`v\`, \`ts\`, \`source\`, \`runId\`, \`correlationId\`, \`causationId\`, \`data\`); jobs are plain JSON.`,
        `Generated from the zod schemas of src/contracts by \`npm run docs:asyncapi\`; a test keeps it in sync with the contracts and the node's route table. Cross-field rules of the schemas (refinements) have no JSON Schema form: the zod schemas are the authority. Not described here: dead letters (\`${prefix}.dlq.<stream>\`) and the NATS micro service subjects (\`$SRV.PING|INFO|STATS\`).`,
      ].join('\n\n'),
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      nats: { host: options.host ?? '127.0.0.1:4222', protocol: 'nats', description: 'A NATS server with JetStream (`nats-server -js`).' },
    },
    channels: sorted(doc.channels),
    operations: sorted(doc.operations),
    components: doc.components(),
  };
}

/** The document as docs/asyncapi.json holds it: pretty JSON with a trailing newline. */
export function renderAsyncApiDocument(options: AsyncApiOptions = {}): string {
  return `${JSON.stringify(buildAsyncApiDocument(options), null, 2)}\n`;
}
