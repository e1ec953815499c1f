import { jsonRpcError, type Prebuilt, quoteParam } from './respond.js';

/**
 * The body of a POST to /mcp, from bytes to a message: its shape checked in one linear pass before
 * JSON.parse, then parsed, then (for a JSON-RPC batch) the batch rules.
 */

export interface JsonLimits {
  readonly maxDepth: number;
  readonly maxMembers: number;
  readonly maxElements: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COLON = 0x3a;
const COMMA = 0x2c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * What is wrong with the SHAPE of the JSON text in `body`, or undefined: nesting deeper than
 * `maxDepth`, more than `maxMembers` object members, or more than `maxElements` array elements (all
 * arrays together). One linear pass over the bytes, before JSON.parse, whose cost grows with every
 * value (a 1 MiB body of `{}`s holds the event loop for tens of milliseconds) and faster than
 * linearly with nesting, and whose result would then overflow the stack of every recursive walker.
 * It stops at the first limit passed, so a refused body costs only the bytes up to it. Brackets,
 * colons and commas inside strings do not count; malformed JSON is left to JSON.parse.
 */
export function jsonShapeProblem(body: Uint8Array, limits: JsonLimits): string | undefined {
  const { maxDepth, maxMembers, maxElements } = limits;
  // inArray[d]: the container at depth d is an array.
  const inArray = new Uint8Array(maxDepth + 2);
  let depth = 0;
  let members = 0;
  let elements = 0;
  let inString = false;
  // Just after `[`: the next byte that is not white space starts its first element, unless `]`.
  let arrayOpened = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as number;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (arrayOpened && !isSpace(c)) {
      arrayOpened = false;
      if (c !== CLOSE_ARRAY && ++elements > maxElements)
        return `JSON with more than ${maxElements} array elements`;
    }
    if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return `JSON nested deeper than ${maxDepth} levels`;
      inArray[depth] = c === OPEN_ARRAY ? 1 : 0;
      arrayOpened = c === OPEN_ARRAY;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (depth > 0) depth--;
    } else if (c === COLON) {
      if (++members > maxMembers) return `JSON with more than ${maxMembers} object members`;
    } else if (c === COMMA && inArray[depth] === 1) {
      if (++elements > maxElements) return `JSON with more than ${maxElements} array elements`;
    }
  }
  return undefined;
}

/** The message in a body, or the JSON-RPC error to answer: the shape first, then JSON.parse. */
export function parseMessage(
  body: Buffer,
  limits: JsonLimits,
  parseError: Prebuilt,
):
  | { readonly ok: true; readonly parsed: unknown }
  | { readonly ok: false; readonly refusal: Prebuilt; readonly reason: string } {
  const shape = jsonShapeProblem(body, limits);
  if (shape !== undefined)
    return { ok: false, refusal: jsonRpcError(400, -32600, `Invalid Request: ${shape}`), reason: shape };
  try {
    return { ok: true, parsed: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false, refusal: parseError, reason: 'malformed JSON body' };
  }
}

/** The revisions whose requests may come as a JSON-RPC batch (batching left MCP in 2025-06-18). */
const BATCH_REVISIONS = new Set(['2024-11-05', '2025-03-26']);

/**
 * Why a JSON-RPC batch is refused, or undefined. Only the 2025-03-26 era has batches (and 2024-11-05
 * servers accepted them); they are small (see docs/adr/0006).
 */
export function batchProblem(
  batch: readonly unknown[],
  revision: string | string[] | undefined,
  maxMessages: number,
): Prebuilt | undefined {
  if (typeof revision === 'string' && !BATCH_REVISIONS.has(revision)) {
    return jsonRpcError(
      400,
      -32600,
      `Invalid Request: MCP ${quoteParam(revision.slice(0, 32))} has no JSON-RPC batches`,
    );
  }
  if (batch.length === 0 || batch.length > maxMessages) {
    return jsonRpcError(
      400,
      -32600,
      `Invalid Request: a batch holds 1 to ${maxMessages} messages (got ${batch.length})`,
    );
  }
  return undefined;
}
