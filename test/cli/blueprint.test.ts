import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { main } from '../../src/cli/main.ts';
import type { CliOutput } from '../../src/cli/output.ts';
import { parseInterfaceFlag } from '../../src/actors/karn/index.ts';

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function run(...argv: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const output: CliOutput = { out: (text) => void out.push(text), err: (text) => void err.push(text) };
  const code = await main(argv, output);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const example = (name: string): string => fileURLToPath(new URL(`../../examples/blueprints/${name}`, import.meta.url));
const VALID = example('residual-adapter.json');
const BOMB = example('param-bomb.json');

describe('esper blueprint check', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'esper-blueprint-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 for the example residual adapter and prints the parameter count', async () => {
    const { code, out, err } = await run('blueprint', 'check', VALID);
    expect(err).to.equal('');
    expect(code).to.equal(0);
    expect(out).to.match(/parameters\s+16,832/);
    expect(out).to.match(/starts as identity\s+yes/);
    expect(out).to.match(/irHash\s+[0-9a-f]{64}/);
  });

  it('prints the report as JSON with --json', async () => {
    const { code, out } = await run('blueprint', 'check', VALID, '--json');
    expect(code).to.equal(0);
    const parsed = JSON.parse(out) as { ok: boolean; report: { paramCount: number; perNode: unknown[] } };
    expect(parsed.ok).to.equal(true);
    expect(parsed.report.paramCount).to.equal(16_832);
    expect(parsed.report.perNode).to.have.length(5);
  });

  it('exits 1 for the parameter bomb, printing ESPER_BLUEPRINT_LIMIT with the numbers', async () => {
    const { code, err } = await run('blueprint', 'check', BOMB);
    expect(code).to.equal(1);
    expect(err).to.contain('error ESPER_BLUEPRINT_LIMIT: paramCount 16,842,880 exceeds maxParams 5,000,000');
    expect(err).to.contain('maxMemoryBytes');
  });

  it('prints the errors as JSON on stdout with --json when rejected', async () => {
    const { code, out } = await run('blueprint', 'check', BOMB, '--json');
    expect(code).to.equal(1);
    const parsed = JSON.parse(out) as { ok: boolean; errors: { code: string; details: Record<string, unknown> }[] };
    expect(parsed.ok).to.equal(false);
    expect(parsed.errors[0]).to.deep.include({ code: 'ESPER_BLUEPRINT_LIMIT' });
    expect(parsed.errors[0]?.details).to.deep.equal({ limit: 'maxParams', value: 16_842_880, max: 5_000_000 });
  });

  it('applies --interface over the IR and budget flags', async () => {
    const conv = await run('blueprint', 'check', VALID, '--interface', 'conv2d:14x14x16');
    expect(conv.code).to.equal(1);
    expect(conv.err).to.contain('ESPER_BLUEPRINT_SHAPE_MISMATCH');
    const tight = await run('blueprint', 'check', VALID, '--max-params', '1000');
    expect(tight.code).to.equal(1);
    expect(tight.err).to.contain('exceeds maxParams 1,000');
  });

  it('exits 1 for a cyclic graph, printing ESPER_BLUEPRINT_CYCLE', async () => {
    const file = join(dir, 'cycle.json');
    writeFileSync(
      file,
      JSON.stringify({
        irVersion: 1,
        name: 'loop',
        interface: { kind: 'dense', inputShape: [8], outputShape: [8], dtype: 'float32' },
        nodes: [
          { id: 'a', op: 'dense', inputs: ['b'], params: { units: 8 } },
          { id: 'b', op: 'residual', inputs: ['input', 'a'] },
        ],
        output: 'b',
      }),
    );
    const { code, err } = await run('blueprint', 'check', file);
    expect(code).to.equal(1);
    expect(err).to.contain('error ESPER_BLUEPRINT_CYCLE');
  });

  it('exits 2 for a missing file, invalid JSON or a bad flag', async () => {
    const missing = await run('blueprint', 'check', join(dir, 'nope.json'));
    expect(missing.code).to.equal(2);
    expect(missing.err).to.contain('ESPER_NOT_FOUND');
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ not json');
    const bad = await run('blueprint', 'check', file);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.contain('ESPER_INVALID_JSON');
    const flag = await run('blueprint', 'check', VALID, '--interface', 'dense:0');
    expect(flag.code).to.equal(2);
    expect(flag.err).to.contain('--interface must be dense:N or conv2d:HxWxC');
    const limit = await run('blueprint', 'check', VALID, '--max-params', 'lots');
    expect(limit.code).to.equal(2);
    expect(limit.err).to.contain('--max-params must be a positive integer');
    expect((await run('blueprint', 'check')).code).to.equal(2);
    expect((await run('blueprint', 'check', VALID, '--bogus')).code).to.equal(2);
  });

  it('parses interface flags', () => {
    expect(parseInterfaceFlag('dense:128')).to.deep.equal({ kind: 'dense', inputShape: [128], outputShape: [128], dtype: 'float32' });
    expect(parseInterfaceFlag('conv2d:14x14x16')).to.deep.equal({ kind: 'conv2d', inputShape: [14, 14, 16], outputShape: [14, 14, 16], dtype: 'float32' });
    for (const bad of ['dense', 'dense:12x3', 'conv2d:14x14', 'conv:1x1x1', 'dense:70000']) expect(() => parseInterfaceFlag(bad, '--interface'), bad).to.throw(/--interface must be dense:N/);
  });
});
