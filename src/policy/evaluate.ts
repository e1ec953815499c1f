/**
 * Decisions over a compiled PolicyIndex. Pure, and cheap: a decision looks only at the grants of the
 * caller's user name and groups (map look-ups), never at every policy.
 *
 * Semantics (docs/contract.md): deny by default; a call is allowed iff some Ready policy has a subject
 * matching the caller, a tool pattern matching the tool, covers the namespace and, for a scale_* tool
 * given a replica count R, has min <= R <= max. Grants add up (union).
 */

import { MAX_REPLICAS } from '../api/v1alpha1/constants.js';
import { DNS_LABEL } from '../api/v1alpha1/kinds.js';
import type { CompiledGrant, PolicyIndex } from './compile.js';
import { ALWAYS_ALLOWED_TOOLS, isAlwaysAllowedTool, isKnownTool, isScaleTool, KNOWN_TOOLS } from './tools.js';
import type { Caller, Decision, DecisionRequest, Grant, Permissions } from './types.js';

const NO_POLICIES: readonly string[] = Object.freeze([]);
const NO_SUGGESTIONS: readonly string[] = Object.freeze([]);
const GET_PERMISSIONS_HINT = 'Call get_permissions to see the tools and namespaces you may use.';

/** The longest namespace name (a DNS label). */
export const MAX_NAMESPACE_LENGTH = 63;

/** Whether `name` can be a namespace name at all: a DNS label of at most 63 characters. */
export function isNamespaceName(name: string): boolean {
  return name.length <= MAX_NAMESPACE_LENGTH && DNS_LABEL.test(name);
}

/** A caller's string for a message: at most `max` characters, JSON-quoted. */
export function shown(text: string, max = MAX_NAMESPACE_LENGTH): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** Whether the grant covers the namespace: "*", an existing namespace it covers, or (for a namespace
 * the index does not know yet) an exact name or glob. Selectors only ever cover existing namespaces. */
function covers(index: PolicyIndex, grant: CompiledGrant, namespace: string): boolean {
  if (grant.allNamespaces || grant.coveredNamespaces.has(namespace)) return true;
  // coveredNamespaces already holds every known namespace the names and globs match: skip them.
  if (index.namespaces.has(namespace)) return false;
  if (grant.exactNamespaces.has(namespace)) return true;
  for (const glob of grant.namespaceGlobs) if (glob(namespace)) return true;
  return false;
}

/**
 * Names policies by kind, for a decision's reason: "McpPolicy a, b" and "McpNamespacePolicy
 * team-a/c" (an id with a "/" is an McpNamespacePolicy's `namespace/name`).
 */
export function describePolicies(ids: readonly string[]): string {
  const cluster = ids.filter((id) => !id.includes('/'));
  const namespaced = ids.filter((id) => id.includes('/'));
  const parts: string[] = [];
  if (cluster.length > 0) parts.push(`McpPolicy ${cluster.join(', ')}`);
  if (namespaced.length > 0) parts.push(`McpNamespacePolicy ${namespaced.join(', ')}`);
  return parts.join(' and ');
}

function withinBounds(grant: CompiledGrant, replicas: number): boolean {
  const bounds = grant.replicas;
  return bounds !== undefined && bounds.min <= replicas && replicas <= bounds.max;
}

/** A replica count a scale request may carry at all: a whole number from 0 to MAX_REPLICAS. */
export function isValidReplicaCount(replicas: number): boolean {
  return Number.isSafeInteger(replicas) && replicas >= 0 && replicas <= MAX_REPLICAS;
}

function pushOnce(list: string[] | undefined, name: string): string[] {
  if (!list) return [name];
  if (!list.includes(name)) list.push(name);
  return list;
}

/** Merged, sorted replica ranges of the grants, as one hint: "replicas must be between 1 and 10 or between 20 and 30". */
function rangesHint(grants: readonly CompiledGrant[]): string | undefined {
  const ranges = grants
    .flatMap((g) => (g.replicas ? [{ min: g.replicas.min, max: g.replicas.max }] : []))
    .sort((a, b) => a.min - b.min || a.max - b.max);
  const merged: { min: number; max: number }[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.min <= last.max + 1) last.max = Math.max(last.max, r.max);
    else merged.push({ ...r });
  }
  if (merged.length === 0) return undefined;
  return `replicas must be ${merged.map((r) => `between ${r.min} and ${r.max}`).join(' or ')}`;
}

function deny(
  code: 'PolicyDenied' | 'OutOfBounds',
  policies: readonly string[],
  reason: string,
  suggestions: readonly string[],
): Decision {
  return { allowed: false, code, policies, reason, suggestions };
}

/**
 * Decides one request. `namespace` is omitted for tools that are not namespaced, and for a question
 * about all namespaces ("may the caller use list_pods anywhere?"); use {@link namespaceFilter} to
 * filter rows then. `replicas` is checked against the bounds for scale_* tools; when it is omitted,
 * bounds are not checked (the MCP layer always passes it for a scale call). A replicas value that is
 * not a whole number from 0 to 10000 is always denied (OutOfBounds).
 */
export function evaluate(index: PolicyIndex, req: DecisionRequest): Decision {
  const { caller, tool, namespace, replicas } = req;
  // No name that cannot exist is ever matched against a grant's globs (and none is echoed in full).
  if (namespace !== undefined && !isNamespaceName(namespace)) {
    return deny('PolicyDenied', NO_POLICIES, `${shown(namespace)} is not a valid namespace name.`, [
      `A namespace name is a DNS label: at most ${MAX_NAMESPACE_LENGTH} lowercase letters, digits and "-", starting and ending with a letter or digit.`,
    ]);
  }
  const where = namespace === undefined ? '' : ` in namespace ${namespace}`;

  if (!isKnownTool(tool)) {
    return deny('PolicyDenied', NO_POLICIES, `${JSON.stringify(tool)} is not a tool this server has.`, [
      `Known tools: ${KNOWN_TOOLS.join(', ')}.`,
    ]);
  }
  if (replicas !== undefined && !isValidReplicaCount(replicas)) {
    return deny('OutOfBounds', NO_POLICIES, `replicas ${String(replicas)} is not a valid replica count.`, [
      `replicas must be a whole number between 0 and ${MAX_REPLICAS}`,
    ]);
  }
  if (isAlwaysAllowedTool(tool)) {
    return {
      allowed: true,
      policies: NO_POLICIES,
      reason: `${tool} is available to every authenticated caller.`,
      suggestions: NO_SUGGESTIONS,
    };
  }

  // Bounds apply to scale tools only; other tools take no replica count.
  const bound = isScaleTool(tool) ? replicas : undefined;
  let allowedBy: string[] | undefined;
  let outOfBounds: CompiledGrant[] | undefined;
  let otherNamespaces: string[] | undefined;

  const visit = (grants: readonly CompiledGrant[] | undefined): void => {
    if (!grants) return;
    for (const grant of grants) {
      if (!grant.tools.has(tool)) continue;
      if (namespace !== undefined && !covers(index, grant, namespace)) {
        otherNamespaces = pushOnce(otherNamespaces, grant.policy);
      } else if (bound !== undefined && !withinBounds(grant, bound)) {
        if (!outOfBounds) outOfBounds = [grant];
        else if (!outOfBounds.includes(grant)) outOfBounds.push(grant);
      } else {
        allowedBy = pushOnce(allowedBy, grant.policy);
      }
    }
  };
  visit(index.grantsByUser.get(caller.username));
  for (const group of caller.groups) visit(index.grantsByGroup.get(group));

  if (allowedBy) {
    return {
      allowed: true,
      policies: allowedBy,
      reason: `${describePolicies(allowedBy)} grants ${tool}${where}.`,
      suggestions: NO_SUGGESTIONS,
    };
  }
  if (outOfBounds) {
    const hint = rangesHint(outOfBounds);
    return deny(
      'OutOfBounds',
      outOfBounds.map((g) => g.policy),
      `replicas ${replicas} is outside the bounds your McpPolicies allow for ${tool}${where}.`,
      hint ? [hint] : [`no McpPolicy sets replica bounds for ${tool}${where}`],
    );
  }
  if (otherNamespaces) {
    return deny(
      'PolicyDenied',
      otherNamespaces,
      `The McpPolicies that grant ${caller.username} ${tool} do not cover namespace ${namespace}.`,
      [GET_PERMISSIONS_HINT, `Ask a cluster admin to add namespace ${namespace} to one of them.`],
    );
  }
  return deny('PolicyDenied', NO_POLICIES, `No McpPolicy grants ${caller.username} ${tool}${where}.`, [
    GET_PERMISSIONS_HINT,
    `Ask a cluster admin for an McpPolicy that grants ${tool}${where} to ${caller.username}.`,
  ]);
}

/** The caller's Ready grants, each policy once, sorted by policy name. */
function callerGrants(index: PolicyIndex, caller: Caller): CompiledGrant[] {
  const seen = new Set<CompiledGrant>();
  for (const grant of index.grantsByUser.get(caller.username) ?? []) seen.add(grant);
  for (const group of caller.groups)
    for (const grant of index.grantsByGroup.get(group) ?? []) seen.add(grant);
  return [...seen].sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
}

/** Concrete tool names the caller may call somewhere (plus the always-available ones), for `tools/list`. */
export function grantedTools(index: PolicyIndex, caller: Caller): ReadonlySet<string> {
  const tools = new Set<string>(ALWAYS_ALLOWED_TOOLS);
  const collect = (grants: readonly CompiledGrant[] | undefined): void => {
    if (grants) for (const grant of grants) for (const tool of grant.toolList) tools.add(tool);
  };
  collect(index.grantsByUser.get(caller.username));
  for (const group of caller.groups) collect(index.grantsByGroup.get(group));
  return tools;
}

const ALWAYS = (): boolean => true;
const NEVER = (): boolean => false;

/**
 * A predicate over namespace names: true exactly where `evaluate` would allow `tool` for the caller
 * (bounds aside). Built once per request; each call then costs a few set look-ups.
 */
export function namespaceFilter(
  index: PolicyIndex,
  caller: Caller,
  tool: string,
): (namespace: string) => boolean {
  if (!isKnownTool(tool)) return NEVER;
  if (isAlwaysAllowedTool(tool)) return ALWAYS;
  const relevant: CompiledGrant[] = [];
  for (const grant of callerGrants(index, caller)) {
    if (!grant.tools.has(tool)) continue;
    if (grant.allNamespaces) return ALWAYS;
    relevant.push(grant);
  }
  return coverFilter(index, relevant);
}

/** A predicate over namespace names: true where at least one of `grants` covers the namespace. */
export function coverFilter(
  index: PolicyIndex,
  grants: readonly CompiledGrant[],
): (namespace: string) => boolean {
  if (grants.length === 0) return NEVER;
  if (grants.some((g) => g.allNamespaces)) return ALWAYS;
  return (namespace) => {
    for (const grant of grants) if (covers(index, grant, namespace)) return true;
    return false;
  };
}

/** What the caller may do, for `get_permissions` and `kubemcp check`. */
export function permissions(index: PolicyIndex, caller: Caller): Permissions {
  const grants: Grant[] = callerGrants(index, caller).map((g) => ({
    policy: g.policy,
    ...(g.policyNamespace === undefined ? {} : { policyNamespace: g.policyNamespace }),
    tools: g.toolList,
    allNamespaces: g.allNamespaces,
    namespaces: g.allNamespaces ? [] : [...g.coveredNamespaces].sort(),
    namespacePatterns: g.namespacePatterns,
    ...(g.namespaceSelector === undefined ? {} : { namespaceSelector: g.namespaceSelector }),
    ...(g.replicas === undefined ? {} : { replicas: g.replicas }),
    ...(g.limits === undefined ? {} : { limits: g.limits }),
  }));
  return { caller, tools: [...grantedTools(index, caller)].sort(), grants };
}
