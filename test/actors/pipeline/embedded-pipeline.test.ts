/**
 * Issue 5 end to end in one embedded node (in-process bus, PGlite, filesystem
 * artifacts): an operator submits a blueprint on `esper.ctl.karn.submit`;
 * Karn stores it and queues a compile job; Tezzeret compiles it in the worker
 * pool; Urabrask validates it; `esper.ctl.urza.kernels` lists it VALIDATED.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { catalogBlueprint, parseInterfaceFlag } from '../../../src/actors/karn/index.ts';
import { NodeConfigSchema } from '../../../src/config/schema.ts';
import { createLogger } from '../../../src/infra/logger.ts';
import { EsperNode } from '../../../src/node/esper-node.ts';

interface WireReply {
  ok: boolean;
  data?: Record<string, unknown>;
  error?: { code: string };
}

describe('blueprint → kernel pipeline in an embedded node', function () {
  this.timeout(180_000);
  let node: EsperNode;

  before(async () => {
    const config = NodeConfigSchema.parse({
      node: { name: 'pipe' },
      dataDir: mkdtempSync(join(tmpdir(), 'esper-pipeline-')),
      pipeline: { interfaces: [] },
      log: { level: 'silent' },
    });
    node = new EsperNode({ config, logger: createLogger({ level: 'silent' }) });
    await node.start();
  });

  after(async () => {
    await node?.stop('test done');
  });

  async function request(subject: string, payload: unknown): Promise<WireReply> {
    const reply = await node.bus.request(subject, payload, { timeoutMs: 30_000 });
    const decoded = reply.json();
    if (!decoded.ok) throw decoded.error;
    return decoded.value as WireReply;
  }

  it('compiles and validates a submitted blueprint, once, and rejects a parameter bomb', async () => {
    const ir = catalogBlueprint('lora_r4', parseInterfaceFlag('dense:32'));
    const submitted = await request('esper.ctl.karn.submit', { ir });
    expect(submitted.ok, JSON.stringify(submitted)).to.equal(true);
    const blueprintId = submitted.data?.['blueprintId'] as string;
    const again = await request('esper.ctl.karn.submit', { ir });
    expect(again.data?.['duplicate']).to.equal(true);

    let kernels: { kernelId: string; status: string }[] = [];
    for (let i = 0; i < 300; i++) {
      const reply = await request('esper.ctl.urza.kernels', { blueprintId });
      kernels = (reply.data?.['kernels'] as { kernelId: string; status: string }[] | undefined) ?? [];
      if (kernels[0]?.status === 'VALIDATED' || kernels[0]?.status === 'REJECTED') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(kernels).to.have.length(1);
    expect(kernels[0]?.status).to.equal('VALIDATED');

    const bombIr = JSON.parse(readFileSync(new URL('../../../examples/blueprints/param-bomb.json', import.meta.url), 'utf8')) as unknown;
    const bomb = await request('esper.ctl.karn.submit', { ir: bombIr });
    expect(bomb.ok).to.equal(false);
    expect(bomb.error?.code).to.equal('ESPER_BLUEPRINT_LIMIT');
  });
});
