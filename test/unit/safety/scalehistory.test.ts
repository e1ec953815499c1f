import { describe, expect, it } from 'vitest';
import { lastKubeMcpScale } from '../../../src/kube/scalehistory.js';

const replicas = { 'f:spec': { 'f:replicas': {} } };

describe('lastKubeMcpScale', () => {
  it('reads the time of the kubemcp /scale entry that owns spec.replicas, counted from the end of its second', () => {
    expect(
      lastKubeMcpScale([
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          time: '2026-11-01T12:00:00Z',
          fieldsV1: {},
        },
        {
          manager: 'kubemcp',
          operation: 'Update',
          subresource: 'scale',
          time: '2026-11-01T12:00:05Z',
          fieldsV1: replicas,
        },
      ]),
    ).toBe(Date.parse('2026-11-01T12:00:06Z'));
  });

  it('ignores other managers, other subresources and entries without spec.replicas', () => {
    expect(
      lastKubeMcpScale([
        {
          manager: 'kubectl',
          operation: 'Update',
          subresource: 'scale',
          time: '2026-11-01T12:00:05Z',
          fieldsV1: replicas,
        },
        { manager: 'kubemcp', operation: 'Update', time: '2026-11-01T12:00:05Z', fieldsV1: replicas },
        {
          manager: 'kubemcp',
          operation: 'Update',
          subresource: 'scale',
          time: '2026-11-01T12:00:05Z',
          fieldsV1: {},
        },
        {
          manager: 'kubemcp',
          operation: 'Update',
          subresource: 'scale',
          time: 'garbage',
          fieldsV1: replicas,
        },
      ]),
    ).toBeUndefined();
    expect(lastKubeMcpScale(undefined)).toBeUndefined();
  });
});
