import { expect } from 'chai';
import { MemoryBus } from '../../src/actors/oona/index.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { Metrics } from '../../src/infra/metrics.ts';
import { startWeatherlight, subsystemsFor } from '../../src/node/weatherlight.ts';

describe('Weatherlight', () => {
  it('starts the subsystems the roles ask for, infrastructure first', () => {
    expect(subsystemsFor(['trainer'])).to.deep.equal(['oona', 'nissa', 'kasmina', 'tolaria']);
    expect(subsystemsFor(['controller', 'library'])).to.deep.equal(['oona', 'nissa', 'urza', 'karn', 'tamiyo']);
  });

  it('runs them as supervised actors that answer, drain and stop in reverse order', async () => {
    const bus = new MemoryBus();
    const metrics = new Metrics();
    const logger = createLogger({ level: 'silent', bindings: { node: 't1' } });
    const weatherlight = await startWeatherlight({ roles: ['compiler', 'validator'], bus, logger, metrics, subjectPrefix: 'esper', onGiveUp: () => undefined });
    expect(weatherlight.describe().map((actor) => [actor.subsystem, actor.status])).to.deep.equal([
      ['oona', 'running'],
      ['nissa', 'running'],
      ['tezzeret', 'running'],
      ['urabrask', 'running'],
    ]);
    await weatherlight.drain();
    const text = await metrics.text();
    expect(text).to.match(/esper_actors\{subsystem="tezzeret"\} 1/);
    await weatherlight.stop();
    expect(await metrics.text()).to.match(/esper_actors\{subsystem="tezzeret"\} 0/);
    await bus.close();
  });
});
