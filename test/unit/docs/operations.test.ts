/**
 * docs/operations.md must name every metric the operator registers (and no other), every serve
 * setting, and each setting's default as the config schema has it.
 */
import fs from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, OPTIONS } from '../../../src/config/index.js';
import { operatorMetrics } from '../../../src/health/metrics.js';
import { authMetrics } from '../../../src/mcp/auth/metrics.js';
import { mcpMetrics } from '../../../src/mcp/metrics.js';
import { safetyMetrics } from '../../../src/mcp/safety/metrics.js';

const doc = fs.readFileSync('docs/operations.md', 'utf8');

describe('docs/operations.md', () => {
  it('documents every kubemcp_* metric', async () => {
    const registry = new Registry();
    operatorMetrics(registry);
    mcpMetrics(registry);
    authMetrics(registry);
    safetyMetrics(registry);
    const names = (await registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => n.startsWith('kubemcp_'));
    expect(names.length).toBeGreaterThan(10);
    const missing = names.filter((n) => !doc.includes(`\`${n}`));
    expect(missing).toEqual([]);
  });

  it('documents every serve flag and its environment variable', () => {
    const missing = OPTIONS.filter(
      (o) => !doc.includes(`--${o.flag}`) && !doc.includes(`--[no-]${o.flag}`),
    ).map((o) => o.flag);
    expect(missing).toEqual([]);
    expect(OPTIONS.filter((o) => !doc.includes(`\`${o.env}\``)).map((o) => o.env)).toEqual([]);
  });

  it('names no kubemcp_* metric that the operator does not register', async () => {
    const registry = new Registry();
    operatorMetrics(registry);
    mcpMetrics(registry);
    authMetrics(registry);
    safetyMetrics(registry);
    const registered = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    // A histogram's series carry suffixes; the docs may name them.
    const base = (n: string) => n.replace(/_(bucket|sum|count)$/, '');
    const named = [...new Set(doc.match(/\bkubemcp_[a-z0-9_]+/g) ?? [])];
    expect(named.filter((n) => !registered.has(n) && !registered.has(base(n)))).toEqual([]);
  });

  it("gives each serve setting's default as the config schema has it", () => {
    const defaults = ConfigSchema.parse({}) as unknown as Record<string, unknown>;
    const rows = new Map<string, string>();
    for (const line of doc.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      const flag = cells[1]?.match(/^`--(?:\[no-\])?([a-z-]+)`$/)?.[1];
      if (flag && cells[3] !== undefined) rows.set(flag, cells[3].replaceAll('`', ''));
    }
    const wrong: string[] = [];
    for (const o of OPTIONS) {
      const cell = rows.get(o.flag);
      if (cell === undefined) {
        wrong.push(`--${o.flag}: no row in the flag table`);
        continue;
      }
      let value = o.key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], defaults);
      if (Array.isArray(value)) value = value.join(',');
      // A default that depends on where the process runs is documented as --help words it.
      const expected =
        o.defaultHelp ??
        (value === undefined ? o.help.match(/\(default: ([^)]*)\)/)?.[1] : String(value)) ??
        undefined;
      if (expected === undefined) {
        wrong.push(`--${o.flag}: the schema has no default and --help names none`);
      } else if (!cell.startsWith(expected) && !cell.startsWith(expected.replace(/ \(.*\)$/, ''))) {
        wrong.push(`--${o.flag}: docs say "${cell}", the schema "${expected}"`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
