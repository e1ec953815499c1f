/**
 * The leader's periodic sweep of cool-down Leases (`kubemcp-scale-<uid>`, src/kube/scalehistory.ts):
 * one per object ever scaled under a cool-down, so without it they pile up. While this replica
 * leads, every interval (±20 % jitter, so a new leader does not sweep in step with the old one) it
 * deletes those too old to refuse any scale. A failed sweep is logged and retried at the next one.
 */

import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { KubeClient } from '../kube/client.js';
import { sweepScaleLeases } from '../kube/scalehistory.js';

export interface ScaleLeaseSweeperOptions {
  readonly client: KubeClient;
  /** The operator's namespace, where the cool-down Leases live. */
  readonly namespace: string;
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly deleted: Counter;
  readonly errors: Counter;
  readonly now?: () => number;
  readonly random?: () => number;
}

export class ScaleLeaseSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private active = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: ScaleLeaseSweeperOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** Starts sweeping (leadership gained); the first sweep comes after one jittered interval. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.abort = new AbortController();
    this.schedule();
  }

  /** Stops sweeping (leadership lost, or shutdown); resolves once a running sweep has ended. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    await this.running;
  }

  private schedule(): void {
    const delay = Math.max(1, Math.round(this.options.intervalMs * (0.8 + 0.4 * this.random())));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.sweep().finally(() => {
        this.running = undefined;
        if (this.active) this.schedule();
      });
    }, delay);
    this.timer.unref();
  }

  private async sweep(): Promise<void> {
    const { client, namespace, logger } = this.options;
    const signal = this.abort?.signal;
    try {
      const result = await sweepScaleLeases(client, namespace, this.now, {
        onDeleted: () => this.options.deleted.inc(),
        ...(signal === undefined ? {} : { signal }),
      });
      if (result.deleted > 0 || result.skipped > 0) {
        logger.info({ namespace, ...result }, 'deleted expired cool-down Leases');
      } else {
        logger.debug({ namespace, ...result }, 'no expired cool-down Lease');
      }
    } catch (err) {
      if (signal?.aborted === true) return;
      this.options.errors.inc();
      logger.warn(
        { namespace, reason: err instanceof Error ? err.message.slice(0, 300) : String(err) },
        'the sweep of expired cool-down Leases failed; retrying at the next interval',
      );
    }
  }
}
