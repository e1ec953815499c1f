/**
 * What the benchmarks read from the server under test: its Prometheus /metrics (on the health port)
 * and its memory (/proc plus the V8 heap it exports).
 */
import { type ProcMemory, procMemory } from './stats.js';

/** Every sample of a Prometheus text exposition, keyed by `name{labels}` as printed. */
export type MetricSamples = ReadonlyMap<string, number>;

export function parseMetrics(text: string): MetricSamples {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)/.exec(line);
    if (m?.[1] !== undefined) out.set(m[1], Number(m[2]));
  }
  return out;
}

export async function scrapeMetrics(healthPort: number): Promise<MetricSamples> {
  const res = await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return parseMetrics(await res.text());
}

/**
 * Sum of a metric over the label sets that contain every `labels` pair (all of them when none is
 * given); 0 when the metric has no sample yet (prom-client prints a labelled counter only once used).
 */
export function metricSum(m: MetricSamples, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const [key, value] of m) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (want.every((w) => key.includes(w))) sum += value;
  }
  return sum;
}

export interface Memory extends ProcMemory {
  /** V8 heap (from the server's /metrics): committed and used, MiB. */
  readonly heapTotalMiB: number;
  readonly heapUsedMiB: number;
  /** Memory of Buffers and other objects outside the V8 heap, MiB. */
  readonly externalMiB: number;
}

/** VmRSS/VmHWM from /proc plus the V8 heap figures the server exports on /metrics. */
export async function memoryOf(server: { pid: number; healthPort: number }): Promise<Memory> {
  const proc = procMemory(server.pid);
  const m = await scrapeMetrics(server.healthPort);
  const mib = (name: string): number => (m.get(name) ?? Number.NaN) / 2 ** 20;
  return {
    ...proc,
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
  };
}
