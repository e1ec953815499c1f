/**
 * The test manifest of `kubemcp test` (a file named kubemcp-test.yaml), version
 * `cli.kubemcp.io/v1alpha1`, kind `PolicyTest`: which McpPolicy files it covers, the Namespaces (and
 * their labels, for selectors) the policies are compiled with, and cases. The group is not the
 * McpPolicy group on purpose: a PolicyTest is read by the CLI only, never served by an API server, so
 * `kubectl apply` of one fails instead of looking like an API object (docs/policy-testing.md).
 */

import { z } from 'zod';
import { MAX_REPLICAS } from '../api/v1alpha1/constants.js';
import { KNOWN_TOOLS } from '../api/v1alpha1/tools.js';

export const TEST_API_VERSION = 'cli.kubemcp.io/v1alpha1';
export const TEST_KIND = 'PolicyTest';

/** What a case may expect a refusal to be: the codes `kubemcp test` can decide offline. */
export const OFFLINE_DENIAL_CODES = ['PolicyDenied', 'OutOfBounds', 'ConfirmationRequired'] as const;
export type OfflineDenialCode = (typeof OFFLINE_DENIAL_CODES)[number];

const replicaCount = z
  .number()
  .int('must be a whole number')
  .min(0, 'must be at least 0')
  .max(MAX_REPLICAS, `must be at most ${MAX_REPLICAS}`);

export const TestCallerSchema = z
  .strictObject({
    user: z.string().min(1).optional().describe('A user name, or system:serviceaccount:NAMESPACE:NAME.'),
    serviceAccount: z
      .string()
      .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'a serviceAccount is NAMESPACE/NAME')
      .optional()
      .describe('NAMESPACE/NAME of a ServiceAccount; its implicit groups are added.'),
    groups: z.array(z.string().min(1)).optional().describe('Groups of the caller (implicit ones are added).'),
  })
  .refine((c) => (c.user === undefined) !== (c.serviceAccount === undefined), {
    error: 'a caller has exactly one of user and serviceAccount',
  });

export const TestCaseSchema = z
  .strictObject({
    name: z.string().min(1, 'a case needs a name'),
    caller: TestCallerSchema,
    tool: z.enum(KNOWN_TOOLS),
    namespace: z.string().min(1).optional(),
    replicas: replicaCount.optional(),
    currentReplicas: replicaCount
      .optional()
      .describe('The replica count before a scale, where maxStep or confirm.stepAbove need it.'),
    expect: z.enum(['allow', 'deny']),
    code: z.enum(OFFLINE_DENIAL_CODES).optional().describe('With expect: deny, the code of the refusal.'),
    policy: z
      .string()
      .min(1)
      .optional()
      .describe('With expect: allow, a policy that must be among those allowing it.'),
  })
  .superRefine((c, ctx) => {
    if (c.expect === 'allow' && c.code !== undefined)
      ctx.addIssue({ code: 'custom', path: ['code'], message: 'code goes with expect: deny' });
    if (c.expect === 'deny' && c.policy !== undefined)
      ctx.addIssue({ code: 'custom', path: ['policy'], message: 'policy goes with expect: allow' });
    if (c.currentReplicas !== undefined && c.replicas === undefined)
      ctx.addIssue({ code: 'custom', path: ['currentReplicas'], message: 'currentReplicas needs replicas' });
  });

export const TestNamespaceSchema = z.strictObject({
  name: z.string().min(1),
  labels: z.record(z.string(), z.string()).optional(),
});

export const PolicyTestSchema = z.strictObject({
  apiVersion: z.literal(TEST_API_VERSION, { error: `apiVersion must be ${TEST_API_VERSION}` }),
  kind: z.literal(TEST_KIND, { error: `kind must be ${TEST_KIND}` }),
  metadata: z.looseObject({ name: z.string().min(1).optional() }).optional(),
  /** Policy files, directories or globs, relative to the manifest. */
  policies: z.array(z.string().min(1)).min(1, 'policies needs at least one file, directory or glob'),
  namespaces: z.array(TestNamespaceSchema).optional(),
  operatorNamespace: z.string().min(1).optional(),
  cases: z.array(TestCaseSchema).min(1, 'cases needs at least one case'),
});

export type TestCase = z.infer<typeof TestCaseSchema>;
export type TestCaller = z.infer<typeof TestCallerSchema>;
export type PolicyTest = z.infer<typeof PolicyTestSchema>;
