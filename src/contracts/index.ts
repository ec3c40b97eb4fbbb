/**
 * Leyline: every message Esper exchanges, as zod schemas (the only source of
 * message types). One file per subsystem; `registry.ts` maps each namespaced
 * type to its schema and version.
 */
export * from './envelope.ts';
export * from './reply.ts';
export * from './subjects.ts';
export * from './common.ts';
export * from './kasmina.ts';
export * from './tolaria.ts';
export * from './tamiyo.ts';
export * from './karn.ts';
export * from './tezzeret.ts';
export * from './urabrask.ts';
export * from './urza.ts';
export * from './nissa.ts';
export * from './control.ts';
export * from './run.ts';
export * from './supervision.ts';
export * from './registry.ts';
export * from './zod-issues.ts';
export * from './parse-config.ts';
export * from './examples.ts';
