/**
 * Esper's public surface. Subsystems export their own names from their
 * `index.ts`; this file re-exports what an embedding program needs.
 */
export * from './errors/index.ts';
export * from './contracts/index.ts';
