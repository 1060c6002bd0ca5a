/**
 * The live runtime's fleet backend: carries out the driver's decisions on real node processes.
 *
 * - Time is wall-clock milliseconds since t0 (`performance.now()`); `at` is a setTimeout.
 * - launch: the process was forked and is listening before t0 (a spare, for nodes the scenario
 *   adds); boot: its protocol starts (IPC 'start'); leave: protocol.leave() then exit after a
 *   grace period; crash: SIGKILL; pause/resume: SIGSTOP/SIGCONT (timers, sockets and Workers all
 *   freeze); loss and partitions: drop filters pushed to every node's transport, or kernel
 *   faults between namespace hosts when the coordinator supplies them (kernelFaults).
 * - The membership service: a node's list changes membershipLagMs after a start or stop; the
 *   backend pushes the new lists then (the simulator reads them on demand).
 * - construct: each store page of a cold start goes to the node (IPC 'page') at its answer time;
 *   the node decodes and inserts it before its 'start' (queued behind the pages); the driver
 *   takes the simulator's idle-node end, and the real end ('constructed') is reported beside it.
 * - Requests: the driver's requests go to the load generator, which sends each to its FE over
 *   the run's transport; answers (or a timeout: failed) come back to the driver. In 'max' mode
 *   the load generator runs its own closed loop instead and only reports outcomes.
 * - Reports from nodes are timestamped on arrival and go to the driver's measures.
 */
import { performance } from 'node:perf_hooks';
import type { Bootstrap } from '../contract/protocol.ts';
import type { FleetBackend, HostSample } from '../fleet/backend.ts';
import type { FleetDriver } from '../fleet/driver.ts';
import { constructionOnIdleCores, pageEntries } from '../fleet/config-store.ts';
import { R_COUNT, R_DOWN, R_LIMIT, R_ROUTE, R_SHARD, R_UP, type FromNode, type ToLoadgen } from './ipc.ts';
import type { NodeProc } from './node-proc.ts';
import type { LiveSampler } from './sampler.ts';
import { EventQueue } from '../sim/event-queue.ts';

/** A signal to a node's second process (a black-box agent), which may already be gone. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone with its node */
  }
}

export interface LiveBackendHooks {
  /** a failure that ends the run (a node's fatal error, a throwing callback) */
  fail(e: Error): void;
  /** true once the run has ended or failed: scheduled callbacks then do nothing */
  ended(): boolean;
  toLoadgen(m: ToLoadgen): void;
  leaveGraceMs: number;
  /** network faults carried by the kernel between hosts (--hosts netns:K) instead of drop filters */
  kernelFaults?: KernelFaults;
}

/** The scenario's network faults as the coordinator applies them on namespace hosts (netns-faults.ts). */
export interface KernelFaults {
  loss(rate: number): void;
  partition(side: readonly number[]): void;
  heal(): void;
}

export class LiveBackend implements FleetBackend {
  #t0 = performance.now();
  readonly #lastMembership = new Map<number, string>();
  #loss: number;
  #pendingRequests: number[] = [];
  #flushScheduled = false;
  /** requests answered by an FE (failed ones excluded), for throughput */
  answered = 0;
  readonly latenciesUs: number[] = [];

  constructor(
    readonly driver: FleetDriver,
    readonly nodes: NodeProc[],
    readonly sampler: LiveSampler,
    readonly hooks: LiveBackendHooks,
  ) {
    this.#loss = driver.cfg.network.lossRate;
  }

  /** Restarts the clock: runtime time 0 is now (after the warm-up). */
  resetClock(): void {
    this.#t0 = performance.now();
  }

  get t0Epoch(): number {
    return performance.timeOrigin + this.#t0;
  }

  now(): number {
    return performance.now() - this.#t0;
  }

  /**
   * Callbacks run in (time, scheduling order), as in the simulator: timers round to whole
   * milliseconds and fire late, so two due callbacks would otherwise run in either order, and
   * the driver's draws with them.
   */
  at(t: number, fn: () => void): void {
    this.#queue.push(t, 0, 0, 0, fn);
    if (t < this.#armedFor) this.#arm();
  }

  readonly #queue = new EventQueue(256);
  #timer: NodeJS.Timeout | null = null;
  #armedFor = Infinity;

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedFor = this.#queue.peekTime();
    if (this.#armedFor === Infinity) return;
    this.#timer = setTimeout(() => this.#runDue(), Math.max(0, this.#t0 + this.#armedFor - performance.now()));
  }

  #runDue(): void {
    this.#timer = null;
    this.#armedFor = Infinity;
    const q = this.#queue;
    while (q.size > 0 && q.peekTime() <= this.now()) {
      q.pop();
      if (this.hooks.ended()) break;
      try {
        (q.payload as () => void)();
      } catch (e) {
        this.hooks.fail(e as Error);
      }
    }
    if (!this.hooks.ended()) this.#arm();
  }

  /** Every pending callback is dropped (the run ended). */
  clearTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedFor = -Infinity; // nothing re-arms
    while (this.#queue.size > 0) this.#queue.pop();
  }

  // ---- FleetBackend -------------------------------------------------------------------------

  launch(id: number): void {
    const n = this.nodes[id];
    if (!n || !n.listening || n.exited) throw new Error(`live: node ${id} is not up to launch (forked ${this.nodes.length} processes)`);
  }

  /**
   * A cold start: each store page goes to the node at its answer time and the node decodes and
   * inserts it for real (src/live/shard-map-build.ts); its 'start' queues behind them on the IPC
   * channel, so its protocol starts only once the map is built. The driver's `done` is at the
   * time the simulator gives a node doing nothing else (so both runtimes' drivers decide alike);
   * how much later the real node finished is kept (constructionLagMs) and said in the result.
   */
  construct(id: number, pageTimes: readonly number[], pageUs: readonly number[], done: (t: number) => void): void {
    const node = this.nodes[id];
    const entries = pageEntries(this.driver.cfg.fleet);
    const shards = this.driver.cfg.fleet.shards;
    const modelled = constructionOnIdleCores(pageTimes, pageUs, this.driver.cfg.limits.coresPerNode);
    this.#constructing.set(id, modelled);
    this.at(modelled, () => done(modelled));
    let first = 0;
    for (let i = 0; i < pageTimes.length; i++) {
      const page = { k: 'page' as const, first, count: entries[i], shards, last: i === pageTimes.length - 1 };
      first += entries[i];
      this.at(pageTimes[i], () => node.send(page));
    }
  }

  /** per node: the modelled end of the construction waiting for the node's 'constructed' */
  readonly #constructing = new Map<number, number>();
  /** constructions the nodes reported done, and by how much the last page's real end passed the model's, ms */
  readonly constructions = { done: 0, lagMsMax: 0, lagMsSum: 0 };

  boot(id: number, boot: Bootstrap): void {
    const node = this.nodes[id];
    const t = this.now();
    node.booted = node.live = true;
    node.end = 'running';
    node.startedAt = boot.joining ? t : 0;
    this.sampler.noteCpu(node, true);
    const membership = this.#membershipOf(id, t);
    node.send({ k: 'start', boot, t0Epoch: this.t0Epoch, membership: [...membership] });
    this.#lastMembership.set(id, membership.join(','));
    this.hooks.toLoadgen({ k: 'fes', add: [[id, node.port, this.driver.cellOf(id)]], remove: [], shardCell: this.#shardCells() });
    if (boot.joining) this.#membershipSoon();
  }

  leave(id: number): void {
    const n = this.nodes[id];
    this.#stopped(n, 'left');
    n.send({ k: 'leave', graceMs: this.hooks.leaveGraceMs });
  }

  crash(id: number): void {
    const n = this.nodes[id];
    this.#stopped(n, 'crashed');
    n.child.kill('SIGKILL');
  }

  pause(id: number): void {
    const n = this.nodes[id];
    n.paused = true;
    n.child.kill('SIGSTOP');
    for (const pid of n.extraPids) signal(pid, 'SIGSTOP');
  }

  resume(id: number): void {
    const n = this.nodes[id];
    n.paused = false;
    if (!n.exited) n.child.kill('SIGCONT');
    for (const pid of n.extraPids) signal(pid, 'SIGCONT');
  }

  setLoss(rate: number): void {
    if (this.hooks.kernelFaults) return this.hooks.kernelFaults.loss(rate);
    this.#loss = rate;
    this.broadcastFilter();
  }

  readonly #group = new Map<number, number>();

  partition(side: readonly number[]): void {
    if (this.hooks.kernelFaults) return this.hooks.kernelFaults.partition(side);
    for (const id of side) this.#group.set(id, 1);
    this.broadcastFilter();
  }

  heal(): void {
    if (this.hooks.kernelFaults) return this.hooks.kernelFaults.heal();
    this.#group.clear();
    this.broadcastFilter();
  }

  originate(id: number, shard: number, cluster: number, version: number): void {
    this.nodes[id].send({ k: 'originate', shard, cluster, version });
  }

  request(id: number, shard: number, t: number): void {
    this.#pendingRequests.push(id, shard, t);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const reqs = this.#pendingRequests;
      this.#pendingRequests = [];
      this.hooks.toLoadgen({ k: 'issue', reqs });
    });
  }

  collectSample(t: number, done: (s: HostSample) => void, last = false): void {
    void this.freshStats(last ? 2000 : 500).then(() => {
      // a periodic sample still reading when the run ends is dropped: the last one stands for it
      if (!last && this.hooks.ended()) return;
      done(this.sampler.sample(t, this.#threadAlarm));
    });
  }

  /** threads (from /proc, base included) at which a node raises the thread alarm */
  readonly #threadAlarm = (node: NodeProc, threads: number, t: number) => {
    const pct = this.driver.cfg.alarms.threadsPct;
    if (threads >= Math.ceil((pct / 100) * this.driver.cfg.limits.threadsPerNode)) this.driver.measures.alarm('threadsPct', pct, node.id, t);
  };

  // ---- what the backend hears ---------------------------------------------------------------

  /** The load generator's outcomes: flat [fe, shard, cluster, tMs, latencyUs]… and [fe, tMs]… */
  results(answered: number[], failed: number[]): void {
    for (let i = 0; i < answered.length; i += 5) {
      const t = answered[i + 3];
      if (t > this.driver.cfg.durationMs) continue;
      this.answered++;
      if (this.latenciesUs.length < 1_000_000) this.latenciesUs.push(answered[i + 4]);
      this.driver.answered(t, answered[i + 1], answered[i + 2], answered[i + 4] / 1000);
    }
    for (let i = 0; i < failed.length; i += 2) this.driver.answered(failed[i + 1], -1, null);
  }

  fromNode(node: NodeProc, m: FromNode): void {
    switch (m.k) {
      case 'listening':
        node.port = m.port;
        node.baseThreads = m.baseThreads;
        node.listening = true;
        return;
      case 'rep': {
        if (!node.live) return;
        const t = this.now();
        const ms = this.driver.measures;
        for (const r of m.r) {
          switch (r[0]) {
            case R_UP:
              ms.memberUp(node.id, r[1], t);
              break;
            case R_DOWN:
              ms.memberDown(node.id, r[1], t);
              break;
            case R_SHARD:
              ms.shardUpdated(node.id, r[1], r[2], t);
              break;
            case R_COUNT:
              ms.count(r[1], r[2]);
              break;
            case R_LIMIT:
              ms.limitHit(r[1], node.id, t);
              break;
            case R_ROUTE:
              ms.routable(node.id, r[1], t);
              break;
          }
        }
        return;
      }
      case 'stats': {
        const { k: _k, ...s } = m;
        node.stats = s;
        node.statsSeq++;
        if (s.eldP99Ms > node.eldWindowMs) node.eldWindowMs = s.eldP99Ms;
        return;
      }
      case 'fatal':
        this.hooks.fail(new Error(`live: node ${node.id} failed: ${m.error}`));
        return;
      case 'constructed': {
        const modelled = this.#constructing.get(node.id);
        if (modelled === undefined) return;
        this.#constructing.delete(node.id);
        const lag = this.now() - modelled;
        this.constructions.done++;
        this.constructions.lagMsSum += lag;
        if (lag > this.constructions.lagMsMax) this.constructions.lagMsMax = lag;
        return;
      }
    }
  }

  /** The process exited. Nobody asked it to, if it was still live: a real crash (OOM, a signal). */
  nodeExited(node: NodeProc): void {
    if (!node.live || this.hooks.ended()) return;
    this.#stopped(node, 'exited');
    this.driver.nodeExited(node.id);
  }

  /** Asks every live node for its counters now, then waits for them (a stale counter blurs windows). */
  async freshStats(timeoutMs = 250): Promise<void> {
    const live = this.nodes.filter((n) => n.live && !n.paused);
    const before = new Map(live.map((n) => [n, n.statsSeq]));
    for (const n of live) n.send({ k: 'statsNow' });
    const deadline = performance.now() + timeoutMs;
    while (live.some((n) => n.live && n.statsSeq === before.get(n)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  broadcastFilter(): void {
    const groups: Array<[number, number]> = [...this.#group];
    for (const n of this.nodes) if (!n.exited) n.send({ k: 'filter', loss: this.#loss, groups });
  }

  // ---- internals ----------------------------------------------------------------------------

  #stopped(node: NodeProc, how: 'crashed' | 'left' | 'exited'): void {
    if (!node.live) return;
    node.live = false;
    node.stoppedAt = this.now();
    node.end = how;
    this.sampler.noteCpu(node, false);
    this.hooks.toLoadgen({ k: 'fes', add: [], remove: [node.id] });
    this.#membershipSoon();
  }

  #membershipOf(id: number, t: number): readonly number[] {
    return this.driver.membershipOf(this.driver.cellOf(id), t);
  }

  #shardCells(): Int32Array | undefined {
    if (!this.driver.partitioned) return undefined;
    const a = new Int32Array(this.driver.cfg.fleet.shards);
    for (let s = 0; s < a.length; s++) a[s] = this.driver.router.cellOfShard(s);
    return a;
  }

  /** The membership service changes its list lag ms after a start or stop: push it then. */
  #membershipSoon(): void {
    this.at(this.now() + this.driver.cfg.fleet.membershipLagMs + 2, () => this.#pushMembership());
  }

  #pushMembership(): void {
    const t = this.now();
    for (const n of this.nodes) {
      if (!n.live) continue;
      const list = this.#membershipOf(n.id, t);
      const key = list.join(',');
      if (this.#lastMembership.get(n.id) === key) continue;
      this.#lastMembership.set(n.id, key);
      n.send({ k: 'membership', list: [...list] });
    }
  }
}
