import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TOOL_ERROR_CODES } from '../../../src/mcp/errors.js';
import { TOOLS } from '../../../src/mcp/tools.js';

/**
 * docs/tools.md carries a reference block generated from the tool definitions. This test fails when
 * the block drifts from the code; regenerate it with UPDATE_DOCS=1.
 */

const DOC = new URL('../../../docs/tools.md', import.meta.url);
const BEGIN = '<!-- generated:tools:begin (test/unit/mcp/docs.test.ts; UPDATE_DOCS=1 to regenerate) -->';
const END = '<!-- generated:tools:end -->';

interface JsonProp {
  type?: string;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
}

function reference(): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [
    '| Tool | Title | readOnly | destructive | idempotent | openWorld |',
    '|---|---|---|---|---|---|',
    ...TOOLS.map(
      (t) =>
        `| \`${t.name}\` | ${t.title} | ${yes(t.annotations.readOnlyHint)} | ${yes(t.annotations.destructiveHint)} | ${yes(
          t.annotations.idempotentHint,
        )} | ${yes(t.annotations.openWorldHint)} |`,
    ),
    '',
  ];
  for (const t of TOOLS) {
    const schema = z.toJSONSchema(t.inputSchema, { io: 'input' }) as {
      properties?: Record<string, JsonProp>;
      required?: string[];
    };
    const props = Object.entries(schema.properties ?? {});
    lines.push(`### \`${t.name}\``, '');
    if (props.length === 0) {
      lines.push('No arguments.', '');
      continue;
    }
    lines.push('| Argument | Type | Required | Default | Description |', '|---|---|---|---|---|');
    for (const [name, p] of props) {
      const range =
        p.minimum !== undefined && p.maximum !== undefined && p.maximum < Number.MAX_SAFE_INTEGER
          ? ` ${p.minimum}-${p.maximum}`
          : '';
      const dflt = p.default === undefined ? '' : `\`${JSON.stringify(p.default)}\``;
      const required = schema.required?.includes(name) ? 'yes' : 'no';
      lines.push(
        `| \`${name}\` | ${p.type ?? ''}${range} | ${required} | ${dflt} | ${p.description ?? ''} |`,
      );
    }
    lines.push('');
  }
  lines.push(`Error codes: ${TOOL_ERROR_CODES.map((c) => `\`${c}\``).join(', ')}.`);
  return lines.join('\n');
}

/** Table cells trimmed and rulers shortened, so a formatter's column padding does not count as drift. */
function normalise(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split('|')
            .map((cell) => cell.trim().replace(/^-+$/, '---'))
            .join('|')
        : line.trimEnd(),
    )
    .join('\n');
}

describe('docs/tools.md', () => {
  it('has an up-to-date generated tool reference', () => {
    const doc = readFileSync(DOC, 'utf8');
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const expected = `${BEGIN}\n${reference()}\n${END}`;
    if (process.env.UPDATE_DOCS === '1') {
      writeFileSync(DOC, `${doc.slice(0, start)}${expected}${doc.slice(end + END.length)}`);
      return;
    }
    expect(normalise(doc.slice(start, end + END.length))).toBe(normalise(expected));
  });
});
