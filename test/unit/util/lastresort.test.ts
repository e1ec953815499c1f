import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { withLastResort } from '../../../src/util/lastresort.js';
import { RateLimitedLog } from '../../../src/util/logbudget.js';
import { rawRequest } from '../../rawhttp.js';

describe('the last resort of a request listener', () => {
  it('answers 400 for a listener that throws or rejects, logs capped and rate-limited, and the server lives on', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const log = new RateLimitedLog(logger, { level: 'error', summary: 'more', burst: 2 });
    const listener = withLastResort(
      (req) => {
        if (req.url?.startsWith('/async')) return Promise.reject(new Error('rejected'));
        if (req.url !== '/ok') throw new Error(`threw on ${req.url}`);
        return undefined;
      },
      { contentType: 'text/plain', body: 'bad request\n' },
      log,
    );
    const server = http.createServer((req, res) => {
      listener(req, res);
      if (req.url === '/ok') res.end('fine');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const long = `/${'x'.repeat(5000)}`;
      for (const target of ['/sync', '/async', long, '/sync']) {
        const a = await rawRequest(port, 'GET', target);
        expect(a.status, target.slice(0, 20)).toBe(400);
        expect(a.text.endsWith('bad request\n')).toBe(true);
      }
      expect((await rawRequest(port, 'GET', '/ok')).status).toBe(200);
      const errors = lines.filter((l) => l.level === 50);
      expect(errors).toHaveLength(2);
      expect(errors[0]).toMatchObject({ target: '/sync', err: 'threw on /sync' });
      expect(errors[1]).toMatchObject({ target: '/async', err: 'rejected' });
      // Held back beyond the burst (at debug), and capped there too.
      const held = lines.filter((l) => l.level === 20);
      expect(held).toHaveLength(2);
      expect(String(held[0]?.target).length).toBeLessThan(300);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
