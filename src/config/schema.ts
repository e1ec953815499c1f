/**
 * The operator's configuration: ONE zod schema holding every default. The loader (load.ts) fills it
 * from flags, then KUBEMCP_* environment variables, then these defaults; OPTIONS below is the one
 * table that names each setting's flag, environment variable and help text.
 */

import { z } from 'zod';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const port = z.number().int().min(0, 'a port is 0 to 65535').max(65535, 'a port is 0 to 65535');
const seconds = z.number().positive('must be a positive number of seconds').max(3600, 'at most 3600 seconds');
/** The Secret that shares the confirmation key between replicas (src/kube/confirmationkey.ts). */
export const DEFAULT_CONFIRMATION_KEY_SECRET = 'kubemcp-confirmation-key';
const hostList = z.array(z.string().min(1)).min(1, 'needs at least one entry');

export const LeaderElectionConfigSchema = z
  .strictObject({
    /**
     * Elect one leader (which alone writes McpPolicy status and Events); every replica enforces.
     * The loader's default depends on where the process runs: on in a Pod, off outside one unless
     * a Lease namespace or name is set (see load.ts); this schema default applies to callers that
     * build a Config directly.
     */
    enabled: z.boolean().default(true),
    /** Namespace of the Lease; in a pod, the namespace it runs in. */
    namespace: z.string().min(1).default('kubemcp-system'),
    leaseName: z
      .string()
      .min(1)
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Lease name is a DNS subdomain')
      .default('kubemcp-operator'),
    /** Identity written to holderIdentity; default: pod name (or hostname) plus a random suffix. */
    identity: z.string().min(1).optional(),
    leaseDurationSeconds: seconds.default(15),
    renewDeadlineSeconds: seconds.default(10),
    retryPeriodSeconds: seconds.default(2),
  })
  .superRefine((le, ctx) => {
    if (le.leaseDurationSeconds <= le.renewDeadlineSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['leaseDurationSeconds'],
        message: `lease duration (${le.leaseDurationSeconds}s) must be greater than the renew deadline (${le.renewDeadlineSeconds}s)`,
      });
    }
    if (le.renewDeadlineSeconds <= le.retryPeriodSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['renewDeadlineSeconds'],
        message: `renew deadline (${le.renewDeadlineSeconds}s) must be greater than the retry period (${le.retryPeriodSeconds}s)`,
      });
    }
  });

export const ConfigSchema = z
  .strictObject({
    /** Path of a kubeconfig; default: $KUBECONFIG's files merged, else in-cluster, else ~/.kube/config. */
    kubeconfig: z.string().min(1).optional(),
    /** kubeconfig context to use; default: its current context. */
    context: z.string().min(1).optional(),
    mcpPort: port.default(8080),
    healthPort: port.default(8081),
    bindAddress: z.string().min(1).default('0.0.0.0'),
    /** Audience every caller token must be bound to. */
    audience: z.string().min(1).default('kubemcp'),
    leaderElection: LeaderElectionConfigSchema.prefault({}),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    /** Base URL clients reach the MCP endpoint at (scheme://host[:port]). */
    publicUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('http://localhost:8080'),
    /** Host headers accepted on :8080; default: publicUrl's host and localhost. */
    allowedHosts: hostList.optional(),
    /** Origin hostnames accepted on :8080; default: allowedHosts. */
    allowedOrigins: hostList.optional(),
    /** File holding the HMAC key (≥ 32 bytes) of human confirmations, the same on every replica (a mounted Secret). */
    confirmationKeyFile: z.string().min(1).optional(),
    /** How long a 2025-era tools/call waits for the person's answer to a confirmation question. */
    confirmationTimeoutSeconds: z
      .number()
      .int()
      .min(5, 'at least 5 seconds')
      .max(600, 'at most 600 seconds')
      .default(120),
    /**
     * Secret in the operator's namespace (leaderElection.namespace) holding that key, created with 32
     * random bytes when missing. The loader's default: kubemcp-confirmation-key in a Pod or when a
     * Lease namespace is set, none outside (a random key per process). Ignored with confirmationKeyFile.
     */
    confirmationKeySecret: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Secret name is a DNS subdomain')
      .optional(),
    /** How often the leader deletes cool-down Leases that can no longer refuse a scale (jittered). */
    scaleLeaseSweepSeconds: z
      .number()
      .min(1, 'at least 1 second')
      .max(86_400, 'at most 86400 seconds')
      .default(600),
    /** Largest accepted MCP request body, in bytes. */
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024, 'at least 1024 bytes')
      .max(64 * 1024 * 1024, 'at most 64 MiB')
      .default(1024 * 1024),
    /** Write the audit log (one record per tool call, resource read and resource list). */
    audit: z.boolean().default(true),
    /** MCP requests one caller (by username) may have in flight; beyond it 429. */
    maxInflightPerCaller: z.number().int().min(1, 'at least 1').max(10_000, 'at most 10000').default(8),
    /** TokenReviews the MCP endpoint runs at once (more wait briefly, then get 503). */
    tokenReviewConcurrency: z.number().int().min(1, 'at least 1').max(1_000, 'at most 1000').default(4),
    /**
     * Least time between two fetches of the ServiceAccount issuer's keys (a token naming an unknown
     * key id asks for one), so that made-up key ids cannot make the operator fetch per request.
     */
    issuerKeysRefreshSeconds: seconds.default(10),
    /**
     * Upper bound of the informers' reconnect backoff, in seconds. Small on purpose: after an API
     * server outage the caches must be fresh again within seconds (a retry every 1.5–3 s per watched
     * kind while it is down is a handful of requests).
     */
    watchBackoffMaxSeconds: seconds.default(3),
  })
  .superRefine((c, ctx) => {
    if (c.mcpPort !== 0 && c.mcpPort === c.healthPort) {
      ctx.addIssue({
        code: 'custom',
        path: ['healthPort'],
        message: `the health port must differ from the MCP port (${c.mcpPort})`,
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type LeaderElectionConfig = z.infer<typeof LeaderElectionConfigSchema>;

/** How a setting is read from a string (flag or environment). */
export type OptionType = 'string' | 'integer' | 'number' | 'boolean' | 'list';

export interface OptionSpec {
  /** Dotted path in Config, e.g. `leaderElection.leaseName`. */
  readonly key: string;
  /** Long flag without dashes, e.g. `lease-name`. */
  readonly flag: string;
  /** Environment variable, e.g. `KUBEMCP_LEASE_NAME`. */
  readonly env: string;
  readonly type: OptionType;
  readonly help: string;
  /** Placeholder in --help, e.g. PORT. */
  readonly value?: string;
  /** The default as --help shows it, when it depends on where the process runs. */
  readonly defaultHelp?: string;
}

/** Every `kubemcp serve` setting: flag, environment variable, help. Defaults live in ConfigSchema. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'kubeconfig',
    flag: 'kubeconfig',
    env: 'KUBEMCP_KUBECONFIG',
    type: 'string',
    value: 'PATH',
    help: 'kubeconfig file',
    defaultHelp: "$KUBECONFIG's files merged as kubectl merges them, else in-cluster, else ~/.kube/config",
  },
  {
    key: 'context',
    flag: 'context',
    env: 'KUBEMCP_CONTEXT',
    type: 'string',
    value: 'NAME',
    help: 'kubeconfig context',
    defaultHelp: "the kubeconfig's current context",
  },
  {
    key: 'mcpPort',
    flag: 'mcp-port',
    env: 'KUBEMCP_MCP_PORT',
    type: 'integer',
    value: 'PORT',
    help: 'port of the MCP endpoint /mcp',
  },
  {
    key: 'healthPort',
    flag: 'health-port',
    env: 'KUBEMCP_HEALTH_PORT',
    type: 'integer',
    value: 'PORT',
    help: 'port of /healthz, /readyz and /metrics',
  },
  {
    key: 'bindAddress',
    flag: 'bind-address',
    env: 'KUBEMCP_BIND_ADDRESS',
    type: 'string',
    value: 'ADDR',
    help: 'address both servers listen on',
  },
  {
    key: 'audience',
    flag: 'audience',
    env: 'KUBEMCP_AUDIENCE',
    type: 'string',
    value: 'AUD',
    help: 'audience caller tokens must be bound to',
  },
  {
    key: 'leaderElection.enabled',
    flag: 'leader-elect',
    env: 'KUBEMCP_LEADER_ELECT',
    type: 'boolean',
    help: 'elect a leader through a Lease (the leader alone writes McpPolicy status and Events)',
    defaultHelp: 'on in a Pod; outside one, on only when --leader-election-namespace or --lease-name is set',
  },
  {
    key: 'leaderElection.namespace',
    flag: 'leader-election-namespace',
    env: 'KUBEMCP_LEADER_ELECTION_NAMESPACE',
    type: 'string',
    value: 'NS',
    help: 'namespace of the Lease and the cool-down Leases, and of the confirmation key Secret',
    defaultHelp: "the pod's namespace, else kubemcp-system",
  },
  {
    key: 'leaderElection.leaseName',
    flag: 'lease-name',
    env: 'KUBEMCP_LEASE_NAME',
    type: 'string',
    value: 'NAME',
    help: 'name of the Lease',
  },
  {
    key: 'leaderElection.identity',
    flag: 'identity',
    env: 'KUBEMCP_IDENTITY',
    type: 'string',
    value: 'ID',
    help: 'holder identity in the Lease',
    defaultHelp: 'pod name or hostname plus a random suffix',
  },
  {
    key: 'leaderElection.leaseDurationSeconds',
    flag: 'lease-duration',
    env: 'KUBEMCP_LEASE_DURATION',
    type: 'number',
    value: 'SECONDS',
    help: 'how long followers wait before taking over an unrenewed Lease',
  },
  {
    key: 'leaderElection.renewDeadlineSeconds',
    flag: 'renew-deadline',
    env: 'KUBEMCP_RENEW_DEADLINE',
    type: 'number',
    value: 'SECONDS',
    help: 'how long the leader keeps trying to renew before it stops leading',
  },
  {
    key: 'leaderElection.retryPeriodSeconds',
    flag: 'retry-period',
    env: 'KUBEMCP_RETRY_PERIOD',
    type: 'number',
    value: 'SECONDS',
    help: 'interval between acquire/renew attempts',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'KUBEMCP_LOG_LEVEL',
    type: 'string',
    value: 'LEVEL',
    help: `log level: ${LOG_LEVELS.join(', ')} (debug logs every JSON-RPC message)`,
  },
  {
    key: 'publicUrl',
    flag: 'public-url',
    env: 'KUBEMCP_PUBLIC_URL',
    type: 'string',
    value: 'URL',
    help: 'base URL clients use to reach the MCP endpoint',
  },
  {
    key: 'allowedHosts',
    flag: 'allowed-hosts',
    env: 'KUBEMCP_ALLOWED_HOSTS',
    type: 'list',
    value: 'H1,H2',
    help: "Host headers accepted on the MCP port ('*' for any)",
    defaultHelp: "the public URL's host and localhost",
  },
  {
    key: 'allowedOrigins',
    flag: 'allowed-origins',
    env: 'KUBEMCP_ALLOWED_ORIGINS',
    type: 'list',
    value: 'H1,H2',
    help: 'Origin hostnames accepted on the MCP port',
    defaultHelp: 'the allowed hosts',
  },
  {
    key: 'bodyLimitBytes',
    flag: 'body-limit',
    env: 'KUBEMCP_BODY_LIMIT',
    type: 'integer',
    value: 'BYTES',
    help: 'largest accepted MCP request body',
  },
  {
    key: 'audit',
    flag: 'audit',
    env: 'KUBEMCP_AUDIT',
    type: 'boolean',
    help: 'write the audit log (one JSON record per tool call, resource read and list), whatever the log level',
  },
  {
    key: 'maxInflightPerCaller',
    flag: 'max-inflight-per-caller',
    env: 'KUBEMCP_MAX_INFLIGHT_PER_CALLER',
    type: 'integer',
    value: 'N',
    help: 'MCP requests one caller may have in flight; more get 429 with Retry-After',
  },
  {
    key: 'tokenReviewConcurrency',
    flag: 'token-review-concurrency',
    env: 'KUBEMCP_TOKEN_REVIEW_CONCURRENCY',
    type: 'integer',
    value: 'N',
    help: 'TokenReviews run at once (callers known to be genuine wait up to 10 s for one, unknown tokens up to 2 s; beyond that 503 with Retry-After)',
  },
  {
    key: 'issuerKeysRefreshSeconds',
    flag: 'issuer-keys-refresh-interval',
    env: 'KUBEMCP_ISSUER_KEYS_REFRESH_INTERVAL',
    type: 'number',
    value: 'SECONDS',
    help: 'least time between two fetches of the ServiceAccount issuer keys (JWKS) that verify token signatures locally; a token with an unknown key id asks for one',
  },
  {
    key: 'confirmationKeyFile',
    flag: 'confirmation-key-file',
    env: 'KUBEMCP_CONFIRMATION_KEY_FILE',
    type: 'string',
    value: 'PATH',
    help: 'HMAC key (at least 32 bytes) signing human confirmations, shared by every replica',
    defaultHelp: 'the key in --confirmation-key-secret, else a random key per process',
  },
  {
    key: 'confirmationKeySecret',
    flag: 'confirmation-key-secret',
    env: 'KUBEMCP_CONFIRMATION_KEY_SECRET',
    type: 'string',
    value: 'NAME',
    help: "Secret in the operator's namespace holding that key, created with 32 random bytes when missing (ignored with --confirmation-key-file)",
    defaultHelp:
      'kubemcp-confirmation-key in a Pod or when --leader-election-namespace is set; otherwise none (a random key per process)',
  },
  {
    key: 'scaleLeaseSweepSeconds',
    flag: 'scale-lease-sweep-interval',
    env: 'KUBEMCP_SCALE_LEASE_SWEEP_INTERVAL',
    type: 'number',
    value: 'SECONDS',
    help: 'how often the leader deletes cool-down Leases (kubemcp-scale-*) too old to refuse any scale (±20 % jitter)',
  },
  {
    key: 'confirmationTimeoutSeconds',
    flag: 'confirmation-timeout',
    env: 'KUBEMCP_CONFIRMATION_TIMEOUT',
    type: 'integer',
    value: 'SECONDS',
    help: 'how long a 2025-era tool call waits for the person to answer a confirmation question (5-600; then ConfirmationRequired)',
  },
  {
    key: 'watchBackoffMaxSeconds',
    flag: 'watch-backoff-max',
    env: 'KUBEMCP_WATCH_BACKOFF_MAX',
    type: 'number',
    value: 'SECONDS',
    help: 'upper bound of the delay before a broken watch is retried',
  },
];
