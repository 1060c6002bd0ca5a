/**
 * The seam between the fleet driver (what is the same in every runtime) and a runtime (how it is
 * done: virtual time and modelled hosts, or real processes and sockets).
 *
 * The driver decides *what* happens to *which* node (with the harness generator) and when; a
 * backend only carries it out. Rules every backend obeys:
 * - `at(t, fn)` runs `fn` at runtime time `t`; calls for equal times run in the order they were
 *   made. Times past the run's end may be dropped.
 * - The driver never asks a stopped node to do anything, never pauses a paused node, and resumes
 *   only a node it paused.
 * - Every belief a node reports reaches the driver's `ReportSink` with the runtime time it was
 *   reported at. A node that dies on its own (OOM, a fatal signal) is reported with
 *   `FleetDriver.nodeExited`.
 * - A request is answered through `FleetDriver.answered` (at once in the simulator, later over a
 *   socket live); one the backend cannot deliver is answered with cluster `null` (failed).
 */
import type { Bootstrap, ClusterId, NodeId, ShardId } from '../contract/protocol.ts';
import type { LimitName } from '../harness/measures.ts';

/** Where nodes' reports go: the driver's measures. */
export interface ReportSink {
  memberUp(node: NodeId, member: NodeId, t: number): void;
  memberDown(node: NodeId, member: NodeId, t: number): void;
  shardUpdated(node: NodeId, shard: ShardId, version: number, t: number): void;
  count(name: string, delta: number): void;
  limitHit(limit: LimitName, node: NodeId, t: number): void;
  /** the node's shard map became usable (true) or unusable (false) */
  routable(node: NodeId, usable: boolean, t: number): void;
  /** the node crossed an alarm's threshold (alarms.threadsPct: threads ≥ that share of the limit) */
  alarm(name: string, threshold: number, node: NodeId, t: number): void;
}

/** One sample's host figures, over the window since the previous sample (messages, bytes). */
export interface HostSample {
  messages: number;
  bytes: number;
  threadsMaxPerNode: number;
  connectionsMaxPerNode: number;
  memoryMaxBytesPerNode: number;
}

/** The run's host figures, for the result's summary. */
export interface HostSummary {
  messages: { total: number; dropped: number; bytes: number };
  memory: { peakBytesPerNode: number; meanBytesPerNode: number };
  threadsPeakPerNode: number;
  connectionsPeakPerNode: number;
  /** protocol CPU summed over every node, µs */
  cpuUs: number;
  throughputPerSec: number;
}

export interface FleetBackend {
  /** Runtime time, ms: virtual in the simulator, wall-clock since t0 live. Never decreases. */
  now(): number;
  at(t: number, fn: () => void): void;

  /** `node`'s process is up and reachable (listening), its protocol not started yet. */
  launch(node: NodeId): void;
  /**
   * Optional. A cold start's shard-map construction on `node` (launched, not booted): page i of
   * the store's answer reaches the node at `pageTimes[i]` and is `pageUs[i]` µs of CPU work there
   * (decode and insert its entries); `done(t)` runs, through `at`, at the time `t` the backend
   * counts the map built (not at all if the process stops first): the simulator when the last
   * page's work has run on the node's run queue; live, the simulator's end for an otherwise idle
   * node (constructionOnIdleCores), while the node process does the work for real. A backend
   * without it charges the node no CPU: the driver takes the last page's arrival as the end.
   */
  construct?(node: NodeId, pageTimes: readonly number[], pageUs: readonly number[], done: (t: number) => void): void;
  /** Starts `node`'s protocol with what it reads from the membership service and store. */
  boot(node: NodeId, boot: Bootstrap): void;
  /** Graceful leave: the protocol says goodbye, then the process exits. */
  leave(node: NodeId): void;
  /** The process dies at once (SIGKILL): no goodbye; the kernel closes its sockets. */
  crash(node: NodeId): void;
  /** A stop-the-world freeze until `untilMs` (SIGSTOP live); the driver calls `resume` then. */
  pause(node: NodeId, untilMs: number): void;
  resume(node: NodeId): void;

  /** Uniform message loss from now on (0 = none). */
  setLoss(rate: number): void;
  /** The listed nodes form side 1, everyone else (and later joiners) side 0; nothing crosses. */
  partition(side: readonly NodeId[]): void;
  heal(): void;

  /** A reshard made at this FE: it is the first to know. */
  originate(node: NodeId, shard: ShardId, cluster: ClusterId, version: number): void;
  /** Route a request for `shard` at `node`, issued at time `t`; answer via the driver. */
  request(node: NodeId, shard: ShardId, t: number): void;

  /**
   * Host figures for the sample at `t`; `done` may be called later (live reads /proc first).
   * `last`: the run's final sample, taken even while the run is ending.
   */
  collectSample(t: number, done: (s: HostSample) => void, last?: boolean): void;
}
