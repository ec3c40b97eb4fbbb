import { expect } from 'chai';
import { z } from 'zod';
import { deepFreeze, parseFrozen } from '../../src/contracts/index.ts';
import { ConfigError } from '../../src/errors/index.ts';
import { issuesOf, throwsWith } from '../helpers/rejects-with.ts';

const Schema = z
  .object({
    window: z.number().int().min(2).default(20),
    ceiling: z.object({ factor: z.number().positive().default(3) }).default({ factor: 3 }),
    tags: z.array(z.string()).default(['a']),
  })
  .strict();

describe('contracts/parse-config', () => {
  it('fills the defaults and freezes the result all the way down', () => {
    const config = parseFrozen(Schema, {}, 'test configuration');
    expect(config).to.deep.equal({ window: 20, ceiling: { factor: 3 }, tags: ['a'] });
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.ceiling)).to.equal(true);
    expect(Object.isFrozen(config.tags)).to.equal(true);
  });

  it('lists every problem in one ESPER_CONFIG_INVALID naming what was parsed', () => {
    const error = throwsWith(() => parseFrozen(Schema, { window: 1, ceiling: { factor: -1 }, bogus: true }, 'test configuration'), ConfigError);
    expect(error.code).to.equal('ESPER_CONFIG_INVALID');
    expect(error.message).to.equal('invalid test configuration (3 problems)');
    const issues = issuesOf(error);
    expect(issues).to.have.length(3);
    expect(issues.join('\n')).to.match(/^window: /m).and.match(/^ceiling\.factor: /m).and.match(/bogus/);
  });

  it('puts problems found before parsing first, and fails on them even when the schema accepts', () => {
    const error = throwsWith(() => parseFrozen(Schema, { window: 1 }, 'configuration', { problems: ['--flag: not a number'] }), ConfigError);
    expect(issuesOf(error)[0]).to.equal('--flag: not a number');
    expect(issuesOf(error)).to.have.length(2);
    const only = throwsWith(() => parseFrozen(Schema, {}, 'configuration', { problems: ['config file: cannot be read'] }), ConfigError);
    expect(only.message).to.equal('invalid configuration (1 problem)');
    expect(issuesOf(only)).to.deep.equal(['config file: cannot be read']);
  });

  it('deepFreeze leaves typed arrays alone (they cannot be frozen)', () => {
    const value = deepFreeze({ weights: new Float32Array([1, 2]), nested: { list: [1] } });
    expect(Object.isFrozen(value.nested.list)).to.equal(true);
    value.weights[0] = 3;
    expect(value.weights[0]).to.equal(3);
  });
});
