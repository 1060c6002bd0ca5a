/**
 * What a dead live run leaves behind when its coordinator and its reaper die together (SIGKILL of
 * the whole group, an OOM kill, a power cut while bundling): the run's cgroup trees (pids, cpu,
 * memory) and its bundle directory in the OS temp directory. The next live run sweeps them up
 * before it starts.
 *
 * Ownership is decided from names and pids only, never guessed from contents:
 * - a cgroup `fleetbench-<pid>-<stamp>` (cgroup.ts, created by the coordinator) belongs to the
 *   coordinator `<pid>`; it is swept only when that pid is gone. Tasks still inside (a node left
 *   SIGSTOPped) are ours by construction and are SIGKILLed first. On cgroup v1 a run's directory
 *   nests under its coordinator's own cgroup (a session's, a service's), so each hierarchy is
 *   searched a few levels deep (CGROUP_SEARCH_DEPTH), never inside a run's own directory.
 * - a bundle directory `fleetbench-live-*` is swept when its `owner.pid` file (markBundleOwner)
 *   names a dead pid; a directory without one (a coordinator killed mid-bundling, or one from
 *   before owner files) only when it is older than STALE_BUNDLE_MS and no process runs from it.
 * A pid reused by an unrelated process keeps its leftovers until that process ends: safe, not lost.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export const RUN_CGROUP_PATTERN = /^fleetbench-(\d+)-[0-9a-z]+$/;
export const BUNDLE_PREFIX = 'fleetbench-live-';
export const OWNER_FILE = 'owner.pid';
/** a bundle directory without an owner file is someone's only if younger than this */
export const STALE_BUNDLE_MS = 10 * 60_000;

/** Where run cgroups live: the v1 pids, cpu and memory hierarchies and the v2 unified one (cgroup.ts). */
export const CGROUP_ROOTS = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/memory', '/sys/fs/cgroup'];
/** how far below a root a run's directory may sit: <hierarchy>/<slice>/<session>/fleetbench-… */
export const CGROUP_SEARCH_DEPTH = 4;

export interface LeftoverOptions {
  cgroupRoots?: readonly string[];
  tmp?: string;
  /** now, for the age of ownerless bundle directories (tests) */
  nowMs?: number;
}

export interface LeftoverSweep {
  cgroups: string[];
  bundles: string[];
  killed: number[];
  /** leftovers that could not be removed, with why */
  kept: string[];
}

/** Records this process as the owner of a bundle directory (call right after creating it). */
export function markBundleOwner(dir: string, pid = process.pid): void {
  writeFileSync(join(dir, OWNER_FILE), `${pid}\n`);
}

export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number).filter((p) => Number.isSafeInteger(p) && p > 0);
  } catch {
    return [];
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Kills the tasks of a dead run's cgroup tree and removes it, deepest first. */
function sweepCgroup(dir: string, out: LeftoverSweep): void {
  const tree: string[] = [];
  const walk = (d: string) => {
    for (const s of subdirs(d)) walk(s);
    tree.push(d);
  };
  walk(dir);
  for (const d of tree) {
    for (const pid of readPids(join(d, 'cgroup.procs'))) {
      try {
        process.kill(pid, 'SIGKILL');
        out.killed.push(pid);
      } catch {
        /* already gone */
      }
    }
  }
  for (const d of tree) {
    let removed = false;
    for (let i = 0; i < 40 && !removed; i++) {
      try {
        rmdirSync(d);
        removed = true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') removed = true;
        else if (code === 'EBUSY' || code === 'ENOTEMPTY') sleepSync(25); // tasks still exiting
        else break;
      }
    }
    if (removed) {
      if (d === dir) out.cgroups.push(d);
    } else out.kept.push(`${d} (still busy)`);
  }
}

/** True when some process runs from `dir` (its command line names it). */
function inUse(dir: string): boolean {
  let procs: string[];
  try {
    procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return true; // cannot tell: keep it
  }
  for (const p of procs) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) return true;
    } catch {
      /* gone meanwhile */
    }
  }
  return false;
}

/**
 * Removes the cgroups and bundle directories of live runs whose coordinator is dead. Never touches
 * a live coordinator's, nor anything not named like a live run's. Safe to call at every start.
 */
export function sweepLiveLeftovers(opts: LeftoverOptions = {}): LeftoverSweep {
  const out: LeftoverSweep = { cgroups: [], bundles: [], killed: [], kept: [] };
  // a directory is looked at once, whichever root reaches it first (/sys/fs/cgroup holds the v1 ones)
  const seen = new Set<string>();
  const search = (dir: string, depth: number) => {
    for (const sub of subdirs(dir)) {
      if (seen.has(sub)) continue;
      seen.add(sub);
      const m = RUN_CGROUP_PATTERN.exec(basename(sub));
      if (!m) {
        if (depth < CGROUP_SEARCH_DEPTH) search(sub, depth + 1);
        continue;
      }
      if (pidAlive(Number(m[1])) || Number(m[1]) === process.pid) continue;
      if (!lstatSync(sub, { throwIfNoEntry: false })?.isDirectory()) continue;
      sweepCgroup(sub, out);
    }
  };
  for (const root of opts.cgroupRoots ?? CGROUP_ROOTS) {
    seen.add(root);
    search(root, 1);
  }
  const tmp = opts.tmp ?? tmpdir();
  const now = opts.nowMs ?? Date.now();
  let entries: string[] = [];
  try {
    entries = readdirSync(tmp).filter((n) => n.startsWith(BUNDLE_PREFIX));
  } catch {
    /* no temp directory to sweep */
  }
  for (const name of entries) {
    const dir = join(tmp, name);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (!st?.isDirectory()) continue; // a symlink or file of that name is not ours
    const ownerFile = join(dir, OWNER_FILE);
    let dead: boolean;
    if (existsSync(ownerFile)) {
      const [pid] = readPids(ownerFile);
      dead = pid !== undefined && pid !== process.pid && !pidAlive(pid);
    } else {
      dead = now - st.mtimeMs > STALE_BUNDLE_MS && !inUse(dir);
    }
    if (!dead) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
      out.bundles.push(dir);
    } catch (e) {
      out.kept.push(`${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return out;
}
