/** Nissa (embedded subset): the run event store, the audit of seed transitions and of every decision, and the seed replay. */
export { EventRecorder, EventStore, type EventStoreOptions } from './event-store.ts';
export {
  auditRevivals,
  auditTransitions,
  formatAuditRevival,
  formatAuditEntry,
  INITIAL_STAGE,
  replaySeeds,
  RUN_COMPLETED,
  type AuditCommand,
  type AuditDecision,
  type AuditEntry,
  type AuditPacket,
  type ReplayIssue,
  type ReplayResult,
} from './audit.ts';
export { auditDecisions, formatAuditDecision, formatLayerSignals, type AuditDecisionCommand, type AuditDecisionEntry, type AuditLayerSignals } from './audit-decisions.ts';
export { eventsStreamName, publishRunEvents } from './event-stream.ts';
export { nissaWorkerSpec } from './nissa.actor.ts';
