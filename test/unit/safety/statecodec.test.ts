import type { ServerContext } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { currentKeyCodec } from '../../../src/mcp/safety/statecodec.js';

const ctx = {} as ServerContext;

describe('currentKeyCodec', () => {
  it('signs and verifies with the key as it is at each call: a state of the old key fails after a change', async () => {
    let key = new Uint8Array(32).fill(1);
    const codec = currentKeyCodec<{ n: number }>(() => key, 120);
    const old = await codec.mint({ n: 1 }, ctx);
    expect(await codec.verify(old, ctx)).toEqual({ n: 1 });
    key = new Uint8Array(32).fill(2);
    await expect(codec.verify(old, ctx)).rejects.toThrow();
    const fresh = await codec.mint({ n: 2 }, ctx);
    expect(await codec.verify(fresh, ctx)).toEqual({ n: 2 });
    // Bare functions work (the server passes `verify` on unbound).
    const { verify } = codec;
    expect(await verify(fresh, ctx)).toEqual({ n: 2 });
  });
});
