/**
 * The simulator runtime: discrete events in virtual time, behind the fleet driver's backend
 * interface (src/fleet/backend.ts). This file is the event loop and the node lifecycle; the
 * modelled hosts are in host.ts, the network in network.ts, the actors (protocol contexts) in
 * actor.ts.
 *
 * - One event queue ordered by (time, scheduling order); one seeded generator per node, one for
 *   the network and one for the harness (the driver's), all derived from the run seed: same seed
 *   and inputs → same events.
 * - Crash: the node's events are dropped, its threads and connections vanish (the kernel closes
 *   its sockets, so peers' fds are released). Pause: the node's timers and deliveries wait until
 *   it resumes, as in a stop-the-world GC; messages to it queue in socket buffers.
 * - CPU is a run queue per node (cpu.ts holds the cores): every handler the node runs — a
 *   delivery, a timer, a post between the node and its threads, a request — is work that needs a
 *   core for its cost (costs.cpuUsPerMessage per delivery and per send, costs.cpuUsPerWakeup when
 *   a thread wakes, costs.cpuUsPerRequest per request, a cold start's store pages at
 *   costs.cpuUsPerShardEntry per entry). Work that finds every core busy waits, in
 *   arrival order per node, and runs when a core frees: the protocol then sees a later `now()`,
 *   and its sends leave once the CPU before them is done. Calls the driver makes directly (boot,
 *   leave, a reshard's origin) run at once and are charged as protocol CPU but occupy no core.
 * - Timers fire costs.timerLateMs after they are due (0 by default; `fleetbench calibrate` measures
 *   how late a Node 1 ms timer fires), and the FE waits for the back end as a timer would.
 * - Posts between a node and its threads are in-process: queued for the node's cores right after
 *   the handler that posted returns, in order.
 * - A protocol that throws ends the run with a SimulationError naming the node, the seed, the
 *   simulated time and the event count, so the failure can be replayed.
 */
import { Rng } from '../harness/rng.ts';
import type { Bootstrap, ClusterId, ConnectResult, NodeProtocol, ProtocolDefinition, SpawnResult, ThreadActor, ThreadEntryRef, ThreadMain, TimerId } from '../contract/protocol.ts';
import type { RunConfig } from '../harness/run-config.ts';
import type { FleetBackend, HostSample, ReportSink } from '../fleet/backend.ts';
import { EventQueue } from './event-queue.ts';
import { Actor } from './actor.ts';
import { Cores } from './cpu.ts';
import { Connection, HostModel, SimNode, type HostFleet } from './host.ts';
import { Network } from './network.ts';

const TIMER = 0;
const DELIVER = 1;
/** a driver callback scheduled with `at` */
const CALL = 2;
/** a core of node `a` comes free: run the work waiting for it */
const CORE_FREE = 3;
/** run-queue work kinds besides TIMER and DELIVER */
const POST = 4;
const REQUEST = 5;
/** one store page of a cold start's shard-map construction: aux is its CPU, µs */
const CONSTRUCT = 6;

export interface SimConfig extends Omit<RunConfig, 'costProfile'> {
  /** Resolved thread entry points, keyed `${module}#${export}` (see loadThreadEntries). */
  threadMains: ReadonlyMap<string, ThreadMain<any>>;
  /** Called about every 64k events with virtual time and events so far. */
  onProgress?: (simMs: number, events: number) => void;
  /** Polled with onProgress; true stops the run early (Ctrl-C). */
  shouldStop?: () => boolean;
  /**
   * A request's CPU cost, µs, drawn as each request starts (the queueing check's exponential
   * service); costs.cpuUsPerRequest for every request when absent.
   */
  requestServiceUs?: () => number;
}

/** What the simulator reads from the fleet around it (the driver, or a test's fake fleet). */
export interface SimFleet extends HostFleet {
  /** The membership service's list for `node` at `t`. */
  membershipFor(node: number, t: number): readonly number[];
  /** Live node ids (read only; sampling iterates them in this order). */
  liveIds(): readonly number[];
  /**
   * The answer to a request issued at `t`: the cluster the FE routed `shard` to (null: failed),
   * and how long after `t` the answer was back, ms.
   */
  answered(t: number, shard: number, cluster: ClusterId | null, latencyMs?: number): void;
}

export const threadKey = (e: ThreadEntryRef) => `${e.module}#${e.export}`;

/** Imports every thread entry a protocol declares, so spawns are synchronous during the run. */
export async function loadThreadEntries(protocol: ProtocolDefinition<any>): Promise<Map<string, ThreadMain<any>>> {
  const out = new Map<string, ThreadMain<any>>();
  for (const e of protocol.threadEntries ?? []) {
    const mod = (await import(e.module)) as Record<string, unknown>;
    const fn = mod[e.export];
    if (typeof fn !== 'function') throw new Error(`thread entry ${threadKey(e)} is not an exported function`);
    out.set(threadKey(e), fn as ThreadMain<any>);
  }
  return out;
}

/** A protocol threw inside the simulator: everything needed to replay it. */
export class SimulationError extends Error {
  constructor(message: string, readonly detail: { node: number | null; seed: number; simulatedMs: number; events: number }, options: { cause: unknown }) {
    super(message, options);
  }
}

export class Simulation implements FleetBackend {
  readonly cfg: SimConfig;
  readonly q = new EventQueue(1 << 14);
  readonly fleet: SimFleet;
  readonly sink: ReportSink;
  readonly host: HostModel;
  readonly network: Network;
  readonly cores: Cores;
  /** virtual time, ms */
  clock = 0;
  events = 0;
  stoppedEarly = false;
  readonly nodes: SimNode[] = [];
  readonly actors: Actor[] = [];
  /** cancelled timer ids still pending; purged when it outgrows the timers actually pending */
  readonly #cancelled = new Set<number>();
  #purgeCancelledAt = 1024;
  // pending posts between a node and its threads, as parallel arrays (no allocation per post)
  readonly #postTo: Actor[] = [];
  readonly #postFrom: Actor[] = [];
  readonly #postMsg: unknown[] = [];
  // hot per-node state in dense arrays (see DELIVER)
  readonly #paused: Float64Array;
  readonly #mainOf: Actor[] = [];
  readonly #receiversOf: Array<Map<number, Actor> | null> = [];
  /** the node whose handler is running (for SimulationError) */
  #current = -1;
  /** the core the running handler occupies, or -1 (a driver call) */
  #core = -1;
  // per node: work waiting for a core, flat [kind, a, b, payload, aux] records from #qHead on
  readonly #runq: Array<unknown[] | null> = [];
  readonly #qHead: Int32Array;
  /** 1 while a CORE_FREE event is pending for the node */
  readonly #wakePending: Uint8Array;
  readonly #msgUs: number;
  readonly #wakeUs: number;
  readonly #requestUs: number;
  // per node: the construction under way (see construct): pages not yet run, latest end, callback
  readonly #constructLeft: Int32Array;
  readonly #constructEnd: Float64Array;
  readonly #constructDone: Array<((t: number) => void) | null> = [];
  readonly #backendRttMs: number;
  /** how late a timer fires (costs.timerLateMs): added to every timer and to the back-end hold */
  readonly #timerLateMs: number;
  readonly #clientRng: Rng;
  readonly #hopMinMs: number;
  readonly #hopTailMs: number;
  /** per node: when its link has serialised everything it sent so far, ms */
  readonly #linkFree: Float64Array;
  /** ms per byte on a node's link */
  readonly #msPerByte: number;
  /** connections holding messages sent across a partition */
  readonly #parkedConns = new Set<Connection>();
  retransmits = 0;

  // totals and the current sample window
  messages = 0;
  bytes = 0;
  droppedMessages = 0;
  #wMessages = 0;
  #wBytes = 0;
  #lastSampleAt = 0;

  #memoMsg: unknown = undefined;
  #memoBytes = 0;

  constructor(cfg: SimConfig, fleet: SimFleet, maxNodes: number) {
    this.cfg = cfg;
    this.fleet = fleet;
    this.sink = fleet.sink;
    this.#paused = new Float64Array(maxNodes);
    this.#qHead = new Int32Array(maxNodes);
    this.#wakePending = new Uint8Array(maxNodes);
    this.#constructLeft = new Int32Array(maxNodes);
    this.#constructEnd = new Float64Array(maxNodes);
    this.cores = new Cores(cfg.limits.coresPerNode, maxNodes);
    this.#msgUs = cfg.costs.cpuUsPerMessage;
    this.#wakeUs = cfg.costs.cpuUsPerWakeup;
    this.#requestUs = cfg.costs.cpuUsPerRequest;
    this.#backendRttMs = cfg.network.backendRttMs;
    this.#timerLateMs = cfg.costs.timerLateMs;
    // a request's latency as its client sees it also holds the client's round trip to the FE: two
    // one-way latencies of the network model, drawn from a stream of their own so the messages'
    // latencies are the same with or without requests
    this.#clientRng = new Rng(cfg.seed, 0x636c69); // 'cli'
    this.#hopMinMs = cfg.network.latencyMinMs;
    this.#hopTailMs = Math.max(0, cfg.network.latencyMeanMs - cfg.network.latencyMinMs);
    this.#linkFree = new Float64Array(maxNodes);
    this.#msPerByte = 1000 / cfg.network.linkBytesPerSec;
    this.host = new HostModel(cfg.costs, cfg.limits, cfg.fleet.shards, maxNodes, fleet, cfg.alarms.threadsPct, this.cores);
    this.network = new Network(cfg.network, cfg.seed);
  }

  // ---- the event loop ---------------------------------------------------------------------

  #nextCheck = 1 << 16;
  #finished = false;

  /**
   * Processes up to `budget` events; true once the run is over (its end reached, or stopped
   * by shouldStop). Between calls the caller may yield to its event loop, so a Ctrl-C handler
   * gets to run; the events and their order do not depend on the budget.
   */
  step(budget: number): boolean {
    if (this.#finished) return true;
    const { cfg, q } = this;
    const end = cfg.durationMs;
    try {
      for (let n = 0; n < budget; n++) {
        if (q.size === 0 || q.peekTime() > end) return this.#finish();
        q.pop();
        this.clock = q.time;
        this.#dispatch(q.kind, q.a, q.b, q.payload, q.seq);
        if (this.#postTo.length > 0) this.#drainPosts();
        this.#current = -1;
        if (++this.events >= this.#nextCheck) {
          this.#nextCheck += 1 << 16;
          cfg.onProgress?.(this.clock, this.events);
          if (cfg.shouldStop?.()) {
            this.stoppedEarly = true;
            return this.#finish();
          }
        }
      }
    } catch (e) {
      if (e instanceof SimulationError) throw e;
      const node = this.#current >= 0 ? this.#current : null;
      const where = node === null ? 'in the harness' : `at node ${node}`;
      throw new SimulationError(
        `${cfg.protocol.name} threw ${where}, simulated time ${this.clock} ms, event ${this.events + 1} (seed ${cfg.seed}): ${(e as Error)?.message ?? String(e)}`,
        { node, seed: cfg.seed, simulatedMs: this.clock, events: this.events + 1 },
        { cause: e },
      );
    }
    return false;
  }

  /** Lets a finished run go on to a later end (fake links run their time in steps). */
  restartAt(end: number): void {
    if (end < this.clock) throw new RangeError(`simulation: cannot run back to ${end} ms from ${this.clock} ms`);
    this.#finished = false;
    this.stoppedEarly = false;
  }

  #finish(): true {
    this.#finished = true;
    if (!this.stoppedEarly) this.clock = this.cfg.durationMs;
    return true;
  }

  #dispatch(kind: number, a: number, b: number, payload: unknown, seq: number): void {
    switch (kind) {
      case TIMER: {
        const actor = this.actors[a];
        if (!actor.alive) return;
        // a timer deferred by a pause carries its original id in the payload
        const id = payload === undefined ? seq : (payload as number);
        if (this.#cancelled.size > 0 && this.#cancelled.delete(id)) return;
        if (this.#paused[actor.nid] > this.clock) {
          actor.node.deferred.push([TIMER, a, b, id]);
          return;
        }
        this.#admit(actor.nid, TIMER, a, b, id, 0);
        return;
      }
      case DELIVER: {
        // hot path: dense per-node arrays, so a delivery touches no SimNode
        const receivers = this.#receiversOf[a];
        const receiver = (receivers !== null && receivers.get(b)) || this.#mainOf[a];
        if (!receiver.alive) return; // a dead node's main actor is dead too
        if (receiver.impl === undefined) {
          // the process is up but still building its map (a cold start): nothing reads the socket yet
          this.droppedMessages++;
          return;
        }
        if (this.#paused[a] > this.clock) {
          this.nodes[a].deferred.push([DELIVER, a, b, payload]);
          return;
        }
        // the hot path: nothing waiting and a core free, so it runs now
        const q = this.#runq[a];
        if (q === null || q.length === 0) {
          const core = this.cores.freeCore(a, this.clock);
          if (core >= 0) return this.#runDelivery(a, core, b, payload);
        }
        this.#enqueue(a, DELIVER, a, b, payload, 0);
        return;
      }
      case CALL:
        (payload as () => void)();
        return;
      case CORE_FREE:
        this.#coreFree(a);
        return;
    }
  }

  // ---- the run queue ------------------------------------------------------------------------

  /** Work arrives at node `nid`: it runs now if a core is free and nothing waits, else it queues. */
  #admit(nid: number, kind: number, a: number, b: number, payload: unknown, aux: number): void {
    const q = this.#runq[nid];
    if (q === null || q === undefined || q.length === this.#qHead[nid]) {
      const core = this.cores.freeCore(nid, this.clock);
      if (core >= 0) return this.#run(nid, core, kind, a, b, payload, aux);
    }
    this.#enqueue(nid, kind, a, b, payload, aux);
  }

  #enqueue(nid: number, kind: number, a: number, b: number, payload: unknown, aux: number): void {
    let q = this.#runq[nid];
    if (q === null || q === undefined) q = this.#runq[nid] = [];
    q.push(kind, a, b, payload, aux);
    if (this.#wakePending[nid] === 0) {
      this.#wakePending[nid] = 1;
      this.q.push(this.cores.nextFree(nid), CORE_FREE, nid, 0, undefined);
    }
  }

  /** A core of `nid` came free: run waiting work, oldest first, while cores are free. */
  #coreFree(nid: number): void {
    this.#wakePending[nid] = 0;
    const q = this.#runq[nid];
    if (q === null || q === undefined) return;
    if (!this.nodes[nid].alive) return this.#dropQueue(nid);
    if (this.#paused[nid] > this.clock) {
      // frozen: the queue waits for the thaw (deliveries and timers arriving meanwhile are deferred)
      this.#wakePending[nid] = 1;
      this.q.push(this.#paused[nid], CORE_FREE, nid, 0, undefined);
      return;
    }
    let h = this.#qHead[nid];
    while (h < q.length) {
      const core = this.cores.freeCore(nid, this.clock);
      if (core < 0) break;
      const kind = q[h] as number, a = q[h + 1] as number, b = q[h + 2] as number, payload = q[h + 3], aux = q[h + 4] as number;
      q[h + 3] = undefined;
      h += 5;
      this.#qHead[nid] = h;
      this.#run(nid, core, kind, a, b, payload, aux);
      if (this.#postTo.length > 0) this.#drainPosts();
    }
    if (h >= q.length) {
      q.length = 0;
      this.#qHead[nid] = 0;
    } else if (this.#wakePending[nid] === 0) {
      this.#wakePending[nid] = 1;
      this.q.push(this.cores.nextFree(nid), CORE_FREE, nid, 0, undefined);
    }
  }

  /** One piece of work on `core`: its cost starts the core, then its handler runs. */
  #run(nid: number, core: number, kind: number, a: number, b: number, payload: unknown, aux: number): void {
    this.#current = nid;
    switch (kind) {
      case DELIVER:
        return this.#runDelivery(nid, core, b, payload);
      case TIMER: {
        const actor = this.actors[a];
        if (!actor.alive) return;
        // cancelled while it waited for a core (clearTimeout before the callback ran)
        if (this.#cancelled.size > 0 && this.#cancelled.delete(payload as number)) return;
        const us = actor.isThread ? this.#wakeUs : 0;
        this.cores.start(nid, core, this.clock, us);
        if (us > 0) this.host.chargeCpu(nid, us);
        this.#core = core;
        actor.impl.onTimer(b);
        break;
      }
      case POST: {
        const to = this.actors[a], from = this.actors[b];
        if (!to.alive || !from.alive) return; // posts of a stopped actor die with it
        this.cores.start(nid, core, this.clock, this.#wakeUs);
        this.host.chargeCpu(nid, this.#wakeUs);
        this.#core = core;
        if (to.isThread) (to.impl as ThreadActor<any>).onParentMessage(payload);
        else (to.impl as NodeProtocol<any>).onThreadMessage?.(from, payload);
        break;
      }
      case REQUEST: {
        const done = this.cores.start(nid, core, this.clock, this.cfg.requestServiceUs?.() ?? this.#requestUs);
        this.#core = core;
        const cluster = (this.nodes[nid].main.impl as NodeProtocol<any>).lookup(b);
        // answered once the FE's CPU is done, the back end has replied (the FE waits for it as a
        // timer would: as late as one) and the answer reached the client
        const clientRtt = 2 * this.#hopMinMs + this.#clientRng.exp(this.#hopTailMs) + this.#clientRng.exp(this.#hopTailMs);
        this.fleet.answered(aux, b, cluster, done - aux + this.#backendRttMs + this.#timerLateMs + clientRtt);
        break;
      }
      case CONSTRUCT: {
        const end = this.cores.start(nid, core, this.clock, aux);
        if (end > this.#constructEnd[nid]) this.#constructEnd[nid] = end;
        if (--this.#constructLeft[nid] === 0) {
          const done = this.#constructDone[nid]!;
          this.#constructDone[nid] = null;
          const t = this.#constructEnd[nid];
          this.at(t, () => done(t));
        }
        break;
      }
    }
    this.#core = -1;
  }

  /**
   * A graceful exit: the process runs the work already queued (its goodbyes among it) before it
   * exits, back to back on its first core from now — the last milliseconds are not timed exactly.
   */
  #finishQueued(nid: number): void {
    const q = this.#runq[nid];
    if (q === null || q === undefined) return;
    const core = nid * this.cores.perNode;
    for (let h = this.#qHead[nid]; h < q.length; h = this.#qHead[nid]) {
      const kind = q[h] as number, a = q[h + 1] as number, b = q[h + 2] as number, payload = q[h + 3], aux = q[h + 4] as number;
      this.#qHead[nid] = h + 5;
      this.#run(nid, core, kind, a, b, payload, aux);
      if (this.#postTo.length > 0) this.#drainPosts();
    }
    q.length = 0;
    this.#qHead[nid] = 0;
  }

  /** A message from `from` handled on `core` of `nid`. */
  #runDelivery(nid: number, core: number, from: number, msg: unknown): void {
    // the receiver is resolved when the work runs: a thread may have stopped meanwhile
    const receivers = this.#receiversOf[nid];
    const receiver = (receivers !== null && receivers.get(from)) || this.#mainOf[nid];
    if (!receiver.alive) return;
    const us = receiver.isThread ? this.#msgUs + this.#wakeUs : this.#msgUs;
    this.#current = nid;
    this.cores.start(nid, core, this.clock, us);
    this.host.chargeCpu(nid, us);
    this.#core = core;
    receiver.impl.onMessage(from, msg);
    this.#core = -1;
  }

  /** The node is gone: requests waiting on it fail, everything else waiting dies with it. */
  #dropQueue(nid: number): void {
    const q = this.#runq[nid];
    if (q === null || q === undefined) return;
    for (let h = this.#qHead[nid]; h < q.length; h += 5) {
      if (q[h] === REQUEST) this.fleet.answered(q[h + 4] as number, q[h + 2] as number, null);
    }
    q.length = 0;
    this.#qHead[nid] = 0;
  }

  #drainPosts(): void {
    // posts may cause more posts; FIFO keeps them in order
    const tos = this.#postTo, froms = this.#postFrom, msgs = this.#postMsg;
    for (let i = 0; i < tos.length; i++) {
      const to = tos[i], from = froms[i];
      if (!to.alive || !from.alive) continue; // posts of a stopped actor die with it
      this.#admit(to.nid, POST, to.id, from.id, msgs[i], 0);
    }
    tos.length = froms.length = msgs.length = 0;
  }

  // ---- FleetBackend: what the driver asks -----------------------------------------------------

  now(): number {
    return this.clock;
  }

  at(t: number, fn: () => void): void {
    this.q.push(t, CALL, 0, 0, fn);
  }

  /** A new process for node `id`: the next id, or a restart of a node whose process was killed. */
  launch(id: number): void {
    const restart = id < this.nodes.length;
    if (restart ? this.nodes[id].alive : id !== this.nodes.length) throw new Error(`simulation: node ${id} launched out of order (next is ${this.nodes.length})`);
    // a restarted process draws from a stream of its own: (generation, node) → a fresh seed
    const generation = restart ? this.nodes[id].generation + 1 : 0;
    const node = new SimNode(id, this.cfg.seed, generation);
    if (restart) {
      this.nodes[id] = node;
      this.#paused[id] = 0;
    } else this.nodes.push(node);
    this.host.started(node);
    this.cores.reset(id, this.clock);
    const actor = new Actor(this, this.actors.length, node, false, null);
    this.actors.push(actor);
    node.main = actor;
    this.#mainOf[id] = actor;
    this.#receiversOf[id] = null;
    this.#runq[id] = null;
  }

  boot(id: number, boot: Bootstrap): void {
    const actor = this.nodes[id].main;
    this.#current = id;
    actor.impl = this.cfg.protocol.create(actor, this.cfg.params);
    actor.impl.start(boot);
  }

  leave(id: number): void {
    const node = this.nodes[id];
    this.#current = id;
    (node.main.impl as NodeProtocol<any>).leave();
    if (this.#postTo.length > 0) this.#drainPosts();
    this.#finishQueued(id);
    this.#teardown(node);
  }

  crash(id: number): void {
    this.#teardown(this.nodes[id]);
  }

  pause(id: number, untilMs: number): void {
    this.nodes[id].pausedUntil = this.#paused[id] = untilMs;
  }

  resume(id: number): void {
    const node = this.nodes[id];
    const deferred = node.deferred;
    node.deferred = [];
    for (const [k, da, db, dp] of deferred) this.q.push(this.clock, k, da, db, dp);
  }

  setLoss(rate: number): void {
    this.network.setLoss(rate);
  }

  partition(side: readonly number[]): void {
    this.network.partition(this.nodes, side);
  }

  heal(): void {
    this.network.heal(this.nodes);
    // what waited on connections across the partition goes at its next retransmission
    const conns = [...this.#parkedConns];
    this.#parkedConns.clear();
    for (const conn of conns) {
      const parked = conn.parked;
      conn.parked = null;
      if (parked === null || conn.broken) continue;
      for (let i = 0; i < parked.length && !conn.broken; i += 4) {
        const from = this.nodes[parked[i] as number], to = this.nodes[parked[i + 1] as number];
        this.#deliverOnConnection(conn, from, to, parked[i + 2], parked[i + 3] as number, this.clock);
      }
    }
  }

  originate(id: number, shard: number, cluster: number, version: number): void {
    this.#current = id;
    (this.nodes[id].main.impl as NodeProtocol<any>).originate(shard, cluster, version);
  }

  /** The cluster node `id` routes `shard` to now. */
  lookup(id: number, shard: number): ClusterId {
    return (this.nodes[id].main.impl as NodeProtocol<any>).lookup(shard);
  }

  /**
   * A cold start's construction: each page, when its answer arrives, is work on the node's run
   * queue (behind whatever waits there); `done` when the
   * last page's work has ended. Its CPU occupies the cores but is not protocol CPU (cpuUs).
   */
  construct(id: number, pageTimes: readonly number[], pageUs: readonly number[], done: (t: number) => void): void {
    const node = this.nodes[id];
    this.#constructLeft[id] = pageTimes.length;
    this.#constructEnd[id] = this.clock;
    this.#constructDone[id] = done;
    if (pageTimes.length === 0) return this.at(this.clock, () => done(this.clock));
    for (let i = 0; i < pageTimes.length; i++) {
      const us = pageUs[i];
      this.at(pageTimes[i], () => {
        if (this.nodes[id] !== node || !node.alive) return;
        // never frozen: the driver pauses only running nodes, and a restart clears a pause
        this.#admit(id, CONSTRUCT, id, 0, undefined, us);
      });
    }
  }

  /** The request waits for a core of the FE; it is answered when it has run (see #run). */
  request(id: number, shard: number, t: number): void {
    this.#admit(id, REQUEST, id, shard, undefined, t);
  }

  collectSample(t: number, done: (s: HostSample) => void): void {
    const windowMs = t - this.#lastSampleAt;
    this.#lastSampleAt = t;
    const h = this.host.sample(this.nodes, this.fleet.liveIds(), windowMs, t);
    const s: HostSample = { messages: this.#wMessages, bytes: this.#wBytes, ...h };
    this.#wMessages = this.#wBytes = 0;
    done(s);
  }

  /** The process is gone: its actors stop, the kernel closes its sockets (peers' ends too). */
  #teardown(node: SimNode): void {
    if (!node.alive) return;
    node.alive = false;
    for (const t of node.threadActors ?? []) t.alive = false;
    node.main.alive = false;
    node.threadActors = null;
    node.threads = 0;
    for (const peerId of [...node.conns.keys()]) this.host.closeConnection(node, this.nodes[peerId]);
    node.conns.clear();
    node.connLast = null;
    node.fds = 0;
    node.receivers = null;
    this.#receiversOf[node.id] = null;
    node.deferred = [];
    this.#dropQueue(node.id);
  }

  // ---- effects called by actors -------------------------------------------------------------

  membershipOf(node: number): readonly number[] {
    return this.fleet.membershipFor(node, this.clock);
  }

  setTimer(actor: Actor, delayMs: number, tag: number): TimerId {
    if (!(delayMs >= 0)) throw new RangeError(`setTimer: delay must be ≥ 0 ms, got ${delayMs}`);
    // a timer fires costs.timerLateMs after it is due (0 unless a calibrated profile says)
    return this.q.push(this.clock + delayMs + this.#timerLateMs, TIMER, actor.id, tag, undefined);
  }

  cancelTimer(id: TimerId): void {
    this.#cancelled.add(id);
    // a protocol may cancel a timer that already fired (swim: a late indirect ack); such ids
    // would stay in the set forever, so it is pruned to the timers still pending now and then
    if (this.#cancelled.size > this.#purgeCancelledAt) this.#purgeCancelled();
  }

  #purgeCancelled(): void {
    const pending = new Set<number>();
    this.q.forEachPending(TIMER, (seq, payload) => pending.add(payload === undefined ? seq : (payload as number)));
    for (const n of this.nodes) for (const d of n.deferred) if (d[0] === TIMER) pending.add(d[3] as number);
    for (let nid = 0; nid < this.#runq.length; nid++) {
      const q = this.#runq[nid];
      if (q) for (let h = this.#qHead[nid]; h < q.length; h += 5) if (q[h] === TIMER) pending.add(q[h + 3] as number);
    }
    for (const id of this.#cancelled) if (!pending.has(id)) this.#cancelled.delete(id);
    this.#purgeCancelledAt = Math.max(1024, 2 * this.#cancelled.size);
  }

  /** Cancelled ids held (tests check it stays bounded). */
  get cancelledTimersHeld(): number {
    return this.#cancelled.size;
  }

  send(actor: Actor, to: number, msg: unknown): void {
    const node = actor.node;
    if (!actor.alive) return;
    let bytes: number;
    if (msg === this.#memoMsg) bytes = this.#memoBytes;
    else {
      bytes = this.cfg.protocol.codec.byteLength(msg);
      this.#memoMsg = msg;
      this.#memoBytes = bytes;
    }
    this.host.chargeCpu(node.id, this.#msgUs);
    // the message leaves once the CPU before it (and its own send cost) is done, and once the
    // link has serialised what this node sent before it
    const nid = node.id;
    const ready = this.#core >= 0 && nid === this.#current ? this.cores.extend(nid, this.#core, this.#msgUs) : this.clock;
    const departs = (this.#linkFree[nid] = (this.#linkFree[nid] > ready ? this.#linkFree[nid] : ready) + bytes * this.#msPerByte);
    this.messages++;
    this.bytes += bytes;
    this.#wMessages++;
    this.#wBytes += bytes;
    const last = node.connLast !== null ? node.connLast[to] : -1;
    if (last >= 0) {
      const peer = this.nodes[to];
      // the common case, kept short: no loss and nothing parked, so only the order to keep
      if (this.network.lossRate === 0 && this.#parkedConns.size === 0 && node.group === peer.group) {
        let arrival = departs + this.network.latency();
        if (arrival < last) arrival = last;
        node.connLast![to] = arrival;
        this.q.push(arrival, DELIVER, to, nid, msg);
        return;
      }
      return this.#sendOnConnection(node.conns.get(to)!, node, peer, msg, departs);
    }
    // a connection this actor held broke (retries ran out): nothing it sends arrives
    if (actor.dialed !== null && actor.dialed.has(to)) {
      this.droppedMessages++;
      return;
    }
    const latency = this.network.route(node, this.nodes[to]);
    if (latency < 0) {
      this.droppedMessages++;
      return;
    }
    this.q.push(departs + latency, DELIVER, to, nid, msg);
  }

  /** TCP: in order per direction, retransmitted when lost, parked across a partition. */
  #sendOnConnection(conn: Connection, from: SimNode, to: SimNode, msg: unknown, departs: number): void {
    if (from.group !== to.group || conn.parked !== null) {
      // across a partition (or behind what is parked): held until the heal, in order
      (conn.parked ??= []).push(from.id, to.id, msg, departs);
      this.#parkedConns.add(conn);
      return;
    }
    this.#deliverOnConnection(conn, from, to, msg, departs, departs);
  }

  #deliverOnConnection(conn: Connection, from: SimNode, to: SimNode, msg: unknown, sentAt: number, firstTry: number): void {
    let arrival = this.network.segment(sentAt, firstTry);
    const lost = this.network.retransmits;
    if (lost > 0) {
      this.retransmits += lost;
      this.sink.count('tcpRetransmits', lost);
    }
    if (arrival < 0) return this.#breakConnection(conn, from, to);
    // TCP delivers in order: a later segment waits for the one before it (a closed connection
    // still delivers what was sent before the close)
    const lastArr = from.connLast;
    if (lastArr !== null && lastArr[to.id] >= 0) {
      if (arrival < lastArr[to.id]) arrival = lastArr[to.id];
      lastArr[to.id] = arrival;
    }
    this.q.push(arrival, DELIVER, to.id, from.id, msg);
  }

  /**
   * Retries ran out: the connection is gone at both ends (its fds released). The protocol sees
   * what it would see from a real socket's silent failure: nothing more arrives either way, and
   * what its holders send on it is lost; connect() opens a new one.
   */
  #breakConnection(conn: Connection, a: SimNode, b: SimNode): void {
    if (conn.broken) return;
    conn.broken = true;
    conn.parked = null;
    this.droppedMessages++;
    this.sink.count('tcpConnectionsBroken', 1);
    if (a.conns.get(b.id) === conn) this.host.closeConnection(a, b);
  }

  /**
   * One connection per pair of nodes, shared by whoever holds it at either end (TCP is
   * bidirectional). It costs one fd at each end and closes when no actor holds it.
   */
  connect(actor: Actor, peerId: number): ConnectResult {
    const node = actor.node;
    const peer = this.nodes[peerId];
    if (!actor.alive || peer === undefined || !peer.alive || peer === node) return 'refused';
    if (!this.network.reachable(node, peer)) return 'refused';
    let conn = node.conns.get(peerId);
    if (conn === undefined) {
      const opened = this.host.openConnection(node, peer, this.clock);
      if (opened === null) return 'refused';
      conn = opened;
    }
    if (actor.dialed?.has(peerId)) return 'ok';
    conn.holders++;
    (actor.dialed ??= new Set()).add(peerId);
    if (actor.isThread) (node.receivers ??= this.#receiversOf[node.id] = new Map()).set(peerId, actor);
    return 'ok';
  }

  disconnect(actor: Actor, peerId: number): void {
    if (!actor.dialed?.delete(peerId)) return;
    this.#release(actor.node, peerId);
    if (actor.node.receivers?.get(peerId) === actor) actor.node.receivers.delete(peerId);
  }

  #release(node: SimNode, peerId: number): void {
    const conn = node.conns.get(peerId);
    if (conn === undefined || --conn.holders > 0) return;
    this.host.closeConnection(node, this.nodes[peerId]);
  }

  spawnThread(parent: Actor, entry: ThreadEntryRef, init: unknown): SpawnResult {
    const node = parent.node;
    if (!parent.alive || parent.isThread) throw new Error("spawnThread: only a node's main loop spawns threads");
    const main = this.cfg.threadMains.get(threadKey(entry));
    if (!main) throw new Error(`spawnThread: ${threadKey(entry)} is not in the protocol's threadEntries`);
    const refused = this.host.refuseThread(node, this.clock);
    if (refused !== null) return { ok: false, reason: refused };
    const actor = new Actor(this, this.actors.length, node, true, parent);
    this.actors.push(actor);
    (node.threadActors ??= new Set()).add(actor);
    this.host.threadStarted(node, this.clock);
    actor.impl = main(actor, init);
    return { ok: true, thread: actor };
  }

  post(to: Actor, from: Actor, msg: unknown): void {
    this.#postTo.push(to);
    this.#postFrom.push(from);
    this.#postMsg.push(msg);
  }

  stopActor(actor: Actor): void {
    if (!actor.alive) return;
    actor.alive = false;
    const node = actor.node;
    for (const peer of actor.dialed ?? []) {
      this.#release(node, peer);
      if (node.receivers?.get(peer) === actor) node.receivers.delete(peer);
    }
    actor.dialed = null;
    if (actor.isThread) {
      node.threads--;
      node.threadActors?.delete(actor);
    }
  }
}
