/**
 * A fast reader for the plain subset of YAML that policy files and test manifests are written in:
 * block mappings and sequences, one-line flow collections, plain and quoted one-line scalars,
 * comments, several documents. Anything else (anchors, tags, block scalars, multi-line scalars,
 * tabs, duplicate keys, directives) makes it give up, and the caller reads the file with the full
 * `yaml` parser instead, so this reader is an optimisation only: where it answers, it answers as
 * `yaml` does (values under the core schema, and the line of every node), which a differential
 * property test checks (test/unit/cli/fast-yaml.test.ts). It is about ten times faster on large
 * manifests, which is what keeps `kubemcp test` on 10,000 cases within its time budget.
 */

/** Where each node of a document starts: its line, and its children's. */
export interface LineTree {
  readonly line: number;
  readonly kids?: Map<string | number, LineTree>;
}

export interface FastDoc {
  readonly line: number;
  readonly value: unknown;
  readonly lines: LineTree;
}

class Unsupported extends Error {}

interface Line {
  readonly n: number;
  readonly indent: number;
  readonly text: string;
}

const fail = (): never => {
  throw new Unsupported();
};

/** The line without its comment and trailing spaces; fails on a quoted scalar that does not end. */
function stripComment(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const prev = i === 0 ? ' ' : text[i - 1];
    if ((c === '"' || c === "'") && (prev === ' ' || prev === '[' || prev === '{' || prev === ',')) {
      i = quoteEnd(text, i);
      if (i < 0) fail();
    } else if (c === '#' && prev === ' ') return text.slice(0, i).trimEnd();
  }
  return text.trimEnd();
}

/** Index of the closing quote of the quoted scalar opening at `start`, or -1. */
function quoteEnd(text: string, start: number): number {
  const q = text[start];
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (q === '"' && c === '\\') i++;
    else if (c === q) {
      if (q === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}

function splitDocs(text: string): Line[][] {
  const docs: Line[][] = [[]];
  const raw = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (raw.includes('\t') || raw.includes('\r')) fail();
  const lines = raw.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const full = lines[i] as string;
    if (full.startsWith('%') || full.startsWith('...')) fail();
    if (full === '---' || full.startsWith('--- ') || full.startsWith('---#')) {
      if (stripComment(full.slice(3)).trim() !== '') fail();
      docs.push([]);
      continue;
    }
    const body = stripComment(full);
    const trimmed = body.trimStart();
    if (trimmed === '') continue;
    docs[docs.length - 1]?.push({ n: i + 1, indent: body.length - trimmed.length, text: trimmed });
  }
  return docs;
}

// ---------------------------------------------------------------------------------------------
// Scalars (the YAML 1.2 core schema, as the `yaml` package resolves it by default)

function plain(s: string): unknown {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (s === 'true' || s === 'True' || s === 'TRUE') return true;
  if (s === 'false' || s === 'False' || s === 'FALSE') return false;
  const c = s.charCodeAt(0);
  const numeric = (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46;
  if (!numeric) return s;
  if (/^[-+]?[0-9]+$/.test(s) || /^0o[0-7]+$/.test(s) || /^0x[0-9a-fA-F]+$/.test(s)) fail();
  if (
    /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(s) ||
    /^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$/.test(s)
  )
    fail();
  return s;
}

/** A double-quoted body JSON reads as YAML does: no control characters, only JSON's escapes. */
function safeDouble(inner: string): boolean {
  for (let i = 0; i < inner.length; i++) if (inner.charCodeAt(i) < 0x20) return false;
  return /^(?:[^"\\]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*$/.test(inner);
}

function quoted(s: string): string {
  const inner = s.slice(1, -1);
  if (s[0] === "'") return inner.replace(/''/g, "'");
  if (!safeDouble(inner)) fail();
  return JSON.parse(s) as string;
}

/** Integers as plain scalars: the common case, checked on its own (plain() leaves them out). */
function plainOrInt(s: string): unknown {
  if (/^-?(?:0|[1-9][0-9]{0,14})$/.test(s)) return Number(s);
  return plain(s);
}

// ---------------------------------------------------------------------------------------------
// Flow collections on one line

class Flow {
  i = 0;
  constructor(
    private readonly s: string,
    private readonly line: number,
  ) {}

  private space(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  value(): { value: unknown; tree: LineTree } {
    this.space();
    const c = this.s[this.i];
    if (c === '[') return this.seq();
    if (c === '{') return this.map();
    return { value: this.scalar(false), tree: { line: this.line } };
  }

  private scalar(key: boolean): unknown {
    const c = this.s[this.i];
    if (c === '"' || c === "'") {
      const end = quoteEnd(this.s, this.i);
      if (end < 0) fail();
      const text = this.s.slice(this.i, end + 1);
      this.i = end + 1;
      return quoted(text);
    }
    const start = this.i;
    while (this.i < this.s.length) {
      const ch = this.s[this.i];
      if (ch === ',' || ch === ']' || ch === '}' || ch === '[' || ch === '{') break;
      if (ch === ':' && (key || this.s[this.i + 1] === ' ' || this.s[this.i + 1] === undefined)) break;
      this.i++;
    }
    const text = this.s.slice(start, this.i).trim();
    if (text === '' || /^[&*!|>%@`?#-]/.test(text) || text.includes(' #')) fail();
    return plainOrInt(text);
  }

  private seq(): { value: unknown[]; tree: LineTree } {
    this.i++;
    const value: unknown[] = [];
    const kids = new Map<string | number, LineTree>();
    this.space();
    if (this.s[this.i] === ']') {
      this.i++;
      return { value, tree: { line: this.line, kids } };
    }
    for (;;) {
      const item = this.value();
      kids.set(value.length, item.tree);
      value.push(item.value);
      this.space();
      const c = this.s[this.i++];
      if (c === ']') return { value, tree: { line: this.line, kids } };
      if (c !== ',') fail();
    }
  }

  private map(): { value: Record<string, unknown>; tree: LineTree } {
    this.i++;
    const value: Record<string, unknown> = {};
    const kids = new Map<string | number, LineTree>();
    this.space();
    if (this.s[this.i] === '}') {
      this.i++;
      return { value, tree: { line: this.line, kids } };
    }
    for (;;) {
      this.space();
      const key = this.scalar(true);
      if (
        typeof key !== 'string' ||
        key === '__proto__' ||
        Object.hasOwn(value, key) ||
        this.s[this.i] !== ':'
      )
        fail();
      this.i++;
      const item = this.value();
      value[key as string] = item.value;
      kids.set(key as string, item.tree);
      this.space();
      const c = this.s[this.i++];
      if (c === '}') return { value, tree: { line: this.line, kids } };
      if (c !== ',') fail();
    }
  }

  end(): void {
    this.space();
    if (this.i !== this.s.length) fail();
  }
}

function inline(text: string, line: number): { value: unknown; tree: LineTree } {
  const c = text[0];
  if (c === '[' || c === '{') {
    const flow = new Flow(text, line);
    const out = flow.value();
    flow.end();
    return out;
  }
  if (c === '"' || c === "'") {
    if (quoteEnd(text, 0) !== text.length - 1) fail();
    return { value: quoted(text), tree: { line } };
  }
  if (/^[&*!|>%@`?,\]}]/.test(text) || /^-(?: |$)/.test(text) || text.includes(': ') || text.endsWith(':'))
    fail();
  return { value: plainOrInt(text), tree: { line } };
}

// ---------------------------------------------------------------------------------------------
// Block structure

const PLAIN_KEY = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

/** `key: rest` → [key, rest]; undefined when the line is not a mapping entry. */
function entry(text: string): [string, string] | undefined {
  if (text[0] === '"' || text[0] === "'") {
    const end = quoteEnd(text, 0);
    if (end < 0 || text[end + 1] !== ':' || (text[end + 2] !== ' ' && text[end + 2] !== undefined))
      return undefined;
    return [quoted(text.slice(0, end + 1)), text.slice(end + 2).trim()];
  }
  const colon = text.search(/:(?: |$)/);
  if (colon <= 0) return undefined;
  const key = text.slice(0, colon).trimEnd();
  if (!PLAIN_KEY.test(key) || typeof plainOrInt(key) !== 'string') fail();
  return [key, text.slice(colon + 1).trim()];
}

function isDash(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

class Block {
  pos = 0;
  constructor(private readonly lines: Line[]) {}

  private peek(): Line | undefined {
    return this.lines[this.pos];
  }

  node(): { value: unknown; tree: LineTree } {
    const line = this.peek() ?? fail();
    if (isDash(line.text)) return this.seq(line.indent);
    if (entry(line.text) !== undefined) return this.map(line.indent);
    this.pos++;
    const out = inline(line.text, line.n);
    const next = this.peek();
    if (next && next.indent > line.indent) fail();
    return out;
  }

  private child(parent: Line, rest: string, offset: number): { value: unknown; tree: LineTree } {
    if (rest !== '') {
      // `- key: value` or `- - x`: the rest of the line is a node of its own, indented further.
      this.lines[this.pos] = { n: parent.n, indent: parent.indent + offset, text: rest };
      return this.node();
    }
    this.pos++;
    const next = this.peek();
    if (next && next.indent > parent.indent) return this.node();
    return { value: null, tree: { line: parent.n } };
  }

  private seq(indent: number): { value: unknown[]; tree: LineTree } {
    const value: unknown[] = [];
    const kids = new Map<string | number, LineTree>();
    const first = this.peek()?.n ?? 0;
    for (let line = this.peek(); line && line.indent === indent && isDash(line.text); line = this.peek()) {
      const rest = line.text.slice(1).trimStart();
      const item = this.child(line, rest, line.text.length - rest.length);
      kids.set(value.length, item.tree);
      value.push(item.value);
    }
    const next = this.peek();
    if (next && next.indent > indent) fail();
    return { value, tree: { line: first, kids } };
  }

  private map(indent: number): { value: Record<string, unknown>; tree: LineTree } {
    const value: Record<string, unknown> = {};
    const kids = new Map<string | number, LineTree>();
    const first = this.peek()?.n ?? 0;
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      const e = entry(line.text);
      if (e === undefined) fail();
      const [key, rest] = e as [string, string];
      if (Object.hasOwn(value, key) || key === '__proto__') fail();
      let item: { value: unknown; tree: LineTree };
      if (rest !== '') {
        this.pos++;
        item = inline(rest, line.n);
        const next = this.peek();
        if (next && next.indent > indent) fail();
      } else {
        this.pos++;
        const next = this.peek();
        if (next && (next.indent > indent || (next.indent === indent && isDash(next.text))))
          item = this.node();
        else item = { value: null, tree: { line: line.n } };
      }
      value[key] = item.value;
      kids.set(key, item.tree);
    }
    const next = this.peek();
    if (next && next.indent > indent) fail();
    return { value, tree: { line: first, kids } };
  }
}

/** The documents of `text`, or undefined when it is not in the subset this reader handles. */
export function fastYamlDocs(text: string): FastDoc[] | undefined {
  try {
    const out: FastDoc[] = [];
    for (const lines of splitDocs(text)) {
      if (lines.length === 0) continue;
      const first = lines[0] as Line;
      if (first.indent !== 0) fail();
      const block = new Block(lines);
      const { value, tree } = block.node();
      if (block.pos !== lines.length) fail();
      out.push({ line: first.n, value, lines: tree });
    }
    return out;
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** The line of the deepest node of `path` that exists, from a document's line tree. */
export function lineIn(tree: LineTree, path: readonly (string | number)[]): number {
  let node = tree;
  for (const key of path) {
    const next = node.kids?.get(key);
    if (next === undefined) break;
    node = next;
  }
  return node.line;
}
