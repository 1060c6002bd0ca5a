/**
 * The live runtime's OS figures: every node's RSS, threads and fds read from /proc, its transport
 * counters and event-loop delay from its stats, per sample and for the run, and — where the cpu
 * quota is enforced — each sample window its cgroup was throttled all along as a `cpu` limit hit.
 * Nothing here is modelled: these are the measured counterparts of the simulator's host model.
 */
import { percentiles } from '../harness/measures.ts';
import type { HostSample } from '../fleet/backend.ts';
import type { NodeProc } from './node-proc.ts';
import { sampleProc, type ProcSample } from './procfs.ts';
import { cpuSaturatedLive, readNodeCgroupCounters, type CpuThrottle } from './cgroup.ts';

/**
 * A node's OS figures: its process, plus its other processes (a black-box node's agent) summed in
 * — RSS, threads, fds and CPU are the node's as a whole. null when the node process is gone.
 */
export function sampleNode(n: Pick<NodeProc, 'pid' | 'extraPids'>): ProcSample | null {
  const p = sampleProc(n.pid);
  if (!p || n.extraPids.length === 0) return p;
  const sum = { ...p };
  for (const pid of n.extraPids) {
    const q = sampleProc(pid);
    if (!q) continue;
    sum.rssBytes += q.rssBytes;
    sum.threads += q.threads;
    sum.fds += q.fds;
    sum.cpuUs += q.cpuUs;
  }
  return sum;
}
import type { LiveSection } from './schema.ts';

/** The cpu limit as the coordinator enforces it: the quota's CFS period (null: not enforced) and where a hit goes. */
export interface CpuLimitWatch {
  periodUs(): number | null;
  hit(n: NodeProc, t: number): void;
}

export class LiveSampler {
  readonly timeseries: LiveSection['timeseries'] = [];
  #prevMsgs = 0;
  #prevBytes = 0;
  #prevT = 0;
  #memSum = 0;
  #memN = 0;

  /** nodes on other hosts (--hosts agents:FILE): their agents read /proc there (placement.ts) */
  #remote: ((ids: number[]) => Promise<Map<number, ProcSample | null>>) | null = null;
  readonly #remoteLast = new Map<number, ProcSample | null>();

  /** per node: its cpu.stat throttling as last read, and when (performance.now(), µs) */
  readonly #throttle = new Map<number, { atUs: number; c: CpuThrottle }>();

  constructor(
    readonly nodes: readonly NodeProc[],
    readonly cpuLimit: CpuLimitWatch | null = null,
  ) {}

  /**
   * Reads a node's cpu.stat; a window since the last read in which it was throttled all along is
   * a `cpu` limit hit (the rule both runtimes share: src/sim/host.ts, cgroup.ts cpuSaturatedLive).
   */
  #noteThrottle(n: NodeProc, t: number | null): void {
    const periodUs = this.cpuLimit?.periodUs() ?? null;
    if (periodUs === null || !n.cgroups?.cpu) return;
    const c = readNodeCgroupCounters({ cpu: n.cgroups.cpu, memory: null }).cpu;
    const atUs = performance.now() * 1000;
    if (c === null) {
      this.#throttle.delete(n.id);
      return;
    }
    const prev = this.#throttle.get(n.id);
    this.#throttle.set(n.id, { atUs, c });
    if (t !== null && prev && cpuSaturatedLive(prev.c, c, atUs - prev.atUs, periodUs)) this.cpuLimit!.hit(n, t);
  }

  /** From now on /proc figures come from `read` (each node's agent), as of the last refresh(). */
  readRemotely(read: (ids: number[]) => Promise<Map<number, ProcSample | null>>): void {
    this.#remote = read;
  }

  /** Fetches remote /proc figures for every node not yet exited; nothing to do when they are local. */
  async refresh(): Promise<void> {
    if (!this.#remote) return;
    const ids = this.nodes.filter((n) => n && !n.exited).map((n) => n.id);
    if (ids.length) for (const [id, p] of await this.#remote(ids)) this.#remoteLast.set(id, p);
  }

  #proc(n: NodeProc): ProcSample | null {
    // agents sample the processes they forked; locally a node is its process plus any others (an agent)
    return this.#remote ? (this.#remoteLast.get(n.id) ?? null) : sampleNode(n);
  }

  /** Counters and CPU at t0: the run's figures count from here, not from boot. */
  baseline(): void {
    for (const n of this.nodes.filter((x) => x.live)) {
      n.base = n.stats ? { msgs: n.stats.msgs, bytes: n.stats.bytes, dropped: n.stats.dropped } : { msgs: 0, bytes: 0, dropped: 0 };
      const p = this.#proc(n);
      n.cpuAtBoot = n.cpuAtSample = n.cpuLast = p?.cpuUs ?? null;
      n.eldWindowMs = 0;
      this.#noteThrottle(n, null);
    }
    const { msgs, bytes } = this.messageTotals();
    this.#prevMsgs = msgs;
    this.#prevBytes = bytes;
  }

  /** A node's CPU counter now (at boot and when it stops). */
  noteCpu(n: NodeProc, atBoot: boolean): void {
    const p = this.#proc(n);
    if (atBoot) n.cpuAtBoot = n.cpuAtSample = n.cpuLast = p?.cpuUs ?? null;
    else if (p) n.cpuLast = p.cpuUs;
  }

  /** One sample at runtime time `t`, from /proc and the nodes' latest stats. */
  /** `watch` sees every live node's thread count (an alarm reads it); sampled every sampleEveryMs, so coarser than the simulator's */
  sample(t: number, watch?: (n: NodeProc, threads: number, t: number) => void): HostSample {
    const windowS = Math.max((t - this.#prevT) / 1000, 1e-9);
    this.#prevT = t;
    let memMax = 0, threadsMax = 0, fdsMax = 0, socketsMax = 0, eldMax = 0, cpuSum = 0, cpuNodes = 0;
    for (const n of this.nodes) {
      if (!n.live) continue;
      const p = this.#proc(n);
      if (p) {
        n.rssPeak = Math.max(n.rssPeak, p.rssBytes);
        n.threadsPeak = Math.max(n.threadsPeak, p.threads);
        n.fdsPeak = Math.max(n.fdsPeak, p.fds);
        watch?.(n, p.threads, t);
        memMax = Math.max(memMax, p.rssBytes);
        threadsMax = Math.max(threadsMax, p.threads);
        fdsMax = Math.max(fdsMax, p.fds);
        this.#memSum += p.rssBytes;
        this.#memN++;
        if (n.cpuAtSample !== null) {
          cpuSum += p.cpuUs - n.cpuAtSample;
          cpuNodes++;
        }
        n.cpuAtSample = n.cpuLast = p.cpuUs;
      }
      this.#noteThrottle(n, t);
      socketsMax = Math.max(socketsMax, n.stats?.sockets ?? 0);
      eldMax = Math.max(eldMax, n.eldWindowMs);
      n.eldWindowMs = 0;
    }
    const { msgs, bytes } = this.messageTotals();
    this.timeseries.push({
      tMs: t,
      eventLoopDelayP99MaxMs: eldMax,
      rssMaxBytes: memMax,
      threadsMax,
      fdsMax,
      cpuUsPerNodePerSec: cpuNodes ? cpuSum / cpuNodes / windowS : 0,
    });
    const s: HostSample = {
      messages: msgs - this.#prevMsgs,
      bytes: bytes - this.#prevBytes,
      threadsMaxPerNode: threadsMax,
      connectionsMaxPerNode: socketsMax,
      memoryMaxBytesPerNode: memMax,
    };
    this.#prevMsgs = msgs;
    this.#prevBytes = bytes;
    return s;
  }

  /** Messages, codec bytes and dropped sends since t0, over every node. */
  messageTotals(): { msgs: number; bytes: number; dropped: number } {
    let msgs = 0, bytes = 0, dropped = 0;
    for (const n of this.nodes) {
      if (!n.stats) continue;
      msgs += n.stats.msgs - n.base.msgs;
      bytes += n.stats.bytes - n.base.bytes;
      dropped += n.stats.dropped - n.base.dropped;
    }
    return { msgs, bytes, dropped };
  }

  /** Per-node figures for the run, from every node that booted, up to `end`. */
  perNode(end: number): Omit<LiveSection['perNode'], 'rssMeanBytes'> & { rssMeanBytes: number; nodeSec: number; cpuUs: number; workersPeak: number } {
    let nodeSec = 0, cpuUs = 0, memPeak = 0, threadsPeak = 0, socketsPeak = 0, fdsPeak = 0, workersPeak = 0, baseThreads = 0;
    const eld: number[] = [];
    for (const n of this.nodes) {
      if (!n.booted || n.startedAt === null) continue;
      nodeSec += ((n.stoppedAt ?? end) - Math.max(0, n.startedAt)) / 1000;
      if (n.cpuAtBoot !== null && n.cpuLast !== null) cpuUs += n.cpuLast - n.cpuAtBoot;
      memPeak = Math.max(memPeak, n.rssPeak);
      threadsPeak = Math.max(threadsPeak, n.threadsPeak);
      fdsPeak = Math.max(fdsPeak, n.fdsPeak);
      socketsPeak = Math.max(socketsPeak, n.stats?.socketsPeak ?? 0);
      workersPeak = Math.max(workersPeak, n.stats?.workersPeak ?? 0);
      baseThreads = Math.max(baseThreads, n.baseThreads);
      if (n.stats) eld.push(n.stats.eldRunP99Ms);
    }
    nodeSec = Math.max(nodeSec, 1e-9);
    return {
      rssPeakBytes: memPeak,
      rssMeanBytes: this.#memN ? this.#memSum / this.#memN : 0,
      threadsPeak,
      fdsPeak,
      socketsPeak,
      cpuUsPerSec: cpuUs / nodeSec,
      baseThreads,
      eventLoopDelayP99Ms: percentiles(eld),
      nodeSec,
      cpuUs,
      workersPeak,
    };
  }

  /** One row per node process for the result's live section. */
  nodeRows(): LiveSection['nodes'] {
    return this.nodes.map((n) => ({
      id: n.id,
      pid: n.pid,
      startedAtMs: n.startedAt,
      stoppedAtMs: n.stoppedAt,
      end: n.end,
      exit: n.exitInfo,
      baseThreads: n.baseThreads,
      rssPeakBytes: n.rssPeak,
      threadsPeak: n.threadsPeak,
      fdsPeak: n.fdsPeak,
      socketsPeak: n.stats?.socketsPeak ?? 0,
      workersPeak: n.stats?.workersPeak ?? 0,
      spawnRefused: n.stats?.spawnRefused ?? 0,
      eventLoopDelayP99Ms: n.stats?.eldRunP99Ms ?? 0,
      badFrames: n.stats?.badFrames ?? 0,
    }));
  }
}
