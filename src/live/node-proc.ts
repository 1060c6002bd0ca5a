/** One FE node process as the live coordinator sees it: its child process, state and OS figures. */
import type { ChildProcess } from 'node:child_process';
import type { RemoteNode } from './agent-client.ts';
import type { CpuThrottle, MemoryCounters, NodeCgroups } from './cgroup.ts';
import type { NodeStats, ToNode } from './ipc.ts';

/** A node's process: forked here (IPC), or placed on a host by its agent (agent-client.ts), driven alike. */
export type NodeChild = ChildProcess | RemoteNode;

export type NodeEnd = 'running' | 'crashed' | 'left' | 'exited' | 'spare';

/** Children get a clean environment: no loader flags inherited from tsx or vitest. */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.UWS_USE_FALLBACK;
  return env;
}

export class NodeProc {
  port = 0;
  baseThreads = 0;
  listening = false;
  booted = false;
  live = false;
  paused = false;
  exited = false;
  exitInfo: string | null = null;
  startedAt: number | null = null;
  stoppedAt: number | null = null;
  end: NodeEnd = 'spare';
  stats: NodeStats | null = null;
  statsSeq = 0;
  /** counters at t0 (initial fleet) */
  base = { msgs: 0, bytes: 0, dropped: 0 };
  /** worst windowed event-loop delay p99 since the last sample */
  eldWindowMs = 0;
  cpuAtBoot: number | null = null;
  cpuLast: number | null = null;
  cpuAtSample: number | null = null;
  rssPeak = 0;
  threadsPeak = 0;
  fdsPeak = 0;
  stderrTail = '';
  /** the node's other processes (a black-box node's agent): paused, sampled and reaped with it */
  extraPids: number[] = [];
  /** the kernel's counters from the node's cpu and memory cgroups, as last read (at exit, or at the end) */
  cgroupCounters: { cpu: CpuThrottle | null; memory: MemoryCounters | null } | null = null;
  /** the kernel OOM-killed a process of this node inside its memory cgroup */
  oomKilled = false;
  readonly exitedP: Promise<void>;
  #resolveExit!: () => void;
  /**
   * `cgroup`: the pids cgroup the node enters itself (NodeInit.cgroup); `cgroups`: all of the
   * node's cgroups (cpu and memory too), or null when none is enforced.
   */
  constructor(readonly id: number, readonly child: NodeChild, readonly cgroup: string | null, readonly cgroups: NodeCgroups | null = null) {
    this.exitedP = new Promise((r) => (this.#resolveExit = r));
  }
  markExited(info: string): void {
    this.exited = true;
    this.exitInfo = info;
    this.#resolveExit();
  }
  /** the pid on the node's host (for namespace hosts: in this machine's pid namespace too) */
  get pid(): number {
    return this.child.pid ?? -1;
  }
  send(m: ToNode): void {
    if (!this.exited && this.child.connected) this.child.send(m);
  }
}
