/**
 * What a hostile body costs the MCP endpoint, in process and without a cluster: the server's CPU
 * time (user + system) and the event loop's longest stall per request, for bodies of about 1 MiB
 * that pass the byte limit from an authenticated caller.
 *
 *   npm run bench:body-cost [-- --requests 20]   (--help lists the flags)
 *
 * The endpoint is createMcpApp with an authenticator that accepts every token, no policies and no
 * cluster (every body below is refused or fails validation before any cluster work). Requests go one
 * at a time from this process over loopback; the CPU is this process's, so it includes the client's
 * small share (the same for every body). Run it on two commits to compare them. Last, the audit's
 * serialisation of one large argument alone, cut after the whole JSON (as before) and capped.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pino from 'pino';
import { Registry } from 'prom-client';
import { cappedJson } from '../src/mcp/audit.js';
import * as mcp from '../src/mcp/index.js';
import { compile } from '../src/policy/index.js';
import { type Flag, parseCount, readFlags, usageText } from './lib/cli.js';

const FLAGS = {
  requests: {
    type: 'string',
    default: '20',
    about: 'timed requests per body, one at a time, after 3 warm-up requests',
  },
} as const satisfies Record<string, Flag>;
const USAGE = usageText('npm run bench:body-cost -- [options]', FLAGS);
const args = readFlags(FLAGS, USAGE, (v) => ({ requests: parseCount(v.requests, '--requests') }));

const elements = (n: number) => `[${Array.from({ length: n }, () => '{}').join(',')}]`;
const call = (args: string) =>
  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_pods","arguments":${args}}}`;
const BODIES: Array<[string, string]> = [
  ['340,000 {} in a tool argument', call(`{"x":${elements(340_000)}}`)],
  ['340,000 {} as the whole body', elements(340_000)],
  ['a 1,000,000-character string argument', call(`{"namespace":"${'a'.repeat(1_000_000)}"}`)],
  ['a small tools/call (for scale)', call('{"namespace":"web"}')],
];

async function post(url: string, body: string): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      Authorization: 'Bearer bench',
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function main(): Promise<void> {
  const registry = new Registry();
  const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true }));
  const app = mcp.createMcpApp({
    authenticator: {
      audience: 'kubemcp',
      authenticate: async () => ({ ok: true, caller: { username: 'bench', groups: [] } }),
    },
    getIndex: () => compile({ policies: [], namespaces: [] }),
    backend: {} as never,
    logger,
    registry,
    options: { publicUrl: 'http://127.0.0.1:1' },
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  const n = args.requests;
  for (const [what, body] of BODIES) {
    for (let i = 0; i < 3; i++) await post(url, body); // warm-up
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const statuses = new Set<number>();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < n; i++) statuses.add(await post(url, body));
    const cpu = process.cpuUsage(cpu0);
    delay.disable();
    const ms = (cpu.user + cpu.system) / 1000 / n;
    console.log(
      `${what} (${(body.length / 1024).toFixed(0)} KiB, HTTP ${[...statuses].join('/')}): ` +
        `${ms.toFixed(2)} ms CPU per request, longest event-loop stall ${(delay.max / 1e6).toFixed(1)} ms`,
    );
  }
  server.closeAllConnections();
  server.close();
  auditCost();
}

/** The audit's serialisation of a 340,000-element argument: whole then cut (before) against capped. */
function auditCost(): void {
  const value = { x: JSON.parse(elements(340_000)) as unknown };
  const time = (f: () => unknown): number => {
    for (let i = 0; i < 3; i++) f();
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) f();
    return (performance.now() - t0) / 20;
  };
  const whole = time(() => JSON.stringify(value).slice(0, 4096));
  const capped = time(() => cappedJson(value, 4096).text);
  console.log(
    `audit serialisation of 340,000 {} (4096 characters kept): JSON.stringify then cut ${whole.toFixed(2)} ms, capped ${capped.toFixed(3)} ms`,
  );
}

await main();
