/**
 * The HMAC key that signs human-confirmation state (McpPolicy `confirm`), shared by every replica
 * through a Secret in the operator's own namespace. The first replica that finds no Secret creates
 * it with 32 random bytes; a replica that loses that race (409 AlreadyExists) reads the winner's.
 * The Secret is immutable: to rotate the key, delete it and restart the replicas (docs/operations.md).
 *
 * The key never reaches a log line, an error message or a metric: errors name the Secret only.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { KubeClient } from './client.js';
import { apiMessage, httpStatus } from './errors.js';

/** The Secret's data key holding the HMAC key. */
export const CONFIRMATION_KEY_DATA = 'key';
export const CONFIRMATION_KEY_BYTES = 32;

/** A key's estimated entropy must reach this (32 random bytes carry about 150 by this estimate). */
const MIN_ESTIMATED_BITS = 128;
/** Fewest distinct byte values (32 random bytes have about 30; 64 hex digits 16). */
const MIN_DISTINCT_BYTES = 12;

/**
 * What makes `key` unfit to sign confirmations, or undefined when nothing does: too short, one
 * pattern repeated (32 identical bytes, a word typed over and over), a counter, too few distinct
 * bytes, or too little entropy estimated from its byte frequencies. A random key passes; hex or
 * base64 text of a random key passes too. The message never shows the key.
 */
export function keyWeakness(key: Uint8Array): string | undefined {
  const n = key.length;
  if (n < CONFIRMATION_KEY_BYTES)
    return `it is ${n} bytes long; at least ${CONFIRMATION_KEY_BYTES} are needed`;
  for (let period = 1; period <= n / 2; period++) {
    let repeats = true;
    for (let i = period; i < n && repeats; i++) repeats = key[i] === key[i - period];
    if (repeats) {
      return period === 1
        ? 'it is one byte value repeated'
        : `it repeats the same ${period}-byte sequence (a word or pattern typed over and over)`;
    }
  }
  const step = ((key[1] ?? 0) - (key[0] ?? 0) + 256) % 256;
  let counter = true;
  for (let i = 2; i < n && counter; i++) counter = ((key[i] ?? 0) - (key[i - 1] ?? 0) + 256) % 256 === step;
  if (counter) return 'its bytes count up or down by a constant step';
  const counts = new Map<number, number>();
  for (const b of key) counts.set(b, (counts.get(b) ?? 0) + 1);
  if (counts.size < MIN_DISTINCT_BYTES) return `it uses only ${counts.size} distinct byte values`;
  let bits = 0;
  for (const c of counts.values()) bits -= c * Math.log2(c / n);
  if (bits < MIN_ESTIMATED_BITS) {
    return `its byte frequencies suggest about ${Math.floor(bits)} bits of entropy, fewer than ${MIN_ESTIMATED_BITS}`;
  }
  return undefined;
}

/**
 * The key in the file at `path` (--confirmation-key-file); throws an Error naming the file and what
 * is wrong when it cannot be read or is unfit (keyWeakness).
 */
export function readConfirmationKeyFile(path: string): Uint8Array {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new Error(
      `--confirmation-key-file ${path}: cannot read it${typeof code === 'string' ? ` (${code})` : ''}`,
    );
  }
  const weakness = keyWeakness(key);
  if (weakness !== undefined) {
    throw new Error(
      `--confirmation-key-file ${path}: the key is refused: ${weakness}. Remedy: write ${CONFIRMATION_KEY_BYTES} random bytes to it (head -c ${CONFIRMATION_KEY_BYTES} /dev/urandom > ${path})`,
    );
  }
  return new Uint8Array(key);
}

/** Why the key could not be loaded; `reason` classifies it for logs, /readyz and remedies. */
export class ConfirmationKeyError extends Error {
  constructor(
    readonly reason: 'Forbidden' | 'NamespaceNotFound' | 'Unusable' | 'Unauthorized' | 'Unavailable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConfirmationKeyError';
  }
}

interface SecretWire {
  type?: string;
  data?: Record<string, string>;
}

export interface LoadedKey {
  readonly key: Uint8Array;
  /** True when this call created the Secret. */
  readonly created: boolean;
}

function secretPath(namespace: string, name?: string): string {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** The key a Secret holds; throws ConfirmationKeyError (Unusable) when it holds none we can use. */
export function keyOfSecret(secret: SecretWire, namespace: string, name: string): Uint8Array {
  const where = `${namespace}/${name}`;
  const remedy = `delete it (kubectl -n ${namespace} delete secret ${name}) so that the operator creates a new one, or put at least ${CONFIRMATION_KEY_BYTES} random bytes under data.${CONFIRMATION_KEY_DATA}`;
  if (secret.type !== undefined && secret.type !== 'Opaque') {
    throw new ConfirmationKeyError(
      'Unusable',
      `the Secret ${where} is of type ${secret.type.slice(0, 100)}, not Opaque; ${remedy}`,
    );
  }
  const encoded = secret.data?.[CONFIRMATION_KEY_DATA];
  const key = encoded === undefined ? undefined : Buffer.from(encoded, 'base64');
  if (key === undefined || key.length < CONFIRMATION_KEY_BYTES) {
    throw new ConfirmationKeyError(
      'Unusable',
      `the Secret ${where} has no data.${CONFIRMATION_KEY_DATA} of at least ${CONFIRMATION_KEY_BYTES} bytes; ${remedy}`,
    );
  }
  const weakness = keyWeakness(key);
  if (weakness !== undefined) {
    throw new ConfirmationKeyError(
      'Unusable',
      `the key in data.${CONFIRMATION_KEY_DATA} of the Secret ${where} is refused: ${weakness}; ${remedy}`,
    );
  }
  return new Uint8Array(key);
}

function classify(
  err: unknown,
  op: 'get' | 'create',
  where: string,
  namespace: string,
): ConfirmationKeyError {
  const status = httpStatus(err);
  const detail = apiMessage(err)?.slice(0, 300);
  if (status === 403) {
    return new ConfirmationKeyError(
      'Forbidden',
      `cannot ${op} the Secret ${where}: RBAC forbids it${detail ? ` (${detail})` : ''}. Remedy: grant the operator's identity get on that Secret and create on secrets in "${namespace}" (config/rbac/confirmation_key_role.yaml), or pass --confirmation-key-file`,
      { cause: err },
    );
  }
  if (status === 401) {
    return new ConfirmationKeyError(
      'Unauthorized',
      `cannot ${op} the Secret ${where}: the API server refuses the operator's credentials (HTTP 401)`,
      { cause: err },
    );
  }
  if (status === 404 && op === 'create') {
    return new ConfirmationKeyError(
      'NamespaceNotFound',
      `cannot create the Secret ${where}: the namespace "${namespace}" does not exist. Remedy: create it, or set --leader-election-namespace to the operator's namespace, or pass --confirmation-key-file`,
      { cause: err },
    );
  }
  const why =
    status === undefined
      ? err instanceof Error
        ? (err.message.split('\n')[0] ?? '').slice(0, 300)
        : String(err).slice(0, 300)
      : `HTTP ${status}${detail ? ` (${detail})` : ''}`;
  return new ConfirmationKeyError('Unavailable', `cannot ${op} the Secret ${where}: ${why}`, { cause: err });
}

/**
 * Reads the key from Secret `namespace/name`, creating the Secret with `CONFIRMATION_KEY_BYTES`
 * random bytes when it does not exist. Of replicas racing to create it, every one ends up with the
 * key of the one whose create succeeded. Throws ConfirmationKeyError.
 */
export async function loadOrCreateConfirmationKey(
  client: KubeClient,
  namespace: string,
  name: string,
  options: { timeoutMs?: number; random?: (bytes: number) => Uint8Array } = {},
): Promise<LoadedKey> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const random = options.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const where = `${namespace}/${name}`;
  // get → (404) create → (409: another replica won) get again. Twice is enough unless the Secret
  // is deleted again between our create and our read.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const secret = await client.request<SecretWire>('GET', secretPath(namespace, name), { timeoutMs });
      return { key: keyOfSecret(secret, namespace, name), created: false };
    } catch (err) {
      if (err instanceof ConfirmationKeyError) throw err;
      if (httpStatus(err) !== 404) throw classify(err, 'get', where, namespace);
    }
    const key = random(CONFIRMATION_KEY_BYTES);
    if (keyWeakness(key) !== undefined)
      throw new Error('the random source returned too few or non-random bytes');
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace,
        labels: { 'app.kubernetes.io/name': 'kubemcp', 'app.kubernetes.io/managed-by': 'kubemcp' },
        annotations: {
          'kubemcp.io/purpose':
            'HMAC key of human-confirmation state, shared by every operator replica; delete it and restart the operator to rotate',
        },
      },
      type: 'Opaque',
      // Rotation is delete + restart, never an edit a running replica would not see.
      immutable: true,
      data: { [CONFIRMATION_KEY_DATA]: Buffer.from(key).toString('base64') },
    };
    try {
      await client.request('POST', secretPath(namespace), { body, timeoutMs });
      return { key, created: true };
    } catch (err) {
      if (httpStatus(err) !== 409) throw classify(err, 'create', where, namespace);
      // Another replica created it first: read theirs.
    }
  }
  throw new ConfirmationKeyError(
    'Unavailable',
    `the Secret ${where} was created and deleted again while the operator was reading it; retrying`,
  );
}

export interface SharedConfirmationKeyOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly name: string;
  readonly logger: Logger;
  /** Per API call. Default 10 s. */
  readonly timeoutMs?: number;
  /** Retries after a failure. Default 1 s doubling up to 5 min. */
  readonly backoff?: BackoffOptions;
  /** Called with the reason while the shared key cannot be loaded, and undefined once it is. */
  readonly onProblem?: (reason: ConfirmationKeyError['reason'] | undefined) => void;
}

/**
 * The confirmation key of a running operator. Until the Secret has been read (or when it cannot be),
 * a random per-process key stands in: confirmations then verify only on the replica that asked
 * (fail closed: an answer that reaches another replica is refused and the client asks again), and
 * the operator keeps retrying with backoff, logging each cause once a minute at most.
 */
export class SharedConfirmationKey {
  private key: Uint8Array = new Uint8Array(randomBytes(CONFIRMATION_KEY_BYTES));
  private shared = false;
  private problem: ConfirmationKeyError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastLogged = new Map<string, number>();
  private readonly backoff: Backoff;

  constructor(private readonly options: SharedConfirmationKeyOptions) {
    this.backoff = new Backoff({ initialMs: 1_000, maxMs: 300_000, ...options.backoff });
  }

  /** The key to sign and verify with now. */
  current(): Uint8Array {
    return this.key;
  }

  /** Whether the key is the one in the Secret (shared by every replica). */
  isShared(): boolean {
    return this.shared;
  }

  /** Why the shared key is not in use, for /readyz?verbose; undefined when it is. */
  problemMessage(): string | undefined {
    if (this.shared) return undefined;
    return this.problem === undefined ? 'not loaded yet' : `${this.problem.reason}: ${this.problem.message}`;
  }

  /** Makes the first attempt (awaited: normally the key is shared before the first request) and keeps retrying in the background on failure. */
  async start(): Promise<void> {
    await this.attempt();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async attempt(): Promise<void> {
    const { client, namespace, name, logger } = this.options;
    try {
      const loaded = await loadOrCreateConfirmationKey(client, namespace, name, {
        ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }),
      });
      if (this.stopped) return;
      this.key = loaded.key;
      this.shared = true;
      this.problem = undefined;
      this.backoff.reset();
      this.options.onProblem?.(undefined);
      logger.info(
        { secret: `${namespace}/${name}`, created: loaded.created },
        loaded.created
          ? 'created the confirmation key Secret; every replica signs confirmations with it'
          : 'loaded the confirmation key from its Secret',
      );
    } catch (err) {
      if (this.stopped) return;
      const problem =
        err instanceof ConfirmationKeyError
          ? err
          : new ConfirmationKeyError(
              'Unavailable',
              err instanceof Error ? err.message.slice(0, 300) : String(err),
            );
      this.problem = problem;
      this.options.onProblem?.(problem.reason);
      const now = Date.now();
      const last = this.lastLogged.get(problem.reason);
      if (last === undefined || now - last >= 60_000) {
        this.lastLogged.set(problem.reason, now);
        logger[problem.reason === 'Unavailable' ? 'warn' : 'error'](
          { problem: problem.reason, secret: `${namespace}/${name}` },
          `${problem.message}; until then confirmations are signed with a key of this replica only, so an answer that reaches another replica is refused (the client asks again)`,
        );
      }
      const delay = this.backoff.next();
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.attempt();
      }, delay);
      this.timer.unref();
    }
  }
}
