import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeApiError, KubeClient, type WatchEvent } from '../../../src/kube/client.js';
import type { CredentialSet, Credentials, KubeConnection } from '../../../src/kube/connection.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let port: number;
let handler: Handler;
let seen: Seen[];
let clients: KubeClient[];

beforeEach(async () => {
  seen = [];
  clients = [];
  handler = (_req, res) => res.end();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  for (const c of clients) c.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function credentials(token?: string, refresh: () => boolean = () => false): Credentials {
  const set: CredentialSet = token === undefined ? {} : { token };
  return { get: async () => set, refresh };
}

function client(creds: Credentials = credentials(), prefix = ''): KubeClient {
  const connection: KubeConnection = {
    server: `http://127.0.0.1:${port}${prefix}`,
    tls: {},
    credentials: creds,
    source: 'test',
  };
  const c = new KubeClient(connection);
  clients.push(c);
  return c;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string): unknown {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

describe('KubeClient.request', () => {
  it('sends a JSON body with content-type and content-length, the bearer token and a user agent', async () => {
    handler = (_req, res) => json(res, 201, { metadata: { name: 'x' } });
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { k: 'é' } };
    const answer = await client(credentials('tok-123')).request('POST', '/api/v1/namespaces/ns/configmaps', {
      body,
    });
    expect(answer).toEqual({ metadata: { name: 'x' } });
    const [req] = seen;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v1/namespaces/ns/configmaps');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(body))));
    expect(req?.headers.authorization).toBe('Bearer tok-123');
    expect(req?.headers.accept).toBe('application/json');
    expect(req?.headers['user-agent']).toBe('kubemcp');
    expect(JSON.parse(req?.body ?? '')).toEqual(body);
  });

  it('uses the given content type for a patch, and sends no body headers or authorization when there is none', async () => {
    handler = (_req, res) => json(res, 200, {});
    const c = client();
    await c.request('PATCH', '/apis/apps/v1/namespaces/ns/deployments/d', {
      body: { spec: { replicas: 2 } },
      contentType: 'application/merge-patch+json',
    });
    await c.request('GET', '/api/v1/pods');
    expect(seen[0]?.headers['content-type']).toBe('application/merge-patch+json');
    expect(seen[1]?.headers['content-type']).toBeUndefined();
    expect(seen[1]?.headers['content-length']).toBeUndefined();
    expect(seen[1]?.headers.authorization).toBeUndefined();
  });

  it('encodes query parameters and omits undefined ones', async () => {
    handler = (_req, res) => json(res, 200, { items: [] });
    await client().request('GET', '/api/v1/pods', {
      query: { labelSelector: 'app in (a,b)', limit: 500, allowWatchBookmarks: true, continue: undefined },
    });
    const url = new URL(seen[0]?.url ?? '', 'http://x');
    expect(url.pathname).toBe('/api/v1/pods');
    expect([...url.searchParams]).toEqual([
      ['labelSelector', 'app in (a,b)'],
      ['limit', '500'],
      ['allowWatchBookmarks', 'true'],
    ]);
  });

  it('keeps the path prefix of the server URL', async () => {
    handler = (_req, res) => json(res, 200, {});
    await client(credentials(), '/prefix').request('GET', '/api/v1/namespaces', { query: { limit: 1 } });
    await client(credentials(), '/prefix/').request('GET', '/version');
    expect(seen.map((s) => s.url)).toEqual(['/prefix/api/v1/namespaces?limit=1', '/prefix/version']);
  });

  it('turns a non-2xx answer into a KubeApiError that carries no token and no request body', async () => {
    handler = (_req, res) => json(res, 409, status(409, 'AlreadyExists', 'configmaps "x" already exists'));
    const err = await client(credentials('very-secret-token'))
      .request('POST', '/api/v1/namespaces/ns/configmaps', {
        body: { data: { password: 'body-secret' } },
        query: { fieldManager: 'kubemcp' },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    const apiErr = err as KubeApiError;
    expect(apiErr.statusCode).toBe(409);
    expect(apiErr.reason).toBe('AlreadyExists');
    expect(apiErr.apiMessage).toBe('configmaps "x" already exists');
    expect(apiErr.message).toBe(
      'POST /api/v1/namespaces/ns/configmaps: HTTP 409: configmaps "x" already exists',
    );
    const everything = `${apiErr.message} ${apiErr.stack ?? ''} ${JSON.stringify(apiErr)}`;
    expect(everything).not.toContain('very-secret-token');
    expect(everything).not.toContain('body-secret');
  });

  it('uses a plain-text error body as the message and copes with an empty one', async () => {
    handler = (req, res) => {
      if (req.url === '/text') {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('  service unavailable\n');
      } else {
        res.writeHead(404);
        res.end();
      }
    };
    const c = client();
    const text = (await c.request('GET', '/text').catch((e: unknown) => e)) as KubeApiError;
    expect(text).toBeInstanceOf(KubeApiError);
    expect(text.statusCode).toBe(503);
    expect(text.reason).toBeUndefined();
    expect(text.message).toBe('GET /text: HTTP 503: service unavailable');
    const empty = (await c.request('GET', '/empty').catch((e: unknown) => e)) as KubeApiError;
    expect(empty.statusCode).toBe(404);
    expect(empty.apiMessage).toBeUndefined();
    expect(empty.message).toBe('GET /empty: HTTP 404');
  });

  it('resolves an empty 2xx body with undefined', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.end();
    };
    await expect(client().request('DELETE', '/api/v1/namespaces/ns/pods/p')).resolves.toBeUndefined();
  });

  it('aborts a request the server never answers after timeoutMs', async () => {
    handler = () => {}; // never answers
    const started = Date.now();
    const err = await client()
      .request('GET', '/api/v1/pods', { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(KubeApiError);
    expect((err as Error).name).toMatch(/AbortError|TimeoutError/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(seen).toHaveLength(1);
  });

  it('aborts after timeoutMs when the server stalls halfway through the body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"items":[');
    };
    await expect(client().request('GET', '/api/v1/pods', { timeoutMs: 100 })).rejects.toBeInstanceOf(Error);
  });

  it('aborts when the caller signal aborts', async () => {
    handler = () => {};
    const controller = new AbortController();
    const pending = client().request('GET', '/api/v1/pods', { signal: controller.signal, timeoutMs: 60_000 });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('retries a 401 exactly once with the fresh credential when refresh() says it may help', async () => {
    let token = 'stale';
    let refreshes = 0;
    const creds: Credentials = {
      get: async () => ({ token }),
      refresh: () => {
        refreshes++;
        token = `fresh-${refreshes}`;
        return true;
      },
    };
    handler = (req, res) => {
      if (req.headers.authorization === 'Bearer fresh-1') json(res, 200, { ok: true });
      else json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    };
    const c = client(creds);
    await expect(c.request('POST', '/apis/x', { body: { a: 1 } })).resolves.toEqual({ ok: true });
    expect(refreshes).toBe(1);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer stale', 'Bearer fresh-1']);
    expect(seen.map((s) => s.body)).toEqual(['{"a":1}', '{"a":1}']);
    expect(seen[1]?.headers['content-type']).toBe('application/json');

    // A fresh credential that is refused as well: no second retry, the 401 surfaces.
    seen = [];
    token = 'stale';
    refreshes = 10;
    const err = (await c.request('GET', '/apis/x').catch((e: unknown) => e)) as KubeApiError;
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.statusCode).toBe(401);
    expect(refreshes).toBe(11);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer stale', 'Bearer fresh-11']);
  });

  it('does not retry a 401 when refresh() says it will not help', async () => {
    let refreshes = 0;
    handler = (_req, res) => json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    const c = client(
      credentials('static', () => {
        refreshes++;
        return false;
      }),
    );
    await expect(c.request('GET', '/api')).rejects.toMatchObject({ statusCode: 401, reason: 'Unauthorized' });
    expect(refreshes).toBe(1);
    expect(seen).toHaveLength(1);
  });

  it('refuses a server URL that is not http(s)', () => {
    expect(
      () =>
        new KubeClient({ server: 'ftp://127.0.0.1', tls: {}, credentials: credentials(), source: 'test' }),
    ).toThrow('unsupported API server URL ftp://127.0.0.1');
  });
});

describe('KubeClient.watch', () => {
  const ev = (type: WatchEvent['type'], name: string): WatchEvent => ({
    type,
    object: { metadata: { name, resourceVersion: name.length.toString() } },
  });
  const line = (e: WatchEvent): string => `${JSON.stringify(e)}\n`;

  it('delivers events in order across chunk boundaries, calls onEstablished and resolves when the stream ends', async () => {
    const events = [ev('ADDED', 'a'), ev('MODIFIED', 'bb'), ev('DELETED', 'ccc'), ev('BOOKMARK', 'dddd')];
    const order: string[] = [];
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const second = line(events[1] as WatchEvent);
      const split = Math.floor(second.length / 2);
      const parts = [
        line(events[0] as WatchEvent) + second.slice(0, split), // second event split across writes
        second.slice(split),
        `\n${line(events[2] as WatchEvent)}${line(events[3] as WatchEvent).slice(0, 5)}`, // blank line ignored
        line(events[3] as WatchEvent).slice(5),
      ];
      let i = 0;
      const next = (): void => {
        if (i < parts.length) {
          res.write(parts[i++]);
          setTimeout(next, 20);
        } else res.end();
      };
      next();
    };
    const received: WatchEvent[] = [];
    await client(credentials('watch-token')).watch(
      '/api/v1/pods',
      (e) => {
        order.push('event');
        received.push(e);
      },
      {
        query: { resourceVersion: '42', allowWatchBookmarks: true, timeoutSeconds: undefined },
        onEstablished: () => order.push('established'),
      },
    );
    expect(received).toEqual(events);
    expect(order).toEqual(['established', 'event', 'event', 'event', 'event']);
    const url = new URL(seen[0]?.url ?? '', 'http://x');
    expect(url.pathname).toBe('/api/v1/pods');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      resourceVersion: '42',
      allowWatchBookmarks: 'true',
      watch: 'true',
    });
    expect(seen[0]?.headers.authorization).toBe('Bearer watch-token');
  });

  it('delivers an ERROR event like the others', async () => {
    const expired: WatchEvent = { type: 'ERROR', object: status(410, 'Expired', 'too old resource version') };
    handler = (_req, res) => {
      res.writeHead(200);
      res.end(line(expired));
    };
    const received: WatchEvent[] = [];
    await client().watch('/api/v1/pods', (e) => received.push(e));
    expect(received).toEqual([expired]);
  });

  it('rejects on a line that is not JSON, after delivering the events before it', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(line(ev('ADDED', 'a')));
      res.write('this is not json\n');
      // Keeps the stream open: the client must give up on its own.
    };
    const received: WatchEvent[] = [];
    await expect(client().watch('/api/v1/pods', (e) => received.push(e))).rejects.toThrow(
      'watch /api/v1/pods: the API server sent a line that is not JSON',
    );
    expect(received).toEqual([ev('ADDED', 'a')]);
  });

  it('rejects when onEvent throws', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(line(ev('ADDED', 'a')));
    };
    await expect(
      client().watch('/api/v1/pods', () => {
        throw new Error('handler broke');
      }),
    ).rejects.toThrow('handler broke');
  });

  it('rejects with a KubeApiError on a non-200 status, without calling onEstablished', async () => {
    handler = (_req, res) => json(res, 403, status(403, 'Forbidden', 'pods is forbidden'));
    let established = false;
    const err = (await client(credentials('secret-watch-token'))
      .watch('/api/v1/pods', () => {}, { onEstablished: () => (established = true) })
      .catch((e: unknown) => e)) as KubeApiError;
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.statusCode).toBe(403);
    expect(err.reason).toBe('Forbidden');
    expect(err.message).toBe('watch /api/v1/pods: HTTP 403: pods is forbidden');
    expect(err.message).not.toContain('secret-watch-token');
    expect(established).toBe(false);
  });

  it('drops a cached credential on a 401 but does not retry the watch itself', async () => {
    let refreshes = 0;
    handler = (_req, res) => json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    const c = client(
      credentials('t', () => {
        refreshes++;
        return true;
      }),
    );
    await expect(c.watch('/api/v1/pods', () => {})).rejects.toMatchObject({ statusCode: 401 });
    expect(refreshes).toBe(1);
    expect(seen).toHaveLength(1);
  });

  it('rejects when the server drops the connection mid-stream', async () => {
    handler = (req, res) => {
      res.writeHead(200);
      res.write(line(ev('ADDED', 'a')));
      setTimeout(() => req.socket.destroy(), 20);
    };
    await expect(client().watch('/api/v1/pods', () => {})).rejects.toThrow(/watch \/api\/v1\/pods: /);
  });

  it('resolves, not rejects, when its signal aborts mid-stream', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(line(ev('ADDED', 'a')));
      // never ends
    };
    const controller = new AbortController();
    const received: WatchEvent[] = [];
    await expect(
      client().watch(
        '/api/v1/pods',
        (e) => {
          received.push(e);
          setTimeout(() => controller.abort(), 10);
        },
        { signal: controller.signal },
      ),
    ).resolves.toBeUndefined();
    expect(received).toEqual([ev('ADDED', 'a')]);
  });

  it('resolves when its signal aborts before the server answers', async () => {
    handler = () => {}; // never sends headers
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(
      client().watch('/api/v1/pods', () => {}, { signal: controller.signal }),
    ).resolves.toBeUndefined();
  });
});
