/** A subject: the identity (ServiceAccount, user or group) a policy grants to. */

import { z } from 'zod';
import { LIMITS } from './constants.js';
import { DNS_LABEL, DNS_SUBDOMAIN } from './kinds.js';
import { cel, RULE_MESSAGES } from './rules.js';

export const SubjectKindSchema = z
  .enum(['ServiceAccount', 'User', 'Group'])
  .describe(
    'What kind of identity name refers to. ServiceAccount matches the caller system:serviceaccount:<namespace>:<name>; User matches the caller with exactly this user name; Group matches any caller that is a member of this group.',
  );

export const SubjectSchema = z
  .strictObject({
    kind: SubjectKindSchema,
    name: z
      .string()
      .min(1, 'a subject name must not be empty')
      .max(LIMITS.subjectName)
      .describe('Name of the ServiceAccount, user or group, exactly as the API server authenticates it.'),
    namespace: z
      .string()
      .min(1)
      .max(LIMITS.namespaceName)
      .regex(DNS_LABEL, { error: 'a namespace is a DNS label: lowercase letters, digits and -' })
      .optional()
      .describe(
        'Namespace of the ServiceAccount. Required when kind is ServiceAccount, forbidden otherwise.',
      ),
  })
  .superRefine((subject, ctx) => {
    if (subject.kind === 'ServiceAccount') {
      if (subject.namespace === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['namespace'],
          message: RULE_MESSAGES.serviceAccountNeedsNamespace,
        });
      }
      if (subject.name.length > 253 || !DNS_SUBDOMAIN.test(subject.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['name'],
          message: `ServiceAccount name ${JSON.stringify(subject.name)} is not a DNS subdomain (lowercase letters, digits, '-' and '.')`,
        });
      }
    } else if (subject.namespace !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['namespace'],
        message: RULE_MESSAGES.namespaceOnlyForServiceAccount,
      });
    }
  })
  .describe('An identity this policy grants to.')
  .meta(
    cel(
      {
        rule: "self.kind != 'ServiceAccount' || has(self.namespace)",
        message: RULE_MESSAGES.serviceAccountNeedsNamespace,
        fieldPath: '.namespace',
        reason: 'FieldValueRequired',
      },
      {
        rule: "self.kind == 'ServiceAccount' || !has(self.namespace)",
        message: RULE_MESSAGES.namespaceOnlyForServiceAccount,
        fieldPath: '.namespace',
        reason: 'FieldValueForbidden',
      },
    ),
  );
