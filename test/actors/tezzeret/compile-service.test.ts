/**
 * Tezzeret's compile job under redelivery (issue 13: "compile jobs in flight
 * when a server dies are completed exactly once"). A job whose kernel was
 * stored but whose ack was lost (the server holding the consumer died) comes
 * back; compiling it again yields the same content-addressed kernel with a
 * later `createdAt`. The second delivery must be acked with the one stored
 * kernel, not refused as a conflict (which marked the blueprint INVALID and
 * dead-lettered the job).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { catalogBlueprint, parseInterfaceFlag } from '../../../src/actors/karn/index.ts';
import { MemoryBus, type DurableMessage, type Headers } from '../../../src/actors/oona/index.ts';
import { PayloadView } from '../../../src/actors/oona/message.ts';
import { compileJobFor } from '../../../src/actors/tezzeret/compile-jobs.ts';
import { handleCompileJob } from '../../../src/actors/tezzeret/compile-service.ts';
import { compileKernel } from '../../../src/actors/tezzeret/compiler.ts';
import { FsArtifactStore } from '../../../src/actors/urza/artifact-store.ts';
import { UrzaLibrary } from '../../../src/actors/urza/library.ts';
import { subjects } from '../../../src/contracts/subjects.ts';
import { migrate, type PgliteDatabase } from '../../../src/infra/db/index.ts';
import { createLogger } from '../../../src/infra/logger.ts';
import { dropPglite, freshPglite, PGLITE_START_TIMEOUT_MS } from '../../infra/db/shared-pglite.ts';

/** One delivery of a job, recording how it was settled. */
class Delivery extends PayloadView implements DurableMessage {
  readonly data: Uint8Array;
  readonly subject = 'cs.job.compile';
  readonly headers: Headers = {};
  readonly stream = 'cs_jobs';
  readonly seq = 1;
  readonly msgId = undefined;
  settled: 'ack' | 'nak' | 'term' | undefined;
  termReason: string | undefined;

  constructor(
    job: unknown,
    readonly deliveryCount: number,
  ) {
    super();
    this.data = new TextEncoder().encode(JSON.stringify(job));
  }

  ack(): Promise<void> {
    this.settled ??= 'ack';
    return Promise.resolve();
  }

  nak(): void {
    this.settled ??= 'nak';
  }

  term(reason?: string): void {
    this.settled ??= 'term';
    this.termReason = reason;
  }
}

describe('compile job redelivered after its kernel was stored (issue 13)', function () {
  this.timeout(PGLITE_START_TIMEOUT_MS);
  let db: PgliteDatabase;

  before(async () => {
    db = await freshPglite('compile_redelivery');
    await migrate(db);
  });

  after(async () => {
    await dropPglite(db);
  });

  it('acks the second delivery with the one stored kernel; the blueprint stays COMPILED, also while it compiles again', async () => {
    const library = new UrzaLibrary(db);
    const logger = createLogger({ level: 'silent' });
    const { blueprintId, irHash } = await library.putBlueprint({ ir: catalogBlueprint('lora_r4', parseInterfaceFlag('dense:16')), submittedBy: 'test' });
    const statusWhileCompiling: (string | undefined)[] = [];
    // Each compile of the same IR gives the same kernel, stamped a second later.
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const options = {
      bus: new MemoryBus({ logger, subjectPrefix: 'cs' }),
      subjects: subjects('cs'),
      library,
      artifacts: new FsArtifactStore(mkdtempSync(join(tmpdir(), 'esper-compile-redelivery-'))),
      pool: {
        compile: async (job: Parameters<typeof compileKernel>[0]) => {
          statusWhileCompiling.push((await library.getBlueprint(blueprintId))?.status);
          return compileKernel(job, { backend: 'cpu', now: () => new Date((clock += 1000)) });
        },
      },
      logger,
    };
    const job = compileJobFor(blueprintId, irHash, 'fast', 'test');

    const first = new Delivery(job, 1);
    await handleCompileJob(first, options);
    expect({ settled: first.settled, reason: first.termReason }).to.deep.equal({ settled: 'ack', reason: undefined });
    // Its ack was lost with the server: JetStream delivers the job again.
    const second = new Delivery(job, 2);
    await handleCompileJob(second, options);
    expect({ settled: second.settled, reason: second.termReason }).to.deep.equal({ settled: 'ack', reason: undefined });

    const { kernels } = await library.queryKernels({ blueprintId });
    expect(kernels, 'one kernel').to.have.length(1);
    expect(kernels[0]?.createdAt, 'the first compile is the one stored').to.equal('2026-01-01T00:00:01.000Z');
    expect((await library.getBlueprint(blueprintId))?.status).to.equal('COMPILED');
    // The redelivered compile did not take the compiled blueprint back to COMPILING (a cluster test once read it there).
    expect(statusWhileCompiling).to.deep.equal(['COMPILING', 'COMPILED']);
  });
});
