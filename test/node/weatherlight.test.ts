import { expect } from 'chai';
import { MemoryBus } from '../../src/actors/oona/index.ts';
import { tolariaSupervisorSpec } from '../../src/actors/tolaria/index.ts';
import { EsperError } from '../../src/errors/index.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { Metrics } from '../../src/infra/metrics.ts';
import { startWeatherlight, subsystemsFor } from '../../src/node/weatherlight.ts';
import type { Behaviour, ChildSpec } from '../../src/supervision/index.ts';

/** A worker that answers every query with its name (stands in for a real subsystem in this test of the root supervisor). */
function worker(id: string): () => ChildSpec {
  const behaviour: Behaviour<null, unknown> = { init: () => null, handle: (state, _m, ctx) => (ctx.reply(id), state) };
  return () => ({ id, restart: 'permanent', shutdownTimeoutMs: 1000, subsystem: id, behaviour });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 10 ms until it holds or `ms` pass (timers run late on a loaded machine). */
async function eventually(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await sleep(10);
}

describe('Weatherlight', () => {
  const logger = createLogger({ level: 'silent', bindings: { node: 't1' } });

  it('starts the subsystems the roles ask for, storage first; Kasmina and Tamiyo live in runs, Oona is the bus', () => {
    expect(subsystemsFor(['trainer'])).to.deep.equal(['tolaria']);
    expect(subsystemsFor(['controller', 'library'])).to.deep.equal(['urza', 'nissa', 'karn']);
    expect(subsystemsFor(['library', 'compiler', 'validator', 'controller', 'trainer'])).to.deep.equal(['urza', 'nissa', 'tezzeret', 'urabrask', 'karn', 'tolaria']);
  });

  it('refuses to start a role whose subsystem has no implementation (no placeholder actors)', async () => {
    const bus = new MemoryBus();
    const error = await startWeatherlight({ roles: ['compiler', 'validator'], implementations: { tezzeret: worker('tezzeret') }, bus, logger, metrics: new Metrics(), subjectPrefix: 'esper', onGiveUp: () => undefined }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(EsperError);
    expect((error as EsperError).message).to.match(/no implementation for urabrask/);
    await bus.close();
  });

  it('runs them as supervised actors, lists the whole tree and stops in reverse order', async () => {
    const bus = new MemoryBus();
    const metrics = new Metrics();
    let sweeps = 0;
    const weatherlight = await startWeatherlight({
      roles: ['compiler', 'trainer'],
      implementations: {
        tezzeret: worker('tezzeret'),
        tolaria: () =>
          tolariaSupervisorSpec({
            sweep: () => {
              sweeps++;
              return Promise.resolve();
            },
            sweepMs: 20,
          }),
      },
      bus,
      logger,
      metrics,
      subjectPrefix: 'esper',
      onGiveUp: () => undefined,
    });
    expect(weatherlight.describe().map((actor) => [actor.path, actor.subsystem, actor.status])).to.deep.equal([
      ['weatherlight/tezzeret', 'tezzeret', 'running'],
      ['weatherlight/tolaria', 'tolaria', 'running'],
      ['weatherlight/tolaria/orphan-sweeper', 'tolaria', 'running'],
    ]);
    await eventually(() => sweeps >= 3);
    expect(sweeps).to.be.at.least(3);
    const text = await metrics.text();
    expect(text).to.match(/esper_actors\{subsystem="tezzeret"\} 1/);
    expect(text).to.match(/esper_actors\{subsystem="tolaria"\} 1/);
    await weatherlight.stop();
    expect(await metrics.text()).to.match(/esper_actors\{subsystem="tezzeret"\} 0/);
    await bus.close();
  });

  it("restarts the orphan sweeper when a sweep throws, and it keeps sweeping", async () => {
    const bus = new MemoryBus();
    let sweeps = 0;
    const weatherlight = await startWeatherlight({
      roles: ['trainer'],
      implementations: {
        tolaria: () =>
          tolariaSupervisorSpec({
            sweep: () => {
              sweeps++;
              return sweeps === 2 ? Promise.reject(new EsperError('ESPER_UNAVAILABLE', 'runs bucket unreachable', { retryable: true })) : Promise.resolve();
            },
            sweepMs: 20,
          }),
      },
      bus,
      logger,
      metrics: new Metrics(),
      subjectPrefix: 'esper',
      onGiveUp: () => undefined,
    });
    const sweeperLine = (): ReturnType<typeof weatherlight.describe>[number] | undefined => weatherlight.describe().find((actor) => actor.path === 'weatherlight/tolaria/orphan-sweeper');
    await eventually(() => sweeperLine()?.incarnation === 2 && sweeps >= 4);
    const sweeper = sweeperLine();
    expect(sweeper?.incarnation).to.equal(2);
    expect(sweeps).to.be.at.least(4);
    await weatherlight.stop();
    await bus.close();
  });
});
