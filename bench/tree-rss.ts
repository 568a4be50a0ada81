// Peak resident memory of a process tree: the sum of VmRSS over a process and all its descendants,
// sampled every 100 ms from /proc. GNU time's "max RSS" is one process's (the largest), which
// undercounts a supervisor and its workers. Pages the processes share (the node binary's text)
// count once per process here, so this errs high, not low.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const SAMPLE_MS = 100;

function childrenOf(pid: number): number[] {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return [];
  const pids: number[] = [];
  for (const task of readdirSync(tasks)) {
    try {
      for (const child of readFileSync(`${tasks}/${task}/children`, 'utf8').trim().split(/\s+/)) if (child) pids.push(Number(child));
    } catch {
      // the task ended between the listing and the read
    }
  }
  return pids;
}

function rssKb(pid: number): number {
  try {
    const line = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line ? Number(line[1]) : 0;
  } catch {
    return 0;
  }
}

/** `root`'s descendants (not root itself: the bench roots its measured processes in GNU time). */
export function sampleTreeRss(root: number, includeRoot: boolean): { stop(): { peakMb: number; processes: number } | null } {
  let peakKb = 0;
  let most = 0;
  const sample = () => {
    const seen: number[] = [];
    const queue = includeRoot ? [root] : childrenOf(root);
    while (queue.length > 0) {
      const pid = queue.pop()!;
      seen.push(pid);
      queue.push(...childrenOf(pid));
    }
    peakKb = Math.max(peakKb, seen.reduce((sum, pid) => sum + rssKb(pid), 0));
    most = Math.max(most, seen.length);
  };
  if (!existsSync('/proc/self/status')) return { stop: () => null };
  const timer = setInterval(sample, SAMPLE_MS);
  sample();
  return {
    stop() {
      clearInterval(timer);
      return peakKb > 0 ? { peakMb: peakKb / 1024, processes: most } : null;
    },
  };
}
