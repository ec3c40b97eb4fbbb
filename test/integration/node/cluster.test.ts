/**
 * Issue 3: daemons as child processes on the real NATS server, steered by a
 * plain nats.js client sending exactly what `nats req` sends.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import { main } from '../../../src/cli/main.ts';
import type { CliOutput } from '../../../src/cli/output.ts';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';

const HEARTBEAT_MS = 250;

interface WireReply {
  ok: boolean;
  data?: Record<string, unknown>;
  error?: { code: string; message: string };
}

interface ListedNode {
  name: string;
  incarnationId: string;
  status: string;
  roles: string[];
}

describe('node daemons on NATS (integration)', function () {
  this.timeout(120_000);
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const bucket = `${prefix}_nodes`;
  // The shared server refuses payloads over its own max_payload (1 MiB) before
// they reach a node, so the node's limit is lowered to exercise its check.
const MAX_PAYLOAD = 256 * 1024;
const configFile = writeTempConfig({
  subjectPrefix: prefix,
  membership: { heartbeatMs: HEARTBEAT_MS, bucket, forgetAfterMs: 60_000 },
  control: { maxPayloadBytes: MAX_PAYLOAD },
});
  const daemons = new Map<string, DaemonProcess>();
  let nc: NatsConnection;

  async function request(subject: string, payload: string | Uint8Array = '', timeout = 5000): Promise<WireReply> {
    const data = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    const message = await nc.request(subject, data, { timeout });
    return JSON.parse(new TextDecoder().decode(message.data)) as WireReply;
  }

  async function startNode(name: string): Promise<DaemonProcess> {
    const daemon = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', name, '--config', configFile, '--roles', 'all']);
    daemons.set(name, daemon);
    await daemon.waitForMessage('node ready');
    return daemon;
  }

  async function listNodes(): Promise<ListedNode[]> {
    const reply = await request(`${prefix}.ctl.cluster.nodes`);
    expect(reply.ok, JSON.stringify(reply)).to.equal(true);
    return (reply.data?.['nodes'] as ListedNode[]) ?? [];
  }

  before(async function () {
    await requireService(this, 'nats');
    nc = await connect({ servers: NATS_URL });
    await Promise.all(['n1', 'n2', 'n3'].map((name) => startNode(name)));
  });

  after(async () => {
    for (const daemon of daemons.values()) daemon.kill('SIGKILL');
    await Promise.all([...daemons.values()].map((daemon) => daemon.exited));
    if (nc !== undefined) {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
      await nc.close();
    }
  });

  it('lists three joined nodes on <prefix>.ctl.cluster.nodes', async () => {
    const nodes = await listNodes();
    expect(nodes.map((node) => node.name)).to.deep.equal(['n1', 'n2', 'n3']);
    for (const node of nodes) {
      expect(node.status).to.equal('ready');
      expect(node.roles).to.include('trainer');
      expect(node.incarnationId).to.match(/^[0-9a-f-]{36}$/);
    }
  });

  it('answers $SRV.PING once per node', async () => {
    const inbox = nc.subscribe('_INBOX.ping.' + prefix);
    const names: string[] = [];
    const collecting = (async () => {
      for await (const message of inbox) {
        const info = JSON.parse(new TextDecoder().decode(message.data)) as { name: string; metadata?: Record<string, string> };
        names.push(info.metadata?.['node'] ?? '?');
      }
    })();
    nc.publish(`$SRV.PING.${prefix}`, new Uint8Array(), { reply: '_INBOX.ping.' + prefix });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    inbox.unsubscribe();
    await collecting;
    expect(names.sort()).to.deep.equal(['n1', 'n2', 'n3']);
  });

  it('answers status for each node on its own subject', async () => {
    for (const name of ['n1', 'n2', 'n3']) {
      const reply = await request(`${prefix}.ctl.node.${name}.status`);
      expect(reply.ok).to.equal(true);
      expect(reply.data?.['name']).to.equal(name);
    }
    const missing = await request(`${prefix}.ctl.node.nobody.status`);
    expect(missing.error?.code).to.equal('ESPER_NOT_FOUND');
  });

  it('answers run and seed subjects with a coded not-found', async () => {
    expect((await request(`${prefix}.ctl.run.r1.status`)).error?.code).to.equal('ESPER_NOT_FOUND');
    expect((await request(`${prefix}.ctl.seed.r1.s3.prune`, '{"reason":"manual"}')).error?.code).to.equal('ESPER_NOT_FOUND');
    const runs = await request(`${prefix}.ctl.cluster.runs`);
    expect(runs.ok).to.equal(true);
    expect(runs.data?.['runs']).to.deep.equal([]);
  });

  it('is steered by esper ctl: exit 0 with the reply, 1 with the error code, 2 for a bad verb', async () => {
    const captured = { out: '', err: '' };
    const output: CliOutput = { out: (text) => void (captured.out += text + '\n'), err: (text) => void (captured.err += text + '\n') };
    expect(await main(['ctl', 'nodes', '--nats', NATS_URL, '--prefix', prefix], output)).to.equal(0);
    expect(captured.out).to.contain('"n1"');
    expect(await main(['ctl', 'node', 'status', 'n2', '--nats', NATS_URL, '--prefix', prefix], output)).to.equal(0);
    expect(await main(['ctl', 'run', 'status', 'r9', '--nats', NATS_URL, '--prefix', prefix], output)).to.equal(1);
    expect(captured.err).to.contain('error ESPER_NOT_FOUND');
    expect(await main(['ctl', 'req', `${prefix}.ctl.node.n1.status`, 'not json', '--nats', NATS_URL], output)).to.equal(1);
    expect(captured.err).to.contain('error ESPER_INVALID_JSON');
    expect(await main(['ctl', 'node', 'reboot', 'n1', '--nats', NATS_URL, '--prefix', prefix], output)).to.equal(2);
    expect(captured.err).to.contain('ESPER_UNKNOWN_VERB');
  });

  it('reports a SIGKILLed node down within three heartbeats, and a restart as a new incarnation', async () => {
    const before = (await listNodes()).find((node) => node.name === 'n2');
    expect(before?.status).to.equal('ready');
    const victim = daemons.get('n2');
    victim?.kill('SIGKILL');
    await victim?.exited;
    const killedAt = Date.now();
    let detectedAfterMs = -1;
    while (Date.now() - killedAt < 10 * HEARTBEAT_MS) {
      const n2 = (await listNodes()).find((node) => node.name === 'n2');
      if (n2?.status === 'down') {
        detectedAfterMs = Date.now() - killedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // Bound: 3 heartbeat intervals since the last beat, plus one interval for the beat in flight.
    expect(detectedAfterMs, 'n2 was never reported down').to.be.greaterThan(-1);
    expect(detectedAfterMs).to.be.at.most(4 * HEARTBEAT_MS + 100);
    console.log(`      down detected after ${detectedAfterMs} ms (heartbeat ${HEARTBEAT_MS} ms)`);

    await startNode('n2');
    const after = (await listNodes()).find((node) => node.name === 'n2');
    expect(after?.status).to.equal('ready');
    expect(after?.incarnationId).to.not.equal(before?.incarnationId);
  });

  it('survives 1,000 malformed control messages, answering each with a coded error', async () => {
    /**
     * Random bytes that are no request: neither whitespace only (an empty payload is "no input", a valid shutdown
     * or drain — a one-byte space once shut n1 down mid-test) nor any JSON (`{}` is one too).
     */
    function malformedBytes(): Uint8Array {
      for (;;) {
        const bytes = randomBytes(1 + Math.floor(Math.random() * 64));
        const text = Buffer.from(bytes).toString('utf8');
        if (text.trim() === '') continue;
        try {
          JSON.parse(text);
        } catch {
          return bytes;
        }
      }
    }
    const verbsByShape = [
      (): string => `${prefix}.ctl.node.n1.${pick(['status', 'drain', 'shutdown', 'reboot', 'x'])}`,
      (): string => `${prefix}.ctl.cluster.${pick(['nodes', 'runs', 'explode', 'status'])}`,
      (): string => `${prefix}.ctl.run.${pick(['start', 'r1'])}${Math.random() < 0.5 ? '' : '.' + pick(['status', 'pause', 'stop', 'rollback', 'zz'])}`,
      (): string => `${prefix}.ctl.seed.r1.${pick(['s1', 's2'])}.${pick(['status', 'prune', 'germinate', 'nope'])}`,
      (): string => `${prefix}.ctl.${pick(['karn.submit', 'urza.kernels', 'urza.blueprints', 'bogus', 'node', 'node.n1', 'a.b.c.d.e.f'])}`,
    ];
    const payloads = [
      malformedBytes,
      (): Uint8Array => new TextEncoder().encode('{"unterminated": '),
      (): Uint8Array => new TextEncoder().encode(JSON.stringify(pick([[1, 2], 42, 'text', null, true]))),
      (): Uint8Array => new TextEncoder().encode(JSON.stringify({ [`k${Math.floor(Math.random() * 1e6)}`]: Math.random() })),
      (): Uint8Array => new TextEncoder().encode(JSON.stringify({ timeoutMs: 'soon', reason: 42 })),
    ];
    let answered = 0;
    const codes = new Map<string, number>();
    const total = 1000;
    for (let i = 0; i < total; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) => {
        const subject = pick(verbsByShape)();
        // A handful of oversized payloads among them.
        const payload = (i + j) % 250 === 7 ? new Uint8Array(MAX_PAYLOAD + 10) : pick(payloads)();
        return request(subject, payload).then((reply) => {
          expect(reply.ok, `${subject} accepted a malformed payload`).to.equal(false);
          expect(reply.error?.code, subject).to.match(/^ESPER_[A-Z_]+$/);
          codes.set(reply.error?.code ?? '', (codes.get(reply.error?.code ?? '') ?? 0) + 1);
          answered++;
        });
      });
      await Promise.all(batch);
    }
    expect(answered).to.equal(total);
    expect([...codes.keys()]).to.include.members(['ESPER_INVALID_JSON', 'ESPER_SCHEMA_VIOLATION', 'ESPER_UNKNOWN_VERB', 'ESPER_PAYLOAD_TOO_LARGE']);
    const status = await request(`${prefix}.ctl.node.n1.status`);
    expect(status.ok).to.equal(true);
  });

  it('drains a SIGTERMed node, which exits 0 and leaves the cluster, while the others stay up', async () => {
    const daemon = daemons.get('n3');
    daemon?.kill('SIGTERM');
    const exit = await daemon?.exited;
    expect(exit?.code).to.equal(0);
    await daemon?.waitForMessage('node stopped', 1000);
    const nodes = await listNodes();
    expect(nodes.map((node) => node.name)).to.deep.equal(['n1', 'n2']);
    for (const name of ['n1', 'n2']) expect((await request(`${prefix}.ctl.node.${name}.status`)).ok).to.equal(true);
  });

  it('serves OpenMetrics on --metrics-port', async () => {
    const daemon = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'm1', '--config', configFile, '--metrics-port', '0']);
    daemons.set('m1', daemon);
    const ready = await daemon.waitForMessage('node ready');
    const response = await fetch(`http://127.0.0.1:${String(ready['metricsPort'])}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/openmetrics/);
    const text = await response.text();
    for (const name of [
      'esper_actors',
      'esper_actor_restarts',
      'esper_mailbox_depth',
      'esper_dead_letters',
      'esper_breaker_state',
      'esper_bus_messages',
      'esper_control_request_duration_seconds',
      'esper_event_loop_lag_seconds',
    ]) {
      expect(text, name).to.contain(name);
    }
    expect(text).to.match(/esper_actors\{subsystem="tolaria"\} 1/);
    expect(text.trimEnd().endsWith('# EOF')).to.equal(true);
  });
});

describe('esper node start configuration errors', function () {
  this.timeout(90_000);
  it('exits 2 listing every problem', async () => {
    const daemon = new DaemonProcess(['node', 'start', '--metrics-port', 'eighty', '--roles', 'gardener', '--name', 'bad name!']);
    const exit = await daemon.exited;
    expect(exit.code).to.equal(2);
    expect(daemon.stderrText).to.contain('ESPER_CONFIG_INVALID');
    expect(daemon.stderrText).to.contain('--metrics-port');
    expect(daemon.stderrText).to.match(/roles/);
    expect(daemon.stderrText).to.match(/node name/);
  });
});

describe('embedded node (no --nats)', function () {
  this.timeout(90_000);
  it('runs on the in-process bus, serves metrics and exits 0 on SIGINT', async () => {
    const daemon = new DaemonProcess(['node', 'start', '--metrics-port', '0', '--name', 'solo']);
    const ready = await daemon.waitForMessage('node ready');
    expect(ready['bus']).to.equal('memory');
    const text = await (await fetch(`http://127.0.0.1:${String(ready['metricsPort'])}/metrics`)).text();
    expect(text).to.match(/esper_actors\{subsystem="urza"\} 1/);
    daemon.kill('SIGINT');
    expect((await daemon.exited).code).to.equal(0);
  });
});

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}
