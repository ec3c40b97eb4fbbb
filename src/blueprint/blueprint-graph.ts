/**
 * Stage 2 of blueprint analysis: the graph checks, run on the RAW JSON so a
 * graph the schema would refuse (a cycle, an unknown input) still gets a
 * precise code: `ESPER_BLUEPRINT_GRAPH` (duplicate or reserved ids, unknown
 * inputs or output, nodes listed after a node that reads them, nodes that do
 * not feed the output) and `ESPER_BLUEPRINT_CYCLE` (with the cycle's ids).
 */
import { BLUEPRINT_INPUT, MAX_BLUEPRINT_NODES } from '../contracts/karn.ts';
import { EsperError } from '../errors/index.ts';

interface RawNode {
  readonly index: number;
  readonly id: string;
  readonly inputs: readonly string[];
}

/** A plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The nodes with a string id (their string inputs) and the output, from any JSON; the schema reports the rest. */
function rawGraph(raw: unknown): { nodes: RawNode[]; output: string | undefined } {
  if (!isRecord(raw)) return { nodes: [], output: undefined };
  const nodes: RawNode[] = [];
  // Past the schema's node limit the schema reports it; walking a hostile graph could exhaust the stack.
  if (Array.isArray(raw['nodes']) && raw['nodes'].length <= MAX_BLUEPRINT_NODES) {
    (raw['nodes'] as unknown[]).forEach((node, index) => {
      if (!isRecord(node) || typeof node['id'] !== 'string') return;
      const inputs = Array.isArray(node['inputs']) ? (node['inputs'] as unknown[]).filter((i): i is string => typeof i === 'string') : [];
      nodes.push({ index, id: node['id'], inputs });
    });
  }
  return { nodes, output: typeof raw['output'] === 'string' ? raw['output'] : undefined };
}

function graphError(message: string, details: Record<string, unknown>): EsperError {
  return new EsperError('ESPER_BLUEPRINT_GRAPH', message, { details });
}

/** Strongly connected components (Tarjan), over edges node → the nodes it reads. */
function cycles(nodes: readonly RawNode[], byId: ReadonlyMap<string, RawNode>): RawNode[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: RawNode[] = [];
  const found: RawNode[][] = [];
  let counter = 0;
  const visit = (node: RawNode): void => {
    index.set(node.id, counter);
    low.set(node.id, counter);
    counter++;
    stack.push(node);
    onStack.add(node.id);
    for (const input of node.inputs) {
      const next = byId.get(input);
      if (next === undefined) continue;
      if (!index.has(next.id)) {
        visit(next);
        low.set(node.id, Math.min(low.get(node.id) ?? 0, low.get(next.id) ?? 0));
      } else if (onStack.has(next.id)) {
        low.set(node.id, Math.min(low.get(node.id) ?? 0, index.get(next.id) ?? 0));
      }
    }
    if (low.get(node.id) === index.get(node.id)) {
      const component: RawNode[] = [];
      let member: RawNode | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member.id);
        component.push(member);
      } while (member.id !== node.id);
      const selfLoop = component.length === 1 && node.inputs.includes(node.id);
      if (component.length > 1 || selfLoop) found.push(component.sort((a, b) => a.index - b.index));
    }
  };
  for (const node of nodes) if (!index.has(node.id)) visit(node);
  return found.sort((a, b) => (a[0]?.index ?? 0) - (b[0]?.index ?? 0));
}

/** One concrete cycle inside a strongly connected component: `[a, b, …, a]`. */
function cyclePath(component: readonly RawNode[], byId: ReadonlyMap<string, RawNode>): string[] {
  const members = new Set(component.map((n) => n.id));
  const start = component[0];
  if (start === undefined) return [];
  const path: string[] = [start.id];
  const seen = new Set<string>([start.id]);
  let current = start;
  for (;;) {
    const next = current.inputs.map((i) => byId.get(i)).find((n): n is RawNode => n !== undefined && members.has(n.id));
    if (next === undefined) return path;
    path.push(next.id);
    if (seen.has(next.id)) return path.slice(path.indexOf(next.id));
    seen.add(next.id);
    current = next;
  }
}

/** Every graph problem of a raw IR (any JSON; what is not a well-typed node is left to the schema). */
export function checkGraph(raw: unknown): EsperError[] {
  const { nodes, output } = rawGraph(raw);
  const errors: EsperError[] = [];
  const byId = new Map<string, RawNode>();
  for (const node of nodes) {
    if (node.id === BLUEPRINT_INPUT) {
      errors.push(graphError(`node ${node.index}: the id '${BLUEPRINT_INPUT}' is reserved for the slot input`, { nodeId: node.id, index: node.index }));
      continue;
    }
    const first = byId.get(node.id);
    if (first !== undefined) {
      errors.push(graphError(`duplicate node id '${node.id}' (nodes ${first.index} and ${node.index})`, { nodeId: node.id, indices: [first.index, node.index] }));
      continue;
    }
    byId.set(node.id, node);
  }
  for (const node of nodes) {
    for (const input of node.inputs) {
      if (input !== BLUEPRINT_INPUT && !byId.has(input)) {
        errors.push(graphError(`node '${node.id}': input '${input}' is not a node of this blueprint`, { nodeId: node.id, input }));
      }
    }
  }
  const components = cycles(
    nodes.filter((n) => byId.get(n.id) === n),
    byId,
  );
  const inCycle = new Map<string, number>();
  components.forEach((component, c) => {
    for (const node of component) inCycle.set(node.id, c);
    const cycle = cyclePath(component, byId);
    errors.push(
      new EsperError('ESPER_BLUEPRINT_CYCLE', `the graph has a cycle: ${cycle.join(' → ')}`, {
        details: { cycle, nodeIds: component.map((n) => n.id) },
      }),
    );
  });
  for (const node of nodes) {
    if (byId.get(node.id) !== node) continue;
    for (const input of node.inputs) {
      const source = byId.get(input);
      if (source === undefined || source.index < node.index) continue;
      const c = inCycle.get(node.id);
      if (c !== undefined && c === inCycle.get(source.id)) continue; // reported as the cycle
      errors.push(
        graphError(`node '${node.id}' reads '${input}', which is listed after it (nodes are listed in topological order)`, {
          nodeId: node.id,
          input,
        }),
      );
    }
  }
  if (output !== undefined) {
    const out = byId.get(output);
    if (out === undefined) {
      errors.push(graphError(`output '${output}' is not a node of this blueprint`, { output }));
    } else {
      const reached = new Set<string>();
      const pending: RawNode[] = [out];
      for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
        if (reached.has(node.id)) continue;
        reached.add(node.id);
        for (const input of node.inputs) {
          const source = byId.get(input);
          if (source !== undefined) pending.push(source);
        }
      }
      const dead = nodes.filter((n) => byId.get(n.id) === n && !reached.has(n.id)).map((n) => n.id);
      if (dead.length > 0) {
        errors.push(graphError(`node(s) ${dead.map((id) => `'${id}'`).join(', ')} do not feed the output '${output}'`, { nodeIds: dead, output }));
      }
    }
  }
  return errors;
}
