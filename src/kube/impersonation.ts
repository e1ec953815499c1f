/** The Impersonate-* headers of a kubeconfig user's impersonation, written as client-go writes them. */

import type { Impersonation } from './connection.js';

export type HeaderMap = Record<string, string | string[]>;

/** client-go's escaping of an extra's key in an Impersonate-Extra- header name: %XX for every byte outside an HTTP token, and %. */
function headerKeyEscape(key: string): string {
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    out +=
      b < 127 && c !== '%' && /[!#$&'*+\-.^_`|~0-9A-Za-z]/.test(c)
        ? c
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The Impersonate-* headers kubectl sends for a kubeconfig user's as, as-uid, as-groups and as-user-extra. */
export function impersonationHeaders(as: Impersonation | undefined): HeaderMap {
  if (as === undefined) return {};
  const headers: HeaderMap = { 'impersonate-user': as.user };
  if (as.uid !== undefined) headers['impersonate-uid'] = as.uid;
  if (as.groups !== undefined && as.groups.length > 0) headers['impersonate-group'] = [...as.groups];
  for (const [key, values] of Object.entries(as.extra ?? {})) {
    if (values.length > 0) headers[`impersonate-extra-${headerKeyEscape(key)}`] = [...values];
  }
  return headers;
}
