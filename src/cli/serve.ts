/**
 * `kubemcp serve`: config → kube client → watch caches (backend) + controller + leader election +
 * probes/metrics server (:8081) + MCP server (:8080). Every part is started here, and stopped here in
 * reverse order on shutdown (the leader releases its Lease so a follower takes over at once).
 */

import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Level, Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Config, TracingConfig } from '../config/index.js';
import {
  KubeLeaseClient,
  LeaderElector,
  PolicyController,
  PolicyStore,
  ScaleLeaseSweeper,
} from '../controller/index.js';
import { operatorMetrics, startHealthServer } from '../health/index.js';
import { readConfirmationKeyFile } from '../kube/confirmationkey.js';
import {
  CACHED_KINDS,
  EventRecorder,
  KubeBackend,
  KubeClient,
  loadKubeConfig,
  SharedConfirmationKey,
} from '../kube/index.js';
import {
  createMcpApp,
  createTokenReviewAuthenticator,
  kubeIssuerDiscovery,
  kubeTokenReview,
  ServiceAccountKeys,
} from '../mcp/index.js';
import { cooldownsWithoutNamespace } from '../policy/cooldowns.js';
import { startTracing, type Tracing } from '../telemetry/index.js';
import { VERSION } from './version.js';

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

interface McpDeps {
  readonly config: Config;
  /** The confirmation key: from --confirmation-key-file, else the shared Secret's, else undefined (random per process). */
  readonly confirmationKey: Uint8Array | (() => Uint8Array) | undefined;
  readonly client: KubeClient;
  readonly store: PolicyStore;
  readonly backend: KubeBackend;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly tracing: Tracing;
}

export interface ServeOptions {
  /** OpenTelemetry tracing (src/config/tracing.ts); undefined: off, and the SDK is never loaded. */
  readonly tracing?: TracingConfig | undefined;
}

/**
 * THE MCP WIRING POINT: the one call site that builds the MCP endpoint from the operator's parts.
 * `getIndex` reads the controller's PolicyStore per request, so policy changes apply without restart.
 */
function createMcpServer(deps: McpDeps): Server {
  const { config } = deps;
  // ServiceAccount token signatures are checked against the issuer's keys (loaded now; the first
  // requests wait for them), the TokenReview kept for what only it knows.
  const keys = new ServiceAccountKeys({
    discover: kubeIssuerDiscovery(deps.client),
    refreshFloorMs: config.issuerKeysRefreshSeconds * 1000,
    logger: deps.logger,
    registry: deps.registry,
  });
  void keys.load();
  const authenticator = createTokenReviewAuthenticator({
    review: kubeTokenReview(deps.client),
    keys,
    audience: config.audience,
    maxConcurrentReviews: config.tokenReviewConcurrency,
    registry: deps.registry,
    logger: deps.logger,
  });
  const app = createMcpApp({
    authenticator,
    getIndex: () => deps.store.current(),
    backend: deps.backend,
    logger: deps.logger,
    registry: deps.registry,
    tracing: deps.tracing,
    options: {
      publicUrl: config.publicUrl,
      ...(config.allowedHosts ? { allowedHosts: config.allowedHosts } : {}),
      ...(config.allowedOrigins ? { allowedOrigins: config.allowedOrigins } : {}),
      bodyLimitBytes: config.bodyLimitBytes,
      audit: config.audit,
      maxInflightPerCaller: config.maxInflightPerCaller,
      ...(deps.confirmationKey === undefined ? {} : { confirmationKey: deps.confirmationKey }),
      confirmationTimeoutSeconds: config.confirmationTimeoutSeconds,
      ...(config.logLevel === 'silent' ? {} : { logLevel: config.logLevel as Level }),
      serverInfo: { name: 'kubemcp', version: VERSION },
    },
  });
  return createHttpServer(app).listen(config.mcpPort, config.bindAddress);
}

function listening(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    if (server.listening) {
      resolve((server.address() as AddressInfo).port);
      return;
    }
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * In a Pod, the Service keeps sending new connections to a terminating Pod until its endpoint is
 * removed and every node's proxy rules follow (about a second, more on a busy cluster). On
 * shutdown the MCP server therefore keeps serving this long (not ready, every response closing its
 * connection so that clients reconnect through the Service) before it stops accepting. Outside a
 * Pod (no KUBERNETES_SERVICE_HOST) nothing routes to it that way, and it stops at once.
 */
export const DRAIN_DELAY_MS = process.env.KUBERNETES_SERVICE_HOST ? 5_000 : 0;

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // In-flight requests get a moment; then connections are cut.
    setTimeout(() => server.closeAllConnections(), 5_000).unref();
  });
}

export async function startServe(
  config: Config,
  logger: Logger,
  options: ServeOptions = {},
): Promise<ServeHandle> {
  const connection = loadKubeConfig(config.kubeconfig, config.context);
  const client = new KubeClient(connection, { userAgent: `kubemcp/${VERSION}` });
  const identity = config.leaderElection.identity ?? 'kubemcp';
  logger.info(
    {
      version: VERSION,
      server: connection.server,
      kubeconfig: connection.source,
      identity,
      leaderElection: config.leaderElection.enabled
        ? `${config.leaderElection.namespace}/${config.leaderElection.leaseName}`
        : 'disabled',
    },
    'starting kubemcp',
  );

  const tracing = await startTracing(options.tracing, {
    serviceVersion: VERSION,
    instanceId: identity,
    logger,
  });
  if (options.tracing !== undefined) {
    // Where spans go and how they are sampled; the exporter's headers (credentials) are never logged.
    logger.info(
      {
        endpoint: options.tracing.endpoint,
        protocol: options.tracing.protocol,
        sampler: options.tracing.sampler,
        ...(options.tracing.sampler.endsWith('traceidratio') ? { ratio: options.tracing.samplerRatio } : {}),
        serviceName: options.tracing.serviceName,
        propagation: options.tracing.propagateTraceContext ? 'tracecontext' : 'none',
      },
      'tracing on (OpenTelemetry, OTLP)',
    );
  }

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = operatorMetrics(registry);

  // The confirmation key, before anything else starts: a key file is read (a short one refuses to
  // start); else the Secret shared by every replica is read or created (the first attempt is
  // awaited, so normally the first request already uses it; on failure a per-process key stands in
  // and the read is retried in the background).
  let confirmationKey: Uint8Array | (() => Uint8Array) | undefined;
  let sharedKey: SharedConfirmationKey | undefined;
  if (config.confirmationKeyFile !== undefined) {
    confirmationKey = readConfirmationKeyFile(config.confirmationKeyFile);
    metrics.confirmationKeyShared.set(1);
  } else if (config.confirmationKeySecret !== undefined) {
    const holder = new SharedConfirmationKey({
      client,
      namespace: config.leaderElection.namespace,
      name: config.confirmationKeySecret,
      logger,
      onProblem: (reason) => metrics.confirmationKeyShared.set(reason === undefined ? 1 : 0),
    });
    sharedKey = holder;
    await holder.start();
    confirmationKey = () => holder.current();
  } else {
    metrics.confirmationKeyShared.set(0);
  }
  const watchBackoff = { maxMs: config.watchBackoffMaxSeconds * 1000 };

  const backend = new KubeBackend({
    client,
    logger,
    reportingInstance: identity,
    backoff: watchBackoff,
    // Cool-down records (one Lease per scaled object) live next to the leader-election Lease.
    scaleLeaseNamespace: config.leaderElection.namespace,
  });
  for (const kind of CACHED_KINDS) metrics.trackCache(kind, () => backend.health(kind));

  const store = new PolicyStore();
  const le = config.leaderElection;
  const elector = le.enabled
    ? new LeaderElector({
        identity,
        client: new KubeLeaseClient(client, le.namespace, le.leaseName),
        leaseDurationMs: le.leaseDurationSeconds * 1000,
        renewDeadlineMs: le.renewDeadlineSeconds * 1000,
        retryPeriodMs: le.retryPeriodSeconds * 1000,
        logger,
        metrics,
      })
    : undefined;
  const controller = new PolicyController({
    client,
    store,
    logger,
    metrics,
    isLeader: () => elector?.isLeader() ?? true,
    namespaceInformer: backend.informer('namespace'),
    events: new EventRecorder(client, identity, logger),
    watchBackoff,
    // The Pod's namespace (or the Lease namespace set explicitly, kubemcp-system by default).
    operatorNamespace: config.leaderElection.namespace,
  });
  // The leader deletes cool-down Leases that can no longer refuse a scale.
  const sweeper = new ScaleLeaseSweeper({
    client,
    namespace: config.leaderElection.namespace,
    intervalMs: config.scaleLeaseSweepSeconds * 1000,
    logger,
    deleted: metrics.scaleLeasesDeleted,
    errors: metrics.scaleLeaseSweepErrors,
  });
  if (elector) {
    elector.onChange((leading) => {
      metrics.leader.set(leading ? 1 : 0);
      if (leading) {
        controller.resyncStatus();
        sweeper.start();
      } else {
        void sweeper.stop();
      }
    });
  } else {
    metrics.leader.set(1);
    sweeper.start();
  }

  // Cool-downs record scales as Leases in the operator namespace: say so once, at the first index,
  // when policies set cooldownSeconds and that namespace does not exist (their scales are refused).
  const offCooldownCheck = store.onChange((index) => {
    offCooldownCheck();
    const policies = cooldownsWithoutNamespace(index, config.leaderElection.namespace);
    if (policies.length > 0) {
      logger.warn(
        { namespace: config.leaderElection.namespace, policies },
        'McpPolicies set cooldownSeconds, and the namespace where KubeMCP records scales (Leases) does not exist: their scales are refused until it does (create it, or set --leader-election-namespace)',
      );
    }
  });

  let stopping = false;
  backend.start();
  controller.start();
  elector?.start();

  const health = await startHealthServer({
    registry,
    port: config.healthPort,
    host: config.bindAddress,
    logger,
    checks: [
      { name: 'shutdown', check: () => !stopping || 'shutting down' },
      { name: 'caches', check: () => backend.isSynced() || 'watch caches have not synced yet' },
      { name: 'policies', check: () => controller.ready() || 'no policy index built yet' },
      ...(sharedKey
        ? [
            {
              name: 'confirmation-key',
              warnOnly: true,
              check: () => sharedKey.problemMessage() ?? true,
            },
          ]
        : []),
      ...(elector
        ? [
            {
              name: 'leader-election',
              warnOnly: true,
              check: () => {
                const problem = elector.problem();
                return problem === undefined || `${problem.reason}: ${problem.message}`;
              },
            },
          ]
        : []),
    ],
  });

  const mcpServer = createMcpServer({
    config,
    confirmationKey,
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
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    if (done) return done;
    stopping = true;
    done = (async () => {
      logger.info({ reason, drainMs: DRAIN_DELAY_MS }, 'shutting down');
      // Leadership is handed over at once (serving MCP needs none) while the MCP server drains.
      const handOver = (async () => {
        sharedKey?.stop();
        await sweeper.stop();
        await controller.stop();
        await elector?.stop(); // releases the Lease
      })();
      if (DRAIN_DELAY_MS > 0) await new Promise((r) => setTimeout(r, DRAIN_DELAY_MS));
      await Promise.all([closeServer(mcpServer), handOver]);
      await backend.stop();
      await health.close();
      client.close();
      // The spans of the last requests (the MCP server has drained) go out before the process ends.
      await tracing.shutdown();
      logger.info('stopped');
    })();
    return done;
  };

  return { mcpPort, healthPort: health.port, store, controller, backend, elector, shutdown };
}
