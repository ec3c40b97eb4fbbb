import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { expect } from 'chai';
import { buildAsyncApiDocument, controlChannelAddress, renderAsyncApiDocument, type AsyncApiDocument, type JsonObject, type JsonValue } from '../../src/contracts/asyncapi.ts';
import { MESSAGE_TYPE_NAMES, RUN_START_EXAMPLE, RunSpecSchema } from '../../src/contracts/index.ts';
import { controlRoutePatterns } from '../../src/node/control-routes.ts';
import { ESPER_VERSION } from '../../src/node/version.ts';
import { expectValid } from './issues.ts';

// ajv-formats is CommonJS: its default export is the plugin function.
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

/** The control channel addresses of a document (the null-address reply channel excluded). */
function controlAddresses(document: AsyncApiDocument): Set<string> {
  return new Set(
    Object.values(document.channels)
      .map((channel) => channel['address'])
      .filter((address): address is string => typeof address === 'string' && address.startsWith('esper.ctl.')),
  );
}

/** Route patterns with no channel in the document, and control channels no route serves. */
function compareRoutes(patterns: readonly string[], document: AsyncApiDocument): { missing: string[]; unserved: string[] } {
  const routed = new Set(patterns.map((pattern) => controlChannelAddress(pattern)));
  const documented = controlAddresses(document);
  return {
    missing: patterns.filter((pattern) => !documented.has(controlChannelAddress(pattern))),
    unserved: [...documented].filter((address) => !routed.has(address)).sort(),
  };
}

/** Every `$ref` string in a JSON value. */
function refsIn(value: JsonValue, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, out);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') out.push(item);
      else refsIn(item, out);
    }
  }
  return out;
}

/** The target of a `{ $ref }` object. */
function refOf(value: JsonValue | undefined): string {
  const target = value !== null && typeof value === 'object' && !Array.isArray(value) ? value['$ref'] : undefined;
  if (typeof target !== 'string') throw new Error(`not a reference: ${JSON.stringify(value)}`);
  return target;
}

/** Resolves a local JSON pointer (`#/a/b`) in the document. */
function resolvePointer(document: JsonValue, pointer: string): JsonValue | undefined {
  let node: JsonValue | undefined = document;
  for (const raw of pointer.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = node !== null && typeof node === 'object' && !Array.isArray(node) ? node[key] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

const formatErrors = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');

describe('docs/asyncapi.json', () => {
  const committed = readFileSync(new URL('../../docs/asyncapi.json', import.meta.url), 'utf8');
  const document = buildAsyncApiDocument({ version: ESPER_VERSION });

  it('is the generation from the current contracts (run `npm run docs:asyncapi` after changing a contract)', () => {
    expect(committed, 'docs/asyncapi.json is stale: run `npm run docs:asyncapi`').to.equal(renderAsyncApiDocument({ version: ESPER_VERSION }));
  });

  it('is deterministic', () => {
    expect(JSON.stringify(buildAsyncApiDocument({ version: ESPER_VERSION }))).to.equal(JSON.stringify(document));
  });

  it('validates as AsyncAPI 3.0.0 against the official JSON Schema (@asyncapi/specs) with zero errors', () => {
    // The bundled schema carries its own copy of the draft-07 meta-schema, so ajv's is left out.
    const ajv = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
    addFormats(ajv);
    const schema = createRequire(import.meta.url)('@asyncapi/specs/schemas/3.0.0.json') as object;
    const validate = ajv.compile(schema);
    const parsed = JSON.parse(committed) as unknown;
    expect(validate(parsed), formatErrors(validate.errors)).to.equal(true);
    // The same validator rejects a broken document (it is not vacuous).
    const broken = structuredClone(document);
    broken.operations['tel'] = { ...broken.operations['tel'], action: 'publish' };
    expect(validate(broken)).to.equal(false);
  });

  it('resolves every $ref, and each operation sends messages of its own channel', () => {
    for (const target of refsIn(document)) {
      expect(target, target).to.match(/^#\//);
      expect(resolvePointer(document, target), `unresolved ${target}`).to.not.equal(undefined);
    }
    for (const [id, operation] of Object.entries(document.operations)) {
      const replies = operation['reply'] as JsonObject | undefined;
      const sides = [operation, ...(replies === undefined ? [] : [replies])];
      for (const side of sides) {
        const channel = refOf(side['channel']);
        for (const message of side['messages'] as JsonValue[]) expect(refOf(message).startsWith(`${channel}/messages/`), `${id}: ${refOf(message)}`).to.equal(true);
      }
    }
  });

  it("has examples on every message, each valid against the message's payload schema", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(structuredClone(document), 'asyncapi.json');
    for (const [id, message] of Object.entries(document.components.messages)) {
      const examples = message['examples'] as JsonObject[];
      expect(examples, id).to.not.be.empty;
      const validate = ajv.compile({ $ref: `asyncapi.json${refOf(message['payload'])}` });
      for (const example of examples) expect(validate(example['payload']), `${id} example ${JSON.stringify(example['name'])}:\n${formatErrors(validate.errors)}`).to.equal(true);
    }
    // The run.start example has no zod-checked home elsewhere: its spec must parse as a run spec.
    expectValid(RunSpecSchema, RUN_START_EXAMPLE.request.spec);
  });

  it('has a channel for every control route the node serves, and no control channel without a route', () => {
    const patterns = controlRoutePatterns();
    expect(patterns).to.include.members(['node.:nodeId.status', 'cluster.nodes', 'run.start', 'run.:runId.pause', 'seed.:runId.:seedId.germinate', 'karn.submit']);
    expect(compareRoutes(patterns, document)).to.deep.equal({ missing: [], unserved: [] });
  });

  it('would fail for a route added without a channel, or a channel whose route is gone', () => {
    const patterns = controlRoutePatterns();
    expect(compareRoutes([...patterns, 'run.:runId.explode'], document).missing).to.deep.equal(['run.:runId.explode']);
    expect(compareRoutes(patterns.filter((p) => p !== 'seed.:runId.:seedId.prune'), document).unserved).to.deep.equal(['esper.ctl.seed.{runId}.{seedId}.prune']);
  });

  it('maps route patterns to parameterized addresses', () => {
    expect(controlChannelAddress('run.:runId.pause')).to.equal('esper.ctl.run.{runId}.pause');
    expect(controlChannelAddress('seed.:runId.:seedId.germinate', 'lab')).to.equal('lab.ctl.seed.{runId}.{seedId}.germinate');
    expect(controlChannelAddress('cluster.nodes')).to.equal('esper.ctl.cluster.nodes');
  });

  it('has an event channel (evt or sys) for every registered message type', () => {
    const carried = new Set(
      Object.values(document.channels)
        .filter((channel) => typeof channel['address'] === 'string' && /^esper\.(evt|sys)\./.test(channel['address']))
        .flatMap((channel) => Object.keys(channel['messages'] as JsonObject)),
    );
    expect(MESSAGE_TYPE_NAMES.filter((type) => !carried.has(type))).to.deep.equal([]);
    expect(document.channels['evt.kasmina.seed.transitioned']?.['address']).to.equal('esper.evt.{runId}.kasmina.seed.transitioned');
    expect(document.channels['tel']?.['address']).to.equal('esper.tel.{runId}.{kind}');
    expect(document.channels['job.compile']?.['address']).to.equal('esper.job.compile');
    expect(document.channels['job.validate']?.['address']).to.equal('esper.job.validate');
  });

  it('uses the configured prefix and server', () => {
    const lab = buildAsyncApiDocument({ prefix: 'lab', host: 'nats.example:4222', version: '9.9.9' });
    expect(lab.channels['ctl.run.pause']?.['address']).to.equal('lab.ctl.run.{runId}.pause');
    expect(lab.servers).to.deep.equal({ nats: { host: 'nats.example:4222', protocol: 'nats', description: 'A NATS server with JetStream (`nats-server -js`).' } });
    expect(lab.info['version']).to.equal('9.9.9');
  });
});
