import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { renderBlueprintsDoc } from '../../../src/actors/karn/blueprints-doc.ts';
import { CATALOG_NAMES } from '../../../src/actors/karn/catalog.ts';

describe('docs/blueprints.md', () => {
  const doc = readFileSync(new URL('../../../docs/blueprints.md', import.meta.url), 'utf8');

  it('is the rendering of the current catalog (run `npm run docs:blueprints` after changing it)', () => {
    expect(doc).to.equal(renderBlueprintsDoc());
  });

  it('has one table row per catalog blueprint, with its numbers', () => {
    for (const name of CATALOG_NAMES) expect(doc.split(`| \`${name}\` |`).length - 1, name).to.equal(1);
    expect(doc).to.match(/\| `mlp_small` \| dense, conv2d \| yes \| 65,920 \|/);
    // widen_x2 at a 16-unit layer between 128 features and 10 outputs: k = 32, 128·32 + 32 + 32·10 + 10 parameters.
    expect(doc).to.match(/\| `widen_x2` \| 2× \| 32 \| gradient \| yes \| 4,458 \|/);
    expect(doc).to.match(/\| `widen_random_x2` \| 2× \| 32 \| random \| yes \|/);
    expect(doc).to.include('### Width').and.include('re-draws');
  });
});
