/**
 * Runs the cases of test manifests against the policies they name, compiled and decided by the
 * server's own engine (policies.ts, verdict.ts). Policies are validated first: a manifest whose
 * policies the controller would reject runs no case, and the rejections come back as problems.
 */

import { dirname, relative } from 'node:path';
import { describePolicies, serviceAccountUsername } from '../policy/index.js';
import type { Caller } from '../policy/types.js';
import { callerFor } from './caller.js';
import { findManifests, type LoadedManifest, readManifest } from './manifest.js';
import { type CompiledSet, compileSet, type LocatedWarning, loadPolicyFiles } from './policies.js';
import { type FileProblem, formatProblem } from './problems.js';
import type { TestCaller, TestCase } from './test-schema.js';
import { MissingFactError, type OfflineVerdict, offlineVerdict } from './verdict.js';

export interface CaseResult {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly passed: boolean;
  readonly expected: string;
  readonly got: string;
  /** Why it failed, in a sentence (absent when it passed). */
  readonly message?: string;
  readonly verdict?: OfflineVerdict;
}

export interface TestRun {
  readonly results: readonly CaseResult[];
  /** Invalid policies and manifests; any makes the run fail with exit status 2. */
  readonly problems: readonly FileProblem[];
  readonly warnings: readonly LocatedWarning[];
}

export interface RunOptions {
  /** Directories or manifest files (default: the current directory). */
  readonly paths: readonly string[];
  readonly cwd: string;
  /** Keep only cases whose name contains one of these (case-insensitive). */
  readonly select?: readonly string[];
  readonly defaultOperatorNamespace: string;
}

export function testCaller(c: TestCaller): Caller {
  if (c.serviceAccount !== undefined) {
    const [ns = '', name = ''] = c.serviceAccount.split('/');
    return callerFor(serviceAccountUsername(ns, name), c.groups ?? []);
  }
  return callerFor(c.user ?? '', c.groups ?? []);
}

function expectedText(c: TestCase): string {
  if (c.expect === 'allow') return c.policy === undefined ? 'allow' : `allow by ${c.policy}`;
  return c.code === undefined ? 'deny' : `deny ${c.code}`;
}

function gotText(v: OfflineVerdict): string {
  return v.allowed ? `allow by ${v.policies.join(', ') || '(always allowed)'}` : `deny ${v.code}`;
}

/** Judges one case; never throws for a case's own content. */
export function runCase(index: CompiledSet['index'], c: TestCase, file: string, line: number): CaseResult {
  const base = { file, line, name: c.name, expected: expectedText(c) };
  let verdict: OfflineVerdict;
  try {
    verdict = offlineVerdict(
      index,
      {
        caller: testCaller(c.caller),
        tool: c.tool,
        ...(c.namespace === undefined ? {} : { namespace: c.namespace }),
        ...(c.replicas === undefined ? {} : { replicas: c.replicas }),
      },
      c.currentReplicas,
    );
  } catch (err) {
    // A case whose policies need a fact it lacks, or a user name that is not a valid ServiceAccount.
    if (!(err instanceof MissingFactError) && !(err instanceof Error)) throw err;
    return { ...base, passed: false, got: 'error', message: (err as Error).message };
  }
  const got = gotText(verdict);
  let message: string | undefined;
  if (c.expect === 'allow') {
    if (!verdict.allowed) message = `expected allow, got ${got}: ${verdict.reason}`;
    else if (c.policy !== undefined && !verdict.policies.includes(c.policy))
      message = `expected ${describePolicies([c.policy])} to allow it, but only ${verdict.policies.join(', ')} do`;
  } else if (verdict.allowed) {
    message = `expected ${base.expected}, got ${got}: ${verdict.reason}`;
  } else if (c.code !== undefined && c.code !== verdict.code) {
    message = `expected ${base.expected}, got ${got}: ${verdict.reason}`;
  }
  return { ...base, passed: message === undefined, got, ...(message ? { message } : {}), verdict };
}

function selected(select: readonly string[] | undefined, name: string): boolean {
  if (!select || select.length === 0) return true;
  const lower = name.toLowerCase();
  return select.some((s) => lower.includes(s.toLowerCase()));
}

/** Compiles the policies a manifest names (one compile per distinct set). */
function compileFor(m: LoadedManifest, opts: RunOptions, cache: Map<string, CompiledSet>): CompiledSet {
  const dir = dirname(m.path);
  const ns = m.test.operatorNamespace ?? opts.defaultOperatorNamespace;
  const key = JSON.stringify([dir, m.test.policies, m.test.namespaces ?? [], ns]);
  let hit = cache.get(key);
  if (!hit) {
    const loaded = loadPolicyFiles(m.test.policies, dir, opts.cwd);
    const namespaces = [
      ...(m.test.namespaces ?? []).map((n) => ({ name: n.name, labels: n.labels ?? {} })),
      ...loaded.namespaces,
    ];
    const compiled = compileSet(
      {
        policies: loaded.policies,
        namespacePolicies: loaded.namespacePolicies,
        delegations: loaded.delegations,
        namespaces,
      },
      ns,
    );
    hit = { ...compiled, problems: [...loaded.problems, ...compiled.problems] };
    cache.set(key, hit);
  }
  return hit;
}

/** Finds the manifests, validates everything, and runs the selected cases. */
export function runTests(opts: RunOptions): TestRun {
  const found = findManifests(opts.paths.length > 0 ? opts.paths : ['.'], opts.cwd);
  const problems: FileProblem[] = [...found.problems];
  if (found.files.length === 0 && found.problems.length === 0)
    problems.push({
      file: relative(opts.cwd, opts.paths[0] ?? '.') || '.',
      line: 0,
      message: 'no kubemcp-test.yaml found',
    });
  const manifests: LoadedManifest[] = [];
  for (const path of found.files) {
    const read = readManifest(path, opts.cwd);
    problems.push(...read.problems);
    manifests.push(...read.manifests);
  }
  const cache = new Map<string, CompiledSet>();
  const results: CaseResult[] = [];
  const warnings = new Map<string, LocatedWarning>();
  for (const m of manifests) {
    const set = compileFor(m, opts, cache);
    problems.push(...set.problems);
    for (const w of set.warnings) warnings.set(`${w.policy}\0${w.warning.code}\0${w.warning.message}`, w);
    if (set.problems.length > 0) continue;
    m.test.cases.forEach((c, i) => {
      if (selected(opts.select, c.name))
        results.push(runCase(set.index, c, m.file, m.doc.lineOf(['cases', i])));
    });
  }
  const unique = new Map(problems.map((p) => [formatProblem(p), p]));
  return { results, problems: [...unique.values()], warnings: [...warnings.values()] };
}
