/** Event names stay valid object names for every object name, including 253-character ones. */

import { afterEach, describe, expect, it } from 'vitest';
import { EventRecorder, eventName, MAX_EVENT_NAME } from '../../../src/kube/events.js';
import { type Cleanups, localApi } from './local-api.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A 253-character DNS subdomain: labels of 63 characters joined by dots. */
function longName(last = 'z'): string {
  const label = 'a'.repeat(62);
  const name = `${label}b.${label}c.${label}d.${'e'.repeat(60)}${last}`;
  expect(name).toHaveLength(253);
  return name;
}

describe('Event names', () => {
  it('are <object>.<suffix> when that fits', () => {
    expect(eventName('web', '18c0ffee123abc')).toBe('web.18c0ffee123abc');
  });

  it('are cut with a hash of the whole name when the object name is long, and stay valid', () => {
    const suffix = '19abcdef0123456789';
    for (const name of [longName(), `${'x'.repeat(230)}-.${'y'.repeat(22)}`, 'q'.repeat(253)]) {
      const ev = eventName(name, suffix);
      expect(ev.length).toBeLessThanOrEqual(MAX_EVENT_NAME);
      expect(ev).toMatch(DNS_SUBDOMAIN);
      expect(ev.endsWith(`.${suffix}`)).toBe(true);
    }
    // Two long names with the same first 230 characters get different Event names.
    expect(eventName(longName('y'), suffix)).not.toBe(eventName(longName('z'), suffix));
  });

  it('EventRecorder posts a valid name for a 253-character object name', async () => {
    const bodies: { metadata: { name: string }; regarding: { name: string } }[] = [];
    const client = await localApi((req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => {
        data += c.toString();
      });
      req.on('end', () => {
        bodies.push(JSON.parse(data));
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    }, cleanups);
    const name = longName();
    const ok = await new EventRecorder(client, 'test').record({
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', name, namespace: 'web' },
      type: 'Normal',
      reason: 'Scaled',
      action: 'Scale',
      note: 'scaled',
    });
    expect(ok).toBe(true);
    expect(bodies[0]?.metadata.name.length).toBeLessThanOrEqual(MAX_EVENT_NAME);
    expect(bodies[0]?.metadata.name).toMatch(DNS_SUBDOMAIN);
    expect(bodies[0]?.regarding.name).toBe(name); // the object is named in full
  });
});
