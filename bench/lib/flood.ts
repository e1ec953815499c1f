/**
 * An open-loop HTTP flood: `rate` POSTs per second for `seconds`, over keep-alive connections, at most
 * 256 in flight (a request that would pass that is skipped and counted, not queued). Each request's
 * headers and body come from `request()`, so every request can carry a fresh token. Run it in a
 * child process, so that its CPU does not come out of the process that measures.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FloodReport {
  readonly sent: number;
  /** Requests not sent because 256 were already in flight. */
  readonly skipped: number;
  /** Answers by HTTP status, and `error <code>` for requests that failed. */
  readonly statuses: Record<string, number>;
  readonly seconds: number;
}

const MAX_IN_FLIGHT = 256;

export async function flood(
  url: string,
  rate: number,
  seconds: number,
  request: () => { headers: Record<string, string>; body: string },
): Promise<FloodReport> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const statuses: Record<string, number> = {};
  const count = (key: string): void => {
    statuses[key] = (statuses[key] ?? 0) + 1;
  };
  let sent = 0;
  let inflight = 0;
  let skipped = 0;
  const fire = (): void => {
    if (inflight >= MAX_IN_FLIGHT) {
      skipped++;
      return;
    }
    inflight++;
    sent++;
    const r = request();
    const body = Buffer.from(r.body);
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { ...r.headers, 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          inflight--;
          count(String(res.statusCode));
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      inflight--;
      count(`error ${err.code ?? err.message}`);
    });
    req.end(body);
  };
  const start = performance.now();
  const end = start + seconds * 1000;
  // Every 10 ms, send what the schedule says is due.
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    while (sent + skipped < due) fire();
    await sleep(10);
  }
  while (inflight > 0 && performance.now() < end + 15_000) await sleep(20);
  agent.destroy();
  return { sent, skipped, statuses, seconds: (performance.now() - start) / 1000 };
}
