/**
 * A real thread limit: each node process in its own pids cgroup with pids.max = the run's
 * limits.threadsPerNode, so `new Worker()` fails in pthread_create (EAGAIN) exactly as a
 * thread-per-peer server fails at an OS thread limit. cgroup v1 (the pids controller mounted at
 * /sys/fs/cgroup/pids, as on the reference machine) or v2 (a pids-enabled unified hierarchy).
 * Needs root (or a delegated subtree); otherwise the runtime emulates the limit and says so.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupRoot {
  version: 1 | 2;
  /** the run's directory; one child per node */
  dir: string;
}

const V1 = '/sys/fs/cgroup/pids';
const V2 = '/sys/fs/cgroup';

/** Why cgroups cannot be used here, or null when they can. */
export function cgroupUnavailableReason(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: creating pids cgroups needs root or a delegated cgroup subtree';
  if (existsSync(join(V1, 'cgroup.procs'))) return null;
  if (existsSync(join(V2, 'cgroup.controllers'))) {
    const ctl = readFileSync(join(V2, 'cgroup.controllers'), 'utf8');
    return ctl.split(/\s+/).includes('pids') ? null : 'cgroup v2 without the pids controller';
  }
  return 'no pids cgroup controller mounted (looked at /sys/fs/cgroup/pids and /sys/fs/cgroup)';
}

/** Creates the run's cgroup directory; throws with the reason when that fails. */
export function createRunCgroup(tag: string): CgroupRoot {
  if (existsSync(join(V1, 'cgroup.procs'))) {
    const dir = join(V1, tag);
    mkdirSync(dir);
    return { version: 1, dir };
  }
  const dir = join(V2, tag);
  mkdirSync(dir);
  // v2: children get the pids controller only if the parent delegates it
  writeFileSync(join(dir, 'cgroup.subtree_control'), '+pids');
  return { version: 2, dir };
}

/** A node's own cgroup with its pids.max; the node moves itself in (after starting its threadpool). */
export function createNodeCgroup(root: CgroupRoot, node: number, pidsMax: number): string {
  const dir = join(root.dir, `node-${node}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'pids.max'), String(pidsMax));
  return dir;
}

/** Tasks in a cgroup now and the most it ever held (pids.peak where the kernel has it). */
export function cgroupPids(dir: string): { current: number; peak: number | null; max: string } {
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), 'utf8').trim();
    } catch {
      return null;
    }
  };
  const peak = read('pids.peak');
  return { current: Number(read('pids.current') ?? 0), peak: peak === null ? null : Number(peak), max: read('pids.max') ?? '?' };
}

/** Removes a cgroup directory; false while tasks remain in it (the process has not exited yet). */
export function removeCgroup(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT';
  }
}
