/**
 * Issue 13: while the membership bucket cannot be read (a lost NATS server,
 * its leader being elected), the shared control listener cannot tell who
 * serves a subject. It leaves the request to its owner (no second, wrong
 * reply) and logs that once per interval — not once per request.
 */
import { expect } from 'chai';
import { MemoryBus } from '../../src/actors/oona/index.ts';
import { BusError } from '../../src/errors/index.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { startControlPlane } from '../../src/node/control-plane.ts';
import { ControlRouter } from '../../src/node/control-router.ts';
import { controlRoutes, type ControlNodeHandle } from '../../src/node/control-routes.ts';
import { capturingLogger } from '../helpers/log-sink.ts';

describe('control plane while membership is unreadable (issue 13)', () => {
  it('stays silent on subjects another owner serves and logs it once, not per request', async () => {
    const { logger, lines } = capturingLogger('info');
    const bus = new MemoryBus({ logger: createLogger({ level: 'silent' }), subjectPrefix: 'cu' });
    const handle = { nodeId: 'n1' } as ControlNodeHandle;
    let checks = 0;
    const plane = await startControlPlane({
      bus,
      connection: undefined,
      prefix: 'cu',
      nodeId: 'n1',
      version: '0.0.0',
      metadata: {},
      router: new ControlRouter({ prefix: 'cu', maxPayloadBytes: 65_536 }).add(...controlRoutes(handle)),
      isServed: () => {
        checks++;
        return Promise.reject(new BusError('ESPER_TIMEOUT', 'keys in bucket cu_nodes timed out'));
      },
      logger,
    });
    let answered = 0;
    try {
      // 30 requests for another node's status, as `nats req` sends them: none answered by this listener.
      const requests = Array.from({ length: 30 }, () =>
        bus.request('cu.ctl.node.n2.status', new TextEncoder().encode('{}'), { timeoutMs: 300 }).then(
          () => void answered++,
          () => undefined,
        ),
      );
      await Promise.all(requests);
    } finally {
      await plane.stop();
    }
    expect(answered, 'no reply from the shared listener').to.equal(0);
    expect(checks, 'every request asked who serves it').to.equal(30);
    expect(lines.filter((line) => line.msg.startsWith('control: cannot tell who serves'))).to.have.length(1);
    expect(lines.filter((line) => line.msg === 'control handler failed'), 'no error per request').to.have.length(0);
  });
});
