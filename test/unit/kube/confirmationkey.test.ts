/**
 * The shared confirmation key's bootstrap (src/kube/confirmationkey.ts) against a local stand-in of
 * the API server's Secret endpoints: read, create when missing, a lost create race resolved by
 * reading the winner's key, refusals that name the Secret and never the key, and the per-process
 * stand-in replaced once the Secret can be read.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfirmationKeyError,
  keyWeakness,
  loadOrCreateConfirmationKey,
  readConfirmationKeyFile,
  SharedConfirmationKey,
} from '../../../src/kube/confirmationkey.js';
import { type Cleanups, localApi } from './local-api.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const NS = 'kubemcp-system';
const NAME = 'kubemcp-confirmation-key';
const PATH = `/api/v1/namespaces/${NS}/secrets`;

interface StoredSecret {
  type?: string;
  data?: Record<string, string>;
  immutable?: boolean;
  metadata?: Record<string, unknown>;
}

/** Secrets of one namespace, with hooks to refuse or delay calls. */
function secretApi(
  options: {
    secrets?: Map<string, StoredSecret>;
    /** Status to answer instead, per method (e.g. 403). */
    refuse?: Partial<Record<'GET' | 'POST', number>>;
    /** Called before a GET that finds nothing is answered 404 (lets a test interleave two clients). */
    beforeNotFound?: () => Promise<void>;
  } = {},
) {
  const secrets = options.secrets ?? new Map<string, StoredSecret>();
  const calls: string[] = [];
  const bodies: StoredSecret[] = [];
  const status = (res: ServerResponse, code: number, reason: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason, code, message: `${reason} (test)` }));
  };
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const method = req.method ?? '';
    calls.push(`${method} ${req.url}`);
    const refused = options.refuse?.[method as 'GET' | 'POST'];
    if (refused !== undefined) return status(res, refused, refused === 403 ? 'Forbidden' : 'NotFound');
    if (method === 'GET' && req.url === `${PATH}/${NAME}`) {
      const s = secrets.get(NAME);
      if (s === undefined) {
        await options.beforeNotFound?.();
        return status(res, 404, 'NotFound');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ kind: 'Secret', ...s }));
    }
    if (method === 'POST' && req.url === PATH) {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as StoredSecret & {
        metadata: { name: string };
      };
      bodies.push(body);
      if (secrets.has(body.metadata.name)) return status(res, 409, 'AlreadyExists');
      secrets.set(body.metadata.name, body);
      res.writeHead(201, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(body));
    }
    return status(res, 404, 'NotFound');
  };
  return { secrets, calls, bodies, handler };
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

describe('loadOrCreateConfirmationKey', () => {
  it('reads the key of an existing Secret and creates nothing', async () => {
    const key = new Uint8Array(randomBytes(48));
    const api = secretApi({ secrets: new Map([[NAME, { type: 'Opaque', data: { key: b64(key) } }]]) });
    const client = await localApi(api.handler, cleanups);
    const loaded = await loadOrCreateConfirmationKey(client, NS, NAME);
    expect(loaded.created).toBe(false);
    expect(Buffer.from(loaded.key).equals(Buffer.from(key))).toBe(true);
    expect(api.calls).toEqual([`GET ${PATH}/${NAME}`]);
  });

  it('creates a missing Secret: 32 random bytes, Opaque, immutable, labelled; returns that key', async () => {
    const api = secretApi();
    const client = await localApi(api.handler, cleanups);
    const loaded = await loadOrCreateConfirmationKey(client, NS, NAME);
    expect(loaded.created).toBe(true);
    expect(loaded.key).toHaveLength(32);
    expect(api.calls).toEqual([`GET ${PATH}/${NAME}`, `POST ${PATH}`]);
    const created = api.bodies[0];
    expect(created).toMatchObject({
      type: 'Opaque',
      immutable: true,
      metadata: { name: NAME, namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'kubemcp' } },
    });
    expect(created?.data?.key).toBe(b64(loaded.key));
    // A second process reads the same key.
    const again = await loadOrCreateConfirmationKey(client, NS, NAME);
    expect(again.created).toBe(false);
    expect(b64(again.key)).toBe(b64(loaded.key));
  });

  it('two processes racing to create it end up with the same key (409 → read the winner)', async () => {
    // Both GETs are answered 404 only once both have arrived, so both try to create.
    let arrived = 0;
    let release: () => void = () => undefined;
    const bothArrived = new Promise<void>((resolve) => {
      release = resolve;
    });
    const api = secretApi({
      beforeNotFound: async () => {
        arrived++;
        if (arrived === 2) release();
        await bothArrived;
      },
    });
    const a = await localApi(api.handler, cleanups);
    const b = await localApi(api.handler, cleanups);
    const [ka, kb] = await Promise.all([
      loadOrCreateConfirmationKey(a, NS, NAME),
      loadOrCreateConfirmationKey(b, NS, NAME),
    ]);
    expect([ka.created, kb.created].sort()).toEqual([false, true]);
    expect(b64(ka.key)).toBe(b64(kb.key));
    expect(api.bodies).toHaveLength(2); // two creates were sent, one won
    expect(api.secrets.get(NAME)?.data?.key).toBe(b64(ka.key));
    expect(api.calls.filter((c) => c.startsWith('GET'))).toHaveLength(3); // the loser read again
  });

  it('refuses a Secret without a usable key, naming the remedy but not the content', async () => {
    const short = b64(new Uint8Array(16).fill(1));
    const cases: StoredSecret[] = [
      { type: 'Opaque', data: { key: short } },
      { type: 'Opaque', data: { other: b64(new Uint8Array(32)) } },
      { type: 'kubernetes.io/service-account-token', data: { key: b64(new Uint8Array(32).fill(2)) } },
    ];
    for (const secret of cases) {
      const api = secretApi({ secrets: new Map([[NAME, secret]]) });
      const client = await localApi(api.handler, cleanups);
      const err = await loadOrCreateConfirmationKey(client, NS, NAME).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfirmationKeyError);
      expect((err as ConfirmationKeyError).reason).toBe('Unusable');
      expect((err as Error).message).toContain(`kubectl -n ${NS} delete secret ${NAME}`);
      expect((err as Error).message).not.toContain(short);
      expect(api.calls).toEqual([`GET ${PATH}/${NAME}`]); // never overwritten
    }
  });

  it('refuses a Secret whose key has 32 bytes but little entropy, saying what is wrong and never the key', async () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(32).fill(0x41), 'it is one byte value repeated'],
      [new Uint8Array(Buffer.from('hunter2!'.repeat(4))), 'it repeats the same 8-byte sequence'],
    ];
    for (const [key, why] of cases) {
      const api = secretApi({ secrets: new Map([[NAME, { type: 'Opaque', data: { key: b64(key) } }]]) });
      const client = await localApi(api.handler, cleanups);
      const err = await loadOrCreateConfirmationKey(client, NS, NAME).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfirmationKeyError);
      expect((err as ConfirmationKeyError).reason).toBe('Unusable');
      const message = (err as Error).message;
      expect(message).toContain(`data.key of the Secret ${NS}/${NAME} is refused: ${why}`);
      expect(message).toContain(`kubectl -n ${NS} delete secret ${NAME}`);
      expect(message).not.toContain(b64(key));
      expect(message).not.toContain('hunter2');
      expect(api.calls).toEqual([`GET ${PATH}/${NAME}`]); // never overwritten
    }
  });

  it('classifies refusals: RBAC (Forbidden, naming the Role) and a missing namespace', async () => {
    const forbidden = await localApi(secretApi({ refuse: { GET: 403 } }).handler, cleanups);
    const f = await loadOrCreateConfirmationKey(forbidden, NS, NAME).catch((e: unknown) => e);
    expect((f as ConfirmationKeyError).reason).toBe('Forbidden');
    expect((f as Error).message).toContain('config/rbac/confirmation_key_role.yaml');
    expect((f as Error).message).toContain('--confirmation-key-file');

    const noNamespace = await localApi(secretApi({ refuse: { POST: 404 } }).handler, cleanups);
    const n = await loadOrCreateConfirmationKey(noNamespace, NS, NAME).catch((e: unknown) => e);
    expect((n as ConfirmationKeyError).reason).toBe('NamespaceNotFound');
    expect((n as Error).message).toContain(`the namespace "${NS}" does not exist`);
  });
});

describe('SharedConfirmationKey', () => {
  it('stands in with a per-process key while the Secret cannot be read, then switches to it', async () => {
    const refuse: Partial<Record<'GET' | 'POST', number>> = { GET: 403 };
    const key = new Uint8Array(randomBytes(32));
    const api = secretApi({
      secrets: new Map([[NAME, { type: 'Opaque', data: { key: b64(key) } }]]),
      refuse,
    });
    const client = await localApi(api.handler, cleanups);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const problems: (string | undefined)[] = [];
    const holder = new SharedConfirmationKey({
      client,
      namespace: NS,
      name: NAME,
      logger,
      backoff: { initialMs: 20, maxMs: 20, jitter: 0 },
      onProblem: (reason) => problems.push(reason),
    });
    cleanups.push(() => holder.stop());
    await holder.start();
    const standIn = holder.current();
    expect(holder.isShared()).toBe(false);
    expect(standIn).toHaveLength(32);
    expect(b64(standIn)).not.toBe(b64(key));
    expect(holder.problemMessage()).toMatch(
      /^Forbidden: cannot get the Secret kubemcp-system\/kubemcp-confirmation-key/,
    );
    expect(problems).toEqual(['Forbidden']);

    delete refuse.GET; // RBAC fixed: the next retry reads the Secret
    for (let i = 0; i < 200 && !holder.isShared(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(holder.isShared()).toBe(true);
    expect(b64(holder.current())).toBe(b64(key));
    expect(holder.problemMessage()).toBeUndefined();
    expect(problems.at(-1)).toBeUndefined();
    // The key never reaches the log.
    const log = lines.join('');
    expect(log).toContain('loaded the confirmation key from its Secret');
    expect(log).not.toContain(b64(key));
    expect(log).not.toContain(b64(standIn));
  });
});

describe('keyWeakness', () => {
  it.each([
    ['31 random bytes', new Uint8Array(randomBytes(31)), 'it is 31 bytes long; at least 32 are needed'],
    ['32 identical bytes', new Uint8Array(32).fill(7), 'it is one byte value repeated'],
    ['32 zero bytes', new Uint8Array(32), 'it is one byte value repeated'],
    [
      'an ASCII word repeated',
      Buffer.from('password'.repeat(5)),
      'it repeats the same 8-byte sequence (a word or pattern typed over and over)',
    ],
    [
      'a pattern repeated with a tail',
      Buffer.from('abc'.repeat(11)),
      'it repeats the same 3-byte sequence (a word or pattern typed over and over)',
    ],
    [
      'a counter',
      new Uint8Array(Array.from({ length: 32 }, (_, i) => i)),
      'its bytes count up or down by a constant step',
    ],
    [
      'a counter down',
      new Uint8Array(Array.from({ length: 40 }, (_, i) => 200 - i)),
      'its bytes count up or down by a constant step',
    ],
    [
      'few distinct bytes',
      Buffer.from('aabbccddeeffgghhaabbccddeeffgghhhgfedcbaa'),
      'it uses only 8 distinct byte values',
    ],
    [
      'a short phrase of common letters',
      Buffer.from('mississippi missouri minnesota mi'),
      'its byte frequencies suggest about 104 bits of entropy, fewer than 128',
    ],
  ])('refuses %s', (_what, key, why) => {
    expect(keyWeakness(key)).toBe(why);
  });

  it('accepts random keys, and hex or base64 text of random keys (1,000 samples each)', () => {
    for (let i = 0; i < 1000; i++) {
      const bytes = randomBytes(32);
      expect(keyWeakness(bytes)).toBeUndefined();
      expect(keyWeakness(Buffer.from(bytes.toString('hex')))).toBeUndefined();
      expect(keyWeakness(Buffer.from(bytes.toString('base64')))).toBeUndefined();
    }
  });
});

describe('readConfirmationKeyFile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-key-test-'));
  const write = (name: string, content: Uint8Array) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  };

  it('reads a random key', () => {
    const key = randomBytes(32);
    expect(Buffer.from(readConfirmationKeyFile(write('good', key))).equals(key)).toBe(true);
  });

  it('refuses a low-entropy key naming the file, what is wrong and the remedy, never the key', () => {
    const file = write('weak', Buffer.from('kubemcp!'.repeat(4)));
    expect(() => readConfirmationKeyFile(file)).toThrow(
      `--confirmation-key-file ${file}: the key is refused: it repeats the same 8-byte sequence (a word or pattern typed over and over). Remedy: write 32 random bytes to it (head -c 32 /dev/urandom > ${file})`,
    );
    const same = write('same', new Uint8Array(64).fill(0x5a));
    expect(() => readConfirmationKeyFile(same)).toThrow('it is one byte value repeated');
  });

  it('names a file it cannot read', () => {
    expect(() => readConfirmationKeyFile(path.join(dir, 'missing'))).toThrow(
      `--confirmation-key-file ${path.join(dir, 'missing')}: cannot read it (ENOENT)`,
    );
  });
});
