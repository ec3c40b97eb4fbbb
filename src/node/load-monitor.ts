/**
 * Samples the node's load: event-loop delay (the figure that tells whether
 * control work is being starved), CPU share and memory. Cheap enough to run
 * on every heartbeat.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** One load sample. */
export interface LoadSample {
  /** Mean event-loop delay over the last interval, ms. */
  eventLoopLagMs: number;
  /** 99th percentile event-loop delay over the last interval, ms. */
  eventLoopLagP99Ms: number;
  /** Process CPU time over wall time since the last sample (1 = one core busy). */
  cpu: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export class LoadMonitor {
  readonly #histogram: IntervalHistogram;
  #lastCpu = process.cpuUsage();
  #lastAt = process.hrtime.bigint();
  #last: LoadSample;

  constructor() {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    this.#last = this.sample();
  }

  /** Takes a sample and starts a new interval. */
  sample(): LoadSample {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.#lastCpu);
    const wallMicros = Number(now - this.#lastAt) / 1000;
    const memory = process.memoryUsage();
    const mean = this.#histogram.mean;
    const sample: LoadSample = {
      // The histogram reports ns and includes the sampling resolution itself.
      eventLoopLagMs: Number.isFinite(mean) ? Math.max(0, mean / 1e6 - 10) : 0,
      eventLoopLagP99Ms: Math.max(0, this.#histogram.percentile(99) / 1e6 - 10),
      cpu: wallMicros > 0 ? round3((cpu.user + cpu.system) / wallMicros) : 0,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
    };
    this.#histogram.reset();
    this.#lastCpu = process.cpuUsage();
    this.#lastAt = now;
    this.#last = sample;
    return sample;
  }

  /** The most recent sample, without starting a new interval. */
  get last(): LoadSample {
    return this.#last;
  }

  stop(): void {
    this.#histogram.disable();
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
