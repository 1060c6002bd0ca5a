/**
 * The simulator's modelled hosts: one `SimNode` per FE process, and the accounting of its limits.
 *
 * - Threads count against limits.threadsPerNode, base threads included; a thread's stack must fit
 *   under limits.memoryBytesPerNode (pthread_create fails with EAGAIN when it cannot be mapped).
 * - Connections cost one fd at each end against limits.fdsPerNode (EMFILE at either end refuses).
 * - Memory is modelled from counts: base process + threads × stack + connections + member records
 *   (the node's reported view) + shard-map entries, each at its cost from the cost profile.
 * - CPU: work waits for the node's cores (the run queue in simulation.ts, the cores in cpu.ts). A
 *   sample window in which the node wanted more CPU than it had is a `cpu` limit hit, by the rule
 *   below that both runtimes share. `cpuUs` sums the protocol's share (messages sent and handled,
 *   thread wakeups), not requests.
 *
 * The `cpu` limit hit, one rule for both runtimes: a node hits its cpu limit in a sample window
 * when it wanted more CPU than its allowance for the whole window — work was waiting all along.
 * - simulator: its cores were busy for at least 99.9 % of the window (SATURATED: the run queue
 *   never ran dry);
 * - live, only where the cpu quota is enforced (`run.limits.enforcement.cpu` = 'cgroup'): the
 *   kernel throttled the node's cgroup in every CFS period that lay wholly inside the window, at
 *   least one (src/live/cgroup.ts cpuSaturatedLive) — in each period it used its whole quota and
 *   still had work to run. Where no quota binds (cores per node ≥ the machine's CPUs) it never hits.
 */
import type { Costs, Limits } from '../model/defaults.ts';
import type { LimitName } from '../harness/measures.ts';
import type { ReportSink, HostSample } from '../fleet/backend.ts';
import type { Actor } from './actor.ts';
import { Rng } from '../harness/rng.ts';
import type { Cores } from './cpu.ts';

/** Share of a sample window a node's cores must be busy for the window to count as saturated (the cpu limit rule above). */
const SATURATED = 0.999;

/**
 * The TCP connection between two nodes, shared by both ends' maps (one per pair; either end's
 * actors may hold it). It parks what crosses a partition; each end's `SimNode.connLast` keeps its
 * direction in order.
 */
export class Connection {
  holders = 0;
  /** messages sent while the two ends were partitioned: [from, to, msg, sentAt]…, released on heal */
  parked: unknown[] | null = null;
  /** retries ran out: the connection is gone at both ends */
  broken = false;
}

export class SimNode {
  alive = false;
  pausedUntil = 0;
  /** deliveries and timers that arrived while paused, replayed in order on resume */
  deferred: Array<[number, number, number, unknown]> = [];
  threads = 0; // including base threads
  fds = 0;
  /** peer → the connection between us (shared object, in both nodes' maps) */
  conns = new Map<number, Connection>();
  /**
   * per peer: -1 without a connection, else when the last message this node sent on it arrives
   * (later ones never overtake it). Dense, made with the first connection: the send path's lookup.
   */
  connLast: Float64Array | null = null;
  /** peer → the actor on this node that receives that peer's messages */
  receivers: Map<number, Actor> | null = null;
  main!: Actor;
  threadActors: Set<Actor> | null = null;
  readonly rng: Rng;
  /** partition side */
  group = 0;
  peakThreads = 0;
  peakFds = 0;
  peakMemory = 0;
  constructor(readonly id: number, seed: number, readonly generation = 0) {
    // generation 0 keeps the stream every node had before restarts existed
    this.rng = new Rng(seed, generation === 0 ? id + 1 : (id + 1) * 0x10000 + generation);
  }
}

/** What the host model reads from the fleet: where limit hits go, and each node's view size. */
export interface HostFleet {
  readonly sink: ReportSink;
  viewSize(node: number): number;
}

export class HostModel {
  readonly #costs: Costs;
  readonly #limits: Limits;
  readonly #shards: number;
  readonly #fleet: HostFleet;
  /** protocol CPU per node, µs (dense: the delivery hot path adds to it) */
  readonly cpuUs: Float64Array;
  /** threads (base included) at which a node raises the thread alarm */
  readonly #alarmThreads: number;
  readonly #alarmPct: number;
  readonly #cores: Cores;
  readonly #maxNodes: number;
  cpuUsTotal = 0;
  #memSum = 0;
  #memSamples = 0;

  constructor(costs: Costs, limits: Limits, shards: number, maxNodes: number, fleet: HostFleet, alarmThreadsPct: number, cores: Cores) {
    this.#cores = cores;
    this.#maxNodes = maxNodes;
    this.#costs = costs;
    this.#limits = limits;
    this.#shards = shards;
    this.#fleet = fleet;
    this.cpuUs = new Float64Array(maxNodes);
    this.#alarmPct = alarmThreadsPct;
    this.#alarmThreads = Math.ceil((alarmThreadsPct / 100) * limits.threadsPerNode);
  }

  limitHit(limit: LimitName, node: SimNode, t: number): void {
    this.#fleet.sink.limitHit(limit, node.id, t);
  }

  memoryOf(node: SimNode): number {
    const c = this.#costs;
    return (
      c.baseProcessBytes +
      (node.threads - this.#limits.baseThreadsPerNode) * c.bytesPerThread +
      node.fds * c.bytesPerConnection +
      this.#fleet.viewSize(node.id) * c.bytesPerMember +
      this.#shards * c.bytesPerShardEntry
    );
  }

  notePeakMemory(node: SimNode): number {
    const m = this.memoryOf(node);
    if (m > node.peakMemory) node.peakMemory = m;
    return m;
  }

  /** A new process: its base threads. */
  started(node: SimNode): void {
    node.alive = true;
    node.threads = this.#limits.baseThreadsPerNode;
    node.peakThreads = node.threads;
  }

  /** Why a new thread would be refused now, or null when it fits. */
  refuseThread(node: SimNode, t: number): 'threads' | 'memory' | null {
    if (node.threads + 1 > this.#limits.threadsPerNode) {
      this.limitHit('threads', node, t);
      return 'threads';
    }
    if (this.memoryOf(node) + this.#costs.bytesPerThread > this.#limits.memoryBytesPerNode) {
      this.limitHit('memory', node, t);
      return 'memory';
    }
    return null;
  }

  threadStarted(node: SimNode, t: number): void {
    node.threads++;
    if (node.threads === this.#alarmThreads) this.#fleet.sink.alarm('threadsPct', this.#alarmPct, node.id, t);
    if (node.threads > node.peakThreads) node.peakThreads = node.threads;
    this.notePeakMemory(node);
  }

  /** Opens the shared connection between two nodes if both have an fd to spare. */
  openConnection(node: SimNode, peer: SimNode, t: number): Connection | null {
    const limit = this.#limits.fdsPerNode;
    if (node.fds + 1 > limit) {
      this.limitHit('fds', node, t);
      return null;
    }
    if (peer.fds + 1 > limit) {
      this.limitHit('fds', peer, t);
      return null;
    }
    const conn = new Connection();
    node.conns.set(peer.id, conn);
    peer.conns.set(node.id, conn);
    (node.connLast ??= new Float64Array(this.#maxNodes).fill(-1))[peer.id] = 0;
    (peer.connLast ??= new Float64Array(this.#maxNodes).fill(-1))[node.id] = 0;
    node.fds++;
    peer.fds++;
    if (node.fds > node.peakFds) node.peakFds = node.fds;
    if (peer.fds > peer.peakFds) peer.peakFds = peer.fds;
    return conn;
  }

  closeConnection(node: SimNode, peer: SimNode): void {
    node.conns.delete(peer.id);
    if (node.connLast !== null) node.connLast[peer.id] = -1;
    node.fds--;
    if (peer.conns.delete(node.id)) peer.fds--;
    if (peer.connLast !== null) peer.connLast[node.id] = -1;
  }

  chargeCpu(node: number, us: number): void {
    this.cpuUs[node] += us;
    this.cpuUsTotal += us;
  }

  /** Host figures of the live nodes for a sample; flags nodes whose cores were saturated. */
  sample(nodes: readonly SimNode[], live: readonly number[], windowMs: number, t: number): Omit<HostSample, 'messages' | 'bytes'> {
    const cpuCap = this.#cores.perNode * windowMs * SATURATED;
    let threadsMax = 0, fdsMax = 0, memMax = 0;
    for (const id of live) {
      const n = nodes[id];
      const mem = this.notePeakMemory(n);
      this.#memSum += mem;
      this.#memSamples++;
      if (mem > memMax) memMax = mem;
      if (n.threads > threadsMax) threadsMax = n.threads;
      if (n.fds > fdsMax) fdsMax = n.fds;
      const busy = this.#cores.takeWindowBusy(id, t);
      if (windowMs > 0 && busy >= cpuCap) this.limitHit('cpu', n, t);
    }
    return { threadsMaxPerNode: threadsMax, connectionsMaxPerNode: fdsMax, memoryMaxBytesPerNode: memMax };
  }

  get meanMemoryPerNode(): number {
    return this.#memSamples ? this.#memSum / this.#memSamples : 0;
  }
}
