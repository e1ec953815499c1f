/** Shared helpers of the e2e suite: clients for the run's cluster, scratch namespaces, diagnostics. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeEach, inject } from 'vitest';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';

export function cluster() {
  return inject('cluster');
}

/** A client-node KubeConfig of the run's cluster: what the tests use to arrange and inspect. */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster().kubeconfig);
  return kc;
}

/** The operator's own client (src/kube/client.ts) on the run's cluster: what the code under test uses. */
export function kubeClient(): KubeClient {
  return new KubeClient(loadKubeConfig(cluster().kubeconfig));
}

/** Polls `check` until it returns a value other than undefined/false, or fails naming `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    }
    await sleep(200);
  }
}

/**
 * A namespace for one test file, deleted afterwards. Diagnostics (component logs, the namespace's
 * Events) are printed when a test in the file fails.
 */
export function scratchNamespace(prefix: string): () => string {
  const name = `e2e-${prefix}-${randomBytes(3).toString('hex')}`;
  let created = false;
  const core = () => kubeConfig().makeApiClient(CoreV1Api);
  beforeEach(async ({ onTestFailed }) => {
    if (!created) {
      await core().createNamespace({ body: { metadata: { name, labels: { 'kubemcp.io/e2e': 'true' } } } });
      created = true;
    }
    onTestFailed(async () => {
      await dumpDiagnostics(name);
    });
  });
  afterAll(async () => {
    if (created)
      await core()
        .deleteNamespace({ name })
        .catch(() => undefined);
  });
  return () => name;
}

export async function dumpDiagnostics(namespace?: string): Promise<void> {
  const out: string[] = ['', '──── e2e diagnostics ────'];
  const logs = cluster().logsDir;
  if (logs && fs.existsSync(logs)) {
    for (const f of fs.readdirSync(logs).sort()) {
      const text = fs.readFileSync(path.join(logs, f), 'utf8').trimEnd().split('\n').slice(-20).join('\n');
      out.push(`── ${f} (last 20 lines) ──`, text);
    }
  }
  if (namespace) {
    try {
      const events = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace });
      out.push(`── Events in ${namespace} ──`);
      for (const e of events.items.slice(-30)) {
        out.push(
          `${e.lastTimestamp?.toISOString() ?? ''} ${e.type} ${e.reason} ${e.involvedObject.kind}/${e.involvedObject.name}: ${e.message}`,
        );
      }
    } catch (err) {
      out.push(`(could not list Events: ${err instanceof Error ? err.message : String(err)})`);
    }
  }
  process.stderr.write(`${out.join('\n')}\n`);
}
