/**
 * Memory and CPU of a process together with every process it started (from /proc), for servers that
 * run a wrapper around their binary or spawn a child per call (kubectl).
 */
import fs from 'node:fs';

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process has exited
  }
}

/** `pid` and all its live descendants (children are listed per thread in /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    out.push(p);
    for (const t of tasks) {
      const children = read(`/proc/${p}/task/${t}/children`);
      if (children === undefined) continue;
      for (const c of children.split(' ')) if (c !== '') queue.push(Number(c));
    }
  }
  return out;
}

/** VmRSS of one process, MiB (0 when it has exited or is a zombie). */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(read(`/proc/${pid}/status`) ?? '');
  return m?.[1] === undefined ? 0 : Number(m[1]) / 1024;
}

export interface TreeMemory {
  /** Sum of VmRSS over the tree, MiB. */
  readonly treeMiB: number;
  /** VmRSS of the process that serves MCP, MiB. */
  readonly serverMiB: number;
  /** Processes in the tree at that moment. */
  readonly processes: number;
}

/** RSS of the tree rooted at `root`; `server` names the process that serves MCP (root itself or a child). */
export function treeMemory(root: number, server = root): TreeMemory {
  const tree = processTree(root);
  return {
    treeMiB: tree.reduce((a, p) => a + rssMiB(p), 0),
    serverMiB: rssMiB(server),
    processes: tree.length,
  };
}

/**
 * CPU seconds used by the tree: for every live process its own user + system time plus that of the
 * children it has reaped (cutime/cstime). A short-lived child (kubectl) is counted once, in its
 * parent's cutime after it is waited for; a live child by its own entry.
 */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    const stat = read(`/proc/${pid}/stat`);
    if (stat === undefined) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14-17 (indexes 11-14 after the command name).
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Samples the tree's RSS every `intervalMs` and keeps the peak (tree and server process). */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  peakTreeMiB = 0;
  peakServerMiB = 0;
  samples = 0;

  constructor(
    private readonly root: number,
    private readonly server: number,
  ) {}

  sample(): TreeMemory {
    const m = treeMemory(this.root, this.server);
    this.peakTreeMiB = Math.max(this.peakTreeMiB, m.treeMiB);
    this.peakServerMiB = Math.max(this.peakServerMiB, m.serverMiB);
    this.samples++;
    return m;
  }

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
