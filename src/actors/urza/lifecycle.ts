/**
 * The blueprint and kernel lifecycles as data (DESIGN §2, style rule 7): which
 * status changes Urza accepts. Pure; the library applies them in a
 * transaction. Setting the status a record already has is accepted and
 * changes nothing, so a redelivered command is harmless.
 */
import type { BlueprintStatus, KernelStatus, ValidationVerdict } from '../../contracts/index.ts';
import { EsperError } from '../../errors/index.ts';

/**
 * Blueprint: SUBMITTED → COMPILING → COMPILED | INVALID. A blueprint may be
 * found INVALID before compiling (static analysis), go back to SUBMITTED
 * when its compile job is abandoned, and be compiled again (a new compiler
 * or backend) once COMPILED. INVALID is final.
 */
export const BLUEPRINT_TRANSITIONS: Readonly<Record<BlueprintStatus, readonly BlueprintStatus[]>> = {
  SUBMITTED: ['COMPILING', 'INVALID'],
  COMPILING: ['COMPILED', 'INVALID', 'SUBMITTED'],
  COMPILED: ['COMPILING'],
  INVALID: [],
};

/**
 * Kernel: PENDING_VALIDATION → VALIDATED | REJECTED. A newer report may
 * reject a VALIDATED kernel (a safety downgrade) or refresh its summary; a
 * REJECTED kernel is never revived.
 */
export const KERNEL_TRANSITIONS: Readonly<Record<KernelStatus, readonly ValidationVerdict[]>> = {
  PENDING_VALIDATION: ['VALIDATED', 'REJECTED'],
  VALIDATED: ['VALIDATED', 'REJECTED'],
  REJECTED: ['REJECTED'],
};

/** True when a blueprint in `from` may move to `to` (or already is there). */
export function canMoveBlueprint(from: BlueprintStatus, to: BlueprintStatus): boolean {
  return from === to || BLUEPRINT_TRANSITIONS[from].includes(to);
}

/** Throws ESPER_CONFLICT unless a blueprint may move from `from` to `to`. */
export function assertBlueprintTransition(blueprintId: string, from: BlueprintStatus, to: BlueprintStatus): void {
  if (!canMoveBlueprint(from, to)) {
    throw new EsperError('ESPER_CONFLICT', `blueprint ${blueprintId} cannot move from ${from} to ${to}`, {
      details: { blueprintId, from, to, allowed: [...BLUEPRINT_TRANSITIONS[from]] },
    });
  }
}

/** True when a validation verdict may be applied to a kernel in `from`. */
export function canApplyVerdict(from: KernelStatus, verdict: ValidationVerdict): boolean {
  return KERNEL_TRANSITIONS[from].includes(verdict);
}

/** Throws ESPER_CONFLICT unless the verdict may be applied to a kernel in `from`. */
export function assertVerdict(kernelId: string, from: KernelStatus, verdict: ValidationVerdict): void {
  if (!canApplyVerdict(from, verdict)) {
    throw new EsperError('ESPER_CONFLICT', `kernel ${kernelId} is ${from}: a ${verdict} report cannot change it`, {
      details: { kernelId, from, to: verdict, allowed: [...KERNEL_TRANSITIONS[from]] },
    });
  }
}
