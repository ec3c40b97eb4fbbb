import { Counter, Gauge, Histogram, Registry, type OpenMetricsContentType } from 'prom-client';

/**
 * A thin owner of a prom-client registry that hands out metrics by name, so
 * several components (two buses, many supervisors) can share one metric
 * without tripping prom-client's duplicate-registration error.
 */
export class Metrics {
  /** Exposes OpenMetrics text (`application/openmetrics-text`). */
  readonly registry: Registry<OpenMetricsContentType>;
  readonly #byName = new Map<string, Counter | Gauge | Histogram>();

  constructor(registry?: Registry<OpenMetricsContentType>) {
    if (registry === undefined) {
      // The typings lack the content-type constructor argument; set it after.
      const created = new Registry() as unknown as Registry<OpenMetricsContentType>;
      created.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
      registry = created;
    }
    this.registry = registry;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#get(name, () => new Counter({ name, help, labelNames, registers: [this.registry] }), Counter);
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#get(name, () => new Gauge({ name, help, labelNames, registers: [this.registry] }), Gauge);
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: number[]): Histogram {
    return this.#get(
      name,
      () => new Histogram({ name, help, labelNames, registers: [this.registry], ...(buckets === undefined ? {} : { buckets }) }),
      Histogram,
    );
  }

  /** Text exposition (Prometheus / OpenMetrics, per the registry's content type). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  #get<M extends Counter | Gauge | Histogram>(name: string, make: () => M, kind: abstract new (...args: never[]) => M): M {
    const existing = this.#byName.get(name);
    if (existing !== undefined) {
      if (!(existing instanceof kind)) throw new TypeError(`metric ${name} already registered as another kind`);
      return existing;
    }
    const created = make();
    this.#byName.set(name, created);
    return created;
  }
}
