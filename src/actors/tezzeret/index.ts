/**
 * Tezzeret (DESIGN §1): the compiler. BlueprintIR → an immutable,
 * content-addressed kernel artifact (the codec is in src/blueprint), compiled
 * off the event loop, and the job loop that takes compile jobs from the work
 * queue.
 *
 * @module
 */
export { compileJobFor, submitCompileJob } from './compile-jobs.ts';
export { startCompileService } from './compile-service.ts';
export { type CompiledKernel, type KernelCompileJob, compileKernel } from './compiler.ts';
