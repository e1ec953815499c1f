import type { Level, Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ClusterBackend } from '../../kube/types.js';
import type { PolicyIndex } from '../../policy/index.js';
import type { Tracing } from '../../telemetry/index.js';
import type { Authenticator } from '../auth.js';
import { DEFAULT_RESOURCE_PAGE_SIZE } from '../resources.js';
import { DEFAULT_CONFIRMATION_TIMEOUT_SECONDS } from '../safety/elicit.js';

/** What the MCP endpoint is given: its options (defaults filled in here only) and its parts. */

export const MCP_PATH = '/mcp';
export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_PUBLIC_URL = 'http://localhost:8080';
/** In-flight requests one caller may have before it gets 429. */
export const DEFAULT_MAX_INFLIGHT_PER_CALLER = 8;
/** Most messages in one JSON-RPC batch (2025-03-26 clients only; see docs/adr/0006). */
export const MAX_BATCH_MESSAGES = 10;
/** Deepest JSON nesting accepted in a body (MCP messages need a handful of levels). */
export const MAX_JSON_DEPTH = 64;
/**
 * Most object members (`"key": value` pairs) accepted in a body. A real request has a few dozen;
 * each member costs the SDK's and our schema validation tens of microseconds, so 60,000 of them in a
 * 1 MiB body would hold the event loop for over a second.
 */
export const MAX_JSON_MEMBERS = 1000;
/**
 * Most array elements accepted in a body, all arrays together. A real request has a handful (a batch
 * holds at most 10 messages); a 1 MiB body of `{}`s holds 350,000, whose JSON.parse alone costs tens of
 * milliseconds of the event loop.
 */
export const MAX_JSON_ELEMENTS = 1000;

export interface McpAppOptions {
  /**
   * The base URL clients use to reach this server (scheme, host, port); the MCP endpoint is
   * `<publicUrl>/mcp`. Used in the protected-resource metadata and the WWW-Authenticate challenge.
   * Default http://localhost:8080.
   */
  readonly publicUrl?: string;
  /** Host header names accepted (port-agnostic; `*` accepts any). Default: publicUrl's host and localhost. */
  readonly allowedHosts?: readonly string[];
  /** Origin hostnames accepted when an Origin header is present (`*` accepts any). Default: allowedHosts. */
  readonly allowedOrigins?: readonly string[];
  /** Largest accepted request body in bytes; larger bodies get 413. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Level of the MCP layer's logger; `debug` logs every JSON-RPC message in and out. Default: the logger's. */
  readonly logLevel?: Level;
  /** Authorization servers advertised in the metadata (e.g. the cluster's ServiceAccount issuer). */
  readonly authorizationServers?: readonly string[];
  /** Page size of resources/list. Default 100. */
  readonly resourcePageSize?: number;
  /** Scale attempts on Conflict. Default 3. */
  readonly maxScaleAttempts?: number;
  /**
   * HMAC key (≥ 32 bytes) of human-confirmation state and of 2025-era session ids; shared by every
   * replica. A function is asked at every sign and verify (the key may arrive or change while the
   * server runs). Default: random per process.
   */
  readonly confirmationKey?: Uint8Array | (() => Uint8Array);
  /** How long a 2025-era tools/call waits for the person's answer to elicitation/create. Default 120 s. */
  readonly confirmationTimeoutSeconds?: number;
  /** Questions waiting for an answer (2025-era) per caller, and in all; beyond them fail closed. Default 2 and 256. */
  readonly maxPendingConfirmations?: { readonly perCaller?: number; readonly total?: number };
  /** Clock (ms since epoch); injectable for tests. */
  readonly now?: () => number;
  /** serverInfo reported to clients. */
  readonly serverInfo?: { readonly name: string; readonly version: string };
  /** Write audit records (independent of the log level). Default true. */
  readonly audit?: boolean;
  /** Requests one caller (by username) may have in flight; beyond it 429. Default 8. */
  readonly maxInflightPerCaller?: number;
}

export interface McpAppDeps {
  /** Validates Bearer tokens (see createTokenReviewAuthenticator). */
  readonly authenticator: Authenticator;
  /** The current compiled policies; called once per request, so policy changes apply without restart. */
  readonly getIndex: () => PolicyIndex;
  /** The cluster, without policy. Only GuardedClients touch it. */
  readonly backend: ClusterBackend;
  readonly logger: Logger;
  /** Where the MCP metrics are registered. */
  readonly registry: Registry;
  /** Tracing (src/telemetry); default off. */
  readonly tracing?: Tracing;
  readonly options?: McpAppOptions;
}

/** Options with every default filled in (the one place defaults live). */
export interface ResolvedMcpAppOptions {
  readonly publicUrl: URL;
  readonly mcpUrl: string;
  readonly metadataUrl: string;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly bodyLimitBytes: number;
  readonly logLevel: Level | undefined;
  readonly authorizationServers: readonly string[];
  readonly resourcePageSize: number;
  readonly maxScaleAttempts: number;
  readonly confirmationKey: Uint8Array | (() => Uint8Array) | undefined;
  readonly confirmationTimeoutMs: number;
  readonly maxPendingConfirmations: { readonly perCaller?: number; readonly total?: number };
  readonly now: () => number;
  readonly serverInfo: { readonly name: string; readonly version: string };
  readonly audit: boolean;
  readonly maxInflightPerCaller: number;
}

export function resolveMcpAppOptions(options: McpAppOptions = {}): ResolvedMcpAppOptions {
  const publicUrl = new URL(options.publicUrl ?? DEFAULT_PUBLIC_URL);
  const base = `${publicUrl.origin}${publicUrl.pathname.replace(/\/+$/, '')}`;
  const allowedHosts = options.allowedHosts ?? [
    ...new Set([publicUrl.hostname, 'localhost', '127.0.0.1', '[::1]']),
  ];
  return {
    publicUrl,
    mcpUrl: `${base}${MCP_PATH}`,
    metadataUrl: `${publicUrl.origin}${PROTECTED_RESOURCE_METADATA_PATH}`,
    allowedHosts,
    allowedOrigins: options.allowedOrigins ?? allowedHosts,
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    logLevel: options.logLevel,
    authorizationServers: options.authorizationServers ?? [],
    resourcePageSize: options.resourcePageSize ?? DEFAULT_RESOURCE_PAGE_SIZE,
    maxScaleAttempts: options.maxScaleAttempts ?? 3,
    confirmationKey: options.confirmationKey,
    confirmationTimeoutMs:
      Math.max(1, options.confirmationTimeoutSeconds ?? DEFAULT_CONFIRMATION_TIMEOUT_SECONDS) * 1000,
    maxPendingConfirmations: options.maxPendingConfirmations ?? {},
    now: options.now ?? Date.now,
    serverInfo: options.serverInfo ?? { name: 'kubemcp', version: '0.1.0' },
    audit: options.audit ?? true,
    maxInflightPerCaller: Math.max(1, options.maxInflightPerCaller ?? DEFAULT_MAX_INFLIGHT_PER_CALLER),
  };
}
