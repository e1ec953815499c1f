/**
 * `kubemcp serve`: config → kube client → watch caches (backend) + controller + leader election +
 * probes/metrics server (:8081) + MCP server (:8080). This is where everything is wired, once: the
 * parts are built by the modules in serve/, started here, and stopped here in reverse order on
 * shutdown (the leader releases its Lease so a follower takes over at once).
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Config, TracingConfig } from '../config/index.js';
import type { LeaderElector, PolicyController, PolicyStore } from '../controller/index.js';
import { type HealthServer, operatorMetrics, startHealthServer } from '../health/index.js';
import { type KubeBackend, KubeClient, loadKubeConfig } from '../kube/index.js';
import { startTracing, type Tracing } from '../telemetry/index.js';
import { type ConfirmationKey, confirmationKeyFor } from './serve/key.js';
import { closeServer, DRAIN_DELAY_MS, listening } from './serve/lifecycle.js';
import { createMcpServer } from './serve/mcp.js';
import {
  type OperatorParts,
  operatorParts,
  readinessChecks,
  startOperator,
  warnCooldownsWithoutNamespace,
} from './serve/operator.js';
import { VERSION } from './version.js';

export { DRAIN_DELAY_MS } from './serve/lifecycle.js';

export interface ServeHandle {
  /** Port the MCP endpoint listens on. */
  readonly mcpPort: number;
  /** Port of /healthz, /readyz and /metrics. */
  readonly healthPort: number;
  readonly store: PolicyStore;
  readonly controller: PolicyController;
  readonly backend: KubeBackend;
  readonly elector: LeaderElector | undefined;
  /** Stops everything (idempotent); resolves when done. */
  shutdown(reason?: string): Promise<void>;
}

export interface ServeOptions {
  /** OpenTelemetry tracing (src/config/tracing.ts); undefined: off, and the SDK is never loaded. */
  readonly tracing?: TracingConfig | undefined;
}

/** The client for the cluster the config names, logged (without credentials) as serve starts. */
function connect(config: Config, logger: Logger): { client: KubeClient; identity: string } {
  const connection = loadKubeConfig(config.kubeconfig, config.context);
  const client = new KubeClient(connection, { userAgent: `kubemcp/${VERSION}` });
  const identity = config.leaderElection.identity ?? 'kubemcp';
  const le = config.leaderElection;
  logger.info(
    {
      version: VERSION,
      server: connection.server,
      kubeconfig: connection.source,
      identity,
      leaderElection: le.enabled ? `${le.namespace}/${le.leaseName}` : 'disabled',
    },
    'starting kubemcp',
  );
  return { client, identity };
}

/** Tracing, when configured: where spans go and how they are sampled (never the exporter's headers). */
async function tracingFor(
  config: TracingConfig | undefined,
  identity: string,
  logger: Logger,
): Promise<Tracing> {
  const tracing = await startTracing(config, { serviceVersion: VERSION, instanceId: identity, logger });
  if (config !== undefined) {
    logger.info(
      {
        endpoint: config.endpoint,
        protocol: config.protocol,
        sampler: config.sampler,
        ...(config.sampler.endsWith('traceidratio') ? { ratio: config.samplerRatio } : {}),
        serviceName: config.serviceName,
        propagation: config.propagateTraceContext ? 'tracecontext' : 'none',
      },
      'tracing on (OpenTelemetry, OTLP)',
    );
  }
  return tracing;
}

interface Running {
  readonly parts: OperatorParts;
  readonly key: ConfirmationKey;
  readonly client: KubeClient;
  readonly mcpServer: Server;
  readonly health: HealthServer;
  readonly tracing: Tracing;
  readonly logger: Logger;
}

/** Stops what runs, in reverse order; the MCP server drains while leadership is handed over. */
async function stopAll(r: Running, reason: string): Promise<void> {
  r.logger.info({ reason, drainMs: DRAIN_DELAY_MS }, 'shutting down');
  const handOver = (async () => {
    r.key.shared?.stop();
    await r.parts.sweeper.stop();
    await r.parts.controller.stop();
    await r.parts.elector?.stop(); // releases the Lease
  })();
  if (DRAIN_DELAY_MS > 0) await new Promise((resolve) => setTimeout(resolve, DRAIN_DELAY_MS));
  await Promise.all([closeServer(r.mcpServer), handOver]);
  await r.parts.backend.stop();
  await r.health.close();
  r.client.close();
  // The spans of the last requests (the MCP server has drained) go out before the process ends.
  await r.tracing.shutdown();
  r.logger.info('stopped');
}

export async function startServe(
  config: Config,
  logger: Logger,
  options: ServeOptions = {},
): Promise<ServeHandle> {
  const { client, identity } = connect(config, logger);
  const tracing = await tracingFor(options.tracing, identity, logger);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = operatorMetrics(registry);
  const key = await confirmationKeyFor(config, client, logger, metrics);
  const parts = operatorParts(config, client, identity, logger, metrics);
  warnCooldownsWithoutNamespace(parts.store, config.leaderElection.namespace, logger);
  let stopping = false;
  startOperator(parts, metrics);

  const health = await startHealthServer({
    registry,
    port: config.healthPort,
    host: config.bindAddress,
    logger,
    checks: readinessChecks(parts, key.shared, () => stopping),
  });
  const { store, backend, controller, elector } = parts;
  const mcpServer = createMcpServer({
    config,
    confirmationKey: key.key,
    client,
    store,
    backend,
    logger,
    registry,
    tracing,
  });
  mcpServer.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (stopping && !res.headersSent) res.setHeader('Connection', 'close');
  });
  const mcpPort = await listening(mcpServer);
  logger.info({ mcpPort, healthPort: health.port, bindAddress: config.bindAddress }, 'listening');

  let done: Promise<void> | undefined;
  const running: Running = { parts, key, client, mcpServer, health, tracing, logger };
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    stopping = true;
    done ??= stopAll(running, reason);
    return done;
  };
  return { mcpPort, healthPort: health.port, store, controller, backend, elector, shutdown };
}
