/**
 * The fleet driver: everything that is the same in every runtime, once. It owns the harness
 * generator, the truth (who is alive, the real shard map), cell placement and migrations, the one
 * interpreter of scenario events, reshard origin, request generation and their tally, the measures,
 * the time series and the result skeleton. A runtime is a `FleetBackend` (backend.ts) that carries
 * out what the driver decides, so the simulator and the live runtime cannot drift apart.
 *
 * Determinism: every choice (which nodes crash, which FE originates a reshard or gets a request,
 * when the next one comes) is drawn from the harness generator, in the order the driver makes
 * calls; the driver schedules through `backend.at`, whose equal-time calls keep their order, and
 * decides with the time a callback was scheduled for (live timers fire a little late). Same seed
 * and inputs, same sequence of backend calls in every runtime (test/fleet-parity.test.ts).
 *
 * Semantics the runtimes share (and once disagreed on):
 * - `remove` picks among running nodes: a frozen process cannot say goodbye (a paused node may
 *   still crash: SIGKILL needs no cooperation).
 * - A request whose chosen FE is frozen, or whose cell has no live FE, fails; otherwise it is
 *   routed or misrouted by comparing the FE's answer with the truth at the instant it was issued.
 */
import { UNROUTABLE, type Bootstrap, type CellRouter, type NodeId, type ShardId } from '../contract/protocol.ts';
import { FlatRouter } from '../harness/flat-router.ts';
import { ConfigStore, pageEntries } from './config-store.ts';
import { Measures, percentiles } from '../harness/measures.ts';
import { RequestTally } from '../harness/request-tally.ts';
import { Rng } from '../harness/rng.ts';
import type { RunConfig } from '../harness/run-config.ts';
import type { ScenarioEvent } from '../harness/scenario.ts';
import { Truth } from '../harness/truth.ts';
import { beliefSummary, drawDistinct, verdict } from '../harness/verdict.ts';
import { machineInfo, toolInfo } from '../results/meta.ts';
import { RESULT_SCHEMA, type Result } from '../results/schema.ts';
import type { FleetBackend, HostSample, HostSummary } from './backend.ts';

/** One time-series sample (one per fleet.sampleEveryMs of runtime time). */
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
  /** share (0–1) of live FEs without a usable shard map */
  unroutableNodes: number;
}

export interface DriverOptions {
  /**
   * 'driver' (default): the driver issues requests at fleet.requestsPerSec (Poisson) to FEs it
   * picks, as in every runtime; 'backend': the runtime generates its own load (the live closed
   * loop) and only reports outcomes through `answered`.
   */
  requests?: 'driver' | 'backend';
}

/** Latency samples kept per run (a million: ~1,000 requests/s for 15 minutes). */
const MAX_LATENCIES = 1_000_000;

/** Every node the scenario can ever have: the initial fleet plus every `add`. */
/** draws the load balancer makes for a request before it gives up on a cell of cold-starting FEs */
const REQUEST_DRAWS = 8;

export function maxNodesOf(cfg: RunConfig): number {
  return cfg.nodes + cfg.scenario.events.reduce((n, e) => n + (e.type === 'add' ? e.count : 0), 0);
}

export class FleetDriver {
  readonly cfg: RunConfig;
  readonly maxNodes: number;
  readonly measures: Measures;
  readonly truth: Truth;
  readonly router: CellRouter;
  /** true when the protocol has cells (a flat fleet is one cell) */
  readonly partitioned: boolean;
  readonly requests: RequestTally;
  readonly samples: Sample[] = [];
  readonly crashedCells = new Set<number>();
  /** node-seconds alive, summed as nodes stop and at the end */
  nodeSecondsAlive = 0;
  /** requests the driver issued (open loop); answered or not */
  offered = 0;
  /** answered requests' latency (issue → answer), ms, up to MAX_LATENCIES of them */
  readonly latenciesMs: number[] = [];

  readonly #opts: Required<DriverOptions>;
  readonly #harness: Rng;
  #backend: FleetBackend | null = null;
  readonly #initialCells: number[] = [];
  readonly #cellOf: Int32Array;
  readonly #startedAt: number[] = [];
  readonly #alive: Uint8Array;
  readonly #pausedUntil: Float64Array;
  /** a cold-starting node: Infinity while its shard map is being built (it cannot route or originate), then 0 */
  readonly #constructingUntil: Float64Array;
  /** restarts so far per node id: a callback for an earlier process does nothing to a later one */
  readonly #generation: Uint32Array;
  readonly #store: ConfigStore;
  /** CPU per store page of a construction, µs: its entries × costs.cpuUsPerShardEntry */
  readonly #pageUs: readonly number[];
  /** live node ids, for uniform choice; #liveIndex[id] is the position or -1 */
  readonly #liveIds: number[] = [];
  readonly #liveIndex: Int32Array;
  /** per cell: live node ids; #cellIndex[id] is the position */
  readonly #cellLive: number[][] = [];
  readonly #cellIndex: Int32Array;
  readonly #membershipCache = new Map<number, { src: readonly number[]; list: number[] }>();
  #nextId = 0;
  #scheduled = false;
  #firstRestartAtMs: number | null = null;
  /** shards the cell router gave a new cell, still served by their old cell until its first FE is ready */
  readonly #migrating = new Map<ShardId, number>();
  readonly #migrationsOf = new Map<number, ShardId[]>();
  #restarts = 0;
  #finished = false;

  constructor(cfg: RunConfig, opts: DriverOptions = {}) {
    this.cfg = cfg;
    this.#opts = { requests: opts.requests ?? 'driver' };
    const maxNodes = (this.maxNodes = maxNodesOf(cfg));
    this.measures = new Measures(maxNodes);
    this.#cellOf = new Int32Array(maxNodes);
    this.#alive = new Uint8Array(maxNodes);
    this.#pausedUntil = new Float64Array(maxNodes);
    this.#constructingUntil = new Float64Array(maxNodes);
    this.#generation = new Uint32Array(maxNodes);
    this.#liveIndex = new Int32Array(maxNodes).fill(-1);
    this.#cellIndex = new Int32Array(maxNodes).fill(-1);
    this.#harness = new Rng(cfg.seed, 0x686172); // 'har'
    const created = cfg.protocol.createRouter?.(cfg.params, { shards: cfg.fleet.shards, clusters: cfg.fleet.clusters });
    this.router = created ?? new FlatRouter(cfg.fleet.clusters);
    this.partitioned = created !== undefined;
    for (let i = 0; i < cfg.nodes; i++) this.#initialCells.push(this.router.place(i));
    this.router.takeMigrations(); // the initial fleet starts from the final cell map
    this.truth = new Truth(cfg.fleet, this.#harness, this.router, cfg.seed);
    this.#store = new ConfigStore(cfg.fleet);
    this.#pageUs = pageEntries(cfg.fleet).map((n) => n * cfg.costs.cpuUsPerShardEntry);
    this.requests = new RequestTally(cfg.durationMs - (cfg.scenario.tailMs ?? Math.min(10_000, cfg.durationMs / 4)));
  }

  attach(backend: FleetBackend): void {
    this.#backend = this.#wrap ? this.#wrap(backend) : backend;
  }

  #wrap: ((b: FleetBackend) => FleetBackend) | null = null;

  /** Wraps the backend this driver will be attached to (tests record its calls this way). */
  wrapBackend(wrap: (b: FleetBackend) => FleetBackend): void {
    this.#wrap = wrap;
    if (this.#backend) this.#backend = wrap(this.#backend);
  }

  get #b(): FleetBackend {
    if (!this.#backend) throw new Error('fleet driver: no backend attached');
    return this.#backend;
  }

  // ---- what backends read -------------------------------------------------------------------

  cellOf(node: NodeId): number {
    return this.#cellOf[node];
  }

  isAlive(node: NodeId): boolean {
    return this.#alive[node] === 1;
  }

  get liveCount(): number {
    return this.#liveIds.length;
  }

  /** Live node ids in the driver's internal order (read only: it changes as nodes stop). */
  liveIdsView(): readonly number[] {
    return this.#liveIds;
  }

  /** The membership service's list as a node of `cell` sees it at `t`: only its own cell's members. */
  membershipOf(cell: number, t: number): readonly number[] {
    const all = this.truth.membershipList(t);
    if (!this.partitioned) return all;
    const cached = this.#membershipCache.get(cell);
    if (cached && cached.src === all) return cached.list;
    const list = all.filter((id) => id < this.#nextId && this.#cellOf[id] === cell);
    this.#membershipCache.set(cell, { src: all, list });
    return list;
  }

  /** Live nodes per cell, cells in order. */
  cellSizes(): number[] {
    return Array.from({ length: this.router.cells }, (_, c) => this.#cellLive[c]?.length ?? 0);
  }

  // ---- the run ------------------------------------------------------------------------------

  /**
   * Boots the initial fleet. It has been running: the membership service lists everyone already
   * and every process is up before any protocol starts, so first connections succeed.
   */
  bootInitialFleet(): void {
    const n = this.cfg.nodes;
    const t = this.#b.now();
    for (let i = 0; i < n; i++) this.truth.nodeStarted(i, -Infinity);
    for (let i = 0; i < n; i++) this.#addNode(this.#initialCells[i], -Infinity, t);
    for (let i = 0; i < n; i++) this.#b.launch(i);
    for (let i = 0; i < n; i++) this.#b.boot(i, this.#bootstrap(i, -Infinity));
  }

  /** Schedules the scenario, the reshard stream, requests and sampling from runtime time 0. */
  start(): void {
    if (this.#scheduled) throw new Error('fleet driver: started twice');
    this.#scheduled = true;
    const { cfg } = this;
    const b = this.#b;
    for (const e of cfg.scenario.events) b.at(e.atMs, () => this.#event(e, e.atMs));
    if (this.#opts.requests === 'driver' && cfg.fleet.requestsPerSec > 0) {
      const mean = 1000 / cfg.fleet.requestsPerSec;
      const next = (t: number) =>
        b.at(t, () => {
          this.#request(t);
          next(t + this.#harness.exp(mean));
        });
      next(this.#harness.exp(mean));
    }
    const rs = cfg.scenario.reshards;
    if (rs.perSec > 0) {
      const mean = 1000 / rs.perSec;
      const next = (t: number) =>
        b.at(t, () => {
          this.#reshard(t);
          const after = t + this.#harness.exp(mean);
          if (rs.untilMs === undefined || after <= rs.untilMs) next(after);
        });
      next(rs.fromMs + this.#harness.exp(mean));
    }
    const every = cfg.fleet.sampleEveryMs;
    const sample = (t: number) =>
      b.at(t, () => {
        this.#sample(t);
        sample(t + every);
      });
    sample(every);
  }

  /**
   * Ends the run at `end`: a last sample unless one was taken within the last millisecond, and
   * the node-seconds of nodes still alive. `done` runs once the last sample is in.
   */
  finish(end: number, done: () => void): void {
    if (this.#finished) return done();
    this.#finished = true;
    const last = this.samples.length ? this.samples[this.samples.length - 1].tMs : -Infinity;
    const close = () => {
      for (let id = 0; id < this.#nextId; id++) {
        if (this.#alive[id]) this.nodeSecondsAlive += (end - Math.max(0, this.#startedAt[id])) / 1000;
      }
      done();
    };
    if (last < end - 1) this.#sample(end, close, true);
    else close();
  }

  /** A node died without being asked (OOM, a fatal signal): detected like a crash. */
  nodeExited(node: NodeId): void {
    if (!this.#alive[node]) return;
    this.#stopped(node, true, this.#b.now());
    this.measures.count('unexpectedExits', 1);
  }

  /**
   * A request's outcome: the FE routed `shard` to `cluster` (null: it failed) at issue time `t`;
   * `latencyMs`, when the runtime measured it, is how long after `t` the answer came back.
   */
  answered(t: number, shard: ShardId, cluster: number | null, latencyMs?: number): void {
    if (!this.#scheduled || t > this.cfg.durationMs) return;
    if (latencyMs !== undefined && cluster !== null && cluster !== UNROUTABLE && this.latenciesMs.length < MAX_LATENCIES) this.latenciesMs.push(latencyMs);
    if (cluster === null || cluster === UNROUTABLE) this.requests.record(t, 'failed');
    else this.requests.record(t, cluster === this.truth.clusterAt(shard, t) ? 'routed' : 'misrouted');
  }

  // ---- fleet --------------------------------------------------------------------------------

  #addNode(cell: number, startedAt: number, t: number): number {
    const id = this.#nextId++;
    this.#cellOf[id] = cell;
    (this.#cellLive[cell] ??= []).push(id);
    this.#cellIndex[id] = this.#cellLive[cell].length - 1;
    this.#alive[id] = 1;
    this.#startedAt[id] = startedAt;
    if (startedAt !== -Infinity) this.truth.nodeStarted(id, startedAt);
    this.#liveIndex[id] = this.#liveIds.length;
    this.#liveIds.push(id);
    this.measures.nodeStarted(id, t, startedAt !== -Infinity, cell);
    return id;
  }

  #bootstrap(id: number, at: number): Bootstrap {
    const members = this.membershipOf(this.#cellOf[id], at).slice();
    if (!members.includes(id)) members.push(id);
    return {
      self: id,
      joining: at !== -Infinity,
      members,
      shards: this.cfg.fleet.shards,
      shardCluster: this.truth.shardCluster.slice(),
      shardVersion: this.truth.shardVersion.slice(),
    };
  }

  /** Capacity added: a new node is placed in a cell, which may open (and take shards), and boots. */
  #join(now: number): void {
    if (this.#nextId >= this.maxNodes) return;
    // which cell serves each shard now: a new cell takes its share only once it can serve it
    const before = this.partitioned ? Int32Array.from({ length: this.cfg.fleet.shards }, (_, s) => this.#servingCell(s)) : null;
    const cell = this.router.place(this.#nextId);
    const moved = this.router.takeMigrations();
    if (moved.length > 0) {
      for (const shard of moved) this.#migrating.set(shard, before![shard]);
      this.#migrationsOf.set(cell, [...moved]);
    }
    const id = this.#addNode(cell, now, now);
    this.#b.launch(id);
    this.#coldStart(id, now);
  }

  /** The cell whose FEs serve `shard` now (its old cell while a migration waits for the new one). */
  #servingCell(shard: ShardId): number {
    return this.#migrating.get(shard) ?? this.router.cellOfShard(shard);
  }

  /** A new cell's first FE is ready: its shards move to the cell's clusters, made as reshards. */
  #completeMigrations(cell: number, now: number): void {
    const shards = this.#migrationsOf.get(cell);
    if (!shards) return;
    this.#migrationsOf.delete(cell);
    for (const shard of shards) {
      this.#migrating.delete(shard);
      const { version } = this.truth.reshard(shard, now);
      this.measures.reshard(shard, version, now, cell);
      this.measures.count('migratedShards', 1);
    }
  }

  /**
   * A new process builds its shard map from the configuration store before its protocol starts:
   * until then it cannot route, answer or originate (unroutable in the measures). The store's
   * queueing and each page's answer time are the same in every runtime (here); each page is then
   * CPU work on the node (entries × costs.cpuUsPerShardEntry), which the backend runs (the
   * simulator on the node's run queue; a backend without `construct` charges none).
   */
  #coldStart(id: NodeId, now: number): void {
    const pageTimes = this.#store.pages(now);
    this.#constructingUntil[id] = Infinity;
    const generation = this.#generation[id];
    this.measures.routable(id, false, now);
    const ready = (until: number) => {
      if (!this.#alive[id] || this.#generation[id] !== generation) return;
      this.#constructingUntil[id] = 0;
      this.#completeMigrations(this.#cellOf[id], until);
      this.measures.readStore(id, until);
      this.measures.routable(id, true, until);
      this.#b.boot(id, this.#bootstrap(id, until));
    };
    const b = this.#b;
    if (b.construct) b.construct(id, pageTimes, this.#pageUs, ready);
    else {
      const last = pageTimes[pageTimes.length - 1];
      b.at(last, () => ready(last));
    }
  }

  /** The FE's process is killed and started again on the same host: a cold start. */
  #restart(id: NodeId, now: number): void {
    if (!this.#alive[id]) return;
    this.#b.crash(id);
    this.#stopped(id, false, now, false);
    this.#generation[id]++;
    this.#pausedUntil[id] = 0;
    // the same FE, the same cell: not a new placement
    const cell = this.#cellOf[id];
    (this.#cellLive[cell] ??= []).push(id);
    this.#cellIndex[id] = this.#cellLive[cell].length - 1;
    this.#alive[id] = 1;
    this.#startedAt[id] = now;
    this.truth.nodeStarted(id, now, true);
    this.#liveIndex[id] = this.#liveIds.length;
    this.#liveIds.push(id);
    this.measures.nodeStarted(id, now, true, cell);
    this.#restarts++;
    this.#firstRestartAtMs ??= now;
    this.#b.launch(id);
    this.#coldStart(id, now);
  }

  /** Running, not frozen, not cold-starting at `t`: a node that can take part. */
  #running(id: NodeId, t: number): boolean {
    return this.#pausedUntil[id] <= t && this.#constructingUntil[id] <= t;
  }

  #stop(node: NodeId, how: 'left' | 'crashed', t: number): void {
    if (!this.#alive[node]) return;
    if (how === 'left') this.#b.leave(node);
    else this.#b.crash(node);
    this.#stopped(node, how === 'crashed', t);
  }

  /** Bookkeeping once a node is gone, in the order the measures expect. */
  #stopped(node: NodeId, crashed: boolean, now: number, leavesCell = true): void {
    this.#alive[node] = 0;
    this.nodeSecondsAlive += (now - Math.max(0, this.#startedAt[node])) / 1000;
    const idx = this.#liveIndex[node];
    const last = this.#liveIds.pop()!;
    if (last !== node) {
      this.#liveIds[idx] = last;
      this.#liveIndex[last] = idx;
    }
    this.#liveIndex[node] = -1;
    const cellLive = this.#cellLive[this.#cellOf[node]];
    const ci = this.#cellIndex[node];
    const lastInCell = cellLive.pop()!;
    if (lastInCell !== node) {
      cellLive[ci] = lastInCell;
      this.#cellIndex[lastInCell] = ci;
    }
    this.#cellIndex[node] = -1;
    if (leavesCell) this.router.removed(node);
    this.truth.nodeStopped(node, now);
    this.measures.nodeStopped(node, now, crashed);
  }

  /** k distinct live nodes chosen by the harness generator; only running ones (not paused or cold-starting) when asked. */
  #pickLive(k: number, t: number, runningOnly: boolean): number[] {
    const pool = runningOnly ? this.#liveIds.filter((id) => this.#running(id, t)) : this.#liveIds.slice();
    return drawDistinct(pool, k, this.#harness);
  }

  /** The one interpreter of scenario events, for every runtime. */
  #event(e: ScenarioEvent, now: number): void {
    const b = this.#b;
    switch (e.type) {
      case 'add':
        for (let i = 0; i < e.count; i++) {
          const t = now + (e.count > 1 ? (e.overMs * i) / (e.count - 1) : 0);
          b.at(t, () => this.#join(t));
        }
        return;
      case 'remove':
        for (const id of this.#pickLive(e.count, now, true)) this.#stop(id, 'left', now);
        return;
      case 'crash':
        for (const id of this.#pickLive(e.count, now, false)) this.#stop(id, 'crashed', now);
        return;
      case 'pause':
        for (const id of this.#pickLive(e.count, now, true)) {
          const until = (this.#pausedUntil[id] = now + e.forMs);
          b.pause(id, until);
          b.at(until, () => {
            if (this.#alive[id] && this.#pausedUntil[id] <= until) b.resume(id);
          });
        }
        return;
      case 'loss':
        b.setLoss(e.rate);
        return;
      case 'partition':
        // the harness generator picks side 1; nodes that join later land on side 0
        b.partition(this.#pickLive(Math.max(1, Math.round(this.#liveIds.length * e.fraction)), now, false));
        return;
      case 'heal':
        b.heal();
        return;
      case 'restart':
        for (const id of this.#pickLive(e.count, now, true)) this.#restart(id, now);
        return;
      case 'rollingRestart': {
        // the FEs running now, in a fixed order, one every 3,600,000 / perHour ms
        const order = this.#liveIds.slice().sort((a, b) => a - b).slice(0, e.count ?? Infinity);
        const every = 3_600_000 / e.perHour;
        order.forEach((id, i) => {
          const t = now + i * every;
          const generation = this.#generation[id];
          b.at(t, () => {
            if (this.#generation[id] === generation) this.#restart(id, t);
          });
        });
        return;
      }
      case 'crashCell': {
        if (!this.partitioned) return; // refused at load time for flat protocols
        const cells = this.cellSizes().flatMap((n, c) => (n > 0 ? [c] : []));
        const cell = e.cell ?? cells[this.#harness.int(cells.length)];
        if (cell === undefined) return;
        this.requests.outageFromMs ??= now;
        this.crashedCells.add(cell);
        for (const id of [...(this.#cellLive[cell] ?? [])]) this.#stop(id, 'crashed', now);
        return;
      }
      case 'reshardStorm':
        for (let i = 0; i < e.count; i++) {
          const t = now + (e.count > 1 ? (e.overMs * i) / (e.count - 1) : 0);
          b.at(t, () => this.#reshard(t));
        }
        return;
    }
  }

  /** A reshard happens at the back end and is first seen by one running FE of the shard's cell. */
  #reshard(now: number): void {
    const shard = this.truth.pickReshardShard();
    if (this.#migrating.has(shard)) return; // it moves cells shortly; the move is its reshard
    const cell = this.router.cellOfShard(shard);
    const candidates = (this.#cellLive[cell] ?? []).filter((id) => this.#running(id, now));
    if (candidates.length === 0) return; // no FE of that cell to make it
    const origin = candidates[this.#harness.int(candidates.length)];
    const { cluster, version } = this.truth.reshard(shard, now);
    this.measures.reshard(shard, version, now, cell);
    this.#b.originate(origin, shard, cluster, version);
  }

  /**
   * A request for a shard reaches a random FE of the cell the router maps the shard to. The load
   * balancer knows which FEs have finished their cold start (they register when ready), so it
   * redraws past one still building its map; it cannot know which are frozen.
   */
  #request(t: number): void {
    this.offered++;
    const shard = this.truth.pickShard();
    const live = this.#cellLive[this.#servingCell(shard)] ?? [];
    let node = -1;
    for (let tries = 0; tries < REQUEST_DRAWS && live.length > 0; tries++) {
      node = live[this.#harness.int(live.length)];
      if (this.#constructingUntil[node] <= t) break;
    }
    // no FE of that cell is alive, or the chosen one is frozen: a failed request, not a misroute
    if (node < 0 || !this.#running(node, t)) this.requests.record(t, 'failed');
    else this.#b.request(node, shard, t);
  }

  #sample(t: number, then?: () => void, last = false): void {
    this.#b.collectSample(t, (h: HostSample) => {
      this.samples.push({
        tMs: t,
        liveNodes: this.#liveIds.length,
        ...this.requests.takeWindow(),
        messages: h.messages,
        bytes: h.bytes,
        threadsMaxPerNode: h.threadsMaxPerNode,
        connectionsMaxPerNode: h.connectionsMaxPerNode,
        memoryMaxBytesPerNode: h.memoryMaxBytesPerNode,
        viewAccuracy: this.measures.viewAccuracy(),
        unconvergedReshards: this.measures.unconvergedReshards,
        unroutableNodes: this.measures.unroutableShare,
      });
      then?.();
    }, last);
  }

  // ---- the result ---------------------------------------------------------------------------

  /**
   * The result every runtime writes, from the driver's figures and the backend's host figures.
   * The runtime then adds its own section (`sim` or `live`) and what it enforced.
   */
  result(runtime: 'sim' | 'live', end: number, completed: boolean, host: HostSummary): Result {
    const { cfg } = this;
    const m = this.measures;
    const nodeSec = Math.max(this.nodeSecondsAlive, 1e-9);
    const req = this.requests;
    const tailMisrouteRate = req.tailMisrouteRate;
    const { limitsHit, viewAccuracy, healthChecks, healthy, counters } = verdict(m, tailMisrouteRate, completed, req.tailFailedRate);
    return {
      schema: RESULT_SCHEMA,
      run: {
        protocol: cfg.protocol.name,
        runtime,
        nodes: cfg.nodes,
        scenario: cfg.scenario.name,
        seed: cfg.seed,
        durationMs: cfg.durationMs,
        simulatedMs: end,
        completed,
        params: { ...cfg.params },
        limits: { ...cfg.limits },
        costs: { ...cfg.costs },
        costProfile: cfg.costProfile,
        network: { ...cfg.network },
        fleet: { ...cfg.fleet },
        alarms: { ...cfg.alarms },
      },
      machine: machineInfo(),
      tool: toolInfo(),
      summary: {
        requests: {
          total: req.total,
          misrouted: req.misrouted,
          failed: req.failed,
          misrouteRate: req.misrouteRate,
          tailMisrouteRate,
          failedRate: req.failedRate,
          tailFailedRate: req.tailFailedRate,
          goodputPerSec: end > 0 ? req.routed / (end / 1000) : 0,
          // the alias of goodput (it once was a modelled capacity in the simulator)
          throughputPerSec: end > 0 ? req.routed / (end / 1000) : 0,
          // open loop: what the driver issued; a runtime's own closed loop: what it reported
          offeredPerSec: end > 0 ? (this.#opts.requests === 'driver' ? this.offered : req.total) / (end / 1000) : 0,
          latencyMs: percentiles(this.latenciesMs),
        },
        recovery: this.#recovery(end),
        routing: { unroutableNodesPeak: m.unroutableSharePeak },
        alarms: [...m.alarms].map(([name, a]) => ({
          name,
          threshold: a.threshold,
          firstAtMs: a.firstAtMs,
          nodes: a.count,
          leadMs: req.firstFailedAtMs !== null && req.firstFailedAtMs >= a.firstAtMs ? req.firstFailedAtMs - a.firstAtMs : null,
        })),
        messages: {
          total: host.messages.total,
          dropped: host.messages.dropped,
          perNodePerSec: host.messages.total / nodeSec,
          bytesPerNodePerSec: host.messages.bytes / nodeSec,
        },
        memory: { ...host.memory },
        threads: { peakPerNode: host.threadsPeakPerNode },
        connections: { peakPerNode: host.connectionsPeakPerNode },
        cpu: { protocolUsPerNodePerSec: host.cpuUs / nodeSec },
        limitsHit,
        ...beliefSummary(m, end, viewAccuracy),
        protocolCounters: counters,
        cells: this.partitioned ? this.#cellSummary() : null,
        healthy,
        healthChecks,
      },
      timeseries: this.samples,
      sim: null,
    };
  }

  #recovery(end: number): Result['summary']['recovery'] {
    const firstFailed = this.requests.firstFailedAtMs;
    const since = this.measures.allRoutableSinceMs;
    const recovered = firstFailed !== null && since !== null && since >= firstFailed ? since : null;
    const restartFrom = this.#firstRestartAtMs;
    return {
      firstFailedAtMs: firstFailed,
      recoveredAtMs: recovered,
      timeToRecoverMs: recovered === null ? null : recovered - firstFailed!,
      failedRequests: firstFailed === null ? 0 : this.requests.failedBetween(firstFailed, recovered ?? end),
      restarts: this.#restarts,
      firstRestartAtMs: restartFrom,
      restartPhaseMs: recovered !== null && restartFrom !== null && recovered >= restartFrom ? recovered - restartFrom : null,
    };
  }

  #cellSummary(): NonNullable<Result['summary']['cells']> {
    const { cfg } = this;
    const sizes = this.cellSizes();
    const shards = new Array<number>(this.router.cells).fill(0);
    for (let s = 0; s < cfg.fleet.shards; s++) shards[this.router.cellOfShard(s)]++;
    const crashed = this.crashedCells;
    return {
      count: this.router.cells,
      cellSize: Number(cfg.params.cellSize),
      nodesPerCell: { min: Math.min(...sizes), max: Math.max(...sizes) },
      shardsPerCell: { min: Math.min(...shards), max: Math.max(...shards) },
      blastRadius: this.requests.blastRadius,
      outageShardShare: crashed.size === 0 ? null : [...crashed].reduce((a, c) => a + shards[c], 0) / cfg.fleet.shards,
    };
  }
}
