import { expect } from 'chai';
import { chooseReplicas } from '../../../src/actors/oona/index.ts';

describe('chooseReplicas (issue 13)', () => {
  const cluster = { jetstream: true, cluster: 'esper', connect_urls: ['127.0.0.1:4301', '127.0.0.1:4302', '127.0.0.1:4303'] };

  it('gives 3 replicas when the server INFO lists a cluster of three or more JetStream servers', () => {
    expect(chooseReplicas(cluster)).to.deep.equal({ replicas: 3, source: 'cluster', servers: 3 });
    expect(chooseReplicas({ ...cluster, connect_urls: [...cluster.connect_urls, '127.0.0.1:4304', '127.0.0.1:4305'] }).replicas).to.equal(3);
  });

  it('gives 1 replica to a single server, a two-server cluster, or a server without JetStream', () => {
    expect(chooseReplicas({ jetstream: true })).to.deep.equal({ replicas: 1, source: 'single', servers: 1 });
    expect(chooseReplicas({ ...cluster, connect_urls: cluster.connect_urls.slice(0, 2) }).replicas).to.equal(1);
    expect(chooseReplicas({ ...cluster, jetstream: false }).replicas).to.equal(1);
    expect(chooseReplicas({ jetstream: true, connect_urls: cluster.connect_urls }).replicas, 'no cluster name').to.equal(1);
    expect(chooseReplicas(undefined).replicas).to.equal(1);
  });

  it('counts each advertised server once', () => {
    expect(chooseReplicas({ ...cluster, connect_urls: ['a:1', 'a:1', 'a:1'] }).replicas).to.equal(1);
  });

  it('lets nats.replicas override what the server reports', () => {
    expect(chooseReplicas(cluster, 1)).to.deep.equal({ replicas: 1, source: 'configured', servers: 3 });
    expect(chooseReplicas({ jetstream: true }, 3)).to.deep.equal({ replicas: 3, source: 'configured', servers: 1 });
  });
});
