/**
 * Refuses, before anything starts, a fleet this machine cannot hold, with the numbers: memory
 * from per-process and per-Worker costs measured here, the per-process Worker ceiling, the
 * kernel's task and fd limits. A refused run is a clear error; an accepted one still reads
 * every figure from the OS.
 */
import { readFileSync } from 'node:fs';
import type { RunConfig } from '../harness/run-config.ts';
import { UsageError } from '../errors.ts';

const MB = 1e6;

/** Per-unit costs on the reference machine (references.md; `fleetbench calibrate` re-measures). */
export const LIVE_COSTS = {
  /** RSS of one node process (bundled host, server listening, protocol running at small N) */
  nodeProcessBytes: { value: 62 * MB, source: 'measured here: 56 MB idle bundled probe (calibrate), 62–65 MB per async-multiplexed node at N=5–8 under load' },
  /** RSS per Worker running the bundled worker host with its ws client */
  workerBytes: { value: 13.4 * MB, source: 'measured here by calibrate: 13.4 MB RSS per live Worker (worker host + ws); 7.5–8 MB for an empty Worker (references.md)' },
  /** memory of one connection, both ends, both directions per peer pair (ws server + ws client) */
  connectionBytes: { value: 40 * 1000, source: 'measured here by calibrate: ws server 13.5 KB + ws client 25.7 KB per connection (uWS server 1 KB)' },
  /** a process dies uncatchably past this many Workers (vm.max_map_count 65,530 / ~41 maps each) */
  maxWorkersPerProcess: { value: 1500, source: 'references.md: V8 fatal OOM at ~1,550 default Workers per process' },
  /** threads of a node process before any Worker */
  baseThreads: { value: 11, source: 'references.md: 7 threads before any Worker, 11 once libuv\'s pool starts' },
  /** a black-box node's agent beside its host process (src/blackbox/host.ts) */
  agentBytes: { value: 10 * MB, source: 'measured here: 9.9 MB RSS, 6–7 threads for an idle `serf agent` (Debian serf 0.9.4, LAN profile)' },
  agentThreads: { value: 7, source: 'measured here: 6–7 threads for an idle `serf agent`' },
} as const;

export interface FleetPlan {
  /** processes forked up front: the initial fleet plus every node a scenario adds */
  processes: number;
  largestFleet: number;
  workersPerNode: number;
  estimatedBytes: number;
  availableBytes: number;
  estimatedThreads: number;
  socketsPerNode: number;
}

function meminfo(field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function readNum(path: string, fallback: number): number {
  try {
    const v = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(v) ? v : fallback;
  } catch {
    return fallback;
  }
}

function openFilesLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return Infinity;
  }
}

/** One node process of `cfg`'s fleet: how many there are, its Workers, sockets and estimated bytes. */
export function nodeEstimate(cfg: RunConfig): { processes: number; largestFleet: number; workersPerNode: number; socketsPerNode: number; bytesPerNode: number } {
  const added = cfg.scenario.events.reduce((n, e) => n + (e.type === 'add' ? e.count : 0), 0);
  const processes = cfg.nodes + added;
  const largestFleet = processes; // removals and crashes only shrink it
  const threaded = (cfg.protocol.threadEntries ?? []).length > 0;
  // a protocol with thread entries is assumed to run one per peer (thread-per-peer's shape), up to the limit
  const workersPerNode = threaded ? Math.max(0, Math.min(largestFleet - 1, cfg.limits.threadsPerNode - LIVE_COSTS.baseThreads.value)) : 0;
  const socketsPerNode = 2 * (largestFleet - 1) + 1;
  const blackBox = cfg.protocol.kind === 'black-box';
  // a black-box node's peers talk through its agent: no WebSocket per peer, one agent process more
  const bytesPerNode = blackBox
    ? LIVE_COSTS.nodeProcessBytes.value + LIVE_COSTS.agentBytes.value
    : LIVE_COSTS.nodeProcessBytes.value + workersPerNode * LIVE_COSTS.workerBytes.value + (largestFleet - 1) * LIVE_COSTS.connectionBytes.value;
  return { processes, largestFleet, workersPerNode, socketsPerNode, bytesPerNode };
}

/** The plan for `cfg`, or a UsageError naming what does not fit and by how much. */
export function planFleet(cfg: RunConfig, headroom = 0.85): FleetPlan {
  const { processes, largestFleet, workersPerNode, socketsPerNode, bytesPerNode } = nodeEstimate(cfg);
  const estimatedBytes = processes * bytesPerNode + 150 * MB; // coordinator, load generator, reaper
  const availableBytes = meminfo('MemAvailable') * headroom;
  const estimatedThreads = processes * (LIVE_COSTS.baseThreads.value + workersPerNode + (cfg.protocol.kind === 'black-box' ? LIVE_COSTS.agentThreads.value : 0));
  const plan: FleetPlan = { processes, largestFleet, workersPerNode, estimatedBytes, availableBytes, estimatedThreads, socketsPerNode };

  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  const problems: string[] = [];
  if (availableBytes > 0 && estimatedBytes > availableBytes) {
    problems.push(
      `memory: ${processes} node processes × ${LIVE_COSTS.nodeProcessBytes.value / MB} MB` +
        (workersPerNode ? ` + ${processes * workersPerNode} Workers × ${LIVE_COSTS.workerBytes.value / MB} MB` : '') +
        ` ≈ ${gb(estimatedBytes)}, but only ${gb(availableBytes)} is available (${Math.round(headroom * 100)}% of MemAvailable)`,
    );
  }
  if (workersPerNode > LIVE_COSTS.maxWorkersPerProcess.value) {
    problems.push(`threads: ${workersPerNode} Workers per node process; a process dies uncatchably past ~${LIVE_COSTS.maxWorkersPerProcess.value} (vm.max_map_count)`);
  }
  const pidMax = readNum('/proc/sys/kernel/pid_max', 32_768);
  const threadsMax = readNum('/proc/sys/kernel/threads-max', Infinity);
  const taskCeiling = Math.min(pidMax, threadsMax) * 0.9;
  if (estimatedThreads > taskCeiling) {
    problems.push(`threads: ${processes} processes × (${LIVE_COSTS.baseThreads.value} + ${workersPerNode}) ≈ ${estimatedThreads} tasks, over 90% of the kernel's ${Math.min(pidMax, threadsMax)} (pid_max / threads-max)`);
  }
  const nofile = openFilesLimit();
  if (socketsPerNode + 64 > nofile) {
    problems.push(`fds: ~${socketsPerNode} sockets per node for a fleet of ${largestFleet}, over this process's open-file limit ${nofile} (ulimit -n)`);
  }
  if (problems.length) {
    throw new UsageError(`live: this machine cannot hold ${cfg.protocol.name} at ${processes} nodes: ${problems.join('; ')}. Use fewer --nodes (the simulator runs the large fleets).`);
  }
  return plan;
}
