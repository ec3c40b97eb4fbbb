/**
 * `esper run --nats URL SPEC`: the CLI sends the spec to the cluster, a
 * trainer node runs it, the CLI follows it and writes results.json and
 * report.html locally — the same outputs as an embedded run.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { connect } from 'nats';
import { RunResultsSchema } from '../../../src/contracts/run.ts';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { deleteRunStreams } from '../../helpers/until.ts';

describe('esper run --nats (integration)', function () {
  this.timeout(180_000);
  const prefix = `rn${randomBytes(4).toString('hex')}`;
  const configFile = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs: 300, bucket: `${prefix}_nodes` } });
  let trainer: DaemonProcess | undefined;

  before(async function () {
    await requireService(this, 'nats');
    trainer = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'rt1', '--roles', 'trainer', '--config', configFile]);
    await trainer.waitForMessage('node ready');
  });

  after(async () => {
    trainer?.kill('SIGKILL');
    await trainer?.exited;
    const nc = await connect({ servers: NATS_URL });
    await deleteRunStreams(nc, prefix);
    await nc.close();
  });

  it('runs the spec on a trainer node and writes results.json and report.html locally', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-run-nats-'));
    const spec = JSON.parse(readFileSync(new URL('../../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const file = join(dir, 'spec.json');
    writeFileSync(file, JSON.stringify({ ...spec, epochs: 8 }));
    const cli = new DaemonProcess(['run', file, '--nats', NATS_URL, '--prefix', prefix, '--out', join(dir, 'out'), '--progress', 'lines']);
    const exit = await cli.exited;
    expect(exit.code, cli.stderrText + cli.stdoutText).to.equal(0);
    expect(cli.stdoutText).to.match(/started on the cluster/);
    expect(cli.stdoutText).to.match(/epoch +8\/8 .*completed on rt1/);
    const results = RunResultsSchema.parse(JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')));
    expect(results.epochs).to.have.length(8);
    expect(existsSync(join(dir, 'out', 'report.html'))).to.equal(true);

    const compare = new DaemonProcess(['run', file, '--nats', NATS_URL, '--prefix', prefix, '--compare']);
    expect((await compare.exited).code).to.equal(2);
    const none = new DaemonProcess(['run', file, '--nats', NATS_URL, '--prefix', `${prefix}x`]);
    expect((await none.exited).code).to.equal(1);
    expect(none.stderrText).to.match(/ESPER_NO_RESPONDERS/);
  });
});
