/**
 * One canonical example per message and per control verb, typed by the
 * schemas and parsed by a test, so documentation (docs/operations.md) can quote
 * them and stay true. They tell one story: run `r1` on node `node-a` grows a
 * squeeze-and-excitation seed in slot `r0c1`.
 */
import type { Envelope } from './envelope.ts';
import type { BlueprintIR, BlueprintRecord, KarnSubmitReply, KarnSubmitRequestSchema } from './karn.ts';
import type { BlueprintQueryReply, BlueprintQuerySchema, KernelQueryReply, KernelQuerySchema } from './urza.ts';
import type { KernelMetadata } from './tezzeret.ts';
import type { SeedState } from './kasmina.ts';
import type { RunStatus, CheckpointMetadata } from './tolaria.ts';
import type { NodeStatus, RunStartRequestInput } from './control.ts';
import type { MessageData, MessageType } from './registry.ts';
import type { z } from 'zod';
import type {
  CLUSTER_CONTROL_REPLIES,
  CLUSTER_CONTROL_REQUESTS,
  NODE_CONTROL_REPLIES,
  NODE_CONTROL_REQUESTS,
  RUN_CONTROL_REPLIES,
  RUN_CONTROL_REQUESTS,
  SEED_CONTROL_REPLIES,
  SEED_CONTROL_REQUESTS,
} from './control.ts';

const T0 = '2025-06-01T12:00:00.000Z';
const T1 = '2025-06-01T12:00:04.250Z';
const IR_HASH = '3f9a1c2e7b40d9155c6e0a8b2f71d4c39e8a6b105d2c47f8a9e3b6c1d0f52a7e';
const WEIGHTS_HASH = '9c1e4b7a2d3f60858e1f4a2b7c9d0e3f5a6b8c1d2e4f70819a3b5c7d9e1f2a4b';
const ARTIFACT_HASH = 'b7e2a9c4d1f3086a5e9c2b4d7f1a3e6c8b0d2f4a6c8e1b3d5f7a9c2e4b6d8f0a';
const CKPT_HASH = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809';

/** A conv2d squeeze-and-excitation blueprint for an 8×8×32 slot. */
export const EXAMPLE_SE_BLUEPRINT: BlueprintIR = {
  irVersion: 1,
  name: 'attention_se',
  description: 'Squeeze-and-excitation channel gating, added to the host activation.',
  tags: ['cnn', 'attention'],
  interface: { kind: 'conv2d', inputShape: [8, 8, 32], outputShape: [8, 8, 32], dtype: 'float32' },
  nodes: [
    { id: 'se', op: 'attention', inputs: ['input'], params: { kind: 'squeeze_excitation', reduction: 8 } },
    { id: 'out', op: 'residual', inputs: ['input', 'se'], params: {} },
  ],
  output: 'out',
};

/** A dense blueprint that starts as the identity: its last layer is zero-initialised before the residual. */
export const EXAMPLE_DENSE_BLUEPRINT: BlueprintIR = {
  irVersion: 1,
  name: 'mlp_small',
  tags: ['mlp'],
  interface: { kind: 'dense', inputShape: [128], outputShape: [128], dtype: 'float32' },
  nodes: [
    { id: 'ln', op: 'norm', inputs: ['input'], params: { kind: 'layer', epsilon: 0.001 } },
    { id: 'up', op: 'dense', inputs: ['ln'], params: { units: 256, useBias: true, init: 'he_normal' } },
    { id: 'act', op: 'activation', inputs: ['up'], params: { fn: 'gelu' } },
    { id: 'down', op: 'dense', inputs: ['act'], params: { units: 128, useBias: false, init: 'zeros' } },
    { id: 'out', op: 'residual', inputs: ['input', 'down'], params: {} },
  ],
  output: 'out',
};

const SEED: SeedState = {
  seedId: 's0',
  slotId: 'r0c1',
  stage: 'TRAINING',
  epochsInStage: 4,
  alpha: 0,
  blueprintId: 'bp-3f9a1c2e7b40d915',
  kernelId: 'k-5d0e9a7c31b8f246a0c3',
  paramCount: 280,
  gradNorm: 0.042,
  gradRatio: 0.31,
  improvementPp: 0.6,
  isolationViolations: 0,
};

const KERNEL: KernelMetadata = {
  kernelId: 'k-5d0e9a7c31b8f246a0c3',
  blueprintId: 'bp-3f9a1c2e7b40d915',
  irHash: IR_HASH,
  compilerVersion: '0.1.0',
  backend: 'wasm',
  tier: 'fast',
  interface: EXAMPLE_SE_BLUEPRINT.interface,
  paramCount: 280,
  flops: 10_240,
  memoryBytes: 17_536,
  artifactRef: { store: 'fs', key: 'kernels/k-5d0e9a7c31b8f246a0c3/model.json', sizeBytes: 4_312, sha256: ARTIFACT_HASH },
  status: 'PENDING_VALIDATION',
  createdAt: T0,
};

const RUN_STATUS: RunStatus = {
  runId: 'r1',
  state: 'running',
  epoch: 12,
  maxEpochs: 40,
  nodeId: 'node-a',
  startedAt: T0,
  updatedAt: T1,
  validationAccuracy: 0.874,
  lastCheckpointId: 'ckpt-r1-e12',
  seedStages: { TRAINING: 1, DORMANT: 3 },
};

const CHECKPOINT: CheckpointMetadata = {
  checkpointId: 'ckpt-r1-e12',
  runId: 'r1',
  epoch: 12,
  globalStep: 5_628,
  hash: CKPT_HASH,
  sizeBytes: 1_104_384,
  createdAt: T1,
  reason: 'epoch',
  artifactRef: { store: 'fs', key: 'checkpoints/r1/ckpt-r1-e12.bin', sizeBytes: 1_104_384, sha256: CKPT_HASH },
};

const NODE: NodeStatus = {
  nodeId: 'node-a',
  name: 'node-a',
  incarnationId: '0b6c1f5e-4f3a-4c8e-9a55-2d1e7c3b9f00',
  roles: ['trainer', 'compiler', 'validator', 'library', 'controller'],
  version: '0.1.0',
  startedAt: T0,
  uptimeMs: 4_250,
  load: { eventLoopLagMs: 1.8, cpuCores: 0.9, rssBytes: 212_992_000, heapUsedBytes: 61_440_000 },
  runs: ['r1'],
  status: 'ready',
  lastHeartbeatAt: T1,
};

/** One canonical `data` per registered message type. */
export const MESSAGE_EXAMPLES: { readonly [T in MessageType]: MessageData<T> } = {
  'kasmina.seed.transitioned': {
    seedId: 's0',
    slotId: 'r0c1',
    from: 'TRAINING',
    to: 'BLENDING',
    epoch: 14,
    cause: { commandId: 'cmd-r1-e14-0', gate: 'G2', reason: 'gate G2 passed: +0.6pp after 10 epochs, grad ratio 0.31' },
    kernelId: 'k-5d0e9a7c31b8f246a0c3',
    alpha: 0,
  },
  'kasmina.seed.telemetry': {
    seedId: 's0',
    epoch: 12,
    stage: 'TRAINING',
    gradNorm: 0.042,
    gradRatio: 0.31,
    activationMean: 0.013,
    activationStd: 0.27,
    improvementPp: 0.6,
    alpha: 0,
  },
  'tolaria.state.published': {
    v: 1,
    packetId: 'pkt-r1-e12',
    runId: 'r1',
    epoch: 12,
    globalStep: 5_628,
    validationAccuracy: 0.874,
    validationLoss: 0.361,
    trainingLoss: 0.318,
    learningRate: 0.001,
    metrics: { trainingAccuracy: 0.889, plateauEpochs: 0 },
    hardware: { backend: 'wasm', device: 'cpu x16', numTensors: 142, tensorBytes: 2_310_144, rssBytes: 412_000_000, epochMs: 3_870 },
    seeds: [SEED, { seedId: 's1', slotId: 'r1c0', stage: 'DORMANT', epochsInStage: 12, alpha: 0 }],
    ts: T1,
  },
  'tolaria.epoch.completed': {
    runId: 'r1',
    epoch: 12,
    globalStep: 5_628,
    trainingLoss: 0.318,
    validationLoss: 0.361,
    validationAccuracy: 0.874,
    epochMs: 3_870,
    paramCount: 235_146,
    checkpointId: 'ckpt-r1-e12',
  },
  'tolaria.checkpoint.saved': CHECKPOINT,
  'tolaria.run.rolled_back': {
    runId: 'r1',
    fromEpoch: 13,
    toEpoch: 12,
    checkpointId: 'ckpt-r1-e12',
    restoredHash: CKPT_HASH,
    cause: { trigger: 'non_finite', reason: 'training loss became NaN at step 6011', seedId: 's0' },
    prunedSeedIds: ['s0'],
    durationMs: 212,
  },
  'tolaria.host.revived': {
    runId: 'r1',
    epoch: 1,
    layers: [1, 2],
    units: 4,
    commandId: 'tamiyo-revive-5d0c2f3a9b8e7d6c5b4a39281706f5e4d3c2b1a0',
    reason: 'revive L1–L2: every unit dead, and two dead layers in a row block any seed',
  },
  'tolaria.run.state_changed': { runId: 'r1', from: 'running', to: 'paused', epoch: 12, nodeId: 'node-a', reason: 'operator pause' },
  'tamiyo.decision.made': {
    packetId: 'pkt-r1-e4',
    runId: 'r1',
    epoch: 4,
    commands: [
      {
        commandId: 'cmd-r1-e4-0',
        type: 'SEED',
        targetSeedId: 's0',
        deadlineMs: 2_000,
        annotations: { policy: 'heuristic', trigger: 'plateau 3 epochs' },
        seedOperation: { op: 'GERMINATE', blueprintId: 'bp-3f9a1c2e7b40d915', blend: { curve: 'cosine', tempoEpochs: 5 } },
        causationPacketId: 'pkt-r1-e4',
        issuedAt: T0,
      },
    ],
    policy: 'heuristic@1',
    reason: 'plateau for 3 epochs and host stable: germinate attention_se in r0c1',
    fallback: false,
    decisionMs: 0.4,
  },
  'tamiyo.command.issued': {
    commandId: 'cmd-r1-e14-0',
    type: 'SEED',
    targetSeedId: 's0',
    deadlineMs: 2_000,
    annotations: {},
    seedOperation: { op: 'ADVANCE' },
    causationPacketId: 'pkt-r1-e14',
    issuedAt: T1,
  },
  'tamiyo.field_report': {
    commandId: 'cmd-r1-e4-0',
    runId: 'r1',
    seedId: 's0',
    blueprintId: 'bp-3f9a1c2e7b40d915',
    kernelId: 'k-5d0e9a7c31b8f246a0c3',
    outcome: 'SUCCESS',
    metrics: { improvementPp: 1.4, contributionPp: 0.9, paramCount: 280 },
    observationWindow: { fromEpoch: 22, toEpoch: 24 },
    policyVersion: 'heuristic@1',
    createdAt: T1,
  },
  'karn.blueprint.submitted': {
    blueprintId: 'bp-3f9a1c2e7b40d915',
    irHash: IR_HASH,
    ir: EXAMPLE_SE_BLUEPRINT,
    submittedBy: 'karn',
  },
  'tezzeret.compile.requested': {
    jobId: 'job-c-0001',
    blueprintId: 'bp-3f9a1c2e7b40d915',
    irHash: IR_HASH,
    tier: 'fast',
    requestedBy: 'karn',
    attempt: 1,
    requestedAt: T0,
  },
  'tezzeret.kernel.compiled': { jobId: 'job-c-0001', kernel: KERNEL, compileMs: 184 },
  'tezzeret.compile.failed': {
    jobId: 'job-c-0002',
    blueprintId: 'bp-77aa01c3e9d2b640',
    irHash: WEIGHTS_HASH,
    attempt: 1,
    error: { code: 'ESPER_SCHEMA_VIOLATION', message: "node 'down' outputs 64 features, the slot needs 128", retryable: false },
  },
  'urabrask.validation.requested': { jobId: 'job-v-0001', kernelId: 'k-5d0e9a7c31b8f246a0c3', attempt: 1, requestedAt: T0 },
  'urabrask.kernel.validated': {
    kernelId: 'k-5d0e9a7c31b8f246a0c3',
    jobId: 'job-v-0001',
    status: 'VALIDATED',
    riskScore: 0.08,
    checks: [
      { name: 'static', passed: true },
      { name: 'load', passed: true },
      { name: 'shapes', passed: true },
      { name: 'finite', passed: true },
      { name: 'identity_at_init', passed: true, metrics: { maxAbsDiff: 0 } },
      { name: 'gradient', passed: true, metrics: { gradNorm: 0.12 } },
      { name: 'benchmark', passed: true, detail: '200 batches of 32' },
    ],
    reasons: [],
    latencyMs: { p50: 0.21, p99: 0.48 },
    memoryBytes: 17_536,
    validatorVersion: '0.1.0',
    createdAt: T1,
  },
  'nissa.telemetry.reported': {
    runId: 'r1',
    kind: 'epoch',
    ts: T1,
    epoch: 12,
    globalStep: 5_628,
    metrics: { validationAccuracy: 0.874, validationLoss: 0.361, trainingLoss: 0.318, epochMs: 3_870 },
  },
  'nissa.operator.action': { subject: 'esper.ctl.run.r1.pause', verb: 'pause', runId: 'r1', reason: 'inspect the graft', via: 'dashboard@node-a from 127.0.0.1', ok: true },
  'supervision.breaker.state': { name: 'tamiyo.decide', from: 'closed', to: 'open', at: T1, failures: 5, reason: '5 timeouts in 60s' },
  'supervision.child.restarted': {
    supervisor: 'node-a/weatherlight/tolaria',
    child: 'seed-s0',
    restartCount: 1,
    backoffMs: 120,
    error: { code: 'ESPER_ACTOR_CRASHED', message: 'seed actor crashed while handling ADVANCE', retryable: true },
    at: T1,
  },
  'supervision.child.terminated': { supervisor: 'node-a/weatherlight', child: 'urza', reason: 'shutdown', at: T1 },
  'supervision.escalated': {
    supervisor: 'node-a/weatherlight/tezzeret',
    child: 'compiler-pool',
    error: { code: 'ESPER_RESTART_INTENSITY', message: '4 restarts within 5000 ms', retryable: false },
    restarts: 4,
    periodMs: 5_000,
    at: T1,
  },
};

/** An example request and reply of one control subject. */
export interface ControlExample<Req, Rep> {
  /** The subject with the default prefix. */
  readonly subject: string;
  readonly request: Req;
  /** The `data` of the ok reply. */
  readonly reply: Rep;
}

type Examples<M extends Record<string, z.ZodType>, R extends Record<keyof M, z.ZodType>> = {
  readonly [V in keyof M]: ControlExample<z.input<M[V]>, z.output<R[V]>>;
};

/** `esper.ctl.node.<nodeId>.<verb>`. */
export const NODE_CONTROL_EXAMPLES: Examples<typeof NODE_CONTROL_REQUESTS, typeof NODE_CONTROL_REPLIES> = {
  status: { subject: 'esper.ctl.node.node-a.status', request: {}, reply: NODE },
  drain: { subject: 'esper.ctl.node.node-a.drain', request: { timeoutMs: 30_000 }, reply: { nodeId: 'node-a', status: 'draining', runs: ['r1'] } },
  shutdown: { subject: 'esper.ctl.node.node-a.shutdown', request: { reason: 'maintenance' }, reply: { nodeId: 'node-a', status: 'stopping' } },
};

/** `esper.ctl.cluster.<verb>`. */
export const CLUSTER_CONTROL_EXAMPLES: Examples<typeof CLUSTER_CONTROL_REQUESTS, typeof CLUSTER_CONTROL_REPLIES> = {
  nodes: { subject: 'esper.ctl.cluster.nodes', request: {}, reply: { nodes: [NODE] } },
  runs: { subject: 'esper.ctl.cluster.runs', request: {}, reply: { runs: [RUN_STATUS] } },
};

/** `esper.ctl.run.<runId>.<verb>`. */
export const RUN_CONTROL_EXAMPLES: Examples<typeof RUN_CONTROL_REQUESTS, typeof RUN_CONTROL_REPLIES> = {
  status: { subject: 'esper.ctl.run.r1.status', request: {}, reply: RUN_STATUS },
  pause: { subject: 'esper.ctl.run.r1.pause', request: { reason: 'inspect seeds' }, reply: { ...RUN_STATUS, state: 'paused' } },
  resume: { subject: 'esper.ctl.run.r1.resume', request: {}, reply: RUN_STATUS },
  stop: { subject: 'esper.ctl.run.r1.stop', request: { reason: 'budget reached' }, reply: { ...RUN_STATUS, state: 'stopping' } },
  checkpoint: { subject: 'esper.ctl.run.r1.checkpoint', request: {}, reply: { ...CHECKPOINT, reason: 'manual' } },
  rollback: {
    subject: 'esper.ctl.run.r1.rollback',
    request: { checkpointId: 'ckpt-r1-e12', reason: 'regression after germination' },
    reply: { runId: 'r1', checkpointId: 'ckpt-r1-e12', toEpoch: 12 },
  },
};

/** `esper.ctl.seed.<runId>.<seedId>.<verb>`. */
export const SEED_CONTROL_EXAMPLES: Examples<typeof SEED_CONTROL_REQUESTS, typeof SEED_CONTROL_REPLIES> = {
  status: { subject: 'esper.ctl.seed.r1.s0.status', request: {}, reply: SEED },
  germinate: {
    subject: 'esper.ctl.seed.r1.s1.germinate',
    request: { blueprintId: 'bp-3f9a1c2e7b40d915', blend: { curve: 'linear', tempoEpochs: 3 }, reason: 'manual' },
    reply: {
      commandId: 'op-7f3c2a',
      seed: { seedId: 's1', slotId: 'r1c0', stage: 'DORMANT', epochsInStage: 12, alpha: 0 },
    },
  },
  advance: { subject: 'esper.ctl.seed.r1.s0.advance', request: {}, reply: { commandId: 'op-7f3c2b', seed: SEED } },
  prune: { subject: 'esper.ctl.seed.r1.s0.prune', request: { reason: 'manual' }, reply: { commandId: 'op-7f3c2c', seed: SEED } },
  fossilize: { subject: 'esper.ctl.seed.r1.s0.fossilize', request: {}, reply: { commandId: 'op-7f3c2d', seed: SEED } },
};

const BLUEPRINT_RECORD: BlueprintRecord = {
  blueprintId: 'bp-3f9a1c2e7b40d915',
  name: 'attention_se',
  irHash: IR_HASH,
  status: 'COMPILED',
  tags: ['cnn', 'attention'],
  interface: EXAMPLE_SE_BLUEPRINT.interface,
  submittedBy: 'karn',
  createdAt: T0,
  updatedAt: T1,
};

/** `esper.ctl.karn.submit`, `esper.ctl.urza.blueprints`, `esper.ctl.urza.kernels`. */
export const LIBRARY_CONTROL_EXAMPLES: {
  readonly karnSubmit: ControlExample<z.input<typeof KarnSubmitRequestSchema>, KarnSubmitReply>;
  readonly urzaBlueprints: ControlExample<z.input<typeof BlueprintQuerySchema>, BlueprintQueryReply>;
  readonly urzaKernels: ControlExample<z.input<typeof KernelQuerySchema>, KernelQueryReply>;
} = {
  karnSubmit: {
    subject: 'esper.ctl.karn.submit',
    request: { ir: EXAMPLE_DENSE_BLUEPRINT, submittedBy: 'operator:alice' },
    reply: { blueprintId: 'bp-c04e6b1a98f2d357', irHash: WEIGHTS_HASH, status: 'SUBMITTED' },
  },
  urzaBlueprints: { subject: 'esper.ctl.urza.blueprints', request: { tags: ['cnn'], status: 'COMPILED' }, reply: { blueprints: [BLUEPRINT_RECORD] } },
  urzaKernels: {
    subject: 'esper.ctl.urza.kernels',
    request: { interface: EXAMPLE_SE_BLUEPRINT.interface, status: 'VALIDATED', maxParams: 50_000, maxRisk: 0.3, limit: 10 },
    reply: {
      kernels: [
        {
          ...KERNEL,
          status: 'VALIDATED',
          validation: { riskScore: 0.08, latencyP50Ms: 0.21, latencyP99Ms: 0.48, validatedAt: T1 },
          tags: ['cnn', 'attention'],
        },
      ],
    },
  },
};

/** A complete envelope, as published on `esper.evt.r1.kasmina.seed.transitioned`. */
export const EXAMPLE_ENVELOPE: Envelope<MessageData<'kasmina.seed.transitioned'>> & { type: 'kasmina.seed.transitioned' } = {
  id: '5f0c8e2a-1b7d-4c39-9e64-0a2d3b8f7c15',
  type: 'kasmina.seed.transitioned',
  v: 1,
  ts: T1,
  source: 'node-a/weatherlight/tolaria/r1/kasmina/s0',
  runId: 'r1',
  correlationId: '2c7e9b14-83f0-4a56-b1d2-6e9f0c3a5b78',
  causationId: '8a41d6f3-2e95-47b0-9c18-5d3e7f2a0b64',
  data: MESSAGE_EXAMPLES['kasmina.seed.transitioned'],
};

/** `esper.ctl.run.start`: a small spirals run (examples/spirals.json is the full one); the reply is the run's first status. */
export const RUN_START_EXAMPLE: ControlExample<RunStartRequestInput, RunStatus> = {
  subject: 'esper.ctl.run.start',
  request: {
    spec: {
      name: 'spirals: a bottlenecked MLP grows a seed',
      epochs: 40,
      training: { dataset: { kind: 'spirals' }, host: { kind: 'mlp', hidden: [3, 3] }, slots: [{ id: 'h1', afterLayer: 1 }] },
    },
    runId: 'r1',
  },
  reply: { runId: 'r1', state: 'running', epoch: 0, maxEpochs: 40, nodeId: 'node-a', startedAt: T0, updatedAt: T0 },
};
