/**
 * The blueprint → kernel pipeline wiring: the kernel worker pool (compile and
 * validate off the event loop, in niced child processes or worker threads; the
 * gate that pauses the children while training runs) and the supervised
 * actors a node starts for its compiler, validator and controller roles
 * (Karn, Tezzeret's and Urabrask's job services).
 *
 * @module
 */
export { pipelineImplementations } from './pipeline-actors.ts';
export { KernelWorkerPool, type PoolIsolation, type PriorityReport, type WorkerPoolOptions } from './worker-pool.ts';
export { PoolGate, type PoolGateSnapshot } from './pool-gate.ts';
export { POOL_GATE_DEFAULTS, shouldGate, type PoolGateMode, type PoolGateSettings } from './pool-gate-policy.ts';
export { configureProcessPoolGate, processPoolGate } from './process-pool-gate.ts';
