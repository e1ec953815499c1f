/**
 * The request targets that fetch() would never send and no listener may throw on, and what every
 * listener answers to each before it routes: the one list that the health server's and the MCP
 * server's unit tests and the e2e hostile test share. `rawRequest` (test/rawhttp.ts) sends them.
 */

/** Node's default limit on the request head (16 KiB): a longer target is answered 431 by Node itself. */
const NODE_HEADER_LIMIT = 16 * 1024;

/** Targets that are no path (unparseable, or a form other than origin and absolute): 400 on every port. */
export const NOT_A_PATH: readonly string[] = [
  'http://',
  'http:///mcp',
  '/%zz',
  '/readyz?%',
  '/mcp%',
  '*',
  '/a#b',
];

/** Targets that carry a path (odd, absolute-form, or long but within the limit): answered by route. */
export const ROUTED: readonly string[] = [
  '//',
  '///x',
  'http://x/healthz',
  'http://x/mcp',
  'http://[/mcp',
  'http://x:99999/readyz?verbose',
  `/${'a'.repeat(7000)}`,
];

/** Targets past Node's limit on the request head. */
export const OVER_LONG: readonly string[] = [`/${'a'.repeat(20_000)}`];

export const HOSTILE_TARGETS: readonly string[] = [...ROUTED, ...NOT_A_PATH, ...OVER_LONG];

/** Absolute-form and origin-form targets to /mcp with a malformed query or host: 400, authenticated or not. */
export const MALFORMED_MCP_TARGETS: readonly string[] = [
  'http://x:99999/mcp?%',
  'http://[/mcp?%zz',
  '/mcp?%zz',
  '/mcp?%',
];

/**
 * What any listener answers to a hostile target before routing it: 431 past the header limit, 400
 * when it is no path; undefined when the route decides.
 */
export function answerBeforeRouting(target: string): 400 | 431 | undefined {
  if (target.length > NODE_HEADER_LIMIT) return 431;
  return NOT_A_PATH.includes(target) ? 400 : undefined;
}
