import { expect } from 'chai';
import { z } from 'zod';
import {
  ArtifactRefSchema,
  EmptySchema,
  MetricsSchema,
  RunIdSchema,
  SlotInterfaceSchema,
  TensorShapeSchema,
  TimestampSchema,
  finite,
  sameSlotInterface,
  slotInterfaceKey,
  unitInterval,
  type SlotInterface,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, issuePaths } from './issues.ts';

describe('contracts/common', () => {
  describe('ids', () => {
    it('accepts subject-token ids and rejects dots, wildcards, spaces, empty and oversize ones', () => {
      for (const ok of ['r1', 'run_2025-06-01', 'a'.repeat(128), '0b6c1f5e-4f3a-4c8e-9a55-2d1e7c3b9f00']) expectValid(RunIdSchema, ok);
      for (const bad of ['', 'r.1', 'r*', 'r>', 'r 1', 'a'.repeat(129), 'é']) {
        expect(RunIdSchema.safeParse(bad).success, bad).to.equal(false);
      }
    });
  });

  it('accepts UTC ISO timestamps only', () => {
    expectValid(TimestampSchema, '2025-06-01T12:00:00.000Z');
    expect(TimestampSchema.safeParse('2025-06-01 12:00').success).to.equal(false);
    expect(TimestampSchema.safeParse('2025-06-01T12:00:00+02:00').success).to.equal(false);
  });

  it('rejects NaN and ±Infinity as numbers', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, '1']) expect(finite().safeParse(bad).success, String(bad)).to.equal(false);
    expect(unitInterval().safeParse(1.0001).success).to.equal(false);
    expect(unitInterval().safeParse(-0.1).success).to.equal(false);
  });

  it('bounds metrics maps: finite values, valid names, at most 256 entries', () => {
    expectValid(MetricsSchema, { 'validation.accuracy': 0.9, loss_total: 0.3 });
    expectIssueAt(MetricsSchema, { loss: Number.NaN }, 'loss');
    expectIssueAt(MetricsSchema, { loss: Infinity }, 'loss');
    expect(issuePaths(MetricsSchema, { 'bad name': 1 })).to.not.deep.equal([]);
    const many = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`m${i}`, i]));
    expectIssueAt(MetricsSchema, many, '(root)');
  });

  it('bounds tensor shapes', () => {
    expectValid(TensorShapeSchema, [8, 8, 32]);
    expectIssueAt(TensorShapeSchema, [], '(root)');
    expectIssueAt(TensorShapeSchema, [1, 2, 3, 4, 5, 6, 7, 8, 9], '(root)');
    expectIssueAt(TensorShapeSchema, [8, 0], '[1]');
    expectIssueAt(TensorShapeSchema, [8, 2.5], '[1]');
  });

  describe('SlotInterface', () => {
    const dense: SlotInterface = { kind: 'dense', inputShape: [128], outputShape: [128], dtype: 'float32' };
    const conv: SlotInterface = { kind: 'conv2d', inputShape: [8, 8, 32], outputShape: [8, 8, 32], dtype: 'float32' };

    it('accepts dense [features] and conv2d [h, w, c] interfaces', () => {
      expectValid(SlotInterfaceSchema, dense);
      expectValid(SlotInterfaceSchema, conv);
    });

    it('rejects a wrong rank for the kind, another dtype, an unknown kind and extra keys', () => {
      expectIssueAt(SlotInterfaceSchema, { ...dense, inputShape: [8, 8, 32] }, 'inputShape');
      expectIssueAt(SlotInterfaceSchema, { ...conv, outputShape: [32] }, 'outputShape');
      expectIssueAt(SlotInterfaceSchema, { ...dense, dtype: 'float16' }, 'dtype');
      expectIssueAt(SlotInterfaceSchema, { ...dense, kind: 'conv3d' }, 'kind');
      expectIssueAt(SlotInterfaceSchema, { ...dense, batch: 32 }, '(root)');
    });

    it('keys interfaces stably and matches equal ones only', () => {
      expect(slotInterfaceKey(dense)).to.equal('dense:128->128:float32');
      expect(slotInterfaceKey(conv)).to.equal('conv2d:8x8x32->8x8x32:float32');
      expect(sameSlotInterface(dense, { ...dense })).to.equal(true);
      expect(sameSlotInterface(dense, { ...dense, outputShape: [64] })).to.equal(false);
    });
  });

  it('accepts relative artifact keys and rejects absolute or escaping ones', () => {
    const ref = { store: 'fs', key: 'kernels/k1/model.json', sizeBytes: 10, sha256: 'a'.repeat(64) };
    expectValid(ArtifactRefSchema, ref);
    expectIssueAt(ArtifactRefSchema, { ...ref, key: '/etc/passwd' }, 'key');
    expectIssueAt(ArtifactRefSchema, { ...ref, key: 'kernels/../../etc' }, 'key');
    expectIssueAt(ArtifactRefSchema, { ...ref, sha256: 'A'.repeat(64) }, 'sha256');
    expectIssueAt(ArtifactRefSchema, { ...ref, store: 's3' }, 'store');
    expectIssueAt(ArtifactRefSchema, { ...ref, sizeBytes: -1 }, 'sizeBytes');
  });

  it('accepts {} as an empty request and nothing else', () => {
    expectValid(EmptySchema, {});
    expectIssueAt(EmptySchema, { x: 1 }, '(root)');
    expect(z.object({}).strict().safeParse(null).success).to.equal(false);
    expect(EmptySchema.safeParse('').success).to.equal(false);
  });
});
