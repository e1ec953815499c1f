import { describe, expect, it } from 'vitest';
import { compileSelector, formatSelector, type LabelSelector } from '../../../src/policy/selector.js';

const web = { team: 'web', env: 'prod' };
const shop = { team: 'shop', env: 'dev', 'kubemcp.io/frozen': 'true' };
const bare = {};

describe('compileSelector follows Kubernetes label-selector semantics', () => {
  const cases: [string, LabelSelector, [Record<string, string>, boolean][]][] = [
    [
      'empty selector matches everything',
      {},
      [
        [web, true],
        [shop, true],
        [bare, true],
      ],
    ],
    [
      'matchLabels',
      { matchLabels: { team: 'web' } },
      [
        [web, true],
        [shop, false],
        [bare, false],
      ],
    ],
    [
      'matchLabels needs every entry',
      { matchLabels: { team: 'web', env: 'dev' } },
      [
        [web, false],
        [{ team: 'web', env: 'dev' }, true],
      ],
    ],
    [
      'matchLabels with an empty value',
      { matchLabels: { team: '' } },
      [
        [{ team: '' }, true],
        [bare, false],
      ],
    ],
    [
      'In',
      { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] },
      [
        [web, true],
        [shop, false],
        [bare, false],
      ],
    ],
    [
      'NotIn matches an absent label',
      { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] },
      [
        [web, false],
        [shop, true],
        [bare, true],
      ],
    ],
    [
      'Exists',
      { matchExpressions: [{ key: 'kubemcp.io/frozen', operator: 'Exists' }] },
      [
        [web, false],
        [shop, true],
        [bare, false],
      ],
    ],
    [
      'DoesNotExist',
      { matchExpressions: [{ key: 'kubemcp.io/frozen', operator: 'DoesNotExist' }] },
      [
        [web, true],
        [shop, false],
        [bare, true],
      ],
    ],
    [
      'matchLabels and matchExpressions together',
      { matchLabels: { team: 'shop' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] },
      [
        [web, false],
        [shop, true],
        [{ team: 'shop', env: 'prod' }, false],
      ],
    ],
    [
      'inherited object keys are not labels',
      { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] },
      [
        [bare, false],
        [{ constructor: 'x' }, true],
      ],
    ],
    [
      'DoesNotExist of an inherited key',
      { matchExpressions: [{ key: 'toString', operator: 'DoesNotExist' }] },
      [[bare, true]],
    ],
  ];
  it.each(cases)('%s', (_name, selector, expectations) => {
    const match = compileSelector(selector);
    for (const [labels, expected] of expectations)
      expect(match(labels), JSON.stringify(labels)).toBe(expected);
  });
});

describe('formatSelector', () => {
  it.each([
    [{}, '{}'],
    [{ matchLabels: { team: 'web' } }, 'team=web'],
    [
      {
        matchLabels: { team: 'web' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'staging'] },
          { key: 'tier', operator: 'NotIn', values: ['x'] },
          { key: 'a', operator: 'Exists' },
          { key: 'b', operator: 'DoesNotExist' },
        ],
      },
      'team=web,env in (prod,staging),tier notin (x),a,!b',
    ],
  ] as [LabelSelector, string][])('%j → %s', (selector, expected) => {
    expect(formatSelector(selector)).toBe(expected);
  });
});
