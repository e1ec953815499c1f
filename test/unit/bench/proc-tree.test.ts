/**
 * bench:peers charges a server for the processes it starts (kubectl per call, a Go binary under an
 * npm wrapper). These check that the /proc helpers see a grandchild and count the CPU of a child
 * that has already exited and been reaped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { processTree, treeCpuSeconds, treeMemory } from '../../../bench/lib/proc-tree.js';

const running: ChildProcess[] = [];

afterEach(() => {
  for (const c of running.splice(0)) {
    try {
      process.kill(-(c.pid as number), 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** sh → node (burns CPU, prints its own CPU seconds, exits; sh reaps it) → then sh → sleep. */
function start(): { child: ChildProcess; output: Promise<string> } {
  const burn = `let x=0;for(let i=0;i<5e7;i++)x+=i;const u=process.cpuUsage();console.log((u.user+u.system)/1e6)`;
  const child = spawn('sh', ['-c', `"${process.execPath}" -e '${burn}'; sleep 30`], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(child);
  const output = new Promise<string>((resolve) => {
    child.stdout?.once('data', (d: Buffer) => resolve(d.toString()));
  });
  return { child, output };
}

describe('proc-tree', { timeout: 60_000 }, () => {
  it('lists the root and its descendants', async () => {
    const { child, output } = start();
    await output; // node has exited; sh now runs sleep
    await sleep(100);
    const tree = processTree(child.pid as number);
    expect(tree[0]).toBe(child.pid);
    expect(tree.length).toBe(2);
    const m = treeMemory(child.pid as number);
    expect(m.processes).toBe(2);
    expect(m.treeMiB).toBeGreaterThan(m.serverMiB);
  });

  it("counts a reaped child's CPU in its parent's entry", async () => {
    const { child, output } = start();
    const childCpu = Number((await output).trim());
    expect(childCpu).toBeGreaterThan(0.02);
    await sleep(100);
    // USER_HZ ticks: allow 2 ticks of rounding per field.
    expect(treeCpuSeconds(child.pid as number)).toBeGreaterThanOrEqual(childCpu - 0.04);
  });

  it('is empty for a process that does not exist', () => {
    expect(processTree(2 ** 22 + 1)).toEqual([]);
    expect(treeCpuSeconds(2 ** 22 + 1)).toBe(0);
  });
});
