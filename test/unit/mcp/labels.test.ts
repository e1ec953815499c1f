import { describe, expect, it } from 'vitest';
import { ToolError } from '../../../src/mcp/errors.js';
import {
  MAX_SELECTOR_LENGTH,
  MAX_SELECTOR_REQUIREMENTS,
  MAX_SELECTOR_VALUES,
  parseLabelSelector,
} from '../../../src/mcp/labels.js';

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

describe('selector bounds', () => {
  const errorOf = (selector: string): ToolError => {
    try {
      parseLabelSelector(selector);
    } catch (err) {
      if (err instanceof ToolError) return err;
      throw err;
    }
    throw new Error(`${selector.slice(0, 40)} was accepted`);
  };

  it('keeps repeated requirements once (values deduplicated and sorted)', () => {
    const selector = parseLabelSelector(Array(341).fill('!a').join(','));
    expect(selector.requirements).toEqual([{ key: 'a', operator: 'doesnotexist', values: [] }]);
    expect(parseLabelSelector('a in (y,x,y),a in (x,y),a=x,a==x,b').requirements).toEqual([
      { key: 'a', operator: 'in', values: ['x', 'y'] },
      { key: 'a', operator: 'in', values: ['x'] },
      { key: 'b', operator: 'exists', values: [] },
    ]);
    expect(selector.matches({ b: '1' })).toBe(true);
    expect(selector.matches({ a: '1' })).toBe(false);
  });

  it(`accepts ${MAX_SELECTOR_REQUIREMENTS} distinct requirements and refuses one more`, () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`).join(',');
    expect(parseLabelSelector(keys(MAX_SELECTOR_REQUIREMENTS)).requirements).toHaveLength(
      MAX_SELECTOR_REQUIREMENTS,
    );
    expect(errorOf(keys(MAX_SELECTOR_REQUIREMENTS + 1)).reason).toContain(
      `${MAX_SELECTOR_REQUIREMENTS + 1} distinct requirements; at most ${MAX_SELECTOR_REQUIREMENTS}`,
    );
  });

  it(`accepts ${MAX_SELECTOR_VALUES} values in one requirement and refuses one more`, () => {
    const values = (n: number) => `app in (${Array.from({ length: n }, (_, i) => `v${i}`).join(',')})`;
    expect(parseLabelSelector(values(MAX_SELECTOR_VALUES)).requirements[0]?.values).toHaveLength(
      MAX_SELECTOR_VALUES,
    );
    expect(errorOf(values(MAX_SELECTOR_VALUES + 1)).reason).toContain(
      `lists ${MAX_SELECTOR_VALUES + 1} values; at most ${MAX_SELECTOR_VALUES}`,
    );
  });

  it('refuses a selector longer than the cap before parsing it, echoing only its start', () => {
    const huge = Array(1365).fill('!a').join(','); // 4 KiB of one repeated requirement
    const err = errorOf(huge);
    expect(err.reason).toContain(`4094 characters; at most ${MAX_SELECTOR_LENGTH}`);
    expect(err.message.length).toBeLessThan(200);
    expect(errorOf(`a=${'x'.repeat(MAX_SELECTOR_LENGTH)}`).message.length).toBeLessThan(200);
  });

  it('never echoes a long bad key in full', () => {
    const err = errorOf(`${'K'.repeat(900)} = x`);
    expect(err.message.length + err.reason.length).toBeLessThan(400);
  });
});
