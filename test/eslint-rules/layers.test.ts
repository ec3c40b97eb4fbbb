import path from 'node:path';
import { expect } from 'chai';
import { ESLint, Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import esperRules from '../../eslint-rules/layers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');

/** Lints `code` as if it were the file `file` (relative to the repository) with only the layer rule on. */
function lint(file: string, code: string): Linter.LintMessage[] {
  const linter = new Linter({ configType: 'flat', cwd: ROOT });
  return linter.verify(
    code,
    [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { esper: esperRules }, rules: { 'esper/layers': ['error', { srcRoot: SRC }] } }],
    { filename: path.join(ROOT, file) },
  );
}

const messagesOf = (file: string, code: string): string[] => lint(file, code).map((m) => m.message);

describe('eslint rule esper/layers', () => {
  it('rejects an upward import (tensor → actors), naming both layers', () => {
    const messages = messagesOf('src/tensor/probe.ts', "import { catalogBlueprint } from '../actors/karn/index.ts';\n");
    expect(messages).to.have.length(1);
    expect(messages[0]).to.match(/layer violation: tensor\/ may not import actors\//);
  });

  it('rejects contracts importing anything of ours but errors (the old contracts ↔ tensor cycle)', () => {
    expect(messagesOf('src/contracts/probe.ts', "import { TrainingSession } from '../tensor/training/training-session.ts';\n")[0]).to.match(/contracts\/ may not import tensor\//);
    expect(messagesOf('src/contracts/probe.ts', "import { EsperError } from '../errors/index.ts';\n")).to.deep.equal([]);
  });

  it('rejects imports between peers (tensor ↔ supervision)', () => {
    expect(messagesOf('src/tensor/probe.ts', "import { createBreaker } from '../supervision/index.ts';\n")[0]).to.match(/tensor\/ may not import supervision\//);
  });

  it('rejects a deep import into another subsystem, and allows its index.ts', () => {
    const deep = messagesOf('src/actors/tamiyo/probe.ts', "import { DEFAULT_GATE_CONFIG } from '../kasmina/gates.ts';\n");
    expect(deep).to.have.length(1);
    expect(deep[0]).to.match(/deep import: reach the kasmina subsystem through src\/actors\/kasmina\/index\.ts/);
    expect(messagesOf('src/actors/tamiyo/probe.ts', "import { DEFAULT_GATE_CONFIG } from '../kasmina/index.ts';\n")).to.deep.equal([]);
    expect(messagesOf('src/node/probe.ts', "import type { Bus } from '../actors/oona/bus.ts';\n")[0]).to.match(/deep import/);
  });

  it('checks re-exports and dynamic imports too', () => {
    expect(messagesOf('src/infra/probe.ts', "export { Rng } from '../tensor/rng.ts';\n")[0]).to.match(/infra\/ may not import tensor\//);
    expect(messagesOf('src/blueprint/probe.ts', "export async function f() { return import('../node/version.ts'); }\n")[0]).to.match(/blueprint\/ may not import node\//);
  });

  it('allows downward and same-layer imports, and leaves tests alone', () => {
    expect(messagesOf('src/cli/probe.ts', "import { x } from '../node/esper-node.ts';\nimport { y } from './run.ts';\n")).to.deep.equal([]);
    expect(messagesOf('src/actors/kasmina/probe.ts', "import { z } from './gates.ts';\nimport { w } from '../../tensor/seed-slot.ts';\n")).to.deep.equal([]);
    expect(messagesOf('test/tensor/probe.test.ts', "import { z } from '../../src/actors/kasmina/gates.ts';\n")).to.deep.equal([]);
  });

  it('is switched on for src/ by the project config (npm run lint fails on a violation)', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const config = (await eslint.calculateConfigForFile(path.join(SRC, 'tensor/probe.ts'))) as { rules?: Record<string, unknown> };
    expect(config.rules?.['esper/layers']).to.deep.equal([2]);
  });
});
