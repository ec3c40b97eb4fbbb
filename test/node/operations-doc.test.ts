import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { clusterRoutes, nodeRoutes, type ControlNodeHandle } from '../../src/node/control-routes.ts';

describe('docs/operations.md', () => {
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const handle = {} as ControlNodeHandle;

  it('documents every control route with a nats req example or its verb list', () => {
    for (const route of [...nodeRoutes(handle), ...clusterRoutes(handle)]) {
      const tokens = route.pattern.split('.');
      const verb = tokens[tokens.length - 1] ?? '';
      const family = tokens[0] ?? '';
      const documented = doc.includes(`esper.ctl.${route.pattern}`) || (doc.includes(`esper.ctl.${family}.`) && doc.includes(`\`${verb}\``));
      expect(documented, route.pattern).to.equal(true);
    }
  });
});
