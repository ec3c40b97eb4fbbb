import { writeFileSync } from 'node:fs';
import { renderBlueprintsDoc } from '../src/actors/karn/blueprints-doc.ts';

writeFileSync(new URL('../docs/blueprints.md', import.meta.url), renderBlueprintsDoc());
