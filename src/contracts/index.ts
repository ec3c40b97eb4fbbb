export * from './envelope.ts';
export * from './reply.ts';
export * from './subjects.ts';
