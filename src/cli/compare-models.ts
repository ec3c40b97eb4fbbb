/**
 * The models `esper run --compare` trains besides the grown one, chosen from
 * the run's results (pure: no training here). Static rule
 * ({@link STATIC_RULES}): when no depth seed fossilized, the static baseline
 * is the grown model's final topology (the host with every width fossil
 * merged) trained from scratch, exactly; with depth fossils, which a plain
 * host cannot express, the final host's hidden widths (CNN: filters and dense
 * widths) are scaled by the smallest step of 1/16 whose parameter count
 * reaches the grown model's total (`parameter-matched`). The `--sweep`
 * models are the spec's host at ×1, ×2, ×4 and ×8 width.
 */
import type { RunResults, RunSpec, RunTopology, StaticRule } from '../contracts/run.ts';
import type { HostSpec } from '../contracts/training-spec.ts';

/** Width multipliers of the `--sweep` static models (×1 is the host alone). */
export const SWEEP_FACTORS = [1, 2, 4, 8] as const;

/** Shape of one example and the number of classes, as the training worker will see them. */
export interface DataShape {
  /** `[2]` (spirals, xor), `[784]` (Fashion-MNIST, flat) or `[28, 28, 1]` (image). */
  input: readonly number[];
  classes: number;
}

/** The example shape and class count of the spec's dataset. */
export function dataShape(spec: RunSpec): DataShape {
  const data = spec.training.dataset;
  if (data.kind === 'fashion-mnist') return { input: data.layout === 'flat' ? [784] : [28, 28, 1], classes: 10 };
  return { input: [2], classes: 2 };
}

/** Trainable parameters of a dense MLP in → hidden… → out. */
export function mlpParams(widths: readonly number[]): number {
  let total = 0;
  for (let i = 1; i < widths.length; i++) total += (widths[i - 1] ?? 0) * (widths[i] ?? 0) + (widths[i] ?? 0);
  return total;
}

/** Trainable parameters of `host` on examples of `shape` (the CNN as cnn-host.ts builds it: 'same' convs, each followed by a 2×2 pool). */
export function hostParams(host: HostSpec, shape: DataShape): number {
  const inputs = shape.input.reduce((a, b) => a * b, 1);
  if (host.kind === 'mlp') return mlpParams([inputs, ...host.hidden, shape.classes]);
  let [h = 1, w = 1, c = 1] = shape.input.length === 3 ? shape.input : [inputs, 1, 1];
  let total = 0;
  for (const conv of host.convs) {
    const k = conv.kernelSize ?? 3;
    total += k * k * c * conv.filters + conv.filters;
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
    c = conv.filters;
  }
  return total + mlpParams([h * w * c, ...host.dense, shape.classes]);
}

/** A host in one line: `784-12-10`; CNN `28x28x1-c8-c16k5-32-10` (`c<filters>`, `k<size>` when not 3). */
export function describeHost(host: HostSpec, shape: DataShape): string {
  const input = shape.input.join('x');
  if (host.kind === 'mlp') return [input, ...host.hidden, shape.classes].join('-');
  const convs = host.convs.map((c) => `c${c.filters}${c.kernelSize === undefined || c.kernelSize === 3 ? '' : `k${c.kernelSize}`}`);
  return [input, ...convs, ...host.dense, shape.classes].join('-');
}

/** A final topology in one line: the host, then `+ <blueprint>@<slot>` per depth fossil. */
export function describeTopology(topology: RunTopology, shape: DataShape): string {
  const fossils = topology.depthSeeds.map((d) => ` + ${d.blueprintId ?? 'seed'}@${d.slotId}`);
  return describeHost(topology.host, shape) + fossils.join('');
}

/** A seed's stage after its last transition. */
function finalStage(seed: RunResults['seeds'][number]): string {
  return seed.history.at(-1)?.to ?? 'DORMANT';
}

/**
 * The grown model's final topology: `results.topology` when the run loop
 * recorded it; else the spec's host with every fossilized seed as a depth
 * seed. `known` is false when that fallback cannot be right (a width seed
 * fossilized but the widened host was not recorded).
 */
export function finalTopology(results: RunResults): { topology: RunTopology; known: boolean } {
  if (results.topology !== undefined) return { topology: results.topology, known: true };
  const slots = new Map(results.spec.training.slots.map((slot) => [slot.id, slot]));
  const fossils = results.seeds.filter((seed) => finalStage(seed) === 'FOSSILIZED');
  const depthSeeds = fossils
    .filter((seed) => slots.get(seed.slotId)?.kind !== 'width')
    .map((seed) => ({ slotId: seed.slotId, ...(seed.blueprintId === undefined ? {} : { blueprintId: seed.blueprintId }), params: seed.paramsAdded }));
  return { topology: { host: results.spec.training.host, depthSeeds }, known: depthSeeds.length === fossils.length };
}

/** `host` with every hidden width (CNN: filters and dense widths) `w` → max(w, round(w·factor)). */
export function scaleHost(host: HostSpec, factor: number): HostSpec {
  const scale = (w: number): number => Math.max(w, Math.round(w * factor));
  if (host.kind === 'mlp') return { kind: 'mlp', hidden: host.hidden.map(scale) };
  return {
    kind: 'cnn',
    convs: host.convs.map((c) => (c.kernelSize === undefined ? { filters: scale(c.filters) } : { filters: scale(c.filters), kernelSize: c.kernelSize })),
    dense: host.dense.map(scale),
  };
}

/** `host` scaled by the smallest k = 1, 1 + 1/16, … (at most 64) whose parameter count reaches `targetParams`. */
export function parameterMatchedHost(host: HostSpec, shape: DataShape, targetParams: number): HostSpec {
  for (let step = 0; step <= 63 * 16; step++) {
    const scaled = scaleHost(host, 1 + step / 16);
    if (hostParams(scaled, shape) >= targetParams) return scaled;
  }
  return scaleHost(host, 64);
}

/** The static baseline of a `--compare` and how it was chosen. */
export interface StaticChoice {
  host: HostSpec;
  rule: StaticRule;
  /** The grown model's final topology it was derived from. */
  grown: RunTopology;
}

/** The static baseline for `results` (see the module comment for the rule). */
export function chooseStaticModel(results: RunResults): StaticChoice {
  const { topology, known } = finalTopology(results);
  if (known && topology.depthSeeds.length === 0) return { host: topology.host, rule: 'final-topology', grown: topology };
  const host = parameterMatchedHost(topology.host, dataShape(results.spec), results.parameterCount.total);
  return { host, rule: 'parameter-matched', grown: topology };
}

/** The `--sweep` static models: the spec's host × {@link SWEEP_FACTORS}. */
export function sweepHosts(host: HostSpec): { factor: number; host: HostSpec }[] {
  return SWEEP_FACTORS.map((factor) => ({ factor, host: scaleHost(host, factor) }));
}

/** Whether two host specs describe the same architecture (an absent kernel size is 3). */
export function sameHost(a: HostSpec, b: HostSpec): boolean {
  const canonical = (host: HostSpec): string =>
    JSON.stringify(host.kind === 'mlp' ? host.hidden : [host.convs.map((c) => [c.filters, c.kernelSize ?? 3]), host.dense]) + host.kind;
  return canonical(a) === canonical(b);
}
