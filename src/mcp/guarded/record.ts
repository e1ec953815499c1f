import type { Decision, DecisionRequest } from '../../policy/types.js';
import { attr, type Span } from '../../telemetry/index.js';
import { ToolError } from '../errors.js';

/** One policy decision the client took, for the audit record. */
export interface DecisionRecord {
  readonly tool: string;
  readonly namespace?: string;
  readonly replicas?: number;
  readonly allowed: boolean;
  readonly code?: string;
  readonly policies: readonly string[];
}

/** The record of a decision of the engine on `request`. */
export function recordOf(request: DecisionRequest, decision: Decision): DecisionRecord {
  return {
    tool: request.tool,
    ...(request.namespace === undefined ? {} : { namespace: request.namespace }),
    ...(request.replicas === undefined ? {} : { replicas: request.replicas }),
    allowed: decision.allowed,
    ...(decision.code === undefined ? {} : { code: decision.code }),
    policies: decision.policies,
  };
}

/**
 * Ends a decision's span (tracing) with the decision as attributes: what the caller asked, allow or
 * deny, the code and reason the caller is told, and the policies that decided. Nothing about
 * namespaces the caller did not name.
 */
export function traceDecision(span: Span, decision: DecisionRecord, reason: string | undefined): void {
  if (span.recording) {
    span.setAttribute(attr.POLICY_TOOL, decision.tool);
    if (decision.namespace !== undefined) span.setAttribute(attr.K8S_NAMESPACE_NAME, decision.namespace);
    if (decision.replicas !== undefined) span.setAttribute(attr.POLICY_REPLICAS, decision.replicas);
    span.setAttribute(attr.POLICY_DECISION, decision.allowed ? 'allow' : 'deny');
    if (decision.code !== undefined) span.setAttribute(attr.POLICY_CODE, decision.code);
    if (reason !== undefined) span.setAttribute(attr.POLICY_REASON, reason);
    span.setAttribute(attr.POLICY_POLICIES, decision.policies);
  }
  span.end();
}

/** The answer to a call the engine refused: OutOfBounds or PolicyDenied, with its reason and hints. */
export function policyRefusal(request: DecisionRequest, decision: Decision): ToolError {
  const where = request.namespace === undefined ? '' : ` in namespace "${request.namespace}"`;
  if (decision.code === 'OutOfBounds') {
    return new ToolError('OutOfBounds', `${request.replicas} replicas is outside what you may set${where}`, {
      reason: decision.reason,
      suggestions: decision.suggestions,
    });
  }
  return new ToolError('PolicyDenied', `You may not use ${request.tool}${where}`, {
    reason: decision.reason,
    suggestions: [...decision.suggestions, 'Call get_permissions to see what you may do'],
  });
}
