/**
 * Real per-node limits from the kernel's cgroups, one directory per node under one per run:
 * - threads: `pids` with pids.max = limits.threadsPerNode, so `new Worker()` fails in
 *   pthread_create (EAGAIN) exactly as a thread-per-peer server fails at an OS thread limit;
 * - CPU: `cpu` with a CFS quota of limits.coresPerNode × the period (cpuQuota below), so a node
 *   that wants more waits for the next period (throttled), as a container does;
 * - memory: `memory` with its limit = limits.memoryBytesPerNode (and the same memory+swap limit
 *   where the kernel has one), so a node that allocates past it is OOM-killed by the kernel.
 *
 * cgroup v1 (each controller its own hierarchy at /sys/fs/cgroup/<controller>, as on the reference
 * machine) or v2 (one unified hierarchy with the controllers enabled). On v1 a run's directories
 * nest under this process's own cgroup in each hierarchy, so whatever limit or accounting the
 * coordinator lives under still covers its nodes; on v2 they sit at the root, as before.
 * Needs root (or a delegated subtree); otherwise a limit is emulated (threads) or not enforced
 * (cpu, memory), and the result says which and why. Only v1 is exercised on the reference machine.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Controller = 'pids' | 'cpu' | 'memory';
export const CONTROLLERS: readonly Controller[] = ['pids', 'cpu', 'memory'];

const MOUNT = '/sys/fs/cgroup';
const v1Mount = (c: Controller) => join(MOUNT, c);
const isV1 = (c: Controller) => existsSync(join(v1Mount(c), 'cgroup.procs'));

/** Why `controller` cannot be used here, or null when it can. */
export function controllerUnavailableReason(controller: Controller): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return `not root: creating ${controller} cgroups needs root or a delegated cgroup subtree`;
  if (isV1(controller)) return null;
  if (existsSync(join(MOUNT, 'cgroup.controllers'))) {
    const ctl = readFileSync(join(MOUNT, 'cgroup.controllers'), 'utf8');
    return ctl.split(/\s+/).includes(controller) ? null : `cgroup v2 without the ${controller} controller`;
  }
  return `no ${controller} cgroup controller mounted (looked at ${v1Mount(controller)} and ${MOUNT})`;
}

/** Why pids cgroups (the thread limit) cannot be used here, or null when they can. */
export function cgroupUnavailableReason(): string | null {
  return controllerUnavailableReason('pids');
}

/** This process's own cgroup in a v1 hierarchy ("/" at its root), from /proc/self/cgroup. */
export function ownV1Path(controller: Controller, procSelfCgroup = readFileSync('/proc/self/cgroup', 'utf8')): string {
  for (const line of procSelfCgroup.split('\n')) {
    const [, ctl, path] = line.split(':');
    if (ctl !== undefined && path !== undefined && ctl.split(',').includes(controller)) return path;
  }
  return '/';
}

export interface ControllerDir {
  version: 1 | 2;
  dir: string;
}

/** A run's directory per controller it could make, and why not for each it could not. */
export interface RunCgroups {
  dirs: Partial<Record<Controller, ControllerDir>>;
  reasons: Partial<Record<Controller, string>>;
}

/** Creates the run's directory `tag` in each wanted controller's hierarchy; one failing leaves the others. */
export function createRunCgroups(tag: string, want: readonly Controller[]): RunCgroups {
  const out: RunCgroups = { dirs: {}, reasons: {} };
  const v2: Controller[] = [];
  for (const c of want) {
    const why = controllerUnavailableReason(c);
    if (why) {
      out.reasons[c] = why;
      continue;
    }
    if (!isV1(c)) {
      v2.push(c);
      continue;
    }
    const dir = join(v1Mount(c), ownV1Path(c), tag);
    try {
      mkdirSync(dir);
      out.dirs[c] = { version: 1, dir };
    } catch (e) {
      out.reasons[c] = `could not create a ${c} cgroup (${(e as Error).message})`;
    }
  }
  if (v2.length > 0) {
    const dir = join(MOUNT, tag);
    try {
      mkdirSync(dir);
    } catch (e) {
      for (const c of v2) out.reasons[c] = `could not create a cgroup (${(e as Error).message})`;
      return out;
    }
    // v2: children get a controller only if the parent delegates it, one at a time so one
    // refusal leaves the rest
    for (const c of v2) {
      try {
        writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
        out.dirs[c] = { version: 2, dir };
      } catch (e) {
        out.reasons[c] = `could not enable the ${c} controller for the run's cgroup (${(e as Error).message})`;
      }
    }
    if (!v2.some((c) => out.dirs[c])) removeCgroup(dir);
  }
  return out;
}

/** Every directory a run made, run directories only (node directories are inside them). */
export function runCgroupDirs(run: RunCgroups): string[] {
  return [...new Set(Object.values(run.dirs).map((d) => d.dir))];
}

// ---- CPU quota ------------------------------------------------------------------------------

/** CFS bandwidth: the kernel's default period, and the bounds it accepts (kernel/sched/core.c). */
export const CFS_PERIOD_US = 100_000;
export const CFS_QUOTA_MIN_US = 1_000;
export const CFS_PERIOD_MAX_US = 1_000_000;

export interface CpuQuota {
  quotaUs: number;
  periodUs: number;
  /** quotaUs ÷ periodUs: the cores the node gets (limits.coresPerNode unless clamped) */
  cores: number;
  /** false when the quota is at least the machine's CPUs: written, but it cannot hold the node back */
  binds: boolean;
  /** what differs from the configured limit and why, or null */
  note: string | null;
}

/**
 * The quota for `cores` per node: cores × the default 100 ms period. Below 0.01 cores that is
 * under the kernel's 1 ms minimum quota, so the period grows (up to 1 s) to keep the ratio;
 * below 0.001 cores the quota is clamped to 1 ms per 1 s and the note says so. A longer period
 * lets a node run in longer bursts between waits: the same share, coarser.
 */
export function cpuQuota(cores: number, machineCpus: number): CpuQuota {
  if (!(cores > 0) || !Number.isFinite(cores)) throw new RangeError(`cpuQuota: cores must be a positive number, got ${cores}`);
  let periodUs = CFS_PERIOD_US;
  let quotaUs = Math.round(cores * periodUs);
  const notes: string[] = [];
  if (quotaUs < CFS_QUOTA_MIN_US) {
    periodUs = Math.min(CFS_PERIOD_MAX_US, Math.ceil(CFS_QUOTA_MIN_US / cores));
    quotaUs = Math.max(CFS_QUOTA_MIN_US, Math.round(cores * periodUs));
    notes.push(
      quotaUs / periodUs > cores
        ? `${cores} cores is below the kernel's smallest quota (${CFS_QUOTA_MIN_US} µs per ${CFS_PERIOD_MAX_US} µs): clamped to ${quotaUs / periodUs} cores`
        : `period ${periodUs} µs (not ${CFS_PERIOD_US}): ${cores} cores × ${CFS_PERIOD_US} µs is below the kernel's ${CFS_QUOTA_MIN_US} µs minimum quota`,
    );
  }
  const effective = quotaUs / periodUs;
  const binds = effective < machineCpus;
  if (!binds) notes.push(`${effective} cores per node ≥ this machine's ${machineCpus} CPUs: the quota is written but cannot bind`);
  return { quotaUs, periodUs, cores: effective, binds, note: notes.length ? notes.join('; ') : null };
}

// ---- a node's cgroups -----------------------------------------------------------------------

export interface NodeCgroups {
  /** the directory the node process enters itself once its threadpool runs (NodeInit.cgroup) */
  pids: string | null;
  cpu: ControllerDir | null;
  memory: ControllerDir | null;
  /** directories the coordinator moves the process into right after the fork (v1 cpu and memory;
   *  v2 the node's one directory only when it has no pids controller to wait for) */
  joinAtFork: string[];
  /** every directory made for this node */
  dirs: string[];
}

export interface NodeLimits {
  pidsMax: number;
  memoryBytes: number;
}

const write = (dir: string, file: string, value: string) => writeFileSync(join(dir, file), value);

/**
 * A node's directory in each of the run's controllers, with pids.max and the memory limit written;
 * the CPU quota is written later (applyCpuQuota), once the node listens. Throws when the kernel
 * refuses a directory or a limit (the coordinator fails the run: a limit it said it enforces must hold).
 */
export function createNodeCgroups(run: RunCgroups, node: number, limits: NodeLimits): NodeCgroups {
  const out: NodeCgroups = { pids: null, cpu: null, memory: null, joinAtFork: [], dirs: [] };
  try {
    return fillNodeCgroups(run, node, limits, out);
  } catch (e) {
    // nothing half-made stays behind: the run's directory could not be removed after it
    for (const d of out.dirs) removeCgroup(d);
    throw e;
  }
}

function fillNodeCgroups(run: RunCgroups, node: number, limits: NodeLimits, out: NodeCgroups): NodeCgroups {
  const dirOf = (c: Controller): ControllerDir | null => {
    const r = run.dirs[c];
    if (!r) return null;
    const dir = join(r.dir, `node-${node}`);
    if (!out.dirs.includes(dir)) {
      mkdirSync(dir);
      out.dirs.push(dir);
    }
    // v1: cpu and memory from the fork on; pids only once the node's threadpool runs (it enters
    // that one itself). v2: one directory for all, entered by the node itself when it has pids.
    const atFork = r.version === 1 ? c !== 'pids' : !run.dirs.pids;
    if (atFork && !out.joinAtFork.includes(dir)) out.joinAtFork.push(dir);
    return { version: r.version, dir };
  };
  const pids = dirOf('pids');
  if (pids) {
    write(pids.dir, 'pids.max', String(limits.pidsMax));
    out.pids = pids.dir;
  }
  const mem = dirOf('memory');
  if (mem) {
    const bytes = String(Math.floor(limits.memoryBytes));
    if (mem.version === 1) {
      write(mem.dir, 'memory.limit_in_bytes', bytes);
      // memory+swap no higher than memory: swap cannot stretch the limit (memsw exists only with swap accounting)
      if (existsSync(join(mem.dir, 'memory.memsw.limit_in_bytes'))) write(mem.dir, 'memory.memsw.limit_in_bytes', bytes);
    } else {
      write(mem.dir, 'memory.max', bytes);
      if (existsSync(join(mem.dir, 'memory.swap.max'))) write(mem.dir, 'memory.swap.max', '0');
    }
    out.memory = mem;
  }
  out.cpu = dirOf('cpu');
  return out;
}

/** Moves a process (all its threads) into a v1 cgroup; its later children are born there. */
export function joinCgroup(dir: string, pid: number): void {
  write(dir, 'cgroup.procs', String(pid));
}

export function applyCpuQuota(cpu: ControllerDir, q: CpuQuota): void {
  if (cpu.version === 1) {
    // the period first: a quota is checked against the period it is written under
    write(cpu.dir, 'cpu.cfs_period_us', String(q.periodUs));
    write(cpu.dir, 'cpu.cfs_quota_us', String(q.quotaUs));
  } else {
    write(cpu.dir, 'cpu.max', `${q.quotaUs} ${q.periodUs}`);
  }
}

// ---- what the kernel counted ----------------------------------------------------------------

/** `key value` lines (cpu.stat, memory.oom_control, memory.events) as numbers. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

export interface CpuThrottle {
  /** CFS periods in which the node had runnable work */
  periods: number;
  /** of those, periods in which it used its whole quota and waited for the next */
  throttledPeriods: number;
  /** total time its threads waited for quota, ms */
  throttledMs: number;
}

/** cpu.stat: v1 counts throttled_time in ns, v2 throttled_usec. */
export function parseCpuStat(text: string, version: 1 | 2): CpuThrottle {
  const s = parseFlatKeyed(text);
  const ms = version === 1 ? (s.throttled_time ?? 0) / 1e6 : (s.throttled_usec ?? 0) / 1e3;
  return { periods: s.nr_periods ?? 0, throttledPeriods: s.nr_throttled ?? 0, throttledMs: ms };
}

/**
 * The live side of the `cpu` limit rule both runtimes share (src/sim/host.ts): between two reads
 * of a node's cpu.stat `windowUs` apart, the node wanted more CPU than its quota for the whole
 * window when the kernel throttled it in every CFS period wholly inside the window, at least one.
 * The reads are not aligned with the kernel's periods, so the window holds at least
 * ⌊window / period⌋ − 1 whole periods (its edges cut at most two); a throttled period is counted
 * at its end (nr_throttled, also for periods whose timer fired late), so a node throttled in each
 * of them shows at least that many more throttled periods. An idle node's periods are not even
 * counted (nr_periods runs only while it has work), so it never qualifies.
 */
export function cpuSaturatedLive(before: CpuThrottle, after: CpuThrottle, windowUs: number, periodUs: number): boolean {
  const wholePeriods = Math.max(1, Math.floor(windowUs / periodUs) - 1);
  return after.throttledPeriods - before.throttledPeriods >= wholePeriods;
}

export interface MemoryCounters {
  /** null: no limit (v2 "max") */
  limitBytes: number | null;
  /** the most the cgroup was charged (null where the kernel does not keep it) */
  peakBytes: number | null;
  /** times a charge hit the limit (v1 memory.failcnt or memory.memsw.failcnt, the larger; v2 memory.events
   *  max). Not to be relied on: the reference machine's 6.18 kernel leaves v1 failcnt at 0 through an
   *  OOM kill; oomKills and peakBytes are what say the limit was reached */
  limitHits: number;
  /** processes the kernel's OOM killer ended inside the cgroup */
  oomKills: number;
}

const readOr = (dir: string, file: string): string | null => {
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch {
    return null;
  }
};

/** What the kernel counted in a node's cpu and memory cgroups; null for a controller it has not, or once removed. */
export function readNodeCgroupCounters(cg: Pick<NodeCgroups, 'cpu' | 'memory'>): { cpu: CpuThrottle | null; memory: MemoryCounters | null } {
  let cpu: CpuThrottle | null = null;
  if (cg.cpu) {
    const t = readOr(cg.cpu.dir, 'cpu.stat');
    if (t !== null) cpu = parseCpuStat(t, cg.cpu.version);
  }
  let memory: MemoryCounters | null = null;
  if (cg.memory) {
    const { dir, version } = cg.memory;
    if (version === 1) {
      const oom = readOr(dir, 'memory.oom_control');
      const limit = readOr(dir, 'memory.limit_in_bytes');
      if (oom !== null && limit !== null) {
        const peak = readOr(dir, 'memory.max_usage_in_bytes');
        // with memory+swap limited alike, a charge can fail on memsw first: its failcnt counts then
        const hits = Math.max(Number(readOr(dir, 'memory.failcnt') ?? 0), Number(readOr(dir, 'memory.memsw.failcnt') ?? 0));
        memory = { limitBytes: Number(limit), peakBytes: peak === null ? null : Number(peak), limitHits: hits, oomKills: parseFlatKeyed(oom).oom_kill ?? 0 };
      }
    } else {
      const ev = readOr(dir, 'memory.events');
      const limit = readOr(dir, 'memory.max');
      if (ev !== null && limit !== null) {
        const e = parseFlatKeyed(ev);
        const peak = readOr(dir, 'memory.peak');
        memory = { limitBytes: limit === 'max' ? null : Number(limit), peakBytes: peak === null ? null : Number(peak), limitHits: e.max ?? 0, oomKills: e.oom_kill ?? 0 };
      }
    }
  }
  return { cpu, memory };
}

/** Tasks in a cgroup now and the most it ever held (pids.peak where the kernel has it). */
export function cgroupPids(dir: string): { current: number; peak: number | null; max: string } {
  const peak = readOr(dir, 'pids.peak');
  return { current: Number(readOr(dir, 'pids.current') ?? 0), peak: peak === null ? null : Number(peak), max: readOr(dir, 'pids.max') ?? '?' };
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
