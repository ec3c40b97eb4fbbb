import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { DEFAULT_CONFIG_FILE, loadNodeConfig, mergeConfig } from '../../src/config/load.ts';
import { NodeConfigSchema, expandRoles } from '../../src/config/schema.ts';
import { ConfigError } from '../../src/errors/index.ts';
import { issuesOf, throwsWith } from '../helpers/rejects-with.ts';

function tempFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'esper-config-'));
  const path = join(dir, 'config.json');
  writeFileSync(path, content);
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  const error = throwsWith(fn, ConfigError);
  expect(error.code).to.equal('ESPER_CONFIG_INVALID');
  return issuesOf(error);
}

describe('loadNodeConfig', () => {
  it('config/default.json says exactly what the schema defaults say', async () => {
    const { readFile } = await import('node:fs/promises');
    const file = JSON.parse(await readFile(DEFAULT_CONFIG_FILE, 'utf8')) as unknown;
    expect(NodeConfigSchema.parse(file)).to.deep.equal(NodeConfigSchema.parse({}));
  });

  it('applies flags over environment over file over defaults', () => {
    const file = tempFile(JSON.stringify({ node: { name: 'from-file', roles: ['compiler'] }, metrics: { port: 1111 }, subjectPrefix: 'filepfx' }));
    const config = loadNodeConfig({
      flags: { config: file, name: 'from-flag' },
      env: { ESPER_NODE_NAME: 'from-env', ESPER_METRICS_PORT: '2222', ESPER_ROLES: 'trainer, validator' },
    });
    expect(config.node.name).to.equal('from-flag');
    expect(config.metrics.port).to.equal(2222);
    expect(config.node.roles).to.deep.equal(['trainer', 'validator']);
    expect(config.subjectPrefix).to.equal('filepfx');
    expect(config.membership.heartbeatMs).to.equal(1000);
    expect(config.nats).to.equal(undefined);
  });

  it('puts --nats into nats.url and freezes the result', () => {
    const config = loadNodeConfig({ flags: { nats: 'nats://127.0.0.1:4222' }, env: {} });
    expect(config.nats?.url).to.equal('nats://127.0.0.1:4222');
    expect(Object.isFrozen(config.node)).to.equal(true);
  });

  it('reads nats.replicas from ESPER_NATS_REPLICAS (issue 13) and leaves it unset by default (chosen from the server)', () => {
    const config = loadNodeConfig({ flags: { nats: 'nats://127.0.0.1:4301,nats://127.0.0.1:4302' }, env: { ESPER_NATS_REPLICAS: '3' } });
    expect(config.nats?.replicas).to.equal(3);
    expect(loadNodeConfig({ flags: { nats: 'nats://127.0.0.1:4222' }, env: {} }).nats?.replicas).to.equal(undefined);
    const problems = problemsOf(() => loadNodeConfig({ flags: { nats: 'nats://127.0.0.1:4222' }, env: { ESPER_NATS_REPLICAS: '7' } }));
    expect(problems.join('\n')).to.match(/replicas must be 1 to 5/);
  });

  it('lists every problem at once', () => {
    const file = tempFile(JSON.stringify({ node: { roles: ['gardener'] }, bogus: 1, membership: { heartbeatMs: 5 } }));
    const problems = problemsOf(() =>
      loadNodeConfig({ flags: { config: file, metricsPort: 'eighty', name: 'bad name!' }, env: { ESPER_HEARTBEAT_MS: 'soon', ESPER_DB_URL: 'mysql://x' } }),
    );
    const text = problems.join('\n');
    expect(text).to.match(/--metrics-port/);
    expect(text).to.match(/ESPER_HEARTBEAT_MS/);
    expect(text).to.match(/roles/);
    expect(text).to.match(/bogus/);
    expect(text).to.match(/node name/);
    expect(text).to.match(/db\.url/);
    expect(problems.length).to.be.at.least(6);
  });

  it('reports an unreadable or non-JSON config file', () => {
    expect(problemsOf(() => loadNodeConfig({ flags: { config: '/nonexistent/esper.json' }, env: {} })).join()).to.match(/cannot be read/);
    expect(problemsOf(() => loadNodeConfig({ flags: { config: tempFile('{nope') }, env: {} })).join()).to.match(/not valid JSON/);
  });

  it('merges objects deeply and replaces arrays', () => {
    expect(mergeConfig({ a: { b: 1, c: [1, 2] } }, { a: { c: [3] } })).to.deep.equal({ a: { b: 1, c: [3] } });
  });

  it('expands the all role', () => {
    expect(expandRoles(['all'])).to.deep.equal(['trainer', 'compiler', 'validator', 'library', 'controller']);
    expect(expandRoles(['validator', 'trainer', 'trainer'])).to.deep.equal(['trainer', 'validator']);
  });
});
