/**
 * The simulator runtime: discrete events in virtual time.
 *
 * - One event queue (time, then scheduling order), one seeded generator per node and one for the
 *   network and the harness, all derived from the run seed: same seed and inputs → same events.
 * - Modelled network: one-way latency = latencyMinMs + Exp(latencyMeanMs − latencyMinMs); loss
 *   drops a message with probability lossRate; a partition drops messages across its two sides.
 *   Messages in flight when a partition starts are delivered (they already left the switch).
 * - Modelled host: threads against threadsPerNode (base threads included), connections against
 *   fdsPerNode (one fd at each end), thread stacks against memoryBytesPerNode, CPU per message.
 * - Crash: the node's events are dropped, its threads and connections vanish (the kernel closes
 *   its sockets, so peers' fds are released). Pause: the node's timers and deliveries wait until
 *   it resumes, as in a stop-the-world GC; messages to it queue in socket buffers.
 * - Posts between a node and its threads are in-process: delivered in order right after the
 *   current handler returns, at the same virtual instant (microseconds in reality).
 */
import type {
  ActorContext,
  Bootstrap,
  ConnectResult,
  NodeContext,
  NodeProtocol,
  ProtocolDefinition,
  Reporter,
  SpawnResult,
  ThreadActor,
  ThreadContext,
  ThreadEntryRef,
  ThreadHandle,
  ThreadMain,
  TimerId,
} from '../contract/protocol.ts';
import { EventQueue } from './event-queue.ts';
import { Rng } from '../harness/rng.ts';
import { Measures, type LimitName } from '../harness/measures.ts';
import { Truth } from '../harness/truth.ts';
import { FlatRouter } from '../harness/flat-router.ts';
import { drawDistinct } from '../harness/verdict.ts';
import { RequestTally } from '../harness/request-tally.ts';
import type { CellRouter } from '../contract/protocol.ts';
import type { ScenarioEvent } from '../harness/scenario.ts';
import type { RunConfig } from '../harness/run-config.ts';

const TIMER = 0;
const DELIVER = 1;
const SCENARIO = 2;
const REQUEST = 3;
const SAMPLE = 4;
const RESHARD = 5;
const JOIN = 6;
const RESUME = 7;

export interface SimConfig extends Omit<RunConfig, 'costProfile'> {
  /** Resolved thread entry points, keyed `${module}#${export}` (see loadThreadEntries). */
  threadMains: ReadonlyMap<string, ThreadMain<any>>;
  /** Called about every 64k events with virtual time and events so far. */
  onProgress?: (simMs: number, events: number) => void;
  /** Polled with onProgress; true stops the run early (Ctrl-C). */
  shouldStop?: () => boolean;
}

export interface Sample {
  tMs: number;
  liveNodes: number;
  requests: number;
  misrouted: number;
  failed: number;
  messages: number;
  bytes: number;
  threadsMaxPerNode: number;
  connectionsMaxPerNode: number;
  memoryMaxBytesPerNode: number;
  viewAccuracy: number;
  unconvergedReshards: number;
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

class SimNode {
  alive = false;
  pausedUntil = 0;
  /** deliveries and timers that arrived while paused, replayed in order on resume */
  deferred: Array<[number, number, number, unknown]> = [];
  threads = 0; // including base threads
  fds = 0;
  /** peer → the connection between us (shared object, in both nodes' maps) */
  conns = new Map<number, { holders: number }>();
  /** peer → the actor on this node that receives that peer's messages */
  receivers: Map<number, Actor> | null = null;
  main!: Actor;
  threadActors: Set<Actor> | null = null;
  rng: Rng;
  group = 0;
  cell = 0;
  peakThreads = 0;
  peakFds = 0;
  peakMemory = 0;
  cpuUsWindowStart = 0;
  msgsSent = 0;
  bytesSent = 0;
  startedAt = 0;
  constructor(readonly id: number, seed: number) {
    this.rng = new Rng(seed, id + 1);
  }
}

/**
 * One actor: a node's main loop or one of its threads. It is also the context handed to that
 * actor and, for a thread, the handle its parent holds: thread-per-peer makes ~10⁵–10⁶ of them,
 * and one object each (no closures) keeps the working set, and cache misses, down.
 */
class Actor implements NodeContext<any>, ThreadContext<any>, Reporter, ThreadHandle {
  alive = true;
  impl!: NodeProtocol<any> | ThreadActor<any>;
  /** peers this actor dialed */
  dialed: Set<number> | null = null;
  /** the node's id, copied so the hot path need not touch the SimNode */
  readonly nid: number;
  constructor(readonly sim: Simulation, readonly id: number, readonly node: SimNode, readonly isThread: boolean, readonly parent: Actor | null) {
    this.nid = node.id;
  }

  // ActorContext
  get self(): number {
    return this.node.id;
  }
  get report(): Reporter {
    return this;
  }
  now(): number {
    return this.sim.now;
  }
  random(): number {
    return this.node.rng.next();
  }
  setTimer(delayMs: number, tag: number): TimerId {
    return this.sim.setTimer(this, delayMs, tag);
  }
  cancelTimer(id: TimerId): void {
    this.sim.cancelTimer(id);
  }
  send(to: number, msg: unknown): void {
    this.sim.send(this, to, msg);
  }
  connect(peer: number): ConnectResult {
    return this.sim.connect(this, peer);
  }
  disconnect(peer: number): void {
    this.sim.disconnect(this, peer);
  }
  // NodeContext
  membership(): readonly number[] {
    return this.sim.membershipOf(this.node.cell);
  }
  spawnThread(entry: ThreadEntryRef, init: unknown): SpawnResult {
    return this.sim.spawnThread(this, entry, init);
  }
  // ThreadContext
  postToParent(msg: unknown): void {
    this.sim.post(this.node.main, this, msg);
  }
  // ThreadHandle (held by the parent)
  post(msg: unknown): void {
    this.sim.post(this, this.parent!, msg);
  }
  stop(): void {
    this.sim.stopActor(this);
  }
  // Reporter
  memberUp(member: number): void {
    this.sim.measures.memberUp(this.node.id, member, this.sim.now);
  }
  memberDown(member: number): void {
    this.sim.measures.memberDown(this.node.id, member, this.sim.now);
  }
  shardUpdated(shard: number, version: number): void {
    this.sim.measures.shardUpdated(this.node.id, shard, version, this.sim.now);
  }
  count(name: string, delta = 1): void {
    this.sim.measures.count(name, delta);
  }
}

export class Simulation {
  readonly cfg: SimConfig;
  readonly q = new EventQueue(1 << 14);
  readonly measures: Measures;
  readonly truth: Truth;
  readonly router: CellRouter;
  readonly partitioned: boolean;
  /** cells of the initial fleet, placed before the truth's shard map is drawn */
  readonly #initialCells: number[] = [];
  /** per cell: live node ids, for uniform choice within a cell; #cellIndex[id] is the position */
  readonly #cellLive: number[][] = [];
  #cellIndex: Int32Array;
  readonly #membershipCache = new Map<number, { src: readonly number[]; list: number[] }>();
  readonly crashedCells = new Set<number>();
  now = 0;
  events = 0;
  stoppedEarly = false;
  readonly nodes: SimNode[] = [];
  readonly actors: Actor[] = [];
  readonly samples: Sample[] = [];
  readonly #net: Rng;
  readonly #harness: Rng;
  readonly #cancelled = new Set<number>();
  // pending posts between a node and its threads, as parallel arrays (no allocation per post)
  readonly #postTo: Actor[] = [];
  readonly #postFrom: Actor[] = [];
  readonly #postMsg: unknown[] = [];
  #lossRate: number;
  #latencyTail: number;
  /** live node ids, for uniform choice; #liveIndex[id] is the position or -1 */
  readonly #liveIds: number[] = [];
  #liveIndex: Int32Array;
  // hot per-node state in dense arrays (see DELIVER)
  readonly #paused: Float64Array;
  readonly #cpuUs: Float64Array;
  readonly #mainOf: Actor[] = [];
  readonly #receiversOf: Array<Map<number, Actor> | null> = [];

  // totals
  messages = 0;
  bytes = 0;
  droppedMessages = 0;
  /** sampled requests: totals, tail window, time-series window, cell outage */
  readonly requests: RequestTally;
  nodeSecondsAlive = 0;
  cpuUsTotal = 0;
  #memSum = 0;
  #memSamples = 0;
  // window counters for samples
  #wMessages = 0;
  #wBytes = 0;

  #memoMsg: unknown = undefined;
  #memoBytes = 0;

  constructor(cfg: SimConfig) {
    this.cfg = cfg;
    const maxNodes = cfg.nodes + cfg.scenario.events.reduce((n, e) => n + (e.type === 'add' ? e.count : 0), 0);
    this.measures = new Measures(maxNodes);
    this.#liveIndex = new Int32Array(maxNodes).fill(-1);
    this.#cellIndex = new Int32Array(maxNodes).fill(-1);
    this.#paused = new Float64Array(maxNodes);
    this.#cpuUs = new Float64Array(maxNodes);
    this.#net = new Rng(cfg.seed, 0x6e6574); // 'net'
    this.#harness = new Rng(cfg.seed, 0x686172); // 'har'
    const created = cfg.protocol.createRouter?.(cfg.params, { shards: cfg.fleet.shards, clusters: cfg.fleet.clusters });
    this.router = created ?? new FlatRouter(cfg.fleet.clusters);
    this.partitioned = created !== undefined;
    for (let i = 0; i < cfg.nodes; i++) this.#initialCells.push(this.router.place(i));
    this.router.takeMigrations(); // the initial fleet starts from the final cell map
    this.truth = new Truth(cfg.fleet, this.#harness, this.router);
    this.#lossRate = cfg.network.lossRate;
    this.#latencyTail = Math.max(0, cfg.network.latencyMeanMs - cfg.network.latencyMinMs);
    this.requests = new RequestTally(cfg.durationMs - (cfg.scenario.tailMs ?? Math.min(10_000, cfg.durationMs / 4)));
  }

  // ---- run --------------------------------------------------------------------------------

  /** Runs to the end in one go (the caller's event loop is blocked meanwhile). */
  run(): void {
    this.start();
    while (!this.step(Infinity));
  }

  /** Boots the initial fleet and schedules the scenario. */
  start(): void {
    const { cfg } = this;
    // the initial fleet has been running: everyone is listed by the membership service already
    // and every process is up before any protocol starts, so first connections succeed
    for (let i = 0; i < cfg.nodes; i++) this.truth.nodeStarted(i, -Infinity);
    const initial = Array.from({ length: cfg.nodes }, () => this.#createNode(-Infinity));
    for (const node of initial) this.#bootNode(node);
    for (const [i, e] of cfg.scenario.events.entries()) this.q.push(e.atMs, SCENARIO, i, 0, e);
    if (cfg.fleet.requestsPerSec > 0) this.q.push(this.#harness.exp(1000 / cfg.fleet.requestsPerSec), REQUEST, 0, 0, undefined);
    const rs = cfg.scenario.reshards;
    if (rs.perSec > 0) this.q.push(rs.fromMs + this.#harness.exp(1000 / rs.perSec), RESHARD, 1, 0, undefined);
    this.q.push(cfg.fleet.sampleEveryMs, SAMPLE, 0, 0, undefined);
  }

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
    for (let n = 0; n < budget; n++) {
      if (q.size === 0 || q.peekTime() > end) return this.#finish();
      q.pop();
      this.now = q.time;
      this.#dispatch(q.kind, q.a, q.b, q.payload, q.seq);
      if (this.#postTo.length > 0) this.#drainPosts();
      if (++this.events >= this.#nextCheck) {
        this.#nextCheck += 1 << 16;
        cfg.onProgress?.(this.now, this.events);
        if (cfg.shouldStop?.()) {
          this.stoppedEarly = true;
          return this.#finish();
        }
      }
    }
    return false;
  }

  #finish(): true {
    this.#finished = true;
    if (!this.stoppedEarly) this.now = this.cfg.durationMs;
    if (this.samples.length === 0 || this.samples[this.samples.length - 1].tMs < this.now) this.#sample();
    for (const n of this.nodes) if (n.alive) this.nodeSecondsAlive += (this.now - Math.max(0, n.startedAt)) / 1000;
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
        if (this.#paused[actor.nid] > this.now) {
          actor.node.deferred.push([TIMER, a, b, id]);
          return;
        }
        actor.impl.onTimer(b);
        return;
      }
      case DELIVER: {
        // hot path: dense per-node arrays, so a delivery touches no SimNode
        const receivers = this.#receiversOf[a];
        const receiver = (receivers !== null && receivers.get(b)) || this.#mainOf[a];
        if (!receiver.alive) return; // a dead node's main actor is dead too
        if (this.#paused[a] > this.now) {
          this.nodes[a].deferred.push([DELIVER, a, b, payload]);
          return;
        }
        this.#cpuUs[a] += this.cfg.costs.cpuUsPerMessage;
        this.cpuUsTotal += this.cfg.costs.cpuUsPerMessage;
        receiver.impl.onMessage(b, payload);
        return;
      }
      case SCENARIO:
        this.#scenarioEvent(payload as ScenarioEvent);
        return;
      case REQUEST:
        this.#request();
        this.q.push(this.now + this.#harness.exp(1000 / this.cfg.fleet.requestsPerSec), REQUEST, 0, 0, undefined);
        return;
      case RESHARD: {
        this.#reshard();
        // a == 1: the steady reshard stream; a == 0: one reshard of a storm
        const rs = this.cfg.scenario.reshards;
        if (a === 1) {
          const next = this.now + this.#harness.exp(1000 / rs.perSec);
          if (rs.untilMs === undefined || next <= rs.untilMs) this.q.push(next, RESHARD, 1, 0, undefined);
        }
        return;
      }
      case SAMPLE:
        this.#sample();
        this.q.push(this.now + this.cfg.fleet.sampleEveryMs, SAMPLE, 0, 0, undefined);
        return;
      case JOIN:
        this.#bootNode(this.#createNode(this.now));
        return;
      case RESUME: {
        const node = this.nodes[a];
        if (!node.alive || node.pausedUntil > this.now) return;
        const deferred = node.deferred;
        node.deferred = [];
        for (const [k, da, db, dp] of deferred) this.q.push(this.now, k, da, db, dp);
        return;
      }
    }
  }

  #drainPosts(): void {
    // posts may cause more posts; FIFO keeps them in order
    const tos = this.#postTo, froms = this.#postFrom, msgs = this.#postMsg;
    for (let i = 0; i < tos.length; i++) {
      const to = tos[i], from = froms[i], msg = msgs[i];
      if (!to.alive || !from.alive) continue; // posts of a stopped actor die with it
      if (to.isThread) (to.impl as ThreadActor<any>).onParentMessage(msg);
      else (to.impl as NodeProtocol<any>).onThreadMessage?.(from, msg);
    }
    tos.length = froms.length = msgs.length = 0;
  }

  // ---- effects called by contexts ----------------------------------------------------------

  setTimer(actor: Actor, delayMs: number, tag: number): TimerId {
    if (!(delayMs >= 0)) throw new RangeError(`setTimer: delay must be ≥ 0 ms, got ${delayMs}`);
    return this.q.push(this.now + delayMs, TIMER, actor.id, tag, undefined);
  }

  cancelTimer(id: TimerId): void {
    this.#cancelled.add(id);
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
    node.msgsSent++;
    node.bytesSent += bytes;
    this.#cpuUs[node.id] += this.cfg.costs.cpuUsPerMessage;
    this.cpuUsTotal += this.cfg.costs.cpuUsPerMessage;
    this.messages++;
    this.bytes += bytes;
    this.#wMessages++;
    this.#wBytes += bytes;
    const target = this.nodes[to];
    if (target === undefined || (this.#lossRate > 0 && this.#net.next() < this.#lossRate) || target.group !== node.group) {
      this.droppedMessages++;
      return;
    }
    const latency = this.cfg.network.latencyMinMs + (this.#latencyTail > 0 ? this.#net.exp(this.#latencyTail) : 0);
    this.q.push(this.now + latency, DELIVER, to, node.id, msg);
  }

  /**
   * One connection per pair of nodes, shared by whoever holds it at either end (TCP is
   * bidirectional). It costs one fd at each end and closes when no actor holds it.
   */
  connect(actor: Actor, peerId: number): ConnectResult {
    const node = actor.node;
    const peer = this.nodes[peerId];
    if (!actor.alive || peer === undefined || !peer.alive || peer === node) return 'refused';
    if (peer.group !== node.group) return 'refused';
    let conn = node.conns.get(peerId);
    if (conn === undefined) {
      const limit = this.cfg.limits.fdsPerNode;
      if (node.fds + 1 > limit) {
        this.limitHit('fds', node);
        return 'refused';
      }
      if (peer.fds + 1 > limit) {
        this.limitHit('fds', peer);
        return 'refused';
      }
      conn = { holders: 0 };
      node.conns.set(peerId, conn);
      peer.conns.set(node.id, conn);
      node.fds++;
      peer.fds++;
      if (node.fds > node.peakFds) node.peakFds = node.fds;
      if (peer.fds > peer.peakFds) peer.peakFds = peer.fds;
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
    this.#close(node, peerId);
  }

  #close(node: SimNode, peerId: number): void {
    const peer = this.nodes[peerId];
    node.conns.delete(peerId);
    node.fds--;
    if (peer.conns.delete(node.id)) peer.fds--;
  }

  spawnThread(parent: Actor, entry: ThreadEntryRef, init: unknown): SpawnResult {
    const node = parent.node;
    if (!parent.alive || parent.isThread) throw new Error('spawnThread: only a node\'s main loop spawns threads');
    const main = this.cfg.threadMains.get(threadKey(entry));
    if (!main) throw new Error(`spawnThread: ${threadKey(entry)} is not in the protocol's threadEntries`);
    if (node.threads + 1 > this.cfg.limits.threadsPerNode) {
      this.limitHit('threads', node);
      return { ok: false, reason: 'threads' };
    }
    if (this.memoryOf(node) + this.cfg.costs.bytesPerThread > this.cfg.limits.memoryBytesPerNode) {
      // pthread_create fails with EAGAIN when the stack cannot be mapped
      this.limitHit('memory', node);
      return { ok: false, reason: 'memory' };
    }
    const actor = new Actor(this, this.actors.length, node, true, parent);
    this.actors.push(actor);
    node.threads++;
    (node.threadActors ??= new Set()).add(actor);
    if (node.threads > node.peakThreads) node.peakThreads = node.threads;
    this.#notePeakMemory(node);
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

  limitHit(limit: LimitName, node: SimNode): void {
    this.measures.limitHit(limit, node.id, this.now);
  }

  memoryOf(node: SimNode): number {
    const c = this.cfg.costs;
    return (
      c.baseProcessBytes +
      (node.threads - this.cfg.limits.baseThreadsPerNode) * c.bytesPerThread +
      node.fds * c.bytesPerConnection +
      this.measures.viewSize(node.id) * c.bytesPerMember +
      this.cfg.fleet.shards * c.bytesPerShardEntry
    );
  }

  #notePeakMemory(node: SimNode): number {
    const m = this.memoryOf(node);
    if (m > node.peakMemory) node.peakMemory = m;
    return m;
  }

  // ---- fleet ------------------------------------------------------------------------------

  #createNode(startedAt: number): SimNode {
    const id = this.nodes.length;
    const node = new SimNode(id, this.cfg.seed);
    if (startedAt === -Infinity) node.cell = this.#initialCells[id];
    else {
      node.cell = this.router.place(id);
      // a new cell opened: its share of shards moves to its clusters before its first FE boots
      for (const shard of this.router.takeMigrations()) {
        const { version } = this.truth.reshard(shard);
        this.measures.reshard(shard, version, this.now, node.cell);
        this.measures.count('migratedShards', 1);
      }
    }
    (this.#cellLive[node.cell] ??= []).push(id);
    this.#cellIndex[id] = this.#cellLive[node.cell].length - 1;
    this.nodes.push(node);
    node.alive = true;
    node.startedAt = startedAt;
    node.threads = this.cfg.limits.baseThreadsPerNode;
    node.peakThreads = node.threads;
    const actor = new Actor(this, this.actors.length, node, false, null);
    this.actors.push(actor);
    node.main = actor;
    this.#mainOf[id] = actor;
    this.#receiversOf[id] = null;
    if (startedAt !== -Infinity) this.truth.nodeStarted(id, startedAt);
    this.#liveIndex[id] = this.#liveIds.length;
    this.#liveIds.push(id);
    this.measures.nodeStarted(id, this.now, startedAt !== -Infinity, node.cell);
    return node;
  }

  #bootNode(node: SimNode): void {
    const { id, startedAt, main: actor } = node;
    const members = this.membershipOf(node.cell, startedAt === -Infinity ? -Infinity : this.now).slice();
    if (!members.includes(id)) members.push(id);
    const boot: Bootstrap = {
      self: id,
      joining: startedAt !== -Infinity,
      members,
      shards: this.cfg.fleet.shards,
      shardCluster: this.truth.shardCluster.slice(),
      shardVersion: this.truth.shardVersion.slice(),
    };
    actor.impl = this.cfg.protocol.create(actor, this.cfg.params);
    actor.impl.start(boot);
  }

  #stopNode(node: SimNode, crashed: boolean): void {
    if (!node.alive) return;
    if (!crashed) (node.main.impl as NodeProtocol<any>).leave();
    if (this.#postTo.length > 0) this.#drainPosts();
    node.alive = false;
    this.nodeSecondsAlive += (this.now - Math.max(0, node.startedAt)) / 1000;
    for (const t of node.threadActors ?? []) t.alive = false;
    node.main.alive = false;
    node.threadActors = null;
    node.threads = 0;
    // the kernel closes the process's sockets: the peers' ends close too
    for (const peerId of [...node.conns.keys()]) this.#close(node, peerId);
    node.conns.clear();
    node.fds = 0;
    node.receivers = null;
    this.#receiversOf[node.id] = null;
    node.deferred = [];
    const idx = this.#liveIndex[node.id];
    const last = this.#liveIds.pop()!;
    if (last !== node.id) {
      this.#liveIds[idx] = last;
      this.#liveIndex[last] = idx;
    }
    this.#liveIndex[node.id] = -1;
    const cellLive = this.#cellLive[node.cell];
    const ci = this.#cellIndex[node.id];
    const lastInCell = cellLive.pop()!;
    if (lastInCell !== node.id) {
      cellLive[ci] = lastInCell;
      this.#cellIndex[lastInCell] = ci;
    }
    this.#cellIndex[node.id] = -1;
    this.router.removed(node.id);
    this.truth.nodeStopped(node.id, this.now);
    this.measures.nodeStopped(node.id, this.now, crashed);
  }

  /** k distinct live nodes chosen by the harness generator; paused nodes excluded when asked. */
  #pickLive(k: number, skipPaused = false): SimNode[] {
    const pool = this.#liveIds.filter((id) => !skipPaused || this.nodes[id].pausedUntil <= this.now);
    return drawDistinct(pool, k, this.#harness).map((id) => this.nodes[id]);
  }

  #scenarioEvent(e: ScenarioEvent): void {
    switch (e.type) {
      case 'add':
        for (let i = 0; i < e.count; i++) {
          const at = this.now + (e.count > 1 ? (e.overMs * i) / (e.count - 1) : 0);
          this.q.push(at, JOIN, 0, 0, undefined);
        }
        return;
      case 'remove':
        for (const n of this.#pickLive(e.count)) this.#stopNode(n, false);
        return;
      case 'crash':
        for (const n of this.#pickLive(e.count)) this.#stopNode(n, true);
        return;
      case 'pause':
        for (const n of this.#pickLive(e.count, true)) {
          n.pausedUntil = this.#paused[n.id] = this.now + e.forMs;
          this.q.push(n.pausedUntil, RESUME, n.id, 0, undefined);
        }
        return;
      case 'loss':
        this.#lossRate = e.rate;
        return;
      case 'partition': {
        // the harness generator picks which side each node is on; later joiners land on side 0
        const side = this.#pickLive(Math.max(1, Math.round(this.#liveIds.length * e.fraction)));
        for (const n of side) n.group = 1;
        return;
      }
      case 'heal':
        for (const n of this.nodes) n.group = 0;
        return;
      case 'crashCell': {
        if (!this.partitioned) return; // refused at load time for flat protocols
        const cells = this.cellSizes().map((n, c) => [n, c]).filter(([n]) => n > 0).map(([, c]) => c);
        const cell = e.cell ?? cells[this.#harness.int(cells.length)];
        if (cell === undefined) return;
        this.requests.outageFromMs ??= this.now;
        this.crashedCells.add(cell);
        for (const id of [...(this.#cellLive[cell] ?? [])]) this.#stopNode(this.nodes[id], true);
        return;
      }
      case 'reshardStorm':
        for (let i = 0; i < e.count; i++) {
          const at = this.now + (e.count > 1 ? (e.overMs * i) / (e.count - 1) : 0);
          this.q.push(at, RESHARD, 0, 0, undefined);
        }
        return;
    }
  }

  /** The membership service's list as a node of `cell` sees it: only its own cell's members. */
  membershipOf(cell: number, t = this.now): readonly number[] {
    const all = this.truth.membershipList(t);
    if (!this.partitioned) return all;
    const cached = this.#membershipCache.get(cell);
    if (cached && cached.src === all) return cached.list;
    const list = all.filter((id) => this.nodes[id] !== undefined && this.nodes[id].cell === cell);
    this.#membershipCache.set(cell, { src: all, list });
    return list;
  }

  /** A reshard happens at the back end and is first seen by one live FE of the shard's cell. */
  #reshard(): void {
    const shard = this.truth.pickReshardShard();
    const cell = this.router.cellOfShard(shard);
    const candidates = (this.#cellLive[cell] ?? []).filter((id) => this.nodes[id].pausedUntil <= this.now);
    if (candidates.length === 0) return; // no FE of that cell to make it
    const origin = this.nodes[candidates[this.#harness.int(candidates.length)]];
    const { cluster, version } = this.truth.reshard(shard);
    this.measures.reshard(shard, version, this.now, cell);
    (origin.main.impl as NodeProtocol<any>).originate(shard, cluster, version);
  }

  /** A request for a shard reaches a random FE of the cell the router maps the shard to. */
  #request(): void {
    const shard = this.truth.pickShard();
    const live = this.#cellLive[this.router.cellOfShard(shard)] ?? [];
    const node = live.length > 0 ? this.nodes[live[this.#harness.int(live.length)]] : undefined;
    if (node === undefined || node.pausedUntil > this.now) {
      // no FE of that cell is alive, or the chosen one is frozen: a failed request, not a misroute
      this.requests.record(this.now, 'failed');
      return;
    }
    const routed = (node.main.impl as NodeProtocol<any>).lookup(shard);
    this.requests.record(this.now, routed === this.truth.shardCluster[shard] ? 'routed' : 'misrouted');
  }

  /** Live nodes per cell, cells in order (for summary.cells). */
  cellSizes(): number[] {
    return Array.from({ length: this.router.cells }, (_, c) => this.#cellLive[c]?.length ?? 0);
  }

  #sample(): void {
    const prev = this.samples.length ? this.samples[this.samples.length - 1].tMs : 0;
    const windowMs = this.now - prev;
    const cpuCap = this.cfg.limits.coresPerNode * windowMs * 1000;
    let threadsMax = 0, fdsMax = 0, memMax = 0;
    for (const id of this.#liveIds) {
      const n = this.nodes[id];
      const mem = this.#notePeakMemory(n);
      this.#memSum += mem;
      this.#memSamples++;
      if (mem > memMax) memMax = mem;
      if (n.threads > threadsMax) threadsMax = n.threads;
      if (n.fds > fdsMax) fdsMax = n.fds;
      const cpu = this.#cpuUs[id] - n.cpuUsWindowStart;
      n.cpuUsWindowStart = this.#cpuUs[id];
      if (windowMs > 0 && cpu > cpuCap) this.limitHit('cpu', n);
    }
    this.samples.push({
      tMs: this.now,
      liveNodes: this.#liveIds.length,
      ...this.requests.takeWindow(),
      messages: this.#wMessages,
      bytes: this.#wBytes,
      threadsMaxPerNode: threadsMax,
      connectionsMaxPerNode: fdsMax,
      memoryMaxBytesPerNode: memMax,
      viewAccuracy: this.measures.viewAccuracy(),
      unconvergedReshards: this.measures.unconvergedReshards,
    });
    this.#wMessages = this.#wBytes = 0;
  }

  get meanMemoryPerNode(): number {
    return this.#memSamples ? this.#memSum / this.#memSamples : 0;
  }
}

export type { ActorContext };
