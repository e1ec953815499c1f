/**
 * What a 2025-era client declared at `initialize`, carried by the client itself.
 *
 * KubeMCP serves the 2025-era revisions statelessly: each POST is answered by a fresh server, and a
 * later `tools/call` does not know which capabilities the client declared at `initialize`. For a
 * client that declared form-mode elicitation, the answer to `initialize` carries an `Mcp-Session-Id`
 * that is a signed, self-contained record of the declaration: the caller it was issued to, the
 * client's name and version, and when. The client sends it back on every request (the transport
 * does this by itself), so any replica that holds the same key can read it; no replica stores
 * anything. It grants nothing: authorization is the Bearer token of each request, and a session id
 * presented by another caller, signed with another key, altered, or older than SESSION_TTL_MS is
 * ignored (the request is served as if it had none, so a confirmation fails closed).
 *
 * Format: `kmcs1.<payload>.<mac>`, base64url; the MAC is HMAC-SHA256 under a key derived from the
 * confirmation key. Visible ASCII only, as the transport requires of a session id.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_PREFIX = 'kmcs1';
/** How long a session id is honoured. The client then gets ConfirmationRequired until it reconnects. */
export const SESSION_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_SESSION_ID_CHARS = 1024;
const MAX_CLIENT_NAME_CHARS = 100;
const MAX_CLIENT_VERSION_CHARS = 40;

/** What an issued session id says. */
export interface LegacySession {
  /** The username it was issued to. */
  readonly caller: string;
  /** The client declared form-mode elicitation (only such clients get a session id). */
  readonly elicitation: true;
  /** clientInfo name and version as declared (capped). */
  readonly client: string;
  /** Issued at (ms since epoch). */
  readonly issuedAt: number;
}

export type SessionCheck =
  | { readonly ok: true; readonly session: LegacySession }
  | { readonly ok: false; readonly why: string };

interface Payload {
  readonly u: string;
  readonly c: string;
  readonly t: number;
}

/** Whether `initialize` params declare form-mode elicitation (a bare `elicitation: {}` counts as form). */
export function declaresFormElicitation(params: unknown): boolean {
  const caps = (params as { capabilities?: { elicitation?: unknown } } | undefined)?.capabilities;
  const e = caps?.elicitation;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return false;
  const modes = e as { form?: unknown; url?: unknown };
  if (modes.form === undefined && modes.url === undefined) return true;
  return typeof modes.form === 'object' && modes.form !== null;
}

/** `name version` of an `initialize`'s clientInfo, capped; "an unnamed client" when absent. */
export function clientOfInitialize(params: unknown): string {
  return clientReported((params as { clientInfo?: unknown } | undefined)?.clientInfo);
}

/**
 * A clientInfo as KubeMCP repeats it (audit, answers), on every protocol revision: what the client
 * says about itself, never verified, so printable ASCII only, capped (name 100, version 40
 * characters); "an unnamed client" when it names none.
 */
export function clientReported(clientInfo: unknown): string {
  const info = clientInfo as { name?: unknown; version?: unknown } | undefined;
  const name = typeof info?.name === 'string' ? printable(info.name, MAX_CLIENT_NAME_CHARS) : '';
  const version = typeof info?.version === 'string' ? printable(info.version, MAX_CLIENT_VERSION_CHARS) : '';
  if (name === '') return 'an unnamed client';
  return version === '' ? name : `${name} ${version}`;
}

/** How a confirmation names the client that asked: labelled as what the client reported. */
export function confirmedThrough(client: string): string {
  return `elicitation through ${client} (client-reported name)`;
}

function printable(text: string, max: number): string {
  return text
    .slice(0, max)
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
}

export class LegacySessions {
  private readonly confirmationKey: () => Uint8Array;
  private derivedFrom: Uint8Array | undefined;
  private derived: Buffer | undefined;

  /**
   * `confirmationKey` may be a function, asked at every issue and check: the shared key can arrive
   * (from its Secret) after start-up. Ids issued under an earlier key then stop verifying: the
   * client reconnects, and until then it is treated as one that cannot be asked (fail closed).
   */
  constructor(
    confirmationKey: Uint8Array | (() => Uint8Array),
    private readonly now: () => number = Date.now,
    private readonly ttlMs: number = SESSION_TTL_MS,
  ) {
    this.confirmationKey = typeof confirmationKey === 'function' ? confirmationKey : () => confirmationKey;
  }

  /** A key of its own, derived from the confirmation key, so a session id can never be mistaken for any other signed value. */
  private key(): Buffer {
    const base = this.confirmationKey();
    if (this.derived === undefined || base !== this.derivedFrom) {
      this.derived = createHmac('sha256', base).update('kubemcp legacy session id v1').digest();
      this.derivedFrom = base;
    }
    return this.derived;
  }

  /** The session id of a client that declared form-mode elicitation at initialize. */
  issue(caller: string, client: string): string {
    const payload: Payload = { u: caller, c: client, t: this.now() };
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    return `${SESSION_PREFIX}.${body}.${this.mac(body)}`;
  }

  /** Reads a session id presented by `caller`; never throws. */
  check(id: string | undefined, caller: string): SessionCheck {
    if (id === undefined || id === '') {
      return {
        ok: false,
        why: 'your client did not declare the elicitation capability (form mode) at initialize',
      };
    }
    const parts = id.length > MAX_SESSION_ID_CHARS ? [] : id.split('.');
    const [prefix, body, mac] = parts;
    if (parts.length !== 3 || prefix !== SESSION_PREFIX || body === undefined || mac === undefined) {
      return { ok: false, why: 'the Mcp-Session-Id your client sent was not issued by KubeMCP' };
    }
    const expected = Buffer.from(this.mac(body), 'utf8');
    const given = Buffer.from(mac, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return {
        ok: false,
        why: 'the Mcp-Session-Id your client sent does not verify here (issued by a replica with another confirmation key, or altered); reconnect',
      };
    }
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      return { ok: false, why: 'the Mcp-Session-Id your client sent is malformed' };
    }
    if (typeof payload.u !== 'string' || typeof payload.c !== 'string' || typeof payload.t !== 'number') {
      return { ok: false, why: 'the Mcp-Session-Id your client sent is malformed' };
    }
    if (payload.u !== caller) {
      return { ok: false, why: 'the Mcp-Session-Id your client sent was issued to another caller' };
    }
    const age = this.now() - payload.t;
    if (age < 0 || age > this.ttlMs) {
      return {
        ok: false,
        why: 'the Mcp-Session-Id your client sent has expired; reconnect (initialize again)',
      };
    }
    return {
      ok: true,
      session: { caller: payload.u, elicitation: true, client: payload.c, issuedAt: payload.t },
    };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key()).update(body).digest('base64url');
  }
}
