/**
 * Span and attribute names. Standard names (HTTP, MCP, GenAI, Kubernetes semantic conventions) are
 * copied here rather than imported: most are still "incubating" in @opentelemetry/semantic-conventions,
 * whose authors advise copying those, and this module must load nothing when tracing is off. A unit
 * test checks each standard name against the package. `kubemcp.*` names are our own.
 */

// Semantic conventions.
export const HTTP_REQUEST_METHOD = 'http.request.method';
export const HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const HTTP_ROUTE = 'http.route';
export const URL_TEMPLATE = 'url.template';
export const SERVER_ADDRESS = 'server.address';
export const ERROR_TYPE = 'error.type';
export const MCP_METHOD_NAME = 'mcp.method.name';
export const MCP_PROTOCOL_VERSION = 'mcp.protocol.version';
export const MCP_RESOURCE_URI = 'mcp.resource.uri';
export const JSONRPC_REQUEST_ID = 'jsonrpc.request.id';
export const GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const USER_NAME = 'user.name';
export const K8S_NAMESPACE_NAME = 'k8s.namespace.name';

// KubeMCP's own.
/** Our request id (the X-Request-Id response header and the audit record's requestId). */
export const REQUEST_ID = 'kubemcp.request_id';
/** Messages in a JSON-RPC batch (2025-03-26 clients only). */
export const BATCH_SIZE = 'kubemcp.batch_size';
/** A tool call's outcome: ok or its error code (as in the audit record). */
export const OUTCOME = 'kubemcp.outcome';
/** TokenReview cache: hit, miss, or joined (another request was already reviewing the same token). */
export const AUTH_CACHE = 'kubemcp.auth.cache';
/** ok, or the failure reason (invalid_token, expired, wrong_audience, unavailable, busy). */
export const AUTH_RESULT = 'kubemcp.auth.result';
export const POLICY_TOOL = 'kubemcp.policy.tool';
export const POLICY_REPLICAS = 'kubemcp.policy.replicas';
/** allow or deny. */
export const POLICY_DECISION = 'kubemcp.policy.decision';
/** The refusal code (PolicyDenied, OutOfBounds, RateLimited, …) of a deny. */
export const POLICY_CODE = 'kubemcp.policy.code';
/** The engine's reason, as the caller is told it. */
export const POLICY_REASON = 'kubemcp.policy.reason';
/** The McpPolicies that allowed (or, for limits, decided) it. */
export const POLICY_POLICIES = 'kubemcp.policy.policies';
/** Where a Kubernetes read came from: cache (the watch caches) or api (a request to the API server). */
export const KUBE_SOURCE = 'kubemcp.kube.source';
/** The resource of a Kubernetes access, e.g. deployments, deployments/scale, tokenreviews. */
export const KUBE_RESOURCE = 'kubemcp.kube.resource';
/** Objects a cache read returned to the caller (after the policy's namespace filter). */
export const KUBE_ITEMS = 'kubemcp.kube.items';
/** Whether the cache had synced and its watch was connected. */
export const KUBE_CACHE_SYNCED = 'kubemcp.kube.cache_synced';
export const KUBE_CACHE_CONNECTED = 'kubemcp.kube.cache_connected';
/** The Event's reason (Scaled) and whether it was written. */
export const EVENT_REASON = 'kubemcp.event.reason';
export const EVENT_RECORDED = 'kubemcp.event.recorded';

// Span names of our own (HTTP client spans are named "<METHOD> <resource>").
export const SPAN_AUTHENTICATE = 'kubemcp.authenticate';
export const SPAN_POLICY = 'kubemcp.policy';
export const SPAN_CACHE_READ = 'kubemcp.cache.read';
export const SPAN_EVENT = 'kubemcp.event';
