import { describe, expect, it } from 'vitest';
import { ToolError } from '../../../src/mcp/errors.js';
import { parseLabelSelector } from '../../../src/mcp/labels.js';

/** kubectl label-selector syntax, parsed and matched (pure). */

const labels = { app: 'web', tier: 'frontend', 'example.com/owner': 'team-a', empty: '' };

describe('parseLabelSelector', () => {
  it.each([
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app = web', true],
    ['app!=web', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['app in (web, db)', true],
    ['app in (db)', false],
    ['app notin (db,cache)', true],
    ['app notin (web)', false],
    ['missing notin (x)', true],
    ['missing in (x)', false],
    ['tier', true],
    ['missing', false],
    ['!missing', true],
    ['!tier', false],
    ['app=web,tier=frontend', true],
    ['app=web,tier=backend', false],
    ['example.com/owner=team-a', true],
    ['empty=', true],
    ['empty==', true],
    ['empty in (a,)', true],
  ])('%j matches: %s', (selector, expected) => {
    expect(parseLabelSelector(selector).matches(labels)).toBe(expected);
  });

  it('parses the requirements', () => {
    expect(parseLabelSelector('a=b, c notin (d,e), !f, g').requirements).toEqual([
      { key: 'a', operator: 'in', values: ['b'] },
      { key: 'c', operator: 'notin', values: ['d', 'e'] },
      { key: 'f', operator: 'doesnotexist', values: [] },
      { key: 'g', operator: 'exists', values: [] },
    ]);
  });

  it.each([
    'app in (web',
    'app in ()',
    'app in web',
    '=web',
    'app=web,',
    ',app',
    'app=web=x',
    'Bad Key=x',
    'app=not a value',
    'app=-bad',
    '!',
    'app notin',
    '-app=x',
    `app=${'x'.repeat(64)}`,
    'app=(web)',
  ])('rejects %j as Invalid', (selector) => {
    let error: unknown;
    try {
      parseLabelSelector(selector);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).code).toBe('Invalid');
    expect((error as ToolError).suggestions.length).toBeGreaterThan(0);
  });
});
