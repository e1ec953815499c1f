/** The status the controller writes to an McpPolicy: observedGeneration, conditions, coverage. */

import { z } from 'zod';
import { LIMITS } from './constants.js';

export const ConditionSchema = z
  .strictObject({
    type: z
      .string()
      .min(1)
      .max(LIMITS.conditionType)
      .describe('Type of the condition. McpPolicy reports Ready, and Warnings for risky grants.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the condition was computed from.')
      .meta({ format: 'int64' }),
    lastTransitionTime: z.iso
      .datetime({ offset: true })
      .describe('When the condition last changed status (RFC 3339).'),
    reason: z
      .string()
      .min(1)
      .max(LIMITS.conditionReason)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe(
        'A CamelCase word for the last transition. For Ready: Accepted or Invalid. For Warnings: the warning codes, comma-separated (OperatorNamespace, EveryoneSubject, NamespaceServiceAccounts, ScaleToZero).',
      ),
    message: z
      .string()
      .max(LIMITS.conditionMessage)
      .describe('A sentence for people: why the policy is invalid, or a summary of what it grants.'),
  })
  .describe('A standard Kubernetes condition (metav1.Condition).');

export const McpPolicyStatusSchema = z
  .strictObject({
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the controller last compiled.')
      .meta({ format: 'int64' }),
    conditions: z
      .array(ConditionSchema)
      .max(LIMITS.conditions)
      .optional()
      .describe(
        "Conditions of the policy. Ready is True when the policy is valid and enforced (reason Accepted), False when it is invalid and grants nothing (reason Invalid). Warnings is present (True) while a Ready policy grants something risky: the operator's own namespace, a subject group meaning everyone, or scale tools with replicas.min 0 (its default); its reason lists the warning codes.",
      )
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    matchedNamespaces: z
      .number()
      .int()
      .min(0)
      .max(2_147_483_647)
      .optional()
      .describe('How many existing namespaces the policy covers now.')
      .meta({ format: 'int32' }),
  })
  .describe('What the controller observed: whether the policy is valid and enforced, and what it covers.');
