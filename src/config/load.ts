/**
 * Loads the configuration: flags > KUBEMCP_* environment variables > the defaults in ConfigSchema.
 * The environment is read here (KUBEMCP_*, and POD_NAME, POD_NAMESPACE and KUBERNETES_SERVICE_HOST
 * for the defaults that depend on where the process runs), in tracing.ts (OTEL_*), and by the
 * kubeconfig loader (KUBECONFIG and the in-cluster variables, as kubectl reads them); serve.ts
 * reads KUBERNETES_SERVICE_HOST for its shutdown drain.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { type Config, ConfigSchema, DEFAULT_CONFIRMATION_KEY_SECRET, OPTIONS, type OptionSpec } from './schema.js';

/** A configuration value that cannot be used; the message names the flag and variable to fix. */
export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

export type FlagValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadConfigOptions {
  /** Values from node:util parseArgs with {@link serveFlagOptions}. */
  readonly flags?: FlagValues;
  /** Default: process.env. */
  readonly env?: Env;
  /** Where a pod's namespace is mounted; read when no namespace is configured. */
  readonly serviceAccountNamespaceFile?: string;
}

export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** parseArgs options for `kubemcp serve`, derived from OPTIONS. */
export function serveFlagOptions(): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const o of OPTIONS) {
    if (o.type === 'boolean') {
      options[o.flag] = { type: 'boolean' };
      options[`no-${o.flag}`] = { type: 'boolean' };
    } else {
      options[o.flag] = { type: 'string', multiple: o.type === 'list' };
    }
  }
  return options;
}

/** The `--help` lines of the serve settings, generated from OPTIONS and the schema's defaults. */
export function serveFlagHelp(): string {
  const defaults = ConfigSchema.parse({}) as unknown as Record<string, unknown>;
  const rows = OPTIONS.map((o) => {
    const flag = o.type === 'boolean' ? `--[no-]${o.flag}` : `--${o.flag} ${o.value ?? 'VALUE'}`;
    const def = getPath(defaults, o.key);
    const shown = o.defaultHelp
      ? ` (default ${o.defaultHelp})`
      : def === undefined
        ? ''
        : ` (default ${Array.isArray(def) ? def.join(',') : String(def)})`;
    return { flag, text: `${o.help}${shown} [${o.env}]` };
  });
  const width = Math.max(...rows.map((r) => r.flag.length)) + 2;
  return rows.map((r) => `  ${r.flag.padEnd(width)}${r.text}`).join('\n');
}

function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (typeof next === 'object' && next !== null) cur = next as Record<string, unknown>;
    else {
      const created: Record<string, unknown> = {};
      cur[part] = created;
      cur = created;
    }
  }
  cur[parts[parts.length - 1] as string] = value;
}

function describe(o: OptionSpec, source: 'flag' | 'env'): string {
  return source === 'flag' ? `--${o.flag}` : o.env;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

function convert(o: OptionSpec, raw: string, source: 'flag' | 'env'): unknown {
  const where = describe(o, source);
  const text = raw.trim();
  switch (o.type) {
    case 'string':
      if (text === '') throw new ConfigError(`${where}: must not be empty`);
      return text;
    case 'integer': {
      if (!/^-?\d+$/.test(text)) throw new ConfigError(`${where}: ${JSON.stringify(raw)} is not a whole number`);
      return Number(text);
    }
    case 'number': {
      const n = Number(text);
      if (text === '' || !Number.isFinite(n)) throw new ConfigError(`${where}: ${JSON.stringify(raw)} is not a number`);
      return n;
    }
    case 'boolean': {
      const lower = text.toLowerCase();
      if (TRUE.has(lower)) return true;
      if (FALSE.has(lower)) return false;
      throw new ConfigError(`${where}: ${JSON.stringify(raw)} is not a boolean (true or false)`);
    }
    case 'list': {
      const items = text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (items.length === 0) throw new ConfigError(`${where}: needs at least one entry`);
      return items;
    }
  }
}

function flagValue(o: OptionSpec, flags: FlagValues): unknown {
  if (o.type === 'boolean') {
    const yes = flags[o.flag] === true;
    const no = flags[`no-${o.flag}`] === true;
    if (yes && no) throw new ConfigError(`--${o.flag} and --no-${o.flag} contradict each other`);
    return yes ? true : no ? false : undefined;
  }
  const v = flags[o.flag];
  if (v === undefined) return undefined;
  if (o.type === 'list') {
    const parts = (Array.isArray(v) ? v : [v]).map(String);
    return parts.flatMap((p) => convert(o, p, 'flag') as string[]);
  }
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  return convert(o, String(last), 'flag');
}

function issueMessage(issue: z.core.$ZodIssue, sources: ReadonlyMap<string, 'flag' | 'env'>): string {
  const key = issue.path.map(String).join('.');
  const option =
    OPTIONS.find((o) => o.key === key) ?? OPTIONS.find((o) => key.startsWith(`${o.key}.`) || o.key === key);
  if (!option) return `${key || 'config'}: ${issue.message}`;
  const source = sources.get(option.key);
  const where =
    source === undefined ? `--${option.flag} / ${option.env}` : describe(option, source);
  return `${where}: ${issue.message}`;
}

function readNamespaceFile(file: string): string | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * Builds the configuration. Throws ConfigError with every problem, each naming the flag or
 * environment variable it came from.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const flags = options.flags ?? {};
  const env = options.env ?? process.env;
  const input: Record<string, unknown> = {};
  const sources = new Map<string, 'flag' | 'env'>();
  const errors: string[] = [];

  for (const o of OPTIONS) {
    try {
      const fromFlag = flagValue(o, flags);
      if (fromFlag !== undefined) {
        setPath(input, o.key, fromFlag);
        sources.set(o.key, 'flag');
        continue;
      }
      const raw = env[o.env];
      if (raw !== undefined && raw !== '') {
        setPath(input, o.key, convert(o, raw, 'env'));
        sources.set(o.key, 'env');
      }
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }

  // Defaults that depend on where we run (not on a setting): the pod's namespace, the pod's name.
  // $KUBECONFIG is left to the kubeconfig loader, which merges all its files as kubectl does.
  const mountedNamespace = readNamespaceFile(
    options.serviceAccountNamespaceFile ?? SERVICE_ACCOUNT_NAMESPACE_FILE,
  );
  const inPod = Boolean(env.KUBERNETES_SERVICE_HOST || env.POD_NAME || mountedNamespace);
  // Leader election: on in a Pod (replicas share a Lease), off for a process outside one (a
  // developer's `kubemcp serve` would otherwise wait forever for a Lease in a namespace that may
  // not exist, and write no status), unless a Lease namespace or name is set explicitly.
  if (getPath(input, 'leaderElection.enabled') === undefined) {
    const leaseNamed = sources.has('leaderElection.namespace') || sources.has('leaderElection.leaseName');
    setPath(input, 'leaderElection.enabled', inPod || leaseNamed);
  }
  if (getPath(input, 'leaderElection.namespace') === undefined) {
    const ns = env.POD_NAMESPACE || mountedNamespace;
    if (ns) setPath(input, 'leaderElection.namespace', ns);
  }
  // The confirmation key: shared through a Secret in the operator's namespace when the process
  // knows that namespace (in a Pod, or named explicitly), unless a key file is given.
  if (
    input.confirmationKeySecret === undefined &&
    input.confirmationKeyFile === undefined &&
    (inPod || sources.has('leaderElection.namespace'))
  ) {
    input.confirmationKeySecret = DEFAULT_CONFIRMATION_KEY_SECRET;
  }
  if (getPath(input, 'leaderElection.identity') === undefined) {
    const base = env.POD_NAME || env.HOSTNAME || os.hostname() || 'kubemcp';
    setPath(input, 'leaderElection.identity', `${base}_${randomBytes(4).toString('hex')}`);
  }

  if (errors.length > 0) throw new ConfigError(`invalid configuration:\n  ${errors.join('\n  ')}`);
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => issueMessage(i, sources));
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}

/**
 * The kubeconfig file a client command (`kubemcp check`) was told to use: the flag, else
 * KUBEMCP_KUBECONFIG, else undefined (then the loader's default order: $KUBECONFIG's files merged,
 * in-cluster, ~/.kube/config).
 */
export function resolveKubeconfigPath(flag: string | undefined, env: Env = process.env): string | undefined {
  if (flag) return flag;
  return env.KUBEMCP_KUBECONFIG || undefined;
}
