/**
 * Bearer tokens as the client presents them: none, a fixed token, or a token file re-read every
 * minute (projected ServiceAccount tokens rotate). Exec plugins are in exec-credentials.ts.
 */

import fs from 'node:fs';
import type { Credentials } from './connection.js';

/** Projected ServiceAccount tokens rotate; client-go re-reads token files this often. */
const TOKEN_FILE_TTL_MS = 60_000;

/** No credentials (anonymous, or client certificates only). */
export const NONE: Credentials = { get: async () => ({}), refresh: () => false };

export function staticToken(token: string): Credentials {
  const set = { token };
  return { get: async () => set, refresh: () => false };
}

/**
 * A token read from a file, re-read at most once a minute (and after a 401). `fallback` (a
 * kubeconfig's inline token next to its tokenFile) is used while the file cannot be read, as
 * client-go does.
 */
export function tokenFile(file: string, now: () => number = Date.now, fallback?: string): Credentials {
  let cached: { token: string; at: number } | undefined;
  return {
    async get() {
      if (cached === undefined || now() - cached.at >= TOKEN_FILE_TTL_MS) {
        let token: string;
        try {
          token = (await fs.promises.readFile(file, 'utf8')).trim();
          if (token === '') throw new Error(`token file ${file} is empty`);
        } catch (err) {
          // As client-go does: a token that was good a minute ago beats no token while the file
          // is being rotated; without one, the failure is the answer.
          if (cached !== undefined) return { token: cached.token };
          if (fallback !== undefined) return { token: fallback };
          throw err;
        }
        cached = { token, at: now() };
      }
      return { token: cached.token };
    },
    refresh() {
      if (cached !== undefined) cached = { token: cached.token, at: Number.NEGATIVE_INFINITY };
      return true;
    },
  };
}
