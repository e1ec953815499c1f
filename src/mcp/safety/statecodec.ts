/**
 * The signer of human-confirmation state (safety/elicit.ts) over a key that may change while the
 * server runs: the shared key arrives from its Secret after start-up, or replaces the per-process
 * stand-in once the Secret can be read (src/kube/confirmationkey.ts). A state signed with the old key
 * then fails verification: fail closed, the client asks again.
 */

import { createRequestStateCodec, type RequestStateCodec } from '@modelcontextprotocol/server';

/** A codec that signs and verifies with `key()` as it is at each call (one SDK codec per key, reused). */
export function currentKeyCodec<T>(key: () => Uint8Array, ttlSeconds: number): RequestStateCodec<T> {
  let lastKey: Uint8Array | undefined;
  let codec: RequestStateCodec<T> | undefined;
  const current = (): RequestStateCodec<T> => {
    const k = key();
    if (codec === undefined || k !== lastKey) {
      codec = createRequestStateCodec<T>({ key: k, ttlSeconds });
      lastKey = k;
    }
    return codec;
  };
  // Arrow functions: the server passes `verify` on as a bare function.
  return {
    mint: (payload, ctx) => current().mint(payload, ctx),
    verify: (state, ctx) => current().verify(state, ctx),
  };
}
