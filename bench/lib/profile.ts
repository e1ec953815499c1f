/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and summarises where the time went: self time by function
 * and by module (a node_modules package, a file of ours, or Node internals).
 */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}
interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileEntry {
  readonly name: string;
  readonly ms: number;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  /** Share of samples that were not idle/GC/program. */
  readonly busyPercent: number;
  readonly byFunction: readonly ProfileEntry[];
  readonly byModule: readonly ProfileEntry[];
}

function moduleOf(url: string, repoRoot: string): string {
  if (url === '') return '(native/V8)';
  if (url.startsWith('node:')) return 'node:internal';
  const p = url.startsWith('file://') ? url.slice(7) : url;
  const nm = p.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = p.slice(nm + 14).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? p);
  }
  return path.relative(repoRoot, p);
}

export function summariseProfile(file: string, repoRoot: string, top = 25): ProfileSummary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let idle = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const f = n.callFrame;
    if (f.functionName === '(idle)' || f.functionName === '(program)') {
      idle += ms;
      continue;
    }
    const where = f.url === '' ? '' : ` ${moduleOf(f.url, repoRoot)}:${f.lineNumber + 1}`;
    const key = `${f.functionName || '(anonymous)'}${where}`;
    fn.set(key, (fn.get(key) ?? 0) + ms);
    const m = f.functionName === '(garbage collector)' ? '(garbage collector)' : moduleOf(f.url, repoRoot);
    mod.set(m, (mod.get(m) ?? 0) + ms);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, percent: (100 * ms) / Math.max(1, busy) }));
  return {
    file,
    totalMs: total,
    busyPercent: (100 * busy) / Math.max(1, total),
    byFunction: rank(fn),
    byModule: rank(mod),
  };
}

export function formatProfile(s: ProfileSummary, top = 20): string {
  const lines = [
    `CPU profile ${s.file}: ${(s.totalMs / 1000).toFixed(1)}s sampled, ${s.busyPercent.toFixed(0)}% busy; self time as % of busy time`,
    '  by module:',
    ...s.byModule.slice(0, 12).map((e) => `    ${e.percent.toFixed(1).padStart(5)}%  ${e.name}`),
    '  by function:',
    ...s.byFunction.slice(0, top).map((e) => `    ${e.percent.toFixed(1).padStart(5)}%  ${e.name}`),
  ];
  return lines.join('\n');
}
