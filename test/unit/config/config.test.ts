import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ConfigSchema,
  loadConfig,
  OPTIONS,
  resolveKubeconfigPath,
  serveFlagHelp,
  serveFlagOptions,
} from '../../../src/config/index.js';

const NO_FILE = '/nonexistent/kubemcp-test/namespace';

function load(flags: Record<string, string | boolean | string[]> = {}, env: Record<string, string> = {}) {
  return loadConfig({ flags, env, serviceAccountNamespaceFile: NO_FILE });
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config defaults', () => {
  it('has every default in the schema (in a Pod)', () => {
    const c = load({}, { KUBERNETES_SERVICE_HOST: '10.96.0.1' });
    expect(c).toMatchObject({
      mcpPort: 8080,
      healthPort: 8081,
      bindAddress: '0.0.0.0',
      audience: 'kubemcp',
      logLevel: 'info',
      publicUrl: 'http://localhost:8080',
      bodyLimitBytes: 1024 * 1024,
      leaderElection: {
        enabled: true,
        namespace: 'kubemcp-system',
        leaseName: 'kubemcp-operator',
        leaseDurationSeconds: 15,
        renewDeadlineSeconds: 10,
        retryPeriodSeconds: 2,
      },
    });
    expect(c.kubeconfig).toBeUndefined();
    expect(c.allowedHosts).toBeUndefined();
    expect(c.scaleLeaseSweepSeconds).toBe(600);
    // The schema alone gives the same defaults (identity and the confirmation key's Secret aside,
    // which depend on where the process runs).
    const { leaderElection, ...rest } = ConfigSchema.parse({});
    const { leaderElection: loadedLe, confirmationKeySecret, ...loadedRest } = c;
    expect(confirmationKeySecret).toBe('kubemcp-confirmation-key');
    expect(loadedRest).toEqual(rest);
    expect({ ...loadedLe, identity: undefined }).toEqual({ ...leaderElection, identity: undefined });
  });

  it('elects a leader by default in a Pod only; outside one, when a Lease namespace or name is set', () => {
    expect(load().leaderElection.enabled).toBe(false);
    expect(load({}, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }).leaderElection.enabled).toBe(true);
    expect(load({}, { POD_NAME: 'kubemcp-7d9f' }).leaderElection.enabled).toBe(true);
    expect(load({ 'leader-election-namespace': 'ops' }).leaderElection.enabled).toBe(true);
    expect(load({}, { KUBEMCP_LEASE_NAME: 'mine' }).leaderElection.enabled).toBe(true);
    expect(load({ 'leader-elect': true }).leaderElection.enabled).toBe(true);
    expect(
      load({ 'no-leader-elect': true }, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }).leaderElection.enabled,
    ).toBe(false);
    // The mounted ServiceAccount namespace file also says "in a Pod".
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-sa-'));
    fs.writeFileSync(path.join(dir, 'namespace'), 'ops\n');
    const inPod = loadConfig({ flags: {}, env: {}, serviceAccountNamespaceFile: path.join(dir, 'namespace') });
    expect(inPod.leaderElection).toMatchObject({ enabled: true, namespace: 'ops' });
    expect(serveFlagHelp()).toContain('(default on in a Pod; outside one, on only when');
  });

  it('shares the confirmation key through a Secret in a Pod or with a Lease namespace, unless a key file is given', () => {
    expect(load().confirmationKeySecret).toBeUndefined();
    expect(load({}, { POD_NAME: 'kubemcp-7d9f' }).confirmationKeySecret).toBe('kubemcp-confirmation-key');
    expect(load({ 'leader-election-namespace': 'ops' }).confirmationKeySecret).toBe('kubemcp-confirmation-key');
    // A Lease name alone says nothing about the namespace.
    expect(load({ 'lease-name': 'mine' }).confirmationKeySecret).toBeUndefined();
    expect(load({ 'confirmation-key-secret': 'mine' }).confirmationKeySecret).toBe('mine');
    expect(
      load({ 'confirmation-key-file': '/keys/k' }, { POD_NAME: 'kubemcp-7d9f' }).confirmationKeySecret,
    ).toBeUndefined();
    expect(errorOf(() => load({ 'confirmation-key-secret': 'Not_A_Name' })).message).toContain(
      '--confirmation-key-secret: a Secret name is a DNS subdomain',
    );
    expect(load({}, { KUBEMCP_SCALE_LEASE_SWEEP_INTERVAL: '2' }).scaleLeaseSweepSeconds).toBe(2);
    expect(errorOf(() => load({ 'scale-lease-sweep-interval': '0' })).message).toContain(
      '--scale-lease-sweep-interval: at least 1 second',
    );
  });

  it('derives the identity from the pod name with a random suffix, and the namespace from the pod', () => {
    const a = load({}, { POD_NAME: 'kubemcp-7d9f', POD_NAMESPACE: 'ops' });
    const b = load({}, { POD_NAME: 'kubemcp-7d9f', POD_NAMESPACE: 'ops' });
    expect(a.leaderElection.identity).toMatch(/^kubemcp-7d9f_[0-9a-f]{8}$/);
    expect(a.leaderElection.identity).not.toBe(b.leaderElection.identity);
    expect(a.leaderElection.namespace).toBe('ops');
  });

  it('leaves $KUBECONFIG to the kubeconfig loader (which merges all its files) when nothing else names one', () => {
    expect(load({}, { KUBECONFIG: '/a/config:/b/config' }).kubeconfig).toBeUndefined();
    expect(load({}, { KUBECONFIG: '/a', KUBEMCP_KUBECONFIG: '/k' }).kubeconfig).toBe('/k');
    expect(load({ kubeconfig: '/f' }, { KUBECONFIG: '/a', KUBEMCP_KUBECONFIG: '/k' }).kubeconfig).toBe('/f');
  });
});

describe('config precedence: flags > env > defaults', () => {
  it('reads KUBEMCP_* variables', () => {
    const c = load(
      {},
      {
        KUBEMCP_MCP_PORT: '9090',
        KUBEMCP_LEADER_ELECT: 'false',
        KUBEMCP_LEASE_NAME: 'other',
        KUBEMCP_LOG_LEVEL: 'debug',
        KUBEMCP_ALLOWED_HOSTS: 'a.example, b.example',
        KUBEMCP_LEASE_DURATION: '12.5',
      },
    );
    expect(c.mcpPort).toBe(9090);
    expect(c.leaderElection.enabled).toBe(false);
    expect(c.leaderElection.leaseName).toBe('other');
    expect(c.leaderElection.leaseDurationSeconds).toBe(12.5);
    expect(c.logLevel).toBe('debug');
    expect(c.allowedHosts).toEqual(['a.example', 'b.example']);
  });

  it('lets flags win over variables', () => {
    const c = load(
      { 'mcp-port': '7000', 'leader-elect': true, 'allowed-hosts': ['x', 'y,z'] },
      { KUBEMCP_MCP_PORT: '9090', KUBEMCP_LEADER_ELECT: 'false', KUBEMCP_ALLOWED_HOSTS: 'a' },
    );
    expect(c.mcpPort).toBe(7000);
    expect(c.leaderElection.enabled).toBe(true);
    expect(c.allowedHosts).toEqual(['x', 'y', 'z']);
    expect(load({ 'no-leader-elect': true }, { KUBEMCP_LEADER_ELECT: 'true' }).leaderElection.enabled).toBe(false);
  });
});

describe('the audit and request limits', () => {
  it('audits by default, independent of the log level, and can be switched off', () => {
    expect(load({ 'log-level': 'silent' })).toMatchObject({
      audit: true,
      logLevel: 'silent',
      maxInflightPerCaller: 8,
      tokenReviewConcurrency: 4,
    });
    expect(load({ 'no-audit': true }).audit).toBe(false);
    expect(load({}, { KUBEMCP_AUDIT: 'false' }).audit).toBe(false);
  });

  it('reads the per-caller and TokenReview limits, and refuses zero', () => {
    expect(
      load({ 'max-inflight-per-caller': '2' }, { KUBEMCP_TOKEN_REVIEW_CONCURRENCY: '16' }),
    ).toMatchObject({ maxInflightPerCaller: 2, tokenReviewConcurrency: 16 });
    expect(errorOf(() => load({ 'max-inflight-per-caller': '0' })).message).toMatch(
      /--max-inflight-per-caller: at least 1/,
    );
  });
});

describe('config errors', () => {
  it('names the variable of a value that does not parse', () => {
    expect(errorOf(() => load({}, { KUBEMCP_MCP_PORT: 'eighty' })).message).toMatch(
      /KUBEMCP_MCP_PORT: "eighty" is not a whole number/,
    );
    expect(errorOf(() => load({}, { KUBEMCP_LEADER_ELECT: 'maybe' })).message).toMatch(
      /KUBEMCP_LEADER_ELECT: "maybe" is not a boolean/,
    );
  });

  it('names the flag of a value out of range', () => {
    expect(errorOf(() => load({ 'mcp-port': '70000' })).message).toMatch(/--mcp-port: a port is 0 to 65535/);
    expect(errorOf(() => load({ 'log-level': 'loud' })).message).toMatch(/--log-level:/);
    expect(errorOf(() => load({ 'public-url': 'ftp://x' })).message).toMatch(/--public-url: must be an http\(s\) URL/);
    expect(errorOf(() => load({ 'body-limit': '10' })).message).toMatch(/--body-limit: at least 1024 bytes/);
  });

  it('checks the leader election durations against each other', () => {
    const err = errorOf(() => load({ 'lease-duration': '5' }));
    expect(err.message).toMatch(/--lease-duration: lease duration \(5s\) must be greater than the renew deadline \(10s\)/);
    expect(errorOf(() => load({}, { KUBEMCP_RENEW_DEADLINE: '2' })).message).toMatch(
      /KUBEMCP_RENEW_DEADLINE: renew deadline \(2s\) must be greater than the retry period \(2s\)/,
    );
  });

  it('rejects contradicting flags and clashing ports', () => {
    expect(errorOf(() => load({ 'leader-elect': true, 'no-leader-elect': true })).message).toMatch(/contradict/);
    expect(errorOf(() => load({ 'mcp-port': '9000', 'health-port': '9000' })).message).toMatch(
      /--health-port: the health port must differ/,
    );
  });

  it('reports every bad value at once', () => {
    const err = errorOf(() => load({}, { KUBEMCP_MCP_PORT: 'x', KUBEMCP_HEALTH_PORT: 'y' }));
    expect(err.message).toMatch(/KUBEMCP_MCP_PORT/);
    expect(err.message).toMatch(/KUBEMCP_HEALTH_PORT/);
  });
});

describe('the options table', () => {
  it('drives parseArgs and --help for every setting', () => {
    const flags = serveFlagOptions();
    const help = serveFlagHelp();
    for (const o of OPTIONS) {
      expect(flags[o.flag]).toBeDefined();
      expect(help).toContain(`--${o.type === 'boolean' ? '[no-]' : ''}${o.flag}`);
      expect(help).toContain(o.env);
      expect(o.env.startsWith('KUBEMCP_')).toBe(true);
    }
    expect(help).toContain('(default 8080)');
  });

  it('covers every key of the schema', () => {
    const keys = new Set(OPTIONS.map((o) => o.key));
    const walk = (obj: Record<string, unknown>, prefix: string): string[] =>
      Object.entries(obj).flatMap(([k, v]) =>
        typeof v === 'object' && v !== null && !Array.isArray(v)
          ? walk(v as Record<string, unknown>, `${prefix}${k}.`)
          : [`${prefix}${k}`],
      );
    for (const key of walk(ConfigSchema.parse({}) as unknown as Record<string, unknown>, '')) {
      expect(keys.has(key), key).toBe(true);
    }
  });

  it('resolves a client kubeconfig path: flag, KUBEMCP_KUBECONFIG, then $KUBECONFIG', () => {
    expect(resolveKubeconfigPath('/f', { KUBEMCP_KUBECONFIG: '/k' })).toBe('/f');
    expect(resolveKubeconfigPath(undefined, { KUBEMCP_KUBECONFIG: '/k', KUBECONFIG: '/a' })).toBe('/k');
    // $KUBECONFIG is left to the loader, which merges its files as kubectl does.
    expect(resolveKubeconfigPath(undefined, { KUBECONFIG: ':/a:/b' })).toBeUndefined();
    expect(resolveKubeconfigPath(undefined, {})).toBeUndefined();
  });
});
