import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeClient } from '../../../src/kube/client.js';
import { tokenFile } from '../../../src/kube/credentials.js';
import { execCredentials } from '../../../src/kube/exec-credentials.js';
import { impersonationHeaders } from '../../../src/kube/impersonation.js';
import { loadKubeConfig, loadKubeConfigFiles } from '../../../src/kube/kubeconfig.js';

const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-kubeconfig-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Writes a file under tmp (creating directories) and returns its absolute path. */
function write(rel: string, content: string, mode?: number): string {
  const file = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, mode === undefined ? {} : { mode });
  return file;
}

interface Entry {
  name: string;
  [k: string]: unknown;
}

/** A kubeconfig with one context `ctx` → cluster `c` → user `u` unless overridden. */
function kubeconfig(
  rel: string,
  opts: {
    cluster?: Record<string, unknown>;
    user?: Record<string, unknown>;
    context?: Record<string, unknown>;
    clusters?: Entry[];
    users?: Entry[];
    contexts?: Entry[];
    currentContext?: string | null;
  } = {},
): string {
  const doc: Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: opts.clusters ?? [
      { name: 'c', cluster: { server: 'https://api.example:6443', ...opts.cluster } },
    ],
    users: opts.users ?? [{ name: 'u', user: { ...opts.user } }],
    contexts: opts.contexts ?? [{ name: 'ctx', context: { cluster: 'c', user: 'u', ...opts.context } }],
  };
  if (opts.currentContext !== null) doc['current-context'] = opts.currentContext ?? 'ctx';
  return write(rel, stringify(doc));
}

describe('loading a kubeconfig file', () => {
  it('resolves a static token, inline CA and client certificate, TLS options and the namespace', async () => {
    const file = kubeconfig('config', {
      cluster: {
        'certificate-authority-data': b64(CA),
        'tls-server-name': 'kubernetes.default',
      },
      user: { token: 's3cret', 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) },
      context: { namespace: 'team-a' },
    });
    const conn = loadKubeConfigFiles([file]);
    expect(conn.server).toBe('https://api.example:6443');
    expect(conn.tls).toEqual({
      ca: CA,
      cert: CERT,
      key: KEY,
      serverName: 'kubernetes.default',
    });
    expect(conn.namespace).toBe('team-a');
    expect(conn.context).toBe('ctx');
    expect(conn.source).toBe(file);
    expect(await conn.credentials.get()).toEqual({ token: 's3cret' });
    expect(conn.credentials.refresh()).toBe(false); // a static token cannot get better
  });

  it('reads certificate-authority, client-certificate, client-key and tokenFile relative to the kubeconfig', async () => {
    write('sub/pki/ca.crt', CA);
    write('sub/pki/client.crt', CERT);
    write('sub/pki/client.key', KEY);
    write('sub/token', 'file-token\n');
    const file = kubeconfig('sub/config', {
      cluster: { 'certificate-authority': 'pki/ca.crt' },
      user: { 'client-certificate': 'pki/client.crt', 'client-key': 'pki/client.key', tokenFile: 'token' },
    });
    // Loaded from another working directory: paths still resolve against sub/.
    const conn = loadKubeConfigFiles([file]);
    expect(conn.tls).toEqual({ ca: CA, cert: CERT, key: KEY });
    expect(conn.namespace).toBe('default');
    expect(await conn.credentials.get()).toEqual({ token: 'file-token' });
  });

  it('names the missing file when a referenced certificate cannot be read', () => {
    const file = kubeconfig('config', { cluster: { 'certificate-authority': 'nope/ca.crt' } });
    expect(() => loadKubeConfigFiles([file])).toThrow(
      `cannot read certificate-authority ${path.join(tmp, 'nope/ca.crt')}: ENOENT`,
    );
  });

  it('has no credentials and no TLS material for a user with nothing set', async () => {
    const conn = loadKubeConfigFiles([kubeconfig('config')]);
    expect(conn.tls).toEqual({});
    expect(await conn.credentials.get()).toEqual({});
  });

  it('selects another context with --context and names an unknown one', () => {
    const file = kubeconfig('config', {
      clusters: [
        { name: 'c', cluster: { server: 'https://one:6443' } },
        { name: 'd', cluster: { server: 'https://two:6443' } },
      ],
      contexts: [
        { name: 'ctx', context: { cluster: 'c', user: 'u' } },
        { name: 'other', context: { cluster: 'd', user: 'u', namespace: 'ns2' } },
      ],
    });
    expect(loadKubeConfigFiles([file]).server).toBe('https://one:6443');
    const other = loadKubeConfigFiles([file], 'other');
    expect(other.server).toBe('https://two:6443');
    expect(other.context).toBe('other');
    expect(other.namespace).toBe('ns2');
    expect(() => loadKubeConfigFiles([file], 'missing')).toThrow(
      `kubeconfig ${file} has no context "missing"`,
    );
  });

  it('asks for --context when no current-context is set', () => {
    const file = kubeconfig('config', { currentContext: null });
    expect(() => loadKubeConfigFiles([file])).toThrow(
      `kubeconfig ${file} sets no current-context; pick one with --context`,
    );
    expect(loadKubeConfigFiles([file], 'ctx').server).toBe('https://api.example:6443');
  });
});

describe('merging the files of KUBECONFIG', () => {
  it('lets the first definition of a name win and takes current-context from the first file that sets it', async () => {
    const first = kubeconfig('a/config', {
      clusters: [{ name: 'shared', cluster: { server: 'https://first:6443' } }],
      users: [{ name: 'shared-user', user: { token: 'first-token' } }],
      contexts: [{ name: 'ctx-b', context: { cluster: 'shared', user: 'shared-user' } }],
      currentContext: null,
    });
    const second = kubeconfig('b/config', {
      clusters: [
        { name: 'shared', cluster: { server: 'https://second:6443' } },
        { name: 'only-second', cluster: { server: 'https://only-second:6443' } },
      ],
      users: [{ name: 'shared-user', user: { token: 'second-token' } }],
      contexts: [
        { name: 'ctx-b', context: { cluster: 'only-second', user: 'shared-user' } },
        { name: 'ctx-second', context: { cluster: 'only-second', user: 'shared-user' } },
      ],
      currentContext: 'ctx-b',
    });
    const env = { KUBECONFIG: [first, path.join(tmp, 'missing'), second].join(path.delimiter) };
    const conn = loadKubeConfig(undefined, undefined, { env, home: tmp });
    // current-context from b (a sets none), but the ctx-b *definition* from a.
    expect(conn.context).toBe('ctx-b');
    expect(conn.server).toBe('https://first:6443');
    expect(await conn.credentials.get()).toEqual({ token: 'first-token' });
    expect(conn.source).toBe(`${first}:${second}`);
    // Names only the second file defines are still reachable.
    const only = loadKubeConfig(undefined, 'ctx-second', { env, home: tmp });
    expect(only.server).toBe('https://only-second:6443');
    expect(await only.credentials.get()).toEqual({ token: 'first-token' });
  });

  it('takes current-context from the first file when both set it', () => {
    const first = kubeconfig('a/config', {
      clusters: [{ name: 'c1', cluster: { server: 'https://first:6443' } }],
      contexts: [{ name: 'one', context: { cluster: 'c1' } }],
      currentContext: 'one',
    });
    const second = kubeconfig('b/config', {
      clusters: [{ name: 'c2', cluster: { server: 'https://second:6443' } }],
      contexts: [{ name: 'two', context: { cluster: 'c2' } }],
      currentContext: 'two',
    });
    const env = { KUBECONFIG: `${first}${path.delimiter}${second}` };
    expect(loadKubeConfig(undefined, undefined, { env, home: tmp }).context).toBe('one');
  });
});

describe('in-cluster', () => {
  function serviceAccount(): string {
    const dir = path.join(tmp, 'sa');
    write('sa/token', 'pod-token\n');
    write('sa/ca.crt', CA);
    write('sa/namespace', 'kubemcp-system\n');
    return dir;
  }

  it('uses the ServiceAccount token, CA and namespace', async () => {
    const conn = loadKubeConfig(undefined, undefined, {
      env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccountDir: serviceAccount(),
      home: tmp,
    });
    expect(conn.server).toBe('https://10.96.0.1:443');
    expect(conn.tls).toEqual({ ca: CA });
    expect(conn.namespace).toBe('kubemcp-system');
    expect(conn.source).toBe('in-cluster');
    expect(conn.context).toBeUndefined();
    expect(await conn.credentials.get()).toEqual({ token: 'pod-token' });
  });

  it('brackets an IPv6 service host', () => {
    const conn = loadKubeConfig(undefined, undefined, {
      env: { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccountDir: serviceAccount(),
      home: tmp,
    });
    expect(conn.server).toBe('https://[fd00:10:96::1]:443');
    expect(new URL(conn.server).hostname).toBe('[fd00:10:96::1]');
  });

  it('refuses --context in-cluster', () => {
    expect(() =>
      loadKubeConfig(undefined, 'x', {
        env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
        serviceAccountDir: serviceAccount(),
        home: tmp,
      }),
    ).toThrow('--context x needs a kubeconfig file');
  });
});

describe('which configuration wins', () => {
  const inClusterEnv = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  it('an explicit file, then KUBECONFIG, then in-cluster, then ~/.kube/config', () => {
    write('sa/token', 'pod-token');
    const sa = path.join(tmp, 'sa');
    const explicit = kubeconfig('explicit', { cluster: { server: 'https://explicit:6443' } });
    const fromEnv = kubeconfig('env-config', { cluster: { server: 'https://from-env:6443' } });
    const home = path.join(tmp, 'home');
    kubeconfig('home/.kube/config', { cluster: { server: 'https://from-home:6443' } });

    const env = { ...inClusterEnv, KUBECONFIG: fromEnv };
    const opts = { env, serviceAccountDir: sa, home };
    expect(loadKubeConfig(explicit, undefined, opts).server).toBe('https://explicit:6443');
    expect(loadKubeConfig(undefined, undefined, opts).server).toBe('https://from-env:6443');
    // KUBECONFIG naming only missing files is skipped.
    const stale = { ...opts, env: { ...inClusterEnv, KUBECONFIG: path.join(tmp, 'gone') } };
    expect(loadKubeConfig(undefined, undefined, stale).source).toBe('in-cluster');
    expect(loadKubeConfig(undefined, undefined, { ...opts, env: inClusterEnv }).source).toBe('in-cluster');
    // Without a token file there is no in-cluster config.
    const noSa = { env: inClusterEnv, serviceAccountDir: path.join(tmp, 'no-sa'), home };
    expect(loadKubeConfig(undefined, undefined, noSa).server).toBe('https://from-home:6443');
    expect(loadKubeConfig(undefined, undefined, { env: {}, serviceAccountDir: sa, home }).server).toBe(
      'https://from-home:6443',
    );
  });

  it('says how to configure a cluster when there is nothing at all', () => {
    expect(() =>
      loadKubeConfig(undefined, undefined, {
        env: {},
        serviceAccountDir: path.join(tmp, 'sa'),
        home: tmp,
      }),
    ).toThrow(/^no cluster to talk to: pass --kubeconfig, set KUBECONFIG, create ~\/\.kube\/config/);
  });
});

describe('unsupported settings fail clearly', () => {
  it('auth-provider', () => {
    const file = kubeconfig('config', { user: { 'auth-provider': { name: 'oidc', config: {} } } });
    expect(() => loadKubeConfigFiles([file])).toThrow(
      'user u uses the auth-provider "oidc", which kubemcp does not support; use an exec credential plugin instead',
    );
  });

  it('basic auth', () => {
    const file = kubeconfig('config', { user: { username: 'admin', password: 'hunter2' } });
    expect(() => loadKubeConfigFiles([file])).toThrow('user u uses basic auth');
    try {
      loadKubeConfigFiles([file]);
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('proxy-url', () => {
    const file = kubeconfig('config', { cluster: { 'proxy-url': 'http://proxy:3128' } });
    expect(() => loadKubeConfigFiles([file])).toThrow(
      `kubeconfig ${file}: cluster c sets proxy-url, which kubemcp does not support`,
    );
  });

  it('a client certificate without a key, and a key without a certificate', () => {
    const certOnly = kubeconfig('a', { user: { 'client-certificate-data': b64(CERT) } });
    expect(() => loadKubeConfigFiles([certOnly])).toThrow(
      'user u has a client certificate without a key, or a key without one',
    );
    const keyOnly = kubeconfig('b', { user: { 'client-key-data': b64(KEY) } });
    expect(() => loadKubeConfigFiles([keyOnly])).toThrow('user u has a client certificate without a key');
  });
});

describe('tokenFile', () => {
  it('re-reads the file only after 60 seconds, or after refresh()', async () => {
    const file = write('token', 'one\n');
    let now = 1_000_000;
    const creds = tokenFile(file, () => now);
    expect(await creds.get()).toEqual({ token: 'one' });

    fs.writeFileSync(file, 'two');
    now += 59_999;
    expect(await creds.get()).toEqual({ token: 'one' });
    now += 1;
    expect(await creds.get()).toEqual({ token: 'two' });

    fs.writeFileSync(file, 'three');
    now += 10;
    expect(await creds.get()).toEqual({ token: 'two' });
    expect(creds.refresh()).toBe(true);
    expect(await creds.get()).toEqual({ token: 'three' });
  });

  it('keeps the last good token while the file cannot be read (rotation), and fails without one', async () => {
    const file = write('token', 'good');
    let now = 0;
    const creds = tokenFile(file, () => now);
    expect(await creds.get()).toEqual({ token: 'good' });
    fs.rmSync(file);
    now += 60_000;
    expect(await creds.get()).toEqual({ token: 'good' });
    creds.refresh();
    expect(await creds.get()).toEqual({ token: 'good' });
    fs.writeFileSync(file, 'rotated');
    now += 60_000;
    expect(await creds.get()).toEqual({ token: 'rotated' });
    await expect(tokenFile(`${file}.missing`).get()).rejects.toThrow(/ENOENT/);
  });

  it('refuses an empty token file', async () => {
    const file = write('token', '  \n');
    await expect(tokenFile(file).get()).rejects.toThrow(`token file ${file} is empty`);
  });
});

describe('exec credential plugins', () => {
  /**
   * A plugin that counts its runs in $OUT/count, saves KUBERNETES_EXEC_INFO to $OUT/info.json and
   * prints a token "token-<run>" expiring at $EXPIRY (when set).
   */
  function plugin(rel = 'plugin.sh'): string {
    return write(
      rel,
      [
        '#!/bin/sh',
        'echo run >> "$OUT/count"',
        'n=$(wc -l < "$OUT/count" | tr -d " ")',
        'printf "%s" "$KUBERNETES_EXEC_INFO" > "$OUT/info.json"',
        'if [ -n "$EXPIRY" ]; then exp=",\\"expirationTimestamp\\":\\"$EXPIRY\\""; else exp=""; fi',
        // Answers with the apiVersion it was asked for.
        'v=$(printf "%s" "$KUBERNETES_EXEC_INFO" | sed \'s/.*"apiVersion":"\\([^"]*\\)".*/\\1/\')',
        'printf \'{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"token-%s"%s}}\\n\' "$v" "$n" "$exp"',
        '',
      ].join('\n'),
      0o755,
    );
  }
  const runs = (): number => fs.readFileSync(path.join(tmp, 'count'), 'utf8').trim().split('\n').length;
  const info = (): unknown => JSON.parse(fs.readFileSync(path.join(tmp, 'info.json'), 'utf8'));

  it('returns the token and passes KUBERNETES_EXEC_INFO', async () => {
    const creds = execCredentials({
      command: plugin(),
      args: [],
      env: { OUT: tmp },
      apiVersion: 'client.authentication.k8s.io/v1beta1',
    });
    expect(await creds.get()).toEqual({ token: 'token-1' });
    expect(info()).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
  });

  it('caches the credential until ten seconds before expirationTimestamp; refresh() forces a new run', async () => {
    const expiry = Date.parse('2030-01-01T00:00:00Z');
    let now = expiry - 3_600_000;
    const creds = execCredentials(
      { command: plugin(), args: [], env: { OUT: tmp, EXPIRY: '2030-01-01T00:00:00Z' }, apiVersion: 'v1' },
      () => now,
    );
    // Concurrent first calls share one run.
    const [a, b] = await Promise.all([creds.get(), creds.get()]);
    expect(a).toEqual({ token: 'token-1' });
    expect(b).toEqual({ token: 'token-1' });
    expect(runs()).toBe(1);

    now = expiry - 10_001;
    expect(await creds.get()).toEqual({ token: 'token-1' });
    expect(runs()).toBe(1);
    now = expiry - 10_000;
    expect(await creds.get()).toEqual({ token: 'token-2' });
    expect(runs()).toBe(2);

    now = expiry - 3_600_000;
    expect(await creds.get()).toEqual({ token: 'token-2' });
    expect(creds.refresh()).toBe(true);
    expect(await creds.get()).toEqual({ token: 'token-3' });
    expect(runs()).toBe(3);
  });

  it('caches a credential without expirationTimestamp until refresh()', async () => {
    let now = 0;
    const creds = execCredentials(
      { command: plugin(), args: [], env: { OUT: tmp }, apiVersion: 'v1' },
      () => now,
    );
    expect(await creds.get()).toEqual({ token: 'token-1' });
    now = 10 * 365 * 86_400_000;
    expect(await creds.get()).toEqual({ token: 'token-1' });
    creds.refresh();
    expect(await creds.get()).toEqual({ token: 'token-2' });
  });

  it('is configured from a kubeconfig: relative command, args, env and cluster info', async () => {
    plugin('bin/plugin.sh');
    const file = kubeconfig('config', {
      cluster: { 'certificate-authority-data': b64(CA), 'tls-server-name': 'api.internal' },
      user: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: './bin/plugin.sh',
          args: ['--cluster', 'prod'],
          env: [{ name: 'OUT', value: tmp }],
          provideClusterInfo: true,
          interactiveMode: 'Never',
        },
      },
    });
    const conn = loadKubeConfigFiles([file]);
    expect(await conn.credentials.get()).toEqual({ token: 'token-1' });
    expect(info()).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: {
          server: 'https://api.example:6443',
          'certificate-authority-data': b64(CA),
          'tls-server-name': 'api.internal',
          config: null,
        },
      },
    });
  });

  it('returns a client certificate handed out by the plugin', async () => {
    const command = write(
      'cert.sh',
      `#!/bin/sh\nprintf '%s' '${JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { clientCertificateData: CERT, clientKeyData: KEY },
      })}'\n`,
      0o755,
    );
    const creds = execCredentials({
      command,
      args: [],
      env: {},
      apiVersion: 'client.authentication.k8s.io/v1',
    });
    expect(await creds.get()).toEqual({ cert: CERT, key: KEY });
  });

  it('names the command and its last stderr line when the plugin fails', async () => {
    const command = write(
      'fail.sh',
      '#!/bin/sh\necho "working..." >&2\necho "login expired" >&2\nexit 3\n',
      0o755,
    );
    const creds = execCredentials({ command, args: [], env: {}, apiVersion: 'v1' });
    await expect(creds.get()).rejects.toThrow(`exec credential plugin ${command} failed: login expired`);
  });

  it('gives the exit code when a failing plugin writes nothing to stderr', async () => {
    const command = write('silent.sh', '#!/bin/sh\nexit 3\n', 0o755);
    const creds = execCredentials({ command, args: [], env: {}, apiVersion: 'v1' });
    await expect(creds.get()).rejects.toThrow(`exec credential plugin ${command} failed: exit code 3`);
  });

  it('names the command and the installHint when the command is missing', async () => {
    const creds = execCredentials({
      command: 'kubemcp-test-no-such-plugin',
      args: [],
      env: {},
      apiVersion: 'v1',
      installHint: 'Install it with: brew install no-such-plugin',
    });
    await expect(creds.get()).rejects.toThrow(
      'exec credential plugin kubemcp-test-no-such-plugin failed: command not found\nInstall it with: brew install no-such-plugin',
    );
  });

  it('refuses output that is not an ExecCredential, or one without credentials', async () => {
    const garbage = write('garbage.sh', '#!/bin/sh\necho hello\n', 0o755);
    await expect(
      execCredentials({ command: garbage, args: [], env: {}, apiVersion: 'v1' }).get(),
    ).rejects.toThrow(`exec credential plugin ${garbage} printed something other than an ExecCredential`);
    const v1 = 'client.authentication.k8s.io/v1';
    const answer = (name: string, body: unknown) =>
      write(name, `#!/bin/sh\nprintf '%s' '${JSON.stringify(body)}'\n`, 0o755);
    const empty = answer('empty.sh', { apiVersion: v1, kind: 'ExecCredential', status: {} });
    await expect(
      execCredentials({ command: empty, args: [], env: {}, apiVersion: v1 }).get(),
    ).rejects.toThrow(`exec credential plugin ${empty} returned neither a token nor a client certificate`);
    // As kubectl: the answer must be an ExecCredential of the configured apiVersion, and a
    // certificate comes with its key.
    const other = answer('other.sh', {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      status: { token: 't' },
    });
    await expect(
      execCredentials({ command: other, args: [], env: {}, apiVersion: v1 }).get(),
    ).rejects.toThrow(
      `exec credential plugin ${other} answered with client.authentication.k8s.io/v1beta1 ExecCredential; it is configured for ${v1} ExecCredential`,
    );
    const bare = answer('bare.sh', { status: { token: 't' } });
    await expect(execCredentials({ command: bare, args: [], env: {}, apiVersion: v1 }).get()).rejects.toThrow(
      `exec credential plugin ${bare} answered with no apiVersion no kind; it is configured for ${v1} ExecCredential`,
    );
    const half = answer('half.sh', {
      apiVersion: v1,
      kind: 'ExecCredential',
      status: { token: 't', clientCertificateData: CERT },
    });
    await expect(execCredentials({ command: half, args: [], env: {}, apiVersion: v1 }).get()).rejects.toThrow(
      `exec credential plugin ${half} returned a client certificate without its key, or a key without its certificate`,
    );
  });
});

describe('resolved as kubectl resolves it', () => {
  it('prefers a readable tokenFile to the inline token, and uses the token while the file cannot be read', async () => {
    write('token', 'from-file\n');
    const both = loadKubeConfigFiles([
      kubeconfig('config', { user: { token: 'inline', tokenFile: 'token' } }),
    ]);
    expect(await both.credentials.get()).toEqual({ token: 'from-file' });
    const missing = loadKubeConfigFiles([
      kubeconfig('other', { user: { token: 'inline', tokenFile: 'gone' } }),
    ]);
    expect(await missing.credentials.get()).toEqual({ token: 'inline' });
  });

  /** An exec plugin that records that it ran in $tmp/ran and prints a token. */
  const exec = (): Record<string, unknown> => {
    const command = write(
      'exec.sh',
      `#!/bin/sh\ntouch "${path.join(tmp, 'ran')}"\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}'\n`,
      0o755,
    );
    return { apiVersion: 'client.authentication.k8s.io/v1', command, interactiveMode: 'Never' };
  };
  const ran = (): boolean => fs.existsSync(path.join(tmp, 'ran'));

  it('leaves an exec plugin unused when the user has a token, a tokenFile or a client certificate', async () => {
    write('token', 'from-file');
    for (const [i, user] of [
      { token: 'inline' },
      { tokenFile: 'token' },
      { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) },
    ].entries()) {
      const conn = loadKubeConfigFiles([kubeconfig(`config-${i}`, { user: { ...user, exec: exec() } })]);
      const creds = await conn.credentials.get();
      expect(creds.token).not.toBe('from-plugin');
    }
    expect(ran()).toBe(false);
    const only = loadKubeConfigFiles([kubeconfig('config-exec', { user: { exec: exec() } })]);
    expect(await only.credentials.get()).toEqual({ token: 'from-plugin' });
    expect(ran()).toBe(true);
  });

  it('checks the exec section as kubectl does: apiVersion, interactiveMode, env names', () => {
    const check = (e: Record<string, unknown>) => () =>
      loadKubeConfigFiles([kubeconfig('config', { user: { exec: { ...exec(), ...e } } })]);
    expect(check({ apiVersion: undefined })).toThrow('user u: exec apiVersion is missing');
    expect(check({ apiVersion: 'client.authentication.k8s.io/v2' })).toThrow(
      'user u: exec apiVersion "client.authentication.k8s.io/v2"; want one of',
    );
    expect(check({ interactiveMode: undefined })).toThrow(
      'user u: exec needs interactiveMode (Never or IfAvailable) with client.authentication.k8s.io/v1',
    );
    expect(check({ interactiveMode: 'Sometimes' })).toThrow('exec interactiveMode "Sometimes" is not');
    expect(check({ interactiveMode: 'Always' })).toThrow('exec interactiveMode Always needs a terminal');
    expect(check({ env: [{ value: 'x' }] })).toThrow('user u: an exec env entry has no name');
    // v1beta1 defaults interactiveMode to IfAvailable.
    expect(
      check({ apiVersion: 'client.authentication.k8s.io/v1beta1', interactiveMode: undefined }),
    ).not.toThrow();
  });

  it("gives an exec plugin the cluster's CA from a file, and the exec extension's config", async () => {
    write('ca.crt', CA);
    const command = write(
      'info.sh',
      `#!/bin/sh\nprintf '%s' "$KUBERNETES_EXEC_INFO" > "${path.join(tmp, 'info.json')}"\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}'\n`,
      0o755,
    );
    const file = kubeconfig('config', {
      cluster: {
        'certificate-authority': 'ca.crt',
        'disable-compression': true,
        extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'a' } }],
      },
      user: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command,
          interactiveMode: 'IfAvailable',
          provideClusterInfo: true,
        },
      },
    });
    await loadKubeConfigFiles([file]).credentials.get();
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'info.json'), 'utf8')).spec.cluster).toEqual({
      server: 'https://api.example:6443',
      'certificate-authority-data': b64(CA),
      'disable-compression': true,
      config: { audience: 'a' },
    });
  });

  it('resolves impersonation, and refuses as-uid, as-groups or as-user-extra without as', () => {
    const conn = loadKubeConfigFiles([
      kubeconfig('config', {
        user: {
          token: 't',
          as: 'alice',
          'as-uid': 'uid-1',
          'as-groups': ['developers', 'reviewers'],
          'as-user-extra': { 'example.com/team': ['blue', 'green'] },
        },
      }),
    ]);
    expect(conn.impersonate).toEqual({
      user: 'alice',
      uid: 'uid-1',
      groups: ['developers', 'reviewers'],
      extra: { 'example.com/team': ['blue', 'green'] },
    });
    expect(loadKubeConfigFiles([kubeconfig('plain', { user: { token: 't' } })]).impersonate).toBeUndefined();
    expect(() => loadKubeConfigFiles([kubeconfig('bad', { user: { 'as-groups': ['admins'] } })])).toThrow(
      'user u sets as-uid, as-groups or as-user-extra without as',
    );
  });

  it('sends the Impersonate-* headers kubectl sends', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const client = new KubeClient({
        server: `http://127.0.0.1:${port}`,
        tls: {},
        credentials: { get: async () => ({ token: 't' }), refresh: () => false },
        impersonate: {
          user: 'alice',
          uid: 'uid-1',
          groups: ['developers', 'reviewers'],
          extra: { 'example.com/team%': ['blue', 'green'], scopes: ['read'] },
        },
        source: 'test',
      });
      await client.request('GET', '/api');
      client.close();
    } finally {
      server.close();
    }
    const [headers] = seen;
    expect(headers?.['impersonate-user']).toBe('alice');
    expect(headers?.['impersonate-uid']).toBe('uid-1');
    expect(headers?.['impersonate-group']).toBe('developers, reviewers');
    expect(headers?.['impersonate-extra-example.com%2fteam%25']).toBe('blue, green');
    expect(headers?.['impersonate-extra-scopes']).toBe('read');
    expect(headers?.authorization).toBe('Bearer t');
    expect(impersonationHeaders(undefined)).toEqual({});
  });

  it('refuses credentials for an http:// server or one without a scheme (kubectl sends none there)', () => {
    const load = (
      server: string,
      user: Record<string, unknown> = {},
      cluster: Record<string, unknown> = {},
    ) => loadKubeConfigFiles([kubeconfig('config', { cluster: { server, ...cluster }, user })]);
    write('token', 't');
    const cert = { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) };
    const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', interactiveMode: 'Never' };
    for (const user of [{ token: 't' }, { tokenFile: 'token' }, cert, { exec }]) {
      expect(() => load('10.0.0.1:6443', user, { 'certificate-authority-data': b64(CA) })).toThrow(
        "cluster c's server 10.0.0.1:6443 has no scheme (kubectl reads it as http://), over which kubectl sends no credentials; write https://10.0.0.1:6443",
      );
      expect(() => load('http://10.0.0.1:8080', user)).toThrow(
        "cluster c's server http://10.0.0.1:8080 is http://, over which kubectl sends no credentials; write https://10.0.0.1:8080",
      );
    }
    expect(load('10.0.0.1:8080').server).toBe('http://10.0.0.1:8080');
    expect(load('http://10.0.0.1:8080').server).toBe('http://10.0.0.1:8080');
    expect(load('HTTPS://api.example:6443/prefix', { token: 't' }).server).toBe(
      'HTTPS://api.example:6443/prefix',
    );
  });

  it('resolves the namespace default when the context sets none', () => {
    expect(loadKubeConfigFiles([kubeconfig('a')]).namespace).toBe('default');
    expect(loadKubeConfigFiles([kubeconfig('b', { context: { namespace: 'team-a' } })]).namespace).toBe(
      'team-a',
    );
  });

  it('refuses a CA together with insecure-skip-tls-verify', () => {
    const file = kubeconfig('config', {
      cluster: { 'certificate-authority-data': b64(CA), 'insecure-skip-tls-verify': true },
    });
    expect(() => loadKubeConfigFiles([file])).toThrow(
      `kubeconfig ${file}: cluster c sets both a certificate authority and insecure-skip-tls-verify; keep one`,
    );
  });

  it('refuses both the inline data and the file of a CA, client certificate or key', () => {
    write('pem', CA);
    const both = (opts: Parameters<typeof kubeconfig>[1]) => () =>
      loadKubeConfigFiles([kubeconfig('config', opts)]);
    expect(
      both({ cluster: { 'certificate-authority-data': b64(CA), 'certificate-authority': 'pem' } }),
    ).toThrow('c sets both certificate-authority-data and certificate-authority; keep one');
    expect(
      both({
        user: { 'client-certificate-data': b64(CERT), 'client-certificate': 'pem', 'client-key': 'pem' },
      }),
    ).toThrow('u sets both client-certificate-data and client-certificate; keep one');
    expect(
      both({ user: { 'client-certificate': 'pem', 'client-key': 'pem', 'client-key-data': b64(KEY) } }),
    ).toThrow('u sets both client-key-data and client-key; keep one');
  });

  it('refuses a file that defines a name twice', () => {
    const file = kubeconfig('config', {
      users: [
        { name: 'u', user: { token: 'one' } },
        { name: 'u', user: { token: 'two' } },
      ],
    });
    expect(() => loadKubeConfigFiles([file])).toThrow(`kubeconfig ${file}: the user u is defined twice`);
  });

  it('does not read ~/.kube/config when KUBECONFIG is set but none of its files exists', () => {
    const home = path.join(tmp, 'home');
    kubeconfig('home/.kube/config');
    const gone = path.join(tmp, 'gone');
    const opts = { serviceAccountDir: path.join(tmp, 'no-sa'), home };
    expect(() => loadKubeConfig(undefined, undefined, { ...opts, env: { KUBECONFIG: gone } })).toThrow(
      `no cluster to talk to: none of the files KUBECONFIG names exists (${gone})`,
    );
    expect(loadKubeConfig(undefined, undefined, { ...opts, env: { KUBECONFIG: '' } }).server).toBe(
      'https://api.example:6443',
    );
  });
});
