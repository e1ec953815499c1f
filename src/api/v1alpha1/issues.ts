/**
 * Turns zod issues into plain sentences for a policy's status message and Warning Event, e.g.
 * `spec.subjects[0].namespace: a ServiceAccount subject needs a namespace`.
 */

import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

const MAX_SHOWN_INPUT = 80;

/** `['subjects', 0, 'namespace']` under root `spec` → `spec.subjects[0].namespace`. */
export function formatPath(root: string, path: readonly PathKey[]): string {
  let out = root;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && !Number.isInteger(value)) return `the number ${value}`;
  return `the ${typeof value} ${JSON.stringify(value)}`.slice(0, MAX_SHOWN_INPUT);
}

const EXPECTED_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  record: 'an object',
};

function unit(origin: string | undefined, n: number | bigint): string {
  const count = Number(n);
  if (origin === 'array') return count === 1 ? '1 item' : `${count} items`;
  if (origin === 'string') return count === 1 ? '1 character' : `${count} characters`;
  return String(count);
}

function describeIssue(issue: Issue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'is required';
      return `must be ${EXPECTED_WORDS[issue.expected] ?? issue.expected}, not ${typeName(input)}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => String(v)).join(', ')}${input === undefined ? '' : `, not ${JSON.stringify(input)}`}`;
    case 'too_small':
      if (issue.message && !issue.message.startsWith('Too small')) return issue.message;
      if (issue.origin === 'array' || issue.origin === 'string')
        return `needs at least ${unit(issue.origin, issue.minimum)}`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.message && !issue.message.startsWith('Too big')) return issue.message;
      if (issue.origin === 'array' || issue.origin === 'string')
        return `has at most ${unit(issue.origin, issue.maximum)}`;
      return `must be at most ${issue.maximum}`;
    case 'invalid_key':
      return issue.issues.map((inner) => describeIssue(inner as Issue)).join('; ');
    case 'invalid_element':
      return issue.issues.map((inner) => describeIssue(inner as Issue)).join('; ');
    default:
      return issue.message;
  }
}

/** One sentence per issue, joined by "; ", each prefixed with the field path under `root`. */
export function formatIssues(issues: readonly Issue[], root = 'spec'): string {
  const lines = issues.map((issue) => `${formatPath(root, issue.path)}: ${describeIssue(issue)}`);
  return [...new Set(lines)].join('; ');
}
