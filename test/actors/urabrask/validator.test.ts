import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { catalogBlueprint, catalogWidthBlueprint, shapePreservingInterface, widthInterface } from '../../../src/actors/karn/catalog.ts';
import { compileKernel } from '../../../src/actors/tezzeret/compiler.ts';
import { decodeKernelArtifact, encodeKernelArtifact } from '../../../src/blueprint/kernel-artifact.ts';
import { percentile, riskScore, validateKernel } from '../../../src/actors/urabrask/validator.ts';
import { ValidationReportSchema, type ValidationReport } from '../../../src/contracts/urabrask.ts';
import { selectBackend } from '../../../src/tensor/backend.ts';

const DENSE = shapePreservingInterface([16]);
const CONV = shapePreservingInterface([6, 6, 4]);
const FAST = { benchmarkIterations: 5, benchmarkWarmup: 1 } as const;

/** A well-formed (correctly hashed) artifact of `name` whose weights are all NaN: what a broken compiler could emit. */
async function nanKernel(name: string, iface = DENSE): Promise<Uint8Array> {
  const { artifact } = await compileKernel({ ir: catalogBlueprint(name, iface), tier: 'fast' });
  const { header, weights } = decodeKernelArtifact(artifact);
  return encodeKernelArtifact(
    header,
    weights.map((w) => new Float32Array(w.length).fill(Number.NaN)),
  );
}

function check(report: ValidationReport, name: string): ValidationReport['checks'][number] {
  const found = report.checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check '${name}' in ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
}

describe('Urabrask validator', function () {
  this.timeout(60_000);

  before(async () => {
    await selectBackend('wasm');
  });

  it('VALIDATES a normal catalog blueprint: every check passed, risk < 0.3, latency and memory measured', async () => {
    const { artifact, metadata } = await compileKernel({ ir: catalogBlueprint('mlp_small', DENSE), tier: 'fast' });
    const before = tf.memory().numTensors;
    const report = await validateKernel(artifact, { kernelId: metadata.kernelId, jobId: 'job-1', expectedInterface: DENSE, ...FAST });
    expect(tf.memory().numTensors).to.equal(before);
    expect(ValidationReportSchema.safeParse(report).success).to.equal(true);
    expect(report.status, report.reasons.join('; ')).to.equal('VALIDATED');
    expect(report.kernelId).to.equal(metadata.kernelId);
    expect(report.jobId).to.equal('job-1');
    expect(report.reasons).to.deep.equal([]);
    expect(report.riskScore).to.be.below(0.3);
    expect(report.checks.map((c) => c.name)).to.deep.equal(['integrity', 'load', 'interface', 'finite', 'identity_at_init', 'gradient', 'benchmark', 'risk']);
    expect(report.latencyMs.p50).to.be.greaterThan(0);
    expect(report.latencyMs.p99).to.be.at.least(report.latencyMs.p50);
    const bench = check(report, 'benchmark').metrics ?? {};
    expect(bench['trainStepP50Ms']).to.be.greaterThan(0);
    expect(bench['trainStepP99Ms']).to.be.at.least(bench['trainStepP50Ms'] ?? 0);
    expect(bench['batch']).to.equal(32);
    expect(report.memoryBytes).to.be.at.least(metadata.paramCount * 4);
    expect(check(report, 'identity_at_init').metrics?.['maxDeviation']).to.be.at.most(1e-6);
    expect(check(report, 'gradient').metrics?.['gradNorm']).to.be.greaterThan(0);
  });

  it('VALIDATES conv blueprints and records a non-identity start as risk, not a failure', async () => {
    const conv = await compileKernel({ ir: catalogBlueprint('depthwise', CONV), tier: 'fast' });
    const convReport = await validateKernel(conv.artifact, FAST);
    expect(convReport.status, convReport.reasons.join('; ')).to.equal('VALIDATED');
    const se = await compileKernel({ ir: catalogBlueprint('attention_se', CONV), tier: 'fast' });
    const seReport = await validateKernel(se.artifact, FAST);
    expect(check(seReport, 'identity_at_init').passed).to.equal(true);
    expect(check(seReport, 'identity_at_init').metrics?.['startsAsIdentity']).to.equal(0);
    expect(check(seReport, 'risk').metrics?.['nonIdentity']).to.equal(1);
    expect(seReport.riskScore).to.be.at.least(0.2).and.below(0.3);
    expect(seReport.status, seReport.reasons.join('; ')).to.equal('VALIDATED');
    // The same kernel under a stricter threshold is rejected for its risk alone.
    const strict = await validateKernel(se.artifact, { ...FAST, maxRisk: 0.15 });
    expect(strict.status).to.equal('REJECTED');
    expect(strict.reasons.join('\n')).to.match(/^risk: /m);
  });

  it('VALIDATES a width kernel (zero at init): max |f(x)| recorded, no non-identity risk', async () => {
    const WIDEN = widthInterface(16, 5);
    const { artifact, metadata } = await compileKernel({ ir: catalogWidthBlueprint('widen_x2', WIDEN, 4), tier: 'fast' });
    const report = await validateKernel(artifact, { kernelId: metadata.kernelId, expectedInterface: WIDEN, ...FAST });
    expect(report.status, report.reasons.join('; ')).to.equal('VALIDATED');
    const identity = check(report, 'identity_at_init');
    expect(identity.passed).to.equal(true);
    expect(identity.detail).to.match(/f\(x\) = 0 at init/);
    expect(identity.metrics).to.include({ maxAbsOutput: 0, startsAsZero: 1, startsAsIdentity: 0 });
    expect(identity.metrics).to.not.have.property('maxDeviation'); // f(x) − x has no meaning for [16] → [5]
    const risk = check(report, 'risk').metrics ?? {};
    expect(risk['nonIdentity']).to.equal(0);
    expect(report.riskScore).to.be.closeTo(0.3 * (risk['latency'] ?? 0) + 0.3 * (risk['size'] ?? 0) + 0.2 * (risk['gradient'] ?? 0), 1e-5);
    expect(report.riskScore).to.be.below(0.2);
  });

  it('REJECTS a width kernel whose last layer is not zero although analysis says it starts as zero', async () => {
    const { artifact } = await compileKernel({ ir: catalogWidthBlueprint('widen_x2', widthInterface(16, 5), 4), tier: 'fast' });
    const { header, weights } = decodeKernelArtifact(artifact);
    const omega = header.weights.findIndex((w) => w.nodeId === 'omega' && w.name === 'kernel');
    expect(omega).to.be.at.least(0);
    const corrupted = encodeKernelArtifact(
      header,
      weights.map((w, i) => (i === omega ? new Float32Array(w.length).fill(0.5) : w)),
    );
    const before = tf.memory().numTensors;
    const report = await validateKernel(corrupted, FAST);
    expect(tf.memory().numTensors).to.equal(before);
    expect(report.status).to.equal('REJECTED');
    expect(report.riskScore).to.equal(1);
    expect(check(report, 'load').passed).to.equal(true);
    expect(check(report, 'finite').passed).to.equal(true);
    const identity = check(report, 'identity_at_init');
    expect(identity.passed).to.equal(false);
    expect(identity.metrics?.['maxAbsOutput']).to.be.greaterThan(1e-3);
    expect(report.reasons.some((r) => /^identity_at_init: analysis says zero at init but max \|f\(x\)\| = /.test(r))).to.equal(true);
    expect(check(report, 'benchmark').passed).to.equal(false);
  });

  it('REJECTS a NaN-producing kernel, naming the non-finite check', async () => {
    const before = tf.memory().numTensors;
    const report = await validateKernel(await nanKernel('mlp_small'), FAST);
    expect(tf.memory().numTensors).to.equal(before);
    expect(report.status).to.equal('REJECTED');
    expect(report.riskScore).to.equal(1);
    expect(check(report, 'integrity').passed).to.equal(true);
    expect(check(report, 'load').passed).to.equal(true);
    expect(check(report, 'finite').passed).to.equal(false);
    expect(report.reasons.some((r) => r.startsWith('finite: ') && /non-finite/.test(r))).to.equal(true);
    expect(check(report, 'gradient').passed).to.equal(false);
    expect(check(report, 'benchmark').passed).to.equal(false);
  });

  it('REJECTS a corrupt artifact, a kernel other than the one the job names, and a kernel for another slot', async () => {
    const { artifact, metadata } = await compileKernel({ ir: catalogBlueprint('lora_r4', DENSE), tier: 'fast' });
    const corrupt = artifact.slice();
    corrupt[corrupt.length - 50] = (corrupt[corrupt.length - 50] ?? 0) ^ 0xff;
    const r1 = await validateKernel(corrupt, { kernelId: metadata.kernelId, ...FAST });
    expect(r1.status).to.equal('REJECTED');
    expect(r1.kernelId).to.equal(metadata.kernelId);
    expect(r1.reasons[0]).to.match(/^integrity: ESPER_KERNEL_CORRUPT/);
    const r2 = await validateKernel(artifact, { kernelId: 'a'.repeat(64), ...FAST });
    expect(r2.status).to.equal('REJECTED');
    expect(r2.reasons[0]).to.match(/^integrity: /);
    const r3 = await validateKernel(artifact, { expectedInterface: shapePreservingInterface([32]), ...FAST });
    expect(r3.status).to.equal('REJECTED');
    expect(r3.reasons[0]).to.match(/^interface: /);
  });

  it('REJECTS a kernel over its latency budget through the risk score', async () => {
    const { artifact } = await compileKernel({ ir: catalogBlueprint('mlp_large', CONV), tier: 'fast' });
    const report = await validateKernel(artifact, { ...FAST, latencyBudgetMs: 1e-6 });
    expect(report.status).to.equal('REJECTED');
    expect(check(report, 'risk').metrics?.['latency']).to.equal(1);
    expect(report.riskScore).to.be.at.least(0.3);
  });

  it('computes the documented risk formula and nearest-rank percentiles', () => {
    const base = { startsAsIdentity: true, trainStepMs: 10, latencyBudgetMs: 100, paramCount: 1000, paramBudget: 1_000_000, memoryBytes: 0, memoryBudgetBytes: 1, gradNorm: 1 };
    const r = riskScore(base);
    expect(r.total).to.be.closeTo(0.3 * 0.1 + 0.3 * 0.001, 1e-9);
    expect(riskScore({ ...base, startsAsIdentity: false }).total).to.be.closeTo(0.2 + 0.03 + 0.0003, 1e-9);
    // A zero start (a width kernel) preserves the host's function like an identity start: no non-identity term.
    expect(riskScore({ ...base, startsAsIdentity: false, startsAsZero: true })).to.include({ nonIdentity: 0, total: r.total });
    expect(riskScore({ ...base, startsAsIdentity: false, startsAsZero: false }).nonIdentity).to.equal(1);
    expect(riskScore({ ...base, gradNorm: 1e3 }).gradient).to.be.closeTo(0.5, 1e-9);
    expect(riskScore({ ...base, gradNorm: 1e-7 }).gradient).to.equal(1);
    expect(riskScore({ ...base, gradNorm: Number.NaN }).gradient).to.equal(1);
    expect(riskScore({ ...base, trainStepMs: 1e9, paramCount: 1e9, startsAsIdentity: false, gradNorm: 0 }).total).to.equal(1);
    expect(percentile([5, 1, 4, 2, 3], 0.5)).to.equal(3);
    expect(percentile([5, 1, 4, 2, 3], 0.99)).to.equal(5);
    expect(percentile([], 0.5)).to.equal(0);
  });
});
