// An MCP agent that runs as a Pod: it reads its projected ServiceAccount token (audience kubemcp)
// and calls the operator through its in-cluster Service with the official MCP client. The e2e test
// drives it through a small HTTP API on port 9000 (reached with `kubectl port-forward`):
//   POST /call       {"tool", "args"}           one call on the agent's long-lived client
//   POST /load/start {"tool", "args"}           calls in a loop, one after another
//   POST /load/stop                             -> {"calls", "failures": [{"at", "error"}]}
import fs from 'node:fs';
import http from 'node:http';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const URL_ = process.env.MCP_URL ?? 'http://kubemcp.kubemcp-system.svc:8080/mcp';
const TOKEN_FILE = process.env.TOKEN_FILE ?? '/var/run/secrets/kubemcp/token';

async function connect() {
  const client = new Client(
    { name: 'kubemcp-e2e-agent', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  // The token is read per request: the kubelet rotates the projected file.
  const transport = new StreamableHTTPClientTransport(new URL(URL_), {
    fetch: (url, init) => {
      const headers = new Headers(init?.headers);
      headers.set('Authorization', `Bearer ${fs.readFileSync(TOKEN_FILE, 'utf8').trim()}`);
      return fetch(url, { ...init, headers });
    },
  });
  await client.connect(transport);
  return client;
}

let client;
async function call(tool, args) {
  client ??= await connect();
  return client.callTool({ name: tool, arguments: args ?? {} });
}

let load;
async function loop(state) {
  while (!state.stopped) {
    const at = new Date().toISOString();
    try {
      const r = await call(state.tool, state.args);
      if (r.isError) state.failures.push({ at, error: JSON.stringify(r.structuredContent ?? r.content) });
    } catch (err) {
      const cause = err?.cause ? ` (${err.cause.code ?? err.cause.message ?? err.cause})` : '';
      state.failures.push({ at, error: `${String(err?.message ?? err)}${cause}` });
    }
    state.calls++;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function body(req) {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => resolve(s ? JSON.parse(s) : {}));
  });
}

http
  .createServer(async (req, res) => {
    const reply = (status, obj) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    try {
      const b = await body(req);
      if (req.url === '/healthz') return reply(200, { ok: true });
      if (req.url === '/call') return reply(200, { ok: true, result: await call(b.tool, b.args) });
      if (req.url === '/load/start') {
        load = { tool: b.tool, args: b.args, calls: 0, failures: [], stopped: false };
        load.done = loop(load);
        return reply(200, { ok: true });
      }
      if (req.url === '/load/stop') {
        load.stopped = true;
        await load.done;
        return reply(200, { calls: load.calls, failures: load.failures });
      }
      reply(404, { error: 'not found' });
    } catch (err) {
      reply(200, { ok: false, error: String(err?.message ?? err) });
    }
  })
  .listen(9000, () => console.log('agent listening on :9000'));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
