/** The MCP endpoint (:8080) built from the operator's parts: authenticator, policy store, backend. */

import { createServer as createHttpServer, type Server } from 'node:http';
import type { Level, Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/index.js';
import type { PolicyStore } from '../../controller/index.js';
import type { KubeBackend, KubeClient } from '../../kube/index.js';
import {
  createMcpApp,
  createTokenReviewAuthenticator,
  kubeIssuerDiscovery,
  kubeTokenReview,
  ServiceAccountKeys,
} from '../../mcp/index.js';
import type { Tracing } from '../../telemetry/index.js';
import { VERSION } from '../version.js';

export interface McpDeps {
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

/**
 * THE MCP WIRING POINT: the one call site that builds the MCP endpoint from the operator's parts.
 * `getIndex` reads the controller's PolicyStore per request, so policy changes apply without restart.
 */
export function createMcpServer(deps: McpDeps): Server {
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
