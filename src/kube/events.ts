/**
 * Records Kubernetes Events (events.k8s.io/v1), best effort: a failure is logged, never thrown, so an
 * Event can never break the operation it describes.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Span } from '../telemetry/index.js';
import type { KubeClient } from './client.js';
import { microTime } from './microtime.js';

export const REPORTING_CONTROLLER = 'kubemcp.io/operator';

/** Events about cluster-scoped objects (McpPolicy) live here, as client-go's recorder does it. */
export const CLUSTER_SCOPED_EVENT_NAMESPACE = 'default';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Omit for cluster-scoped objects. */
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

export interface EventSpec {
  readonly regarding: EventTarget;
  readonly type: 'Normal' | 'Warning';
  /** CamelCase, e.g. Scaled, Accepted, Invalid. */
  readonly reason: string;
  /** What was done, CamelCase, e.g. Scale, Reconcile. */
  readonly action: string;
  /** A sentence for people; cut to 1 KiB. */
  readonly note: string;
}

const NOTE_LIMIT = 1024;

/** An object name (metadata.name of an Event) is a DNS subdomain: at most 253 characters. */
export const MAX_EVENT_NAME = 253;
const HASH_LENGTH = 10;

/**
 * The name of an Event about `objectName`: `<objectName>.<suffix>`, as client-go names them. When
 * that would pass 253 characters (object names may have 253 themselves), the object name is cut and
 * a hash of the whole name appended, so the result is always a valid name and two long names that
 * share a prefix still get different Event names.
 */
export function eventName(objectName: string, suffix: string): string {
  const room = MAX_EVENT_NAME - 1 - suffix.length;
  if (objectName.length <= room) return `${objectName}.${suffix}`;
  const hash = createHash('sha256').update(objectName).digest('hex').slice(0, HASH_LENGTH);
  // The cut may end in '-' or '.': a DNS label must end with a letter or digit.
  const head = objectName.slice(0, Math.max(0, room - HASH_LENGTH - 1)).replace(/[-.]+$/, '');
  return `${head === '' ? '' : `${head}-`}${hash}.${suffix}`;
}

export class EventRecorder {
  private readonly log: Logger | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly reportingInstance: string,
    logger?: Logger,
  ) {
    this.log = logger?.child({ component: 'events' });
  }

  /** Creates the Event; resolves true when it was created. Never throws. `trace`: the span it is part of. */
  async record(spec: EventSpec, trace?: Span): Promise<boolean> {
    const namespace = spec.regarding.namespace ?? CLUSTER_SCOPED_EVENT_NAMESPACE;
    const note = spec.note.length > NOTE_LIMIT ? `${spec.note.slice(0, NOTE_LIMIT - 1)}…` : spec.note;
    try {
      await this.client.request(
        'POST',
        `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`,
        {
          timeoutMs: 10_000, // best effort: never hold up the operation it describes
          trace,
          body: {
            apiVersion: 'events.k8s.io/v1',
            kind: 'Event',
            metadata: {
              name: eventName(
                spec.regarding.name,
                `${Date.now().toString(16)}${randomBytes(3).toString('hex')}`,
              ),
              namespace,
            },
            eventTime: microTime(Date.now()),
            reportingController: REPORTING_CONTROLLER,
            reportingInstance: this.reportingInstance.slice(0, 128),
            action: spec.action,
            reason: spec.reason,
            type: spec.type,
            note,
            regarding: {
              apiVersion: spec.regarding.apiVersion,
              kind: spec.regarding.kind,
              name: spec.regarding.name,
              ...(spec.regarding.namespace === undefined ? {} : { namespace: spec.regarding.namespace }),
              ...(spec.regarding.uid === undefined ? {} : { uid: spec.regarding.uid }),
              ...(spec.regarding.resourceVersion === undefined
                ? {}
                : { resourceVersion: spec.regarding.resourceVersion }),
            },
          },
        },
      );
      return true;
    } catch (err) {
      this.log?.warn(
        {
          err: err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err),
          reason: spec.reason,
          regarding: `${spec.regarding.kind}/${spec.regarding.namespace ? `${spec.regarding.namespace}/` : ''}${spec.regarding.name}`,
        },
        'could not record Event',
      );
      return false;
    }
  }
}
