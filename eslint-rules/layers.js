// The layer rule of docs/architecture.md (DESIGN §7), as an ESLint rule:
//   errors → contracts → infra → blueprint → tensor | supervision | config → actors → node → dashboard → cli
// An import in src/ may only point down (or stay in its own layer), and one
// subsystem in src/actors/ reaches another only through its index.ts.
import path from 'node:path';

/** Layers, bottom to top; peers share a rank and may not import each other. */
export const LAYER_RANKS = Object.freeze({
  errors: 0,
  contracts: 1,
  infra: 2,
  blueprint: 3,
  tensor: 4,
  supervision: 4,
  config: 4,
  actors: 5,
  node: 6,
  dashboard: 7,
  cli: 8,
  'index.ts': 9,
});

export const LAYER_ORDER = 'errors → contracts → infra → blueprint → tensor | supervision | config → actors → node → dashboard → cli';

/** Where a file sits: its layer and, under src/actors/, its subsystem; undefined outside src/. */
export function locate(file, srcRoot) {
  const rel = path.relative(srcRoot, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const parts = rel.split(path.sep);
  const layer = parts[0];
  if (!(layer in LAYER_RANKS)) return { layer, rank: undefined, subsystem: undefined, rest: parts.slice(1) };
  const subsystem = layer === 'actors' ? parts[1] : undefined;
  return { layer, rank: LAYER_RANKS[layer], subsystem, rest: parts.slice(layer === 'actors' ? 2 : 1) };
}

/** Why `importer` may not import `target` (absolute paths), or undefined when it may. */
export function layerViolation(importer, target, srcRoot) {
  const from = locate(importer, srcRoot);
  const to = locate(target, srcRoot);
  if (from === undefined || to === undefined) return undefined;
  if (from.rank === undefined) return { messageId: 'unknownLayer', data: { layer: from.layer } };
  if (to.rank === undefined) return { messageId: 'unknownLayer', data: { layer: to.layer } };
  if (from.layer !== to.layer && to.rank >= from.rank) {
    return { messageId: 'upward', data: { from: from.layer, to: to.layer, order: LAYER_ORDER } };
  }
  if (to.subsystem !== undefined && to.subsystem !== from.subsystem && to.rest.join('/') !== 'index.ts') {
    return { messageId: 'deep', data: { subsystem: to.subsystem, file: path.relative(srcRoot, target) } };
  }
  return undefined;
}

/** @type {import('eslint').Rule.RuleModule} */
export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports in src/ point down the layer map, and between subsystems only through index.ts' },
    schema: [{ type: 'object', properties: { srcRoot: { type: 'string' } }, additionalProperties: false }],
    messages: {
      upward: 'layer violation: {{from}}/ may not import {{to}}/ (layers, bottom to top: {{order}}; docs/architecture.md)',
      deep: 'deep import: reach the {{subsystem}} subsystem through src/actors/{{subsystem}}/index.ts, not {{file}}',
      unknownLayer: 'src/{{layer}} is not in the layer map (eslint-rules/layers.js, docs/architecture.md): add it there first',
    },
  },
  create(context) {
    const srcRoot = path.resolve(context.options[0]?.srcRoot ?? path.join(context.cwd, 'src'));
    const file = context.filename;
    function check(node, source) {
      if (source === null || source === undefined || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const violation = layerViolation(file, path.resolve(path.dirname(file), source.value), srcRoot);
      if (violation !== undefined) context.report({ node: source, ...violation });
    }
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source : null),
    };
  },
};

export default { rules: { layers: layersRule } };
