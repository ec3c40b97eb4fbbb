/**
 * Every error code Esper can produce, with whether it is retryable by default
 * and a one-line meaning. This table is the single source: `docs/errors.md`
 * is kept in sync with it by a test. Codes are stable: never rename or reuse one.
 */
export const ERROR_CODES = {
  // --- wire / input ---------------------------------------------------------
  ESPER_INVALID_JSON: { retryable: false, summary: 'The payload is not valid JSON (or not UTF-8 text).' },
  ESPER_SCHEMA_VIOLATION: { retryable: false, summary: 'The payload is JSON but does not match the message schema; details list every issue.' },
  ESPER_UNKNOWN_VERB: { retryable: false, summary: 'The subject names a verb or route that does not exist.' },
  ESPER_UNKNOWN_TYPE: { retryable: false, summary: 'The envelope names a message type (or a version of it) that no schema is registered for.' },
  ESPER_PAYLOAD_TOO_LARGE: { retryable: false, summary: 'The payload exceeds the size limit (1 MiB for control requests).' },
  ESPER_NOT_FOUND: { retryable: false, summary: 'The addressed run, seed, node or object does not exist.' },
  ESPER_UNAVAILABLE: { retryable: true, summary: 'No node can serve this now: no live node has the needed role, or this version does not provide it yet.' },
  ESPER_UNAUTHORIZED: { retryable: false, summary: "The request needs the operator token (the dashboard's actions) and carried none, or a wrong one." },
  // --- bus ------------------------------------------------------------------
  ESPER_NO_RESPONDERS: { retryable: true, summary: 'Nobody is subscribed to the request subject; failed at once, without waiting for the timeout.' },
  ESPER_TIMEOUT: { retryable: true, summary: 'A request or query got no reply within its timeout.' },
  ESPER_BUS_CLOSED: { retryable: false, summary: 'The bus connection is closed or draining.' },
  ESPER_BUS_UNAVAILABLE: { retryable: true, summary: 'The message server cannot be reached.' },
  ESPER_DEAD_LETTER: { retryable: false, summary: 'A durable message was delivered the maximum number of times without an ack and moved to the dead-letter subject.' },
  ESPER_STREAM_ERROR: { retryable: true, summary: 'A durable stream, consumer or key-value operation failed.' },
  ESPER_REMOTE_ERROR: { retryable: false, summary: 'A reply carried an error whose code this node does not know.' },
  // --- actors and supervision -----------------------------------------------
  ESPER_ACTOR_CRASHED: { retryable: true, summary: 'The actor crashed while handling the message (the crash had no code of its own).' },
  ESPER_ACTOR_STOPPED: { retryable: false, summary: 'The actor is stopped; the message was counted as a dead letter.' },
  ESPER_RESTART_INTENSITY: { retryable: false, summary: 'A supervisor saw more than N restarts within T ms and gave up, escalating to its parent.' },
  ESPER_SHUTDOWN_TIMEOUT: { retryable: false, summary: 'A child did not stop within its shutdown timeout and was killed.' },
  ESPER_START_FAILED: { retryable: true, summary: 'A child failed to start (its initial state threw).' },
  ESPER_BREAKER_OPEN: { retryable: true, summary: 'The circuit breaker is open; the call was not attempted.' },
  ESPER_WORKER_CRASHED: { retryable: true, summary: 'A worker thread (training, compile or validation) died; its pending requests failed and the work must be restarted from the last checkpoint.' },
  ESPER_BACKEND_UNAVAILABLE: { retryable: false, summary: 'The requested tensor backend cannot be loaded (e.g. @tensorflow/tfjs-node is not installed); the message names the install command.' },
  ESPER_DATASET_MISSING: { retryable: false, summary: 'The dataset directory or one of its files does not exist; the message says how to get it.' },
  ESPER_DATASET_CORRUPT: { retryable: false, summary: 'A dataset file is malformed (bad magic number, truncated, sizes that disagree).' },
  ESPER_CHECKPOINT_CORRUPT: { retryable: false, summary: 'A checkpoint failed verification: its sha256 content hash does not match, or its framing or manifest is malformed.' },
  ESPER_CHECKPOINT_MISMATCH: { retryable: false, summary: 'A checkpoint does not fit the model or optimizer it is restored into (architecture, slots, parameter shapes or optimizer kind differ).' },
  ESPER_INVALID_TRANSITION: { retryable: false, summary: 'The seed lifecycle does not allow this move from the current stage (e.g. pruning a FOSSILIZED seed); details name from, to/command and stage.' },
  ESPER_GATE_FAILED: { retryable: true, summary: 'The lifecycle gate of the target stage did not pass; details name the gate, the reasons and the measured values (a later epoch may pass).' },
  ESPER_COMMAND_EXPIRED: { retryable: false, summary: 'An adaptation command arrived after its deadline (issuedAt + deadlineMs) and was not executed.' },
  ESPER_BLUEPRINT_GRAPH: { retryable: false, summary: 'The blueprint graph is malformed: a duplicate or reserved node id, an input or output naming no node, a node listed after a node that reads it, or nodes that do not feed the output; details name the nodes.' },
  ESPER_BLUEPRINT_CYCLE: { retryable: false, summary: 'The blueprint graph has a cycle; details.cycle lists its node ids.' },
  ESPER_BLUEPRINT_SHAPE_MISMATCH: { retryable: false, summary: "Shape inference failed: a node's inputs do not fit it (e.g. residual inputs of different shapes, a conv on a dense slot) or the output is not the slot's output shape; details name the node, expected and actual shapes." },
  ESPER_BLUEPRINT_LIMIT: { retryable: false, summary: 'The blueprint exceeds a static budget (parameters, memory, FLOPs or depth); details give {limit, value, max}.' },
  ESPER_BLUEPRINT_DUPLICATE: { retryable: false, summary: 'A blueprint with the same IR hash is already registered (blueprints are content-addressed); details give {irHash, existingId}.' },
  // --- storage (Urza) -------------------------------------------------------
  ESPER_STORAGE_UNAVAILABLE: { retryable: true, summary: 'The database or artifact store cannot be reached or failed transiently (connection lost, timeout, deadlock); writes wait in the outbox.' },
  ESPER_CONFLICT: { retryable: false, summary: 'The write contradicts what is stored: an id already taken by different content, a change to an immutable record, or a status change its lifecycle does not allow.' },
  ESPER_ARTIFACT_CORRUPT: { retryable: false, summary: 'An artifact read back from its store does not match its sha256 digest (or size); it was not returned.' },
  ESPER_KERNEL_CORRUPT: { retryable: false, summary: 'A compiled kernel artifact failed verification: bad magic or framing, its trailing sha256 does not match, or its header disagrees with its IR (hash, kernel id, weight layout).' },
  ESPER_MIGRATION_FAILED: { retryable: false, summary: 'A database schema migration failed, an applied migration file has changed (checksum mismatch), or the database is newer than this Esper.' },
  // --- configuration / internal ---------------------------------------------
  ESPER_CONFIG_INVALID: { retryable: false, summary: 'The configuration is invalid; details list every problem.' },
  ESPER_INTERNAL: { retryable: false, summary: 'An unexpected internal error (a bug); the message says where.' },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is one of Esper's error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}
