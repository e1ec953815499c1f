import { performance } from 'node:perf_hooks';
import type {
  CallToolResult,
  InputRequiredResult,
  RequestStateCodec,
  Tool,
} from '@modelcontextprotocol/server';
import {
  isInputRequiredResult,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  Server,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import { BackendError } from '../kube/types.js';
import { isAlwaysAllowedTool } from '../policy/tools.js';
import type { Caller, Permissions } from '../policy/types.js';
import { attr, NOOP_SPAN, type Span } from '../telemetry/index.js';
import {
  type AuditEntry,
  type AuditedMethod,
  type Auditor,
  type AuditSafety,
  summariseDecisions,
  summariseListDecisions,
} from './audit.js';
import { ToolError, toolErrorResult, toToolError } from './errors.js';
import type { CallArguments, GuardedClient } from './guarded.js';
import { listResources, listResourceTemplates, readResource } from './resources.js';
import type { Confirmer } from './safety/confirm.js';
import {
  type ConfirmationNote,
  type ConfirmationState,
  confirmerFor,
  InputNeeded,
  type LegacyElicitation,
} from './safety/elicit.js';
import { advertisedOutputSchema, findTool, invalidArguments, TOOLS, type ToolDefinition } from './tools.js';

/**
 * Builds the MCP server that answers ONE request for ONE caller. It is created per request by the
 * HTTP layer's factory (stateless: any replica answers any request), with a GuardedClient bound to
 * the caller and to the policy index snapshot of this request.
 *
 * The low-level `Server` is used rather than `McpServer` on purpose: tools/list varies by caller
 * (which tools, and descriptions/schemas stating the caller's bounds), the schema we validate with
 * differs from the one we advertise for scale tools (so an out-of-bounds count is answered with
 * OutOfBounds, not a schema error), invalid arguments become structured `Invalid` results, and
 * resources/list needs cursor pagination — none of which McpServer's registration API offers.
 */

export interface RequestScope {
  /** Our id of the HTTP request. */
  readonly requestId: string;
  /** The caller's X-Request-Id, sanitised, for the audit only. */
  readonly clientRequestId?: string | undefined;
  readonly caller: Caller;
  readonly client: GuardedClient;
  /** The request's server span (tracing); it gets each call's outcome. Default: the no-op span. */
  readonly span?: Span;
  readonly now: () => number;
  readonly auditor: Auditor;
  readonly logger: Logger;
  readonly resourcePageSize: number;
  /** Signs the requestState of human confirmations (2026-07-28); absent: confirmations fail closed. */
  readonly confirmationCodec?: RequestStateCodec<ConfirmationState>;
  /** 2025-era requests: what the client declared and where answers come back; absent: fail closed. */
  readonly legacyElicitation?: Omit<LegacyElicitation, 'send'>;
  /** Learns how each confirmation went (metrics). */
  readonly onConfirmation?: (note: ConfirmationNote) => void;
}

export const SERVER_INSTRUCTIONS =
  'KubeMCP gives you policy-limited access to a Kubernetes cluster. Call get_permissions first to see ' +
  'which tools you may use, in which namespaces and within which replica bounds. Lists are compact, ' +
  'paginated (pass nextCursor back as `continue`) and may carry a staleness warning. Refusals come back ' +
  'as tool results with structuredContent.error = {code, message, reason, suggestions}.';

const JSON_SCHEMA_TARGET = 'draft-2020-12';

/** Drops the safe-integer bounds zod adds to every integer: noise for a model reading the schema. */
function dropSafeIntegerBounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(dropSafeIntegerBounds);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'minimum' && v === Number.MIN_SAFE_INTEGER) continue;
    if (k === 'maximum' && v === Number.MAX_SAFE_INTEGER) continue;
    out[k] = dropSafeIntegerBounds(v);
  }
  return out;
}

/** JSON Schema for a tool schema; MCP wants an object root, stated explicitly. */
function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = dropSafeIntegerBounds(z.toJSONSchema(schema, { target: JSON_SCHEMA_TARGET, io })) as Record<
    string,
    unknown
  >;
  return json.type === undefined ? { type: 'object', ...json } : json;
}

const outputSchemaCache = new Map<string, Record<string, unknown>>();
function outputJsonSchema(def: ToolDefinition): Record<string, unknown> {
  let json = outputSchemaCache.get(def.name);
  if (json === undefined) {
    json = toJsonSchema(advertisedOutputSchema(def), 'output');
    outputSchemaCache.set(def.name, json);
  }
  return json;
}
const inputSchemaCache = new Map<string, Record<string, unknown>>();
function inputJsonSchema(def: ToolDefinition, permissions: Permissions): Record<string, unknown> {
  if (def.advertisedInputSchema !== undefined)
    return toJsonSchema(def.advertisedInputSchema(permissions), 'input');
  let json = inputSchemaCache.get(def.name);
  if (json === undefined) {
    json = toJsonSchema(def.inputSchema, 'input');
    inputSchemaCache.set(def.name, json);
  }
  return json;
}

/** The tools/list entry of one tool for one caller. */
export function describeTool(def: ToolDefinition, permissions: Permissions): Tool {
  return {
    name: def.name,
    title: def.title,
    description: def.description(permissions),
    inputSchema: inputJsonSchema(def, permissions) as Tool['inputSchema'],
    outputSchema: outputJsonSchema(def) as Tool['outputSchema'],
    annotations: { title: def.title, ...def.annotations },
  };
}

/** The tools this caller sees: those its policies grant, plus get_permissions. */
export function visibleTools(client: GuardedClient): ToolDefinition[] {
  const granted = client.grantedTools();
  return TOOLS.filter((t) => granted.has(t.name) || isAlwaysAllowedTool(t.name));
}

export function buildMcpServer(scope: RequestScope, info: { name: string; version: string }): Server {
  const server = new Server(info, {
    capabilities: { tools: { listChanged: false }, resources: { listChanged: false } },
    instructions: SERVER_INSTRUCTIONS,
    // A confirmation's requestState comes back from the client: verified (HMAC, expiry) before the handler runs.
    ...(scope.confirmationCodec === undefined
      ? {}
      : { requestState: { verify: scope.confirmationCodec.verify } }),
    // Lists and reads depend on who asks: never share them between callers.
    cacheHints: {
      'tools/list': { ttlMs: 0, cacheScope: 'private' },
      'resources/list': { ttlMs: 0, cacheScope: 'private' },
      'resources/templates/list': { ttlMs: 0, cacheScope: 'private' },
      'resources/read': { ttlMs: 0, cacheScope: 'private' },
    },
  });

  server.setRequestHandler('tools/list', () => {
    const permissions = scope.client.permissions();
    return { tools: visibleTools(scope.client).map((t) => describeTool(t, permissions)) };
  });

  server.setRequestHandler('tools/call', async (request, ctx) => {
    const { name, arguments: args } = request.params;
    const def = findTool(name);
    if (def === undefined) refuseUnknownTool(scope, name, args);
    let note: ConfirmationNote | undefined;
    const legacy = legacyElicitationOf(scope, server, ctx.mcpReq.id);
    const confirmer =
      scope.confirmationCodec === undefined
        ? undefined
        : confirmerFor(ctx, scope.confirmationCodec, legacy, (n) => {
            note = n;
            scope.onConfirmation?.(n);
          });
    const result = await callTool(scope, def, args, confirmer, () => note);
    if (isInputRequiredResult(result)) return result;
    return server.projectCallToolResult(result, outputJsonSchema(def));
  });

  server.setRequestHandler('resources/list', (request) => {
    const cursor = request.params?.cursor;
    return audited(scope, 'resources/list', { cursor: cursor !== undefined }, async (client) => {
      await client.admitReads(); // RBAC second key (no-op unless a policy sets it)
      return listResources(client, cursor, { pageSize: scope.resourcePageSize, now: scope.now() });
    });
  });
  server.setRequestHandler('resources/templates/list', () => listResourceTemplates());
  server.setRequestHandler('resources/read', (request) => {
    const uri = request.params.uri;
    // The RBAC second key, when it applies, is reviewed for the URI's kind and namespace only,
    // once the URI parses (GuardedClient.getReadable).
    return audited(scope, 'resources/read', { uri }, (client) => readResource(client, uri));
  });

  return server;
}

/** Longest tool name repeated in an audit record or an error message. */
const MAX_AUDITED_TOOL_CHARS = 128;

/** A tools/call of a tool that does not exist: audited and traced (probing leaves a trace too), then a protocol error. */
function refuseUnknownTool(scope: RequestScope, name: string, args: unknown): never {
  const shown = name.length > MAX_AUDITED_TOOL_CHARS ? `${name.slice(0, MAX_AUDITED_TOOL_CHARS)}…` : name;
  scope.auditor.record({
    requestId: scope.requestId,
    clientRequestId: scope.clientRequestId,
    caller: scope.caller,
    method: 'tools/call',
    tool: shown,
    arguments: args,
    decision: 'none',
    policies: [],
    outcome: 'UnknownTool',
    durationMs: 0,
  });
  traceOutcome(scope, 'UnknownTool');
  throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${shown}`);
}

/**
 * The 2025-era elicitation of one tools/call, when the request has one: it sends on this call's own
 * SSE response (the transport routes by the related request id).
 */
function legacyElicitationOf(
  scope: RequestScope,
  server: Server,
  relatedRequestId: string | number,
): LegacyElicitation | undefined {
  if (scope.legacyElicitation === undefined) return undefined;
  return {
    ...scope.legacyElicitation,
    send: async (message) => {
      const transport = server.transport;
      if (transport === undefined) throw new Error('the request is no longer connected');
      await transport.send(message, { relatedRequestId });
    },
  };
}

/** The audit outcome of a protocol error thrown by a resource handler. */
function protocolOutcome(err: unknown): string {
  if (err instanceof ResourceNotFoundError) return 'NotFound';
  if (err instanceof ProtocolError) {
    if (err.code === ProtocolErrorCode.InvalidParams) return 'Invalid';
    return `JsonRpc${err.code}`;
  }
  if (err instanceof ToolError || err instanceof BackendError) return toToolError(err, 'the request').code;
  return 'Internal';
}

/** Runs one resource request with its own GuardedClient and writes its audit record. */
async function audited<T>(
  scope: RequestScope,
  method: Exclude<AuditedMethod, 'tools/call'>,
  what: { uri?: string; cursor?: boolean },
  run: (client: GuardedClient) => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const client = scope.client.forCall();
  let outcome = 'ok';
  try {
    return await run(client);
  } catch (err) {
    outcome = protocolOutcome(err);
    throw err;
  } finally {
    traceOutcome(scope, outcome, outcome);
    const { decision, policies } =
      method === 'resources/list'
        ? summariseListDecisions(client.decisions)
        : summariseDecisions(method, client.decisions);
    scope.auditor.record({
      requestId: scope.requestId,
      clientRequestId: scope.clientRequestId,
      caller: scope.caller,
      method,
      ...what,
      decision,
      policies,
      outcome,
      durationMs: performance.now() - started,
    });
  }
}

/** Validates, runs, audits. Every refusal or failure becomes an isError result with a stable code. */
async function callTool(
  scope: RequestScope,
  def: ToolDefinition,
  args: unknown,
  confirmer?: Confirmer,
  confirmation?: () => ConfirmationNote | undefined,
): Promise<CallToolResult | InputRequiredResult> {
  const started = performance.now();
  // A client of its own: the calls of one HTTP request (a JSON-RPC batch) may run concurrently, and
  // each audit record must carry exactly the decisions of its own call.
  const client = scope.client.forCall();
  if (confirmer !== undefined) client.setConfirmer(confirmer);
  let result: CallToolResult;
  let outcome = 'ok';
  let safety: AuditSafety = {};
  const audit = (
    entry: Pick<AuditEntry, 'decision' | 'policies' | 'outcome' | 'dryRun' | 'confirmedVia'>,
  ) => {
    const note = confirmation?.();
    scope.auditor.record({
      requestId: scope.requestId,
      clientRequestId: scope.clientRequestId,
      caller: scope.caller,
      method: 'tools/call',
      tool: def.name,
      arguments: args,
      durationMs: performance.now() - started,
      ...entry,
      ...(note === undefined ? {} : { confirmation: note }),
    });
  };
  try {
    const parsed = def.inputSchema.safeParse(args ?? {});
    if (!parsed.success) throw invalidArguments(def.name, parsed.error);
    safety = auditSafetyOf(parsed.data);
    // Agent safety: rate limits (a no-op unless a policy sets limits).
    // The call's one decision, its rate limits and its RBAC second key (src/mcp/guarded/client.ts).
    await client.admit(def.name, callArguments(parsed.data));
    const out = await def.handler(parsed.data, { client, now: scope.now() });
    safety = { ...safety, ...auditSafetyOf(out.structured) };
    result = {
      content: [{ type: 'text', text: out.text }],
      structuredContent: out.structured as Record<string, unknown>,
    };
  } catch (err) {
    if (err instanceof InputNeeded) {
      // A human must confirm: answer input_required (2026-07-28); the client retries with the answer.
      audit({ ...summariseDecisions(def.name, client.decisions), outcome: 'InputRequired' });
      traceOutcome(scope, 'InputRequired');
      return err.result;
    }
    const toolError = toToolError(err, `the ${def.name} call`);
    if (!(err instanceof ToolError) && !(err instanceof BackendError)) {
      scope.logger.error(
        { err, requestId: scope.requestId, tool: def.name },
        'tool handler failed unexpectedly',
      );
    }
    outcome = toolError.code;
    result = toolErrorResult(toolError);
  }
  audit({ ...summariseDecisions(def.name, client.decisions), outcome, ...safety });
  traceOutcome(scope, outcome);
  return result;
}

/**
 * A call's outcome on the request's span: `kubemcp.outcome`, and for a refusal or failure status
 * ERROR with the code as description and `error.type` tool_error for a tool (the MCP semantic
 * conventions' value for an isError result), the code for a resource request. InputRequired is not
 * a failure. In a JSON-RPC batch the last call's outcome stays.
 */
function traceOutcome(scope: RequestScope, outcome: string, errorType = 'tool_error'): void {
  const span = scope.span ?? NOOP_SPAN;
  span.setAttribute(attr.OUTCOME, outcome);
  if (outcome !== 'ok' && outcome !== 'InputRequired') span.fail(errorType, outcome);
}

/** The arguments of a tool call the policy judges: its namespace and replica count, when it has them. */
function callArguments(input: unknown): CallArguments {
  const { namespace, replicas } = (input ?? {}) as { namespace?: unknown; replicas?: unknown };
  return {
    ...(typeof namespace === 'string' ? { namespace } : {}),
    ...(typeof replicas === 'number' ? { replicas } : {}),
  };
}

/** Audit fields of agent safety, read from a call's input or result: dry run, human confirmation. */
function auditSafetyOf(data: unknown): AuditSafety {
  if (typeof data !== 'object' || data === null) return {};
  const { dryRun, confirmation } = data as { dryRun?: unknown; confirmation?: { via?: unknown } };
  return {
    ...(dryRun === true ? { dryRun: true as const } : {}),
    ...(typeof confirmation?.via === 'string' ? { confirmedVia: confirmation.via } : {}),
  };
}
