/**
 * A closed-loop HTTP load generator: `concurrency` virtual clients, each with its own token and
 * keep-alive connection, each sending its next request as soon as the previous answer is read.
 * node:http with a keep-alive Agent (no dependency; cheaper per request than fetch, so more of the 2
 * cores are left to the server under test). Requests are prebuilt: runLoad sends one per client,
 * runMix asks a `next` function for each call (a mix of tools spread over many callers) and keeps the
 * latencies per tag.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { type LatencySummary, summarise } from './stats.js';

export interface LoadSpec {
  readonly url: string;
  /** One token per virtual client (client i uses tokens[i % tokens.length]). */
  readonly tokens: readonly string[];
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Headers and body of client i's request (its token is given). */
  readonly request: (token: string) => { headers: Record<string, string>; body: string };
  /** True when an answer is a success (checked on every answer; the body is not decoded, to keep the generator cheap). */
  readonly ok: (status: number, body: Buffer) => boolean;
}

/** One run's raw data (latencies in ms of the measured window). */
export interface LoadRun {
  readonly samples: number[];
  /** Length of the measured window, s. */
  readonly seconds: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly bytes: number;
  /** CPU this process (the load generator) used over the whole run, warm-up included, s. */
  readonly loadgenCpuSeconds: number;
  /** Wall time of the whole run, warm-up included, s. */
  readonly wallSeconds: number;
}

export interface LoadResult extends LatencySummary {
  readonly concurrency: number;
  /** Runs pooled into this result (interleaved with other cases). */
  readonly runs: number;
  readonly seconds: number;
  readonly callsPerSec: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly meanResponseBytes: number;
  /** CPU of the load generator process, % of one core. */
  readonly loadgenCpuPercent: number;
}

/** Pools runs of the same case: latencies pooled, throughput = calls / measured seconds. */
export function mergeRuns(concurrency: number, runs: readonly LoadRun[]): LoadResult {
  const samples = runs.flatMap((r) => r.samples);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
  return {
    ...summarise(samples),
    concurrency,
    runs: runs.length,
    seconds,
    callsPerSec: samples.length / seconds,
    errors: runs.reduce((a, r) => a + r.errors, 0),
    ...(firstError === undefined ? {} : { firstError }),
    meanResponseBytes: runs.reduce((a, r) => a + r.bytes, 0) / Math.max(1, samples.length),
    loadgenCpuPercent:
      (100 * runs.reduce((a, r) => a + r.loadgenCpuSeconds, 0)) / runs.reduce((a, r) => a + r.wallSeconds, 0),
  };
}

/** One POST on a keep-alive agent; resolves with the status and the whole body. */
export function post(
  agent: http.Agent,
  url: URL,
  headers: Record<string, string | number>,
  body: Buffer,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One prepared request of a mixed load: its tag (e.g. the tool) groups the latencies. */
export interface PreparedRequest {
  readonly tag: string;
  readonly headers: Record<string, string | number>;
  readonly body: Buffer;
}

/** Builds a PreparedRequest (content-length set) from headers and a JSON body. */
export function prepare(tag: string, r: { headers: Record<string, string>; body: string }): PreparedRequest {
  const body = Buffer.from(r.body);
  return { tag, headers: { ...r.headers, 'content-length': body.length }, body };
}

export interface MixSpec {
  readonly url: string;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /**
   * The next request to send, asked by virtual client `client` each time its previous answer is in.
   * A shared counter in here spreads calls round-robin over many callers.
   */
  readonly next: (client: number) => PreparedRequest;
  /** True when an answer is a success. */
  readonly ok: (status: number, body: Buffer, tag: string) => boolean;
  /**
   * For an answer that is not ok: a label when it is a legitimate outcome that is not an error (e.g. a
   * scale Conflict after the server's own retries); such answers are counted by label, not as errors.
   */
  readonly tolerated?: (status: number, body: Buffer, tag: string) => string | undefined;
}

/** Per-tag data of a mixed run (measured window only). */
export interface TagRun {
  readonly samples: number[];
  readonly errors: number;
  readonly firstError?: string;
  readonly tolerated: Record<string, number>;
}

export interface MixRun extends LoadRun {
  readonly byTag: ReadonlyMap<string, TagRun>;
}

const where = (req: PreparedRequest): string => (req.tag === '' ? '' : `${req.tag}: `);

/** A closed loop whose requests come from spec.next (each answer timed and checked, by tag). */
export async function runMix(spec: MixSpec): Promise<MixRun> {
  const url = new URL(spec.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const samples: number[] = [];
  const byTag = new Map<
    string,
    { samples: number[]; errors: number; firstError?: string; tolerated: Record<string, number> }
  >();
  let errors = 0;
  let bytes = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const measureFrom = t0 + spec.warmupMs;
  const end = measureFrom + spec.durationMs;
  const client = async (i: number): Promise<void> => {
    for (;;) {
      const start = performance.now();
      if (start >= end) return;
      const req = spec.next(i);
      let ok = false;
      let label: string | undefined;
      let detail = '';
      let size = 0;
      try {
        const res = await post(agent, url, req.headers, req.body);
        ok = spec.ok(res.status, res.body, req.tag);
        if (!ok) label = spec.tolerated?.(res.status, res.body, req.tag);
        size = res.body.length;
        if (!ok) detail = `${where(req)}HTTP ${res.status} ${res.body.subarray(0, 300).toString('utf8')}`;
      } catch (err) {
        detail = `${where(req)}${err instanceof Error ? err.message : String(err)}`;
      }
      const done = performance.now();
      if (start < measureFrom) continue;
      let tag = byTag.get(req.tag);
      if (tag === undefined) {
        tag = { samples: [], errors: 0, tolerated: {} };
        byTag.set(req.tag, tag);
      }
      samples.push(done - start);
      tag.samples.push(done - start);
      bytes += size;
      if (ok) continue;
      if (label !== undefined) {
        tag.tolerated[label] = (tag.tolerated[label] ?? 0) + 1;
        continue;
      }
      errors++;
      tag.errors++;
      firstError ??= detail;
      tag.firstError ??= detail;
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, (_, i) => client(i)));
  const finished = performance.now();
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  return {
    samples,
    byTag,
    seconds: (Math.max(finished, end) - measureFrom) / 1000,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    bytes,
    loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
    wallSeconds: (finished - t0) / 1000,
  };
}

/** The closed loop of one prepared request per virtual client (client i uses tokens[i % tokens.length]). */
export async function runLoad(spec: LoadSpec): Promise<LoadRun> {
  const requests = Array.from({ length: spec.concurrency }, (_, i) =>
    prepare('', spec.request(spec.tokens[i % spec.tokens.length] as string)),
  );
  const { byTag: _, ...run } = await runMix({
    url: spec.url,
    concurrency: spec.concurrency,
    warmupMs: spec.warmupMs,
    durationMs: spec.durationMs,
    next: (i) => requests[i] as PreparedRequest,
    ok: (status, body) => spec.ok(status, body),
  });
  return run;
}
