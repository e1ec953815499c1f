/** docs/operations.md must name every metric the operator registers and every serve setting. */
import fs from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../../../src/config/index.js';
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
});
