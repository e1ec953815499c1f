import { ToolError } from './errors.js';

/**
 * Kubernetes label selectors in kubectl's string syntax: equality-based (`a=b`, `a==b`, `a!=b`)
 * and set-based (`a in (x,y)`, `a notin (x)`, `a`, `!a`), requirements joined by commas (AND).
 */

export type Operator = 'in' | 'notin' | 'exists' | 'doesnotexist';

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  /** Values for in / notin (`a=b` is `a in (b)`, `a!=b` is `a notin (b)`). */
  readonly values: readonly string[];
}

export interface LabelSelector {
  readonly requirements: readonly Requirement[];
  /** The selector as given, trimmed. */
  readonly source: string;
  matches(labels: Readonly<Record<string, string>> | undefined): boolean;
}

/**
 * Bounds on a caller's selector, so that the work of a list is at most (objects in scope) × 20
 * cheap tests, whatever the caller sends: the string is capped before it is parsed, requirements
 * that repeat are kept once, and what remains is capped.
 */
export const MAX_SELECTOR_LENGTH = 1024;
/** Distinct requirements (after duplicates are dropped). */
export const MAX_SELECTOR_REQUIREMENTS = 20;
/** Distinct values of one `in` / `notin` requirement. */
export const MAX_SELECTOR_VALUES = 32;
/** How much of a refused selector an error message repeats. */
const SHOWN_SELECTOR = 100;
const NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const PREFIX_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** At most SHOWN_SELECTOR characters of a caller's string, for a message. */
function clip(text: string, max = SHOWN_SELECTOR): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function invalid(source: string, why: string): ToolError {
  return new ToolError('Invalid', `labelSelector "${clip(source)}" is not a valid label selector`, {
    reason: clip(why, 2 * SHOWN_SELECTOR),
    suggestions: [
      'Use kubectl syntax: app=web, tier!=cache, env in (prod,staging), env notin (dev), app, !canary',
      'Join requirements with commas; all must match',
    ],
  });
}

function validKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return NAME_RE.test(key);
  const prefix = key.slice(0, slash);
  const name = key.slice(slash + 1);
  return prefix.length > 0 && prefix.length <= 253 && PREFIX_RE.test(prefix) && NAME_RE.test(name);
}

function validValue(value: string): boolean {
  return value === '' || NAME_RE.test(value);
}

type Token = { kind: 'word'; text: string } | { kind: 'op'; text: '=' | '==' | '!=' | '!' | '(' | ')' | ',' };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source.charAt(i);
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'op', text: c });
      i++;
    } else if (c === '!') {
      if (source.charAt(i + 1) === '=') {
        tokens.push({ kind: 'op', text: '!=' });
        i += 2;
      } else {
        tokens.push({ kind: 'op', text: '!' });
        i++;
      }
    } else if (c === '=') {
      if (source.charAt(i + 1) === '=') {
        tokens.push({ kind: 'op', text: '==' });
        i += 2;
      } else {
        tokens.push({ kind: 'op', text: '=' });
        i++;
      }
    } else {
      let j = i;
      while (j < source.length && !' \t(),!='.includes(source.charAt(j))) j++;
      tokens.push({ kind: 'word', text: source.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

/** Parses a selector; throws ToolError('Invalid') with a useful reason when it is malformed. */
export function parseLabelSelector(input: string): LabelSelector {
  const source = input.trim();
  if (source.length > MAX_SELECTOR_LENGTH) {
    throw invalid(
      source,
      `the selector has ${source.length} characters; at most ${MAX_SELECTOR_LENGTH} are allowed`,
    );
  }
  const requirements = source === '' ? [] : new SelectorParser(source).requirements();
  const distinct = dedupe(requirements);
  checkBounds(source, distinct);
  return { requirements: distinct, source, matches: compileMatcher(distinct) };
}

/** Refuses a selector past MAX_SELECTOR_REQUIREMENTS requirements or MAX_SELECTOR_VALUES values. */
function checkBounds(source: string, distinct: readonly Requirement[]): void {
  if (distinct.length > MAX_SELECTOR_REQUIREMENTS) {
    throw invalid(
      source,
      `the selector has ${distinct.length} distinct requirements; at most ${MAX_SELECTOR_REQUIREMENTS} are allowed`,
    );
  }
  const crowded = distinct.find((r) => r.values.length > MAX_SELECTOR_VALUES);
  if (crowded !== undefined) {
    throw invalid(
      source,
      `"${clip(crowded.key, 63)}" lists ${crowded.values.length} values; at most ${MAX_SELECTOR_VALUES} are allowed`,
    );
  }
}

const isOp = (t: Token | undefined, ...texts: string[]): boolean =>
  t?.kind === 'op' && texts.includes(t.text);

/**
 * Reads a non-empty selector's tokens one requirement at a time: `!key`, `key`, `key=value` (also
 * `==`, `!=`) or `key in|notin (values)`, separated by commas. Each step throws invalid() naming
 * what it expected.
 */
class SelectorParser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly source: string) {
    this.tokens = tokenize(source);
  }

  requirements(): Requirement[] {
    const requirements: Requirement[] = [];
    for (;;) {
      requirements.push(this.requirement());
      const sep = this.next();
      if (sep === undefined) return requirements;
      if (!isOp(sep, ',')) throw invalid(this.source, `unexpected "${sep.text}"`);
    }
  }

  private requirement(): Requirement {
    const first = this.peek();
    if (first === undefined) throw invalid(this.source, 'expected a requirement');
    if (isOp(first, '!')) {
      this.next();
      return { key: this.key('a label key after "!"'), operator: 'doesnotexist', values: [] };
    }
    const key = this.key('a label key');
    const op = this.peek();
    if (op === undefined || isOp(op, ',')) return { key, operator: 'exists', values: [] };
    if (isOp(op, '=', '==', '!=')) {
      this.next();
      return { key, operator: op.text === '!=' ? 'notin' : 'in', values: [this.equalityValue()] };
    }
    if (op.kind === 'word' && (op.text === 'in' || op.text === 'notin')) {
      this.next();
      return { key, operator: op.text, values: this.valueList(op.text) };
    }
    throw invalid(this.source, `unexpected "${op.text}" after key "${key}"`);
  }

  /** A label key, checked. */
  private key(what: string): string {
    const t = this.next();
    if (t?.kind !== 'word') throw invalid(this.source, `expected ${what}`);
    if (!validKey(t.text)) throw invalid(this.source, `"${t.text}" is not a valid label key`);
    return t.text;
  }

  /** The value after `=`, `==` or `!=` (empty when none follows), checked. */
  private equalityValue(): string {
    const v = this.peek();
    let value = '';
    if (v?.kind === 'word') {
      value = v.text;
      this.next();
    }
    return this.checked(value);
  }

  /** `(v1, v2, …)` after in / notin: at least one value; an empty one between commas is ''. */
  private valueList(op: string): string[] {
    if (!isOp(this.next(), '(')) throw invalid(this.source, `expected "(" after "${op}"`);
    const values: string[] = [];
    for (;;) {
      const v = this.next();
      if (v === undefined) throw invalid(this.source, 'missing ")"');
      if (isOp(v, ')') && values.length === 0) throw invalid(this.source, `"${op}" needs at least one value`);
      if (v.kind === 'op' && v.text !== ',' && v.text !== ')')
        throw invalid(this.source, `unexpected "${v.text}"`);
      values.push(this.checked(v.kind === 'word' ? v.text : ''));
      const sep = v.kind === 'word' ? this.next() : v;
      if (isOp(sep, ')')) return values;
      if (!isOp(sep, ',')) throw invalid(this.source, 'expected "," or ")" in a value list');
    }
  }

  private checked(value: string): string {
    if (!validValue(value)) throw invalid(this.source, `"${value}" is not a valid label value`);
    return value;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private next(): Token | undefined {
    return this.tokens[this.pos++];
  }
}

/**
 * The requirements without repeats, in first-seen order: values of one requirement deduplicated and
 * sorted, then requirements equal in key, operator and values kept once. `a=b,a=b` is `a=b`.
 */
function dedupe(requirements: readonly Requirement[]): Requirement[] {
  const seen = new Set<string>();
  const out: Requirement[] = [];
  for (const r of requirements) {
    const values = [...new Set(r.values)].sort();
    const id = JSON.stringify([r.key, r.operator, values]);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ key: r.key, operator: r.operator, values });
  }
  return out;
}

/** One predicate over label maps: every requirement, values looked up in a Set. */
function compileMatcher(
  requirements: readonly Requirement[],
): (labels: Readonly<Record<string, string>> | undefined) => boolean {
  const checks = requirements.map((r) => ({ key: r.key, operator: r.operator, values: new Set(r.values) }));
  return (labels) => {
    const l = labels ?? {};
    for (const r of checks) {
      const has = Object.hasOwn(l, r.key);
      switch (r.operator) {
        case 'exists':
          if (!has) return false;
          break;
        case 'doesnotexist':
          if (has) return false;
          break;
        case 'in':
          if (!has || !r.values.has(l[r.key] as string)) return false;
          break;
        case 'notin':
          if (has && r.values.has(l[r.key] as string)) return false;
          break;
      }
    }
    return true;
  };
}
