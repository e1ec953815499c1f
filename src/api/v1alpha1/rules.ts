/**
 * What the schema's two checks share: every cross-field rule exists twice, side by side, as a zod
 * refinement (what the controller and `kubemcp check` enforce) and as a CEL rule in
 * `x-kubernetes-validations` (what the API server enforces on `kubectl apply`), both with the same
 * message from RULE_MESSAGES.
 */

import { MAX_PATTERN_STARS } from './patterns.js';
import { SCALE_TOOL_PREFIX } from './tools.js';

/** A CEL rule as the CRD's `x-kubernetes-validations` holds it. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  readonly fieldPath?: string;
  readonly reason?:
    | 'FieldValueInvalid'
    | 'FieldValueForbidden'
    | 'FieldValueRequired'
    | 'FieldValueDuplicate';
}

export function cel(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** The messages of the cross-field rules, shared by the zod refinements and the CEL rules. */
export const RULE_MESSAGES = {
  serviceAccountNeedsNamespace: 'a ServiceAccount subject needs a namespace',
  namespaceOnlyForServiceAccount:
    'only ServiceAccount subjects have a namespace: remove namespace from User and Group subjects',
  namesOrSelector: 'namespaces needs names, a selector, or both',
  minAboveMax: 'replicas.min must not be greater than replicas.max',
  scaleNeedsReplicas: `a policy whose tools can match a ${SCALE_TOOL_PREFIX}* tool (e.g. "scale_deployment", "scale_*" or "*") needs replicas bounds: set replicas.max (and optionally replicas.min)`,
  expressionValues: 'operators In and NotIn need at least one value; Exists and DoesNotExist take no values',
  tooManyStars: `a pattern has at most ${MAX_PATTERN_STARS} * wildcards`,
  // Agent safety (v0.2).
  confirmNeedsARule: 'confirm needs at least one of scaleToZero, above or stepAbove',
  scaleLimitsNeedReplicas:
    'cooldownSeconds and confirm limit scale tools: grant a scale_* tool (with replicas bounds) or remove them',
} as const;
