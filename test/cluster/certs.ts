/**
 * Fresh credentials for one cluster run: a CA, the API server's serving certificate, the
 * ServiceAccount token signing key pair, and a static token file (an admin and ordinary users).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HarnessError } from './log.js';

export interface StaticUser {
  readonly name: string;
  readonly groups: readonly string[];
  readonly token: string;
}

export interface Credentials {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly saKey: string;
  readonly saPub: string;
  readonly tokenFile: string;
  readonly users: Readonly<Record<'admin' | 'alice' | 'bob', StaticUser>>;
}

function openssl(dir: string, args: string[]): void {
  const res = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new HarnessError(
      'certificates',
      `openssl ${args[0]} failed: ${res.error?.message ?? res.stderr.trim()} (is the openssl package installed?)`,
    );
  }
}

export function generateCredentials(dir: string): Credentials {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => path.join(dir, f);
  fs.writeFileSync(
    p('server.cnf'),
    [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[ext]',
      'basicConstraints = CA:FALSE',
      'keyUsage = digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:10.0.0.1',
      '',
    ].join('\n'),
  );
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-subj',
    '/CN=kubemcp-test-ca',
    '-days',
    '30',
    '-out',
    'ca.crt',
  ]);
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key']);
  openssl(dir, [
    'req',
    '-new',
    '-key',
    'server.key',
    '-subj',
    '/CN=kube-apiserver',
    '-config',
    'server.cnf',
    '-out',
    'server.csr',
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    'server.cnf',
    '-extensions',
    'ext',
    '-out',
    'server.crt',
  ]);
  openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key']);
  openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);

  const user = (name: string, groups: string[]): StaticUser => ({
    name,
    groups,
    token: randomBytes(24).toString('base64url'),
  });
  const users = {
    admin: user('kubemcp-admin', ['system:masters']),
    alice: user('alice', ['developers']),
    bob: user('bob', ['viewers']),
  };
  const lines = Object.values(users).map((u, i) => `${u.token},${u.name},uid-${i},"${u.groups.join(',')}"`);
  fs.writeFileSync(p('tokens.csv'), `${lines.join('\n')}\n`, { mode: 0o600 });
  for (const f of fs.readdirSync(dir)) fs.chmodSync(p(f), 0o600);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
    tokenFile: p('tokens.csv'),
    users,
  };
}

/**
 * A client certificate signed by the cluster CA in `dir` (from generateCredentials), e.g. for the
 * API server's calls to a kubelet (logs, exec, port-forward). Returns the certificate and key paths.
 */
export function generateClientCert(dir: string, name: string, org: string): { cert: string; key: string } {
  const key = `${name}.key`;
  const cert = `${name}.crt`;
  fs.writeFileSync(
    path.join(dir, `${name}.cnf`),
    [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[ext]',
      'basicConstraints = CA:FALSE',
      'keyUsage = digitalSignature, keyEncipherment',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  openssl(dir, ['req', '-new', '-key', key, '-subj', `/O=${org}/CN=${name}`, '-out', `${name}.csr`]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    `${name}.cnf`,
    '-extensions',
    'ext',
    '-out',
    cert,
  ]);
  fs.chmodSync(path.join(dir, key), 0o600);
  return { cert: path.join(dir, cert), key: path.join(dir, key) };
}
