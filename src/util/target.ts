/**
 * The request target of an HTTP request (`req.url`), parsed without throwing: origin-form
 * (`/path?query`) and absolute-form (`http://host/path?query`, whose authority is ignored: the Host
 * header is what is checked). Anything else (empty, `*`, a scheme without an authority such as
 * `http://`, bytes outside visible ASCII, a fragment, a `%` not followed by two hex digits) is
 * undefined: the listener answers 400. Never `new URL(req.url, ...)`, which throws on `//` and
 * `http://` and would take the process down from inside a request listener.
 */

export interface RequestTarget {
  /** The path as sent (not decoded); `/` when absolute-form has none. */
  readonly path: string;
  /** The query without its `?`; '' when none. */
  readonly query: string;
}

/** Node's header limit (16 KiB) bounds the request line already; a target this long is refused anyway. */
export const MAX_TARGET_CHARS = 8192;

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[A-Za-z0-9\-._~!$&'()*+,;=:@%[\]]+/;

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Visible ASCII only, no fragment, every `%` followed by two hex digits. */
function wellFormed(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23) return false;
    if (c === 0x25) {
      if (!isHex(text.charCodeAt(i + 1)) || !isHex(text.charCodeAt(i + 2))) return false;
      i += 2;
    }
  }
  return true;
}

export function parseTarget(url: string | undefined): RequestTarget | undefined {
  if (url === undefined || url.length === 0 || url.length > MAX_TARGET_CHARS) return undefined;
  let start = 0;
  if (url.charCodeAt(0) !== 0x2f) {
    const authority = ABSOLUTE_FORM.exec(url);
    if (authority === null) return undefined;
    start = authority[0].length;
  }
  if (!wellFormed(url, start)) return undefined;
  const q = url.indexOf('?', start);
  const path = q < 0 ? url.slice(start) : url.slice(start, q);
  return { path: path === '' ? '/' : path, query: q < 0 ? '' : url.slice(q + 1) };
}

/** Whether the query has the parameter `name` (with or without a value). */
export function hasQueryParam(query: string, name: string): boolean {
  if (query === '') return false;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if ((eq < 0 ? part : part.slice(0, eq)) === name) return true;
  }
  return false;
}
