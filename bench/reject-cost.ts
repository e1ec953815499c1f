/**
 * CPU the MCP endpoint spends on a request it refuses before any MCP work: a random bearer token
 * (401 after a TokenReview, or 503 when the review queue is full) and a request without credentials.
 *
 *   npm run bench:reject-cost [-- --rate 1000 --duration 10 --review-ms 3 --mode random|none --bare]
 *
 * No cluster: the endpoint is createMcpApp with the real TokenReview authenticator (its caps and
 * caches) in front of a stand-in review that answers "not authenticated" after --review-ms. A child
 * process sends --rate requests/s (keep-alive, open loop); this process reports its own CPU time
 * (user + system) per request, which is what a flood costs the operator, independent of what else
 * runs on the machine. --mode none sends no Authorization header; --bare answers every request from a
 * plain Node listener instead, the floor that Node's HTTP parser and one write cost.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Registry } from 'prom-client';
import * as mcp from '../src/mcp/index.js';
import { compile } from '../src/policy/index.js';
import { mcpRequest } from '../test/conformance/live.js';
import { type Flag, parseCount, readFlags, UsageError, usageText } from './lib/cli.js';
import { flood } from './lib/flood.js';

const MODES = ['random', 'none'] as const;
const FLAGS = {
  rate: { type: 'string', default: '1000', about: 'requests per second (open loop)' },
  duration: { type: 'string', default: '10', value: 'SECONDS', about: 'how long the flood lasts' },
  'review-ms': { type: 'string', default: '3', value: 'MS', about: "the stand-in TokenReview's answer time" },
  mode: {
    type: 'string',
    default: 'random',
    value: MODES.join('|'),
    about: 'random: a random bearer token per request; none: no Authorization header',
  },
  bare: {
    type: 'boolean',
    default: false,
    about: 'a plain Node listener instead of the MCP endpoint (the floor)',
  },
  client: { type: 'string', value: 'URL', about: 'internal: run as the flooding child against URL' },
} as const satisfies Record<string, Flag>;
const USAGE = usageText('npm run bench:reject-cost -- [options]', FLAGS);
const args = readFlags(FLAGS, USAGE, (v) => {
  const mode = MODES.find((m) => m === v.mode);
  if (mode === undefined)
    throw new UsageError(`--mode: expected ${MODES.join(' or ')}, got ${JSON.stringify(v.mode)}`);
  return {
    rate: parseCount(v.rate, '--rate'),
    duration: parseCount(v.duration, '--duration'),
    'review-ms': parseCount(v['review-ms'], '--review-ms', 0),
    mode,
    bare: v.bare,
    client: v.client,
  };
});

async function main(): Promise<void> {
  const reviewMs = args['review-ms'];
  const registry = new Registry();
  const logger = pino({ level: 'warn' });
  const authenticator = mcp.createTokenReviewAuthenticator({
    registry,
    logger,
    review: async () => {
      await sleep(reviewMs);
      return { authenticated: false, error: 'invalid bearer token' };
    },
  });
  const deps = {
    authenticator,
    getIndex: () => compile({ policies: [], namespaces: [] }),
    backend: {} as never,
    logger,
    registry,
    options: { publicUrl: 'http://127.0.0.1:1' },
  };
  const server = args.bare
    ? http.createServer((_req, res) => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{}');
      })
    : http.createServer(mcp.createMcpApp(deps));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      import.meta.filename,
      `--client=${url}`,
      `--rate=${args.rate}`,
      `--duration=${args.duration}`,
      `--mode=${args.mode}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  // CPU from the first request to the last answer, over the requests this server saw.
  let requests = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  let t0 = 0;
  server.on('request', () => {
    if (requests++ === 0) {
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
  });
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const report = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { statuses: Record<string, number> };
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(
    `${args.bare ? 'plain Node listener' : 'MCP endpoint'}, ${args.mode === 'none' ? 'no credentials' : 'random tokens'}: ` +
      `${requests} requests in ${wall.toFixed(1)} s (answers ${JSON.stringify(report.statuses)}); ` +
      `server CPU ${cpuSeconds.toFixed(2)} s = ${((cpuSeconds * 1e6) / Math.max(1, requests)).toFixed(0)} µs per request, ` +
      `${((cpuSeconds / wall) * 100).toFixed(1)} % of a core`,
  );
  server.closeAllConnections();
  server.close();
}

if (args.client !== undefined) {
  const report = await flood(args.client, args.rate, args.duration, () =>
    mcpRequest(args.mode === 'none' ? undefined : randomBytes(32).toString('base64url'), 'tools/list'),
  );
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else await main();
