import { expect } from 'chai';
import { main } from '../../src/cli/main.ts';
import type { CliOutput } from '../../src/cli/output.ts';
import { runDashboardCommand } from '../../src/cli/dashboard.ts';
import { openRunDashboard } from '../../src/cli/run-dashboard.ts';
import { createMessage } from '../../src/contracts/registry.ts';
import { quickSpiralsSpec } from '../helpers/spirals-spec.ts';
import { createLogger } from '../../src/infra/logger.ts';

function capture(): CliOutput & { out: (t: string) => void; lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (text) => void lines.push(text), err: (text) => void errors.push(text) };
}

describe('esper dashboard', () => {
  it('has --help listing its flags (exit 0)', async () => {
    const output = capture();
    expect(await main(['dashboard', '--help'], output)).to.equal(0);
    const help = output.lines.join('\n');
    for (const flag of ['--nats', '--port', '--host', '--token', '--prefix', '--nodes-bucket', '--nats-token']) expect(help).to.include(flag);
    expect(help).to.include('ESPER_DASHBOARD_TOKEN');
  });

  it('lists every bad flag at once and exits 2 without connecting', async () => {
    const output = capture();
    const code = await runDashboardCommand({ port: '99999', token: 'short', nats: 'http://nope', historyHours: 'x' }, output, {}, () => Promise.resolve());
    expect(code).to.equal(2);
    const text = output.errors.join('\n');
    expect(text).to.include('ESPER_CONFIG_INVALID');
    expect(text).to.include('--port');
    expect(text).to.include('--history-hours');
    expect(text).to.include('token must be at least 8 characters');
  });

  it('reads the token from ESPER_DASHBOARD_TOKEN and never prints it', async () => {
    const output = capture();
    const code = await runDashboardCommand({ port: '0', nats: 'nats://127.0.0.1:1' }, output, { ESPER_DASHBOARD_TOKEN: 'secret-token-xyz', ESPER_LOG_LEVEL: 'silent' }, () => Promise.resolve());
    expect(code).to.equal(0);
    expect(output.lines.join('\n')).to.match(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/ \(operator actions need the token\)$/);
    expect([...output.lines, ...output.errors].join('\n')).to.not.include('secret-token-xyz');
  });
});

describe('esper run --dashboard', () => {
  it('serves the run in this process from the run loop events, read-only', async () => {
    const output = capture();
    const spec = quickSpiralsSpec(5);
    const dashboard = await openRunDashboard({ dashboard: true, port: '0' }, 'local-run', spec, output, createLogger({ level: 'silent' }));
    if (dashboard === undefined) throw new Error('no dashboard');
    try {
      dashboard.events(createMessage('tolaria.epoch.completed', { runId: 'local-run', epoch: 1, globalStep: 3, trainingLoss: 0.7, validationLoss: 0.7, validationAccuracy: 0.6, epochMs: 50, paramCount: 29 }, { source: 'local/tolaria', runId: 'local-run' }));
      const state = (await (await fetch(`${dashboard.url}api/state`)).json()) as { data: { mode: string; actions: boolean; runs: Array<{ runId: string; points: unknown[]; maxEpochs: number }> } };
      expect(state.data.mode).to.equal('embedded');
      expect(state.data.actions).to.equal(false);
      expect(state.data.runs[0]).to.include({ runId: 'local-run', maxEpochs: 5 });
      expect(state.data.runs[0]?.points).to.have.length(1);
      const action = await fetch(`${dashboard.url}api/runs/local-run/pause`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(action.status).to.equal(403);
    } finally {
      await dashboard.close('completed');
    }
    expect(output.errors.join('\n')).to.match(/dashboard: http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('refuses --port without --dashboard', async () => {
    let error: unknown;
    try {
      await openRunDashboard({ port: '8000' }, 'r', quickSpiralsSpec(5), capture(), createLogger({ level: 'silent' }));
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).to.equal('ESPER_CONFIG_INVALID');
  });
});
