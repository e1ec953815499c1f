import type { AuthInfo } from '@modelcontextprotocol/server';
import type { Caller } from '../../policy/types.js';
import type { Span } from '../../telemetry/index.js';

/**
 * What the request path knows about one authenticated request. Built once, by the gate, right after
 * authentication; every later step gets it as an argument, and the SDK's server factory gets the very
 * same object inside AuthInfo.extra (the one way the SDK lets a request carry data to it).
 */
export interface RequestContext {
  /** Ours, never the caller's. */
  readonly requestId: string;
  /** The caller's X-Request-Id, sanitised (audit only). */
  readonly clientRequestId: string | undefined;
  readonly caller: Caller;
  /** The request's server span (the no-op span when tracing is off). */
  readonly span: Span;
  /** Token expiry, seconds since epoch, when known. */
  readonly expiresAt: number | undefined;
  /** In-flight slots of its caller this request holds: 1, more for a batch. */
  slots: number;
}

const CONTEXT_KEY = 'kubemcp';

/** The SDK's view of the request: the identity, never the credential, and the context. */
export function authInfoOf(context: RequestContext): AuthInfo {
  return {
    token: '[redacted]',
    clientId: context.caller.username,
    scopes: [],
    ...(context.expiresAt === undefined ? {} : { expiresAt: context.expiresAt }),
    extra: { [CONTEXT_KEY]: context },
  };
}

/** The context the gate built, back from the AuthInfo the SDK hands its server factory. */
export function contextOf(authInfo: AuthInfo | undefined): RequestContext | undefined {
  const ctx = authInfo?.extra?.[CONTEXT_KEY] as RequestContext | undefined;
  return ctx !== undefined && typeof ctx.requestId === 'string' && typeof ctx.caller === 'object'
    ? ctx
    : undefined;
}
