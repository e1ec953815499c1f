/**
 * Standard Kubernetes label-selector semantics over plain label maps. Pure.
 * - `matchLabels` {k: v}: the label k exists and equals v.
 * - `In`: k exists and its value is one of `values`; `NotIn`: k is absent or its value is none of them.
 * - `Exists` / `DoesNotExist`: k is present / absent.
 * All requirements must hold; an empty selector matches every labelled or unlabelled object.
 */

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface SelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values?: readonly string[] | undefined;
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
  readonly matchExpressions?: readonly SelectorRequirement[] | undefined;
}

export type Labels = Readonly<Record<string, string>>;
export type LabelPredicate = (labels: Labels) => boolean;

function labelOf(labels: Labels, key: string): string | undefined {
  // Own properties only: a label map is data, and "constructor" or "__proto__" are ordinary keys.
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

function compileRequirement(req: SelectorRequirement): LabelPredicate {
  const key = req.key;
  const values = new Set(req.values ?? []);
  switch (req.operator) {
    case 'In':
      return (labels) => {
        const v = labelOf(labels, key);
        return v !== undefined && values.has(v);
      };
    case 'NotIn':
      return (labels) => {
        const v = labelOf(labels, key);
        return v === undefined || !values.has(v);
      };
    case 'Exists':
      return (labels) => labelOf(labels, key) !== undefined;
    case 'DoesNotExist':
      return (labels) => labelOf(labels, key) === undefined;
  }
}

export function compileSelector(selector: LabelSelector): LabelPredicate {
  const checks: LabelPredicate[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    checks.push((labels) => labelOf(labels, key) === value);
  }
  for (const req of selector.matchExpressions ?? []) checks.push(compileRequirement(req));
  if (checks.length === 0) return () => true;
  return (labels) => {
    for (const check of checks) if (!check(labels)) return false;
    return true;
  };
}

/** kubectl's selector syntax: `team=web,env in (prod,staging),!legacy`; `{}` stands for the empty selector. */
export function formatSelector(selector: LabelSelector): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) parts.push(`${key}=${value}`);
  for (const req of selector.matchExpressions ?? []) {
    const values = (req.values ?? []).join(',');
    switch (req.operator) {
      case 'In':
        parts.push(`${req.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${req.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(req.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${req.key}`);
        break;
    }
  }
  return parts.length === 0 ? '{}' : parts.join(',');
}
