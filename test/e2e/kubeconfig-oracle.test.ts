/**
 * The operator's kubeconfig loader and client, checked against kubectl as the oracle.
 *
 * A corpus of kubeconfigs is generated at test time from the local control plane's CA, its static
 * tokens and client certificates minted here with its CA. For each case:
 * - what `kubectl config view --minify --flatten --raw` resolves (server, CA, insecure flag,
 *   tls-server-name, client certificate, token, namespace, impersonation) equals what
 *   src/kube/kubeconfig.ts resolves, or both refuse the configuration;
 * - `kubectl auth whoami -o json` and a SelfSubjectReview POSTed with src/kube/client.ts reach the API
 *   server as the same identity (or both fail);
 * - the URL kubectl requests for `get pods` (its -v=6 log) has our server and namespace;
 * - an exec plugin receives the same KUBERNETES_EXEC_INFO from both.
 * Tokens and keys are compared by fingerprint, so a failure never prints one.
 *
 * Needs the local control plane (its CA key and kubectl); skipped on an external cluster.
 */

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { KubeClient } from '../../src/kube/client.js';
import type { KubeConnection } from '../../src/kube/connection.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';
import { readState } from '../cluster/cluster.js';
import { cluster } from './support.js';

const e2e = cluster();
const local = e2e.dir !== undefined && e2e.kubectl !== undefined;

type Doc = Record<string, unknown>;

interface Case {
  readonly name: string;
  /** Files relative to the case's directory `dir`: a kubeconfig document, or raw text. */
  readonly files: (ctx: Fixture, dir: string) => Record<string, Doc | string>;
  /** $KUBECONFIG, relative to the case's directory, in order (files may be missing). */
  readonly kubeconfig: readonly string[];
  readonly context?: string;
  /** A ~/.kube/config in the scratch HOME. */
  readonly home?: (ctx: Fixture) => Doc;
  /**
   * What kubectl must do with this case, so the corpus tests what it claims: the username it
   * authenticates as, or where it refuses ('config': the kubeconfig; 'request': the request).
   */
  readonly kubectl: { readonly user: string } | { readonly fails: 'config' | 'request' };
  /** Runs an exec plugin: compare the KUBERNETES_EXEC_INFO each side passes. */
  readonly exec?: boolean;
}

interface Fixture {
  readonly server: string;
  /** host:port of the API server. */
  readonly hostPort: string;
  readonly pki: string;
  readonly ca: string;
  readonly tokens: Readonly<Record<'admin' | 'alice' | 'bob', string>>;
  readonly plugin: string;
  /** PEM client certificates and keys signed by the cluster CA, by user name. */
  readonly certs: Readonly<Record<'carol' | 'dave' | 'erin', { cert: string; key: string }>>;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: unknown): string | undefined =>
  typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : undefined;
/** A fingerprint to compare secrets without printing them. */
const fp = (s: string | undefined): string | undefined =>
  s === undefined ? undefined : `sha256:${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;

function config(parts: {
  clusters?: Record<string, Doc>;
  users?: Record<string, Doc>;
  contexts?: Record<string, Doc>;
  current?: string;
}): Doc {
  const list = (m: Record<string, Doc> | undefined, field: string) =>
    Object.entries(m ?? {}).map(([name, value]) => ({ name, [field]: value }));
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: list(parts.clusters, 'cluster'),
    users: list(parts.users, 'user'),
    contexts: list(parts.contexts, 'context'),
    ...(parts.current === undefined ? {} : { 'current-context': parts.current }),
  };
}

/** One cluster, one user, one context `ctx` (the current one). */
function single(f: Fixture, clusterFields: Doc, user: Doc, context: Doc = {}): Doc {
  return config({
    clusters: { local: { server: f.server, ...clusterFields } },
    users: { me: user },
    contexts: { ctx: { cluster: 'local', user: 'me', ...context } },
    current: 'ctx',
  });
}

const PLUGIN = `#!/usr/bin/env node
// A tiny exec credential plugin: records KUBERNETES_EXEC_INFO, prints an ExecCredential.
import fs from 'node:fs';
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO ?? '{}');
if (process.env.EXEC_INFO_OUT) fs.appendFileSync(process.env.EXEC_INFO_OUT, JSON.stringify(info) + '\\n');
const [mode, a, b] = process.argv.slice(2);
const status =
  mode === 'token'
    ? { token: fs.readFileSync(a, 'utf8').trim() }
    : { clientCertificateData: fs.readFileSync(a, 'utf8'), clientKeyData: fs.readFileSync(b, 'utf8') };
const apiVersion = process.env.EXEC_REPLY_API_VERSION ?? info.apiVersion;
process.stdout.write(JSON.stringify({ apiVersion, kind: 'ExecCredential', status }));
`;

const CASES: readonly Case[] = [
  {
    name: 'a token, the CA as a file relative to the kubeconfig, no namespace',
    files: (f) => ({
      config: single(f, { 'certificate-authority': '../../pki/ca.crt' }, { token: f.tokens.alice }),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'alice' },
  },
  {
    name: 'a tokenFile relative to the kubeconfig, the context namespace',
    files: (f) => ({
      'tokens/bob': `${f.tokens.bob}\n`,
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        { tokenFile: 'tokens/bob' },
        { namespace: 'team-b' },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'bob' },
  },
  {
    name: 'both a token and a tokenFile (the file wins)',
    files: (f) => ({
      token: f.tokens.bob,
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        { token: f.tokens.alice, tokenFile: 'token' },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'bob' },
  },
  {
    name: 'a token and a tokenFile that does not exist (the token is used)',
    files: (f) => ({
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        { token: f.tokens.alice, tokenFile: 'missing' },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'alice' },
  },
  ...mergedCases(),
  {
    name: 'a client certificate and key as files relative to the kubeconfig',
    files: (f) => ({
      'pki/carol.crt': f.certs.carol.cert,
      'pki/carol.key': f.certs.carol.key,
      config: single(
        f,
        { 'certificate-authority': '../../pki/ca.crt' },
        { 'client-certificate': 'pki/carol.crt', 'client-key': 'pki/carol.key' },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'carol' },
  },
  {
    name: 'a client certificate and key inline',
    files: (f) => ({
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        { 'client-certificate-data': b64(f.certs.dave.cert), 'client-key-data': b64(f.certs.dave.key) },
        { namespace: 'dave-space' },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'dave' },
  },
  {
    name: 'a client certificate and a token (the API server authenticates the certificate first)',
    files: (f) => ({
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        {
          token: f.tokens.bob,
          'client-certificate-data': b64(f.certs.carol.cert),
          'client-key-data': b64(f.certs.carol.key),
        },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'carol' },
  },
  {
    name: 'an exec plugin (v1) handing out a token, with cluster info, tls-server-name and a CA file',
    files: (f, dir) => ({
      'tokens/alice': f.tokens.alice,
      config: single(
        f,
        {
          'certificate-authority': '../../pki/ca.crt',
          'tls-server-name': 'kubernetes.default',
          extensions: [
            { name: 'client.authentication.k8s.io/exec', extension: { audience: 'kubemcp-oracle' } },
          ],
        },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: f.plugin,
            args: ['token', path.join(dir, 'tokens/alice')],
            env: [{ name: 'EXEC_INFO_OUT', value: path.join(dir, 'exec-info.jsonl') }],
            interactiveMode: 'Never',
            provideClusterInfo: true,
          },
        },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'alice' },
    exec: true,
  },
  {
    name: 'an exec plugin (v1beta1) handing out a client certificate, found relative to the kubeconfig',
    files: (f, dir) => ({
      'bin/plugin.mjs': PLUGIN,
      'pki/erin.crt': f.certs.erin.cert,
      'pki/erin.key': f.certs.erin.key,
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca), 'insecure-skip-tls-verify': false },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: './bin/plugin.mjs',
            args: ['cert', path.join(dir, 'pki/erin.crt'), path.join(dir, 'pki/erin.key')],
            env: [{ name: 'EXEC_INFO_OUT', value: path.join(dir, 'exec-info.jsonl') }],
            provideClusterInfo: true,
          },
        },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'erin' },
    exec: true,
  },
  {
    name: 'a client certificate and an exec plugin (the certificate wins, the plugin is not run)',
    files: (f, dir) => ({
      'pki/erin.crt': f.certs.erin.cert,
      'pki/erin.key': f.certs.erin.key,
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        {
          'client-certificate-data': b64(f.certs.carol.cert),
          'client-key-data': b64(f.certs.carol.key),
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: f.plugin,
            args: ['cert', path.join(dir, 'pki/erin.crt'), path.join(dir, 'pki/erin.key')],
            env: [{ name: 'EXEC_INFO_OUT', value: path.join(dir, 'exec-info.jsonl') }],
            interactiveMode: 'Never',
          },
        },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'carol' },
    exec: true,
  },
  {
    name: 'a token and an exec plugin (the token wins, the plugin is not run)',
    files: (f, dir) => ({
      'tokens/alice': f.tokens.alice,
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        {
          token: f.tokens.bob,
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: f.plugin,
            args: ['token', path.join(dir, 'tokens/alice')],
            env: [{ name: 'EXEC_INFO_OUT', value: path.join(dir, 'exec-info.jsonl') }],
            interactiveMode: 'Never',
          },
        },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'bob' },
    exec: true,
  },
  {
    name: 'an exec plugin (v1) without interactiveMode',
    files: (f, dir) => ({
      'tokens/alice': f.tokens.alice,
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: f.plugin,
            args: ['token', path.join(dir, 'tokens/alice')],
          },
        },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'request' },
  },
  {
    name: 'an exec plugin answering with another apiVersion than the one configured',
    files: (f, dir) => ({
      'tokens/alice': f.tokens.alice,
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: f.plugin,
            args: ['token', path.join(dir, 'tokens/alice')],
            env: [{ name: 'EXEC_REPLY_API_VERSION', value: 'client.authentication.k8s.io/v1beta1' }],
            interactiveMode: 'Never',
          },
        },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'request' },
  },
  {
    name: 'insecure-skip-tls-verify without a CA',
    files: (f) => ({ config: single(f, { 'insecure-skip-tls-verify': true }, { token: f.tokens.alice }) }),
    kubeconfig: ['config'],
    kubectl: { user: 'alice' },
  },
  {
    name: 'insecure-skip-tls-verify together with a CA',
    files: (f) => ({
      config: single(
        f,
        { 'insecure-skip-tls-verify': true, 'certificate-authority-data': b64(f.ca) },
        { token: f.tokens.alice },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'request' },
  },
  {
    name: 'both certificate-authority and certificate-authority-data',
    files: (f) => ({
      config: single(
        f,
        { 'certificate-authority': '../../pki/ca.crt', 'certificate-authority-data': b64(f.ca) },
        { token: f.tokens.alice },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'config' },
  },
  {
    name: 'tls-server-name naming a name of the serving certificate',
    files: (f) => ({
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca), 'tls-server-name': 'kubernetes.default.svc' },
        { token: f.tokens.bob },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'bob' },
  },
  {
    name: 'tls-server-name naming a name the serving certificate does not have',
    files: (f) => ({
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca), 'tls-server-name': 'not-in-the-certificate.example' },
        { token: f.tokens.bob },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'request' },
  },
  {
    name: 'a server without a scheme (read as http://: no credentials are sent)',
    files: (f) => ({
      config: config({
        clusters: { local: { server: f.hostPort, 'certificate-authority-data': b64(f.ca) } },
        users: { me: { token: f.tokens.alice } },
        contexts: { ctx: { cluster: 'local', user: 'me', namespace: 'schemeless' } },
        current: 'ctx',
      }),
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'request' },
  },
  {
    name: 'impersonation (as, as-uid, as-groups, as-user-extra)',
    files: (f) => ({
      config: single(
        f,
        { 'certificate-authority-data': b64(f.ca) },
        {
          token: f.tokens.admin,
          as: 'alice',
          'as-uid': 'uid-1',
          'as-groups': ['developers', 'reviewers'],
          'as-user-extra': { 'example.com/team': ['blue', 'green'] },
        },
      ),
    }),
    kubeconfig: ['config'],
    kubectl: { user: 'alice' },
  },
  {
    name: 'a context without a user (anonymous)',
    files: (f) => ({
      config: config({
        clusters: { local: { server: f.server, 'certificate-authority-data': b64(f.ca) } },
        contexts: { ctx: { cluster: 'local' } },
        current: 'ctx',
      }),
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'request' },
  },
  {
    name: 'a context that names an unknown user',
    files: (f) => ({
      config: config({
        clusters: { local: { server: f.server, 'certificate-authority-data': b64(f.ca) } },
        users: { me: { token: f.tokens.alice } },
        contexts: { ctx: { cluster: 'local', user: 'someone-else' } },
        current: 'ctx',
      }),
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'config' },
  },
  {
    name: 'a user defined twice in one file',
    files: (f) => ({
      config: {
        ...single(f, { 'certificate-authority-data': b64(f.ca) }, { token: f.tokens.alice }),
        users: [
          { name: 'me', user: { token: f.tokens.alice } },
          { name: 'me', user: { token: f.tokens.bob } },
        ],
      },
    }),
    kubeconfig: ['config'],
    kubectl: { fails: 'config' },
  },
  {
    name: '--context naming a context no file defines',
    files: (f) => ({
      config: single(f, { 'certificate-authority-data': b64(f.ca) }, { token: f.tokens.alice }),
    }),
    kubeconfig: ['config'],
    context: 'nowhere',
    kubectl: { fails: 'config' },
  },
  {
    name: '$KUBECONFIG naming only missing files (~/.kube/config is not read)',
    files: () => ({}),
    kubeconfig: ['missing-1', 'missing-2'],
    home: (f) => single(f, { 'certificate-authority-data': b64(f.ca) }, { token: f.tokens.alice }),
    kubectl: { fails: 'config' },
  },
];

/** Three files through $KUBECONFIG (and a missing one): first-wins for names and current-context. */
function mergedCases(): Case[] {
  const files = (f: Fixture): Record<string, Doc | string> => ({
    'one/token': f.tokens.alice,
    'one/config': config({
      clusters: { shared: { server: f.server, 'certificate-authority': '../../../pki/ca.crt' } },
      users: { me: { tokenFile: 'token' } },
      contexts: { main: { cluster: 'shared', user: 'me', namespace: 'from-first' } },
    }),
    'two/token': f.tokens.bob,
    'two/config': config({
      clusters: {
        shared: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true },
        second: { server: f.server, 'tls-server-name': 'localhost', 'certificate-authority-data': b64(f.ca) },
      },
      users: { me: { tokenFile: 'token' }, other: { token: f.tokens.bob } },
      contexts: {
        main: { cluster: 'second', user: 'other', namespace: 'from-second' },
        'second-ctx': { cluster: 'second', user: 'me' },
      },
      current: 'main',
    }),
    'three/token': f.tokens.bob,
    'three/config': config({
      clusters: { third: { server: f.server, 'insecure-skip-tls-verify': true } },
      users: { 'third-user': { tokenFile: 'token' } },
      contexts: { 'third-ctx': { cluster: 'third', user: 'third-user', namespace: 'from-third' } },
      current: 'third-ctx',
    }),
  });
  const kubeconfig = ['one/config', 'missing/config', 'two/config', 'three/config'];
  return [
    {
      name: 'three merged files: current-context from the first file that sets it, each name from the first file that defines it',
      files,
      kubeconfig,
      kubectl: { user: 'alice' },
    },
    {
      name: 'three merged files, --context defined by a later file, its user defined by an earlier one',
      files,
      kubeconfig,
      context: 'second-ctx',
      kubectl: { user: 'alice' },
    },
    {
      name: 'three merged files, --context of the last file (its relative tokenFile resolves against its own directory)',
      files,
      kubeconfig,
      context: 'third-ctx',
      kubectl: { user: 'bob' },
    },
  ];
}

// ---------------------------------------------------------------------------------------------

interface Run {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

function openssl(cwd: string, args: string[]): void {
  const res = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`openssl ${args[0]} failed: ${res.stderr}`);
}

/** A client certificate for `user` in `group`, signed by the cluster CA. */
function mintClientCert(dir: string, caCert: string, caKey: string, user: string, group: string) {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${user}.key`]);
  openssl(dir, [
    'req',
    '-new',
    '-key',
    `${user}.key`,
    '-subj',
    `/CN=${user}/O=${group}`,
    '-out',
    `${user}.csr`,
  ]);
  fs.writeFileSync(
    path.join(dir, 'client.ext'),
    'extendedKeyUsage = clientAuth\nkeyUsage = digitalSignature\n',
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${user}.csr`,
    '-CA',
    caCert,
    '-CAkey',
    caKey,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-extfile',
    'client.ext',
    '-out',
    `${user}.crt`,
  ]);
  return {
    cert: fs.readFileSync(path.join(dir, `${user}.crt`), 'utf8'),
    key: fs.readFileSync(path.join(dir, `${user}.key`), 'utf8'),
  };
}

describe.skipIf(!local)('the kubeconfig loader and client agree with kubectl', () => {
  let tmp: string;
  let fixture: Fixture;
  const kubectlBin = e2e.kubectl as string;

  beforeAll(() => {
    const state = readState(e2e.dir as string);
    if (!state) throw new Error(`no local control plane state in ${e2e.dir}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kubemcp-oracle-'));
    const pki = path.join(tmp, 'pki');
    fs.mkdirSync(pki, { mode: 0o700 });
    fs.copyFileSync(state.caFile, path.join(pki, 'ca.crt'));
    const caKey = path.join(path.dirname(state.caFile), 'ca.key');
    const mint = (user: string, group: string) => mintClientCert(pki, state.caFile, caKey, user, group);
    const plugin = path.join(tmp, 'plugin.mjs');
    fs.writeFileSync(plugin, PLUGIN, { mode: 0o755 });
    fixture = {
      server: state.server,
      hostPort: new URL(state.server).host,
      pki,
      ca: fs.readFileSync(state.caFile, 'utf8'),
      tokens: { admin: state.users.admin.token, alice: state.users.alice.token, bob: state.users.bob.token },
      plugin,
      certs: { carol: mint('carol', 'developers'), dave: mint('dave', 'viewers'), erin: mint('erin', 'ops') },
    };
  });
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Writes a case's files into its own directory; returns the directory. */
  function materialize(c: Case, index: number): string {
    const dir = path.join(tmp, 'cases', String(index));
    for (const [rel, content] of Object.entries(c.files(fixture, dir))) {
      const file = path.join(dir, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const text = typeof content === 'string' ? content : stringify(content);
      fs.writeFileSync(file, text, { mode: text.startsWith('#!') ? 0o700 : 0o600 });
    }
    const home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, '.kube'), { recursive: true });
    if (c.home) fs.writeFileSync(path.join(home, '.kube', 'config'), stringify(c.home(fixture)));
    return dir;
  }

  function kubectl(dir: string, c: Case, args: string[]): Run {
    const res = spawnSync(kubectlBin, [...(c.context ? ['--context', c.context] : []), ...args], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: path.join(dir, 'home'),
        KUBECONFIG: c.kubeconfig.map((f) => path.join(dir, f)).join(path.delimiter),
      },
    });
    return { ok: res.status === 0, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
  }

  function ours(dir: string, c: Case): KubeConnection {
    return loadKubeConfig(undefined, c.context, {
      env: { KUBECONFIG: c.kubeconfig.map((f) => path.join(dir, f)).join(path.delimiter) },
      home: path.join(dir, 'home'),
      serviceAccountDir: path.join(dir, 'no-serviceaccount'),
    });
  }

  /**
   * `kubectl config view` leaves a tokenFile as written: a relative one is relative to the file
   * that defines the user (the first in $KUBECONFIG to define its name).
   */
  function userPath(dir: string, c: Case, file: string): string {
    if (path.isAbsolute(file)) return file;
    const view = JSON.parse(kubectl(dir, c, ['config', 'view', '--minify', '-o', 'json']).stdout) as Doc;
    const user = (view.contexts as Array<{ context: { user?: string } }>)[0]?.context.user;
    for (const f of c.kubeconfig) {
      const full = path.join(dir, f);
      if (!fs.existsSync(full)) continue;
      const users = (parse(fs.readFileSync(full, 'utf8')) as Doc).users as
        | Array<{ name: string }>
        | undefined;
      if (users?.some((u) => u.name === user)) return path.resolve(path.dirname(full), file);
    }
    return file;
  }

  function execInfo(dir: string): unknown[] {
    const file = path.join(dir, 'exec-info.jsonl');
    if (!fs.existsSync(file)) return [];
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
    fs.rmSync(file);
    // One distinct value (a client may run the plugin more than once).
    return [...new Set(lines)].map((l) => JSON.parse(l) as unknown);
  }

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, index) => {
    const dir = materialize(c, index);

    // 1. What the kubeconfig resolves to.
    const view = kubectl(dir, c, ['config', 'view', '--minify', '--flatten', '--raw', '-o', 'json']);
    let conn: KubeConnection | undefined;
    let loadError: unknown;
    try {
      conn = ours(dir, c);
    } catch (err) {
      loadError = err;
    }
    if (!view.ok) {
      expect(c.kubectl, `kubectl refused the kubeconfig: ${view.stderr.trim()}`).toEqual({ fails: 'config' });
      expect(loadError, 'kubectl refuses this kubeconfig; so must we').toBeInstanceOf(Error);
      return;
    }
    if (loadError !== undefined) {
      // We may refuse up front what kubectl reads but cannot make a request with.
      const who = kubectl(dir, c, ['auth', 'whoami', '-o', 'json']);
      expect(who.ok, `we refuse a kubeconfig kubectl works with: ${String(loadError)}`).toBe(false);
      expect(c.kubectl, `kubectl auth whoami failed: ${who.stderr.trim()}`).toEqual({ fails: 'request' });
      return;
    }
    if (conn === undefined) return;
    const resolved = JSON.parse(view.stdout) as Doc;
    const first = (field: string, inner: string): Doc => {
      const list = resolved[field] as Array<Record<string, Doc>> | undefined;
      return list?.[0]?.[inner] ?? {};
    };
    const kCluster = first('clusters', 'cluster');
    const kUser = first('users', 'user');
    const kContext = first('contexts', 'context');
    expect.soft(conn.context).toBe(resolved['current-context']);
    const kServer = String(kCluster.server);
    if (/^https?:\/\//.test(kServer)) expect.soft(conn.server).toBe(kServer);
    expect.soft(conn.tls.ca).toBe(unb64(kCluster['certificate-authority-data']));
    expect.soft(conn.tls.insecureSkipTLSVerify === true).toBe(kCluster['insecure-skip-tls-verify'] === true);
    expect.soft(conn.tls.serverName).toBe(kCluster['tls-server-name']);
    expect.soft(fp(conn.tls.cert)).toBe(fp(unb64(kUser['client-certificate-data'])));
    expect.soft(fp(conn.tls.key)).toBe(fp(unb64(kUser['client-key-data'])));
    expect.soft(conn.namespace).toBe(typeof kContext.namespace === 'string' ? kContext.namespace : 'default');
    expect.soft(conn.impersonate ?? {}).toEqual({
      ...(kUser.as === undefined ? {} : { user: kUser.as }),
      ...(kUser['as-uid'] === undefined ? {} : { uid: kUser['as-uid'] }),
      ...(kUser['as-groups'] === undefined ? {} : { groups: kUser['as-groups'] }),
      ...(kUser['as-user-extra'] === undefined ? {} : { extra: kUser['as-user-extra'] }),
    });
    if (kUser.exec === undefined) {
      // Static credentials: the token kubectl sends (client-go prefers a readable tokenFile).
      const tokenFile = typeof kUser.tokenFile === 'string' ? userPath(dir, c, kUser.tokenFile) : undefined;
      const fromFile =
        tokenFile !== undefined && fs.existsSync(tokenFile)
          ? fs.readFileSync(tokenFile, 'utf8').trim()
          : undefined;
      const token = fromFile ?? (typeof kUser.token === 'string' ? kUser.token : undefined);
      expect.soft(fp((await conn.credentials.get()).token)).toBe(fp(token));
    }

    // 2. Who the API server says we are.
    const who = kubectl(dir, c, ['auth', 'whoami', '-o', 'json']);
    const kInfo = execInfo(dir);
    const client = new KubeClient(conn);
    let mine: Doc | undefined;
    let requestError: unknown;
    try {
      const review = await client.request<{ status: { userInfo: Doc } }>(
        'POST',
        '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        {
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
          timeoutMs: 30_000,
        },
      );
      mine = review.status.userInfo;
    } catch (err) {
      requestError = err;
    } finally {
      client.close();
    }
    const ourInfo = execInfo(dir);
    if (!who.ok) {
      expect(c.kubectl, `kubectl auth whoami failed: ${who.stderr.trim()}`).toEqual({ fails: 'request' });
      expect(mine, 'kubectl cannot authenticate with this kubeconfig; neither may we').toBeUndefined();
      return;
    }
    expect(c.kubectl).toEqual({
      user: (JSON.parse(who.stdout) as { status: { userInfo: Doc } }).status.userInfo.username,
    });
    expect(requestError, 'kubectl reaches the API server with this kubeconfig; so must we').toBeUndefined();
    expect(mine).toEqual((JSON.parse(who.stdout) as { status: { userInfo: Doc } }).status.userInfo);
    if (c.exec) expect(ourInfo).toEqual(kInfo);

    // 3. The URL kubectl requests: scheme, host, port and namespace.
    const get = kubectl(dir, c, ['get', 'pods', '-v=6']);
    const url = [...get.stderr.matchAll(/(?:url="|GET )(https?:\/\/[^"\s]+)/g)]
      .map((m) => new URL(m[1] as string))
      .find((u) => u.pathname.endsWith('/pods'));
    expect(url, `no pods URL in kubectl's log:\n${get.stderr}`).toBeDefined();
    if (url === undefined) return;
    expect(new URL(conn.server).origin).toBe(url.origin);
    expect(url.pathname).toBe(`/api/v1/namespaces/${conn.namespace}/pods`);
    execInfo(dir);
  });
});
