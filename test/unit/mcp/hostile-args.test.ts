import type { Client } from '@modelcontextprotocol/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CursorError, decodeCursor, encodeCursor, MAX_CURSOR_LENGTH } from '../../../src/mcp/cursor.js';
import {
  call,
  connect,
  errorOf,
  type Harness,
  post,
  startHarness,
  TOKENS,
  textOf,
  toolCall,
} from './helpers.js';

/**
 * Hostile tool arguments: every caller string is capped before any policy or cache work, and the
 * Invalid result quotes at most a little of what was sent.
 */

let h: Harness;
let c: Client;
beforeEach(async () => {
  h = await startHarness();
  c = await connect(h, TOKENS.alice);
});
afterEach(async () => {
  await c.close();
  await h.close();
});

const HUGE = 100_000;

describe('oversized arguments are Invalid, briefly, and reach nothing', () => {
  const cases: [string, string, Record<string, unknown>, string][] = [
    ['namespace', 'list_pods', { namespace: `a${'-'.repeat(HUGE)}b` }, 'namespace: must be at most 63'],
    ['labelSelector', 'list_pods', { labelSelector: Array(HUGE).fill('!a').join(',') }, 'labelSelector'],
    ['continue', 'list_deployments', { continue: 'A'.repeat(HUGE) }, 'continue: must be at most 1024'],
    [
      'scale name',
      'scale_deployment',
      { namespace: 'web', name: `w${'-'.repeat(HUGE)}w`, replicas: 1 },
      'name: must be at most 253',
    ],
    ['unknown key', 'list_pods', { [`k${'x'.repeat(HUGE)}`]: 1 }, 'arguments'],
  ];

  it.each(cases)('%s', async (_what, tool, args, fragment) => {
    const res = await call(c, tool, args);
    expect(res.isError).toBe(true);
    const error = errorOf(res);
    expect(error.code).toBe('Invalid');
    expect(error.reason).toContain(fragment);
    expect(JSON.stringify(res).length).toBeLessThan(2_000);
    expect(textOf(res).length).toBeLessThan(1_000);
    expect(h.backend.calls).toEqual([]);
  });
});

describe('unknown tools', () => {
  it('an oversized tool name is a JSON-RPC error quoting only its start', async () => {
    const res = await post(h, toolCall(`x${'y'.repeat(HUGE)}`, {}), { token: TOKENS.alice });
    const error = (res.json as { error: { code: number; message: string } }).error;
    expect(error.code).toBe(-32602);
    expect(error.message).toMatch(/^Unknown tool: xy+…$/);
    expect(res.text.length).toBeLessThan(1_000);
  });
});

describe('label selectors', () => {
  it('a selector of one requirement repeated answers like the requirement once', async () => {
    const once = await call(c, 'list_pods', { labelSelector: 'app=web' });
    const repeated = await call(c, 'list_pods', { labelSelector: Array(128).fill('app=web').join(',') });
    expect(repeated.isError).toBeFalsy();
    expect((repeated.structuredContent as { items: unknown[] }).items).toEqual(
      (once.structuredContent as { items: unknown[] }).items,
    );
  });

  it('more than 20 distinct requirements are Invalid', async () => {
    const selector = Array.from({ length: 21 }, (_, i) => `!k${i}`).join(',');
    const res = await call(c, 'list_pods', { labelSelector: selector });
    expect(errorOf(res).code).toBe('Invalid');
    expect(errorOf(res).reason).toContain('21 distinct requirements');
  });
});

describe('cursors', () => {
  it('refuses a cursor over the cap, and keys with too many or too long parts', () => {
    expect(() => decodeCursor('A'.repeat(MAX_CURSOR_LENGTH + 1), 'fp')).toThrow(CursorError);
    expect(() => decodeCursor(encodeCursor('fp', ['a', 'b', 'c', 'd']), 'fp')).toThrow(CursorError);
    expect(() => decodeCursor(encodeCursor('fp', ['ns', 'n'.repeat(254)]), 'fp')).toThrow(CursorError);
    expect(decodeCursor(encodeCursor('fp', ['3', 'n'.repeat(63), 'n'.repeat(253)]), 'fp')).toHaveLength(3);
    expect(encodeCursor('0123456789abcdef', ['3', 'n'.repeat(63), 'n'.repeat(253)]).length).toBeLessThan(
      MAX_CURSOR_LENGTH,
    );
  });
});
