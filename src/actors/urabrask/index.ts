/**
 * Urabrask (DESIGN §1): the validator. Runs every kernel through static
 * checks, load, runtime probes and a benchmark, scores its risk and marks it
 * VALIDATED or REJECTED; the job loop takes validation jobs from the work queue.
 *
 * @module
 */
export { startValidateService } from './validate-service.ts';
export { type ValidateOptions, validateKernel } from './validator.ts';
export { submitValidationJob } from './validation-jobs.ts';
