/**
 * The live runtime's coordinator: runs one resolved configuration on real processes, threads and
 * sockets on loopback, and assembles the same result the simulator writes (`run.runtime: "live"`,
 * `sim: null`, plus a `live` section). It writes nothing itself.
 *
 * Shape of a run:
 * 1. refuse up front what the machine cannot hold (capacity.ts); bundle the code (bundle.ts);
 *    start the reaper (reaper.mjs), which cleans up if this process dies;
 * 2. fork every node process the scenario will need (the initial fleet and every node it adds),
 *    each listening on a fresh port, and the load generator; wait until all listen;
 * 3. t0: boot the initial fleet (protocol.start), then drive the scenario in real time: add =
 *    boot a forked spare, remove = graceful leave then exit, crash = SIGKILL, pause = SIGSTOP /
 *    SIGCONT, loss / partition / heal = drop filters pushed to every node's transport, reshards
 *    originate at a live FE by IPC; reports are timestamped on arrival and fed to Measures;
 * 4. every sampleEveryMs read each node's RSS, threads and fds from /proc and its transport
 *    counters, and record a sample; requests answered by FEs are checked against the truth;
 * 5. stop everything, remove cgroups and temp files (also on failure, Ctrl-C and SIGTERM).
 *
 * Real time is scenario time: a 30 s scenario takes 30 s plus start-up.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Bootstrap, CellRouter } from '../contract/protocol.ts';
import { FlatRouter } from '../harness/flat-router.ts';
import { Measures, percentiles } from '../harness/measures.ts';
import type { RunConfig } from '../harness/run-config.ts';
import type { ScenarioEvent } from '../harness/scenario.ts';
import { Truth } from '../harness/truth.ts';
import { drawDistinct, verdict, beliefSummary } from '../harness/verdict.ts';
import { RequestTally } from '../harness/request-tally.ts';
import { machineInfo, toolInfo } from '../results/meta.ts';
import { RESULT_SCHEMA, type Result } from '../results/schema.ts';
import type { Sample } from '../sim/simulation.ts';
import { Rng } from '../harness/rng.ts';
import { buildBundles, type Bundles, type ProtocolRef } from './bundle.ts';
import { planFleet, type FleetPlan } from './capacity.ts';
import { cgroupUnavailableReason, createNodeCgroup, createRunCgroup, removeCgroup, type CgroupRoot } from './cgroup.ts';
import { R_COUNT, R_DOWN, R_LIMIT, R_SHARD, R_UP, type FromLoadgen, type FromNode, type NodeStats, type ToLoadgen, type ToNode } from './ipc.ts';
import { sampleProc, processAlive } from './procfs.ts';
import type { LiveSection } from './schema.ts';
import type { TransportKind } from './transport.ts';
import { checkUwsBinary, uwsBinaryPath } from './uws.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface LiveOptions {
  transport: TransportKind;
  /** called about every 250 ms with the scenario time reached */
  onProgress?: (ms: number) => void;
  /** polled every 100 ms; true ends the run early (Ctrl-C), and the result says completed: false */
  shouldStop?: () => boolean;
  /** 'paced' (default): fleet.requestsPerSec, as the simulator samples; 'max': a closed loop of maxInFlight requests */
  load?: 'paced' | 'max';
  maxInFlight?: number;
  /** where other processes import the definition from, for protocols not in src/protocols.ts */
  protocolRef?: ProtocolRef;
  /** false: emulate the thread limit even where pids cgroups are writable */
  cgroups?: boolean;
  /** milliseconds a leaving node has to send its goodbyes before it exits (default 300) */
  leaveGraceMs?: number;
  /** bound on the warm-up before t0 (default 10 s + 100 ms per process + 30 ms per Worker) */
  warmupTimeoutMs?: number;
  /** called at t0 with every process and cgroup the run created (tests check they are gone after) */
  onStarted?: (info: { pids: number[]; cgroups: string[] }) => void;
}

/** What the result's live section says about how faults were applied. */
const FAULTS =
  'crash = SIGKILL of the node process; pause = SIGSTOP then SIGCONT (timers, sockets and Workers all freeze); ' +
  'remove = protocol.leave() then exit after a grace period; add = boot of a process forked before t0; ' +
  'loss and partition = drop filters at the sender in the live transport (a dropped send never reaches a socket; open connections stay open); ' +
  'network latency is loopback\'s own, the modelled latency is not applied';
const FRAMING =
  'one WebSocket binary frame per message holding exactly codec.encode(msg); each dialed connection opens with one 5-byte hello ' +
  '(kind u8, node id u32) naming the dialer, not counted; messages and bytes are counted at the sender as codec bytes, as the simulator counts byteLength';

/** Children get a clean environment: no loader flags inherited from tsx or vitest. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.UWS_USE_FALLBACK;
  return env;
}

type NodeEnd = 'running' | 'crashed' | 'left' | 'exited' | 'spare';

class NodeProc {
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
  cell = 0;
  group = 0;
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
  readonly exitedP: Promise<void>;
  #resolveExit!: () => void;
  constructor(readonly id: number, readonly child: ChildProcess, readonly cgroup: string | null) {
    this.exitedP = new Promise((r) => (this.#resolveExit = r));
  }
  markExited(info: string): void {
    this.exited = true;
    this.exitInfo = info;
    this.#resolveExit();
  }
  get pid(): number {
    return this.child.pid ?? -1;
  }
  send(m: ToNode): void {
    if (!this.exited && this.child.connected) this.child.send(m);
  }
}

class LiveRunError extends Error {}

export async function runLive(cfg: RunConfig, opts: LiveOptions): Promise<Result> {
  const plan = planFleet(cfg);
  const uwsBinary = opts.transport === 'uws' ? checkUwsBinary(uwsBinaryPath()) : null;
  const run = new Coordinator(cfg, opts, plan, uwsBinary);
  let sigterm = false;
  const onTerm = () => {
    sigterm = true;
    run.requestStop();
  };
  process.on('SIGTERM', onTerm);
  try {
    return await run.run();
  } finally {
    await run.cleanup();
    process.removeListener('SIGTERM', onTerm);
    // the caller gets the (partial) result first; then SIGTERM does what it would have done
    if (sigterm && process.listenerCount('SIGTERM') === 0) setImmediate(() => process.kill(process.pid, 'SIGTERM'));
  }
}

class Coordinator {
  readonly cfg: RunConfig;
  readonly opts: LiveOptions;
  readonly plan: FleetPlan;
  readonly uwsBinary: string | null;
  readonly nodes: NodeProc[] = [];
  readonly measures: Measures;
  readonly truth: Truth;
  readonly router: CellRouter;
  readonly partitioned: boolean;
  readonly #harness: Rng;
  readonly #initialCells: number[] = [];
  /** per shard: [tMs, cluster] changes in time order, to check an answer against the truth at its instant */
  readonly #history: Array<Array<[number, number]>>;
  #bundles: Bundles | null = null;
  #cgroupRoot: CgroupRoot | null = null;
  #cgroupReason: string | null = null;
  #reaper: ChildProcess | null = null;
  #loadgen: ChildProcess | null = null;
  #loadgenExited: Promise<void> = Promise.resolve();
  readonly #timers = new Set<NodeJS.Timeout>();
  #t0 = 0;
  #t0Epoch = 0;
  #started = false;
  #stopRequested = false;
  #endedAt = 0;
  #failure: Error | null = null;
  #finish: (() => void) | null = null;
  #fail: ((e: Error) => void) | null = null;
  #nextSpare = 0;
  #loss = 0;
  #lastMembership = new Map<number, string>();
  readonly samples: Sample[] = [];
  readonly liveSamples: LiveSection['timeseries'] = [];
  #startupMs = 0;
  #warmup = { ms: 0, converged: false, viewAccuracy: 0 };
  #wallStart = performance.now();
  #coordPeakRss = process.memoryUsage().rss;
  // requests
  readonly requests: RequestTally;
  answered = 0;
  readonly #latencies: number[] = [];
  readonly #crashedCells = new Set<number>();
  // messages at the previous sample
  #prevMsgs = 0;
  #prevBytes = 0;
  #memSum = 0;
  #memN = 0;
  #endTotals: { msgs: number; bytes: number; dropped: number } | null = null;

  constructor(cfg: RunConfig, opts: LiveOptions, plan: FleetPlan, uwsBinary: string | null) {
    this.cfg = cfg;
    this.opts = opts;
    this.plan = plan;
    this.uwsBinary = uwsBinary;
    this.measures = new Measures(plan.processes);
    this.#harness = new Rng(cfg.seed, 0x686172); // 'har', as the simulator
    const created = cfg.protocol.createRouter?.(cfg.params, { shards: cfg.fleet.shards, clusters: cfg.fleet.clusters });
    this.router = created ?? new FlatRouter(cfg.fleet.clusters);
    this.partitioned = created !== undefined;
    for (let i = 0; i < cfg.nodes; i++) this.#initialCells.push(this.router.place(i));
    this.router.takeMigrations();
    this.truth = new Truth(cfg.fleet, this.#harness, this.router);
    this.#history = Array.from({ length: cfg.fleet.shards }, (_, s) => [[-Infinity, this.truth.shardCluster[s]] as [number, number]]);
    this.#loss = cfg.network.lossRate;
    this.requests = new RequestTally(cfg.durationMs - (cfg.scenario.tailMs ?? Math.min(10_000, cfg.durationMs / 4)));
  }

  now(): number {
    return performance.now() - this.#t0;
  }

  requestStop(): void {
    this.#stopRequested = true;
    this.#finish?.();
  }

  #failRun(e: Error): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#fail?.(e);
  }

  #at(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (this.#failure || this.#endedAt) return;
      try {
        fn();
      } catch (e) {
        this.#failRun(e as Error);
      }
    }, Math.max(0, this.#t0 + ms - performance.now()));
    this.#timers.add(t);
  }

  // ---- start-up ---------------------------------------------------------------------------

  async run(): Promise<Result> {
    const { cfg } = this;
    this.#bundles = await buildBundles(cfg.protocol, this.opts.protocolRef);
    await this.#startReaper();
    this.#reap({ k: 'dir', path: this.#bundles.dir });
    this.#setupCgroups();
    const t0Fork = performance.now();
    await this.#startLoadgen();
    await this.#forkAll();
    this.#startupMs = performance.now() - t0Fork;

    const addrs: Array<[number, number]> = this.nodes.map((n) => [n.id, n.port]);
    for (const n of this.nodes) n.send({ k: 'addrs', entries: addrs });
    this.#broadcastFilter();

    // warm-up: the simulator's initial fleet "has been running" at t0; a live one must get there.
    // Boot it, wait until every node has every other in view (or a bound), then start the clock.
    for (let i = 0; i < cfg.nodes; i++) this.truth.nodeStarted(i, -Infinity);
    this.#t0 = performance.now();
    this.#t0Epoch = performance.timeOrigin + this.#t0;
    for (let i = 0; i < cfg.nodes; i++) this.#boot(this.nodes[i], this.#initialCells[i], true);
    this.#nextSpare = cfg.nodes;
    const warmStart = performance.now();
    const warmLimit = this.opts.warmupTimeoutMs ?? 10_000 + 100 * this.plan.processes + 30 * this.plan.processes * this.plan.workersPerNode;
    while (!this.#failure && this.measures.viewAccuracy() < 1 && performance.now() - warmStart < warmLimit) {
      if (this.opts.shouldStop?.() || this.#stopRequested) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (this.#failure) throw this.#failure;
    this.#warmup = { ms: performance.now() - warmStart, converged: this.measures.viewAccuracy() >= 1, viewAccuracy: this.measures.viewAccuracy() };
    await this.#baseline();
    this.#t0 = performance.now();
    this.#started = true;
    this.#sendLoadgen({ k: 'start', t0Epoch: performance.timeOrigin + this.#t0 });
    this.opts.onStarted?.({
      pids: [...this.nodes.map((n) => n.pid), this.#loadgen?.pid ?? -1, this.#reaper?.pid ?? -1].filter((p) => p > 0),
      cgroups: [...this.nodes.filter((n) => n.cgroup).map((n) => n.cgroup!), ...(this.#cgroupRoot ? [this.#cgroupRoot.dir] : [])],
    });

    const done = new Promise<void>((resolve, reject) => {
      this.#finish = resolve;
      this.#fail = reject;
    });
    if (this.#failure) throw this.#failure;
    this.#schedule();
    await done;
    return this.#finalize();
  }

  /** Counters and CPU at t0: the run's figures count from here, not from boot. */
  async #baseline(): Promise<void> {
    await this.#freshStats(2000);
    for (const n of this.nodes.filter((x) => x.live)) {
      n.base = n.stats ? { msgs: n.stats.msgs, bytes: n.stats.bytes, dropped: n.stats.dropped } : { msgs: 0, bytes: 0, dropped: 0 };
      const p = sampleProc(n.pid);
      n.cpuAtBoot = n.cpuAtSample = n.cpuLast = p?.cpuUs ?? null;
      n.eldWindowMs = 0;
    }
    const { msgs, bytes } = this.#messageTotals();
    this.#prevMsgs = msgs;
    this.#prevBytes = bytes;
  }

  async #startReaper(): Promise<void> {
    const reaper = fork(join(HERE, 'reaper.mjs'), [], { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [], env: childEnv() });
    this.#reaper = reaper;
    await new Promise<void>((resolve, reject) => {
      reaper.once('message', () => resolve());
      reaper.once('error', reject);
      reaper.once('exit', (code) => reject(new Error(`live: the reaper exited at start (code ${code})`)));
    });
    reaper.removeAllListeners('exit');
    reaper.unref();
  }

  #reap(m: { k: 'pid' | 'gone'; pid: number } | { k: 'cgroup' | 'dir'; path: string } | { k: 'done' }): void {
    if (this.#reaper?.connected) this.#reaper.send(m);
  }

  #setupCgroups(): void {
    if (this.opts.cgroups === false) {
      this.#cgroupReason = 'disabled by the caller (cgroups: false)';
      return;
    }
    this.#cgroupReason = cgroupUnavailableReason();
    if (this.#cgroupReason) return;
    try {
      this.#cgroupRoot = createRunCgroup(`fleetbench-${process.pid}-${Date.now().toString(36)}`);
      this.#reap({ k: 'cgroup', path: this.#cgroupRoot.dir });
    } catch (e) {
      this.#cgroupReason = `could not create a pids cgroup (${(e as Error).message})`;
    }
  }

  async #forkAll(): Promise<void> {
    const total = this.plan.processes;
    const timeoutMs = 20_000 + 300 * total;
    const concurrency = 8;
    let next = 0;
    const startOne = async (): Promise<void> => {
      while (next < total && !this.#failure) {
        const id = next++;
        await this.#forkNode(id, timeoutMs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, startOne));
    if (this.#failure) throw this.#failure;
  }

  #forkNode(id: number, timeoutMs: number): Promise<void> {
    const cgroup = this.#cgroupRoot ? createNodeCgroup(this.#cgroupRoot, id, this.cfg.limits.threadsPerNode) : null;
    if (cgroup) this.#reap({ k: 'cgroup', path: cgroup });
    const child = fork(this.#bundles!.node, [], {
      execArgv: [],
      env: childEnv(),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const node = new NodeProc(id, child, cgroup);
    this.nodes[id] = node;
    if (child.pid) this.#reap({ k: 'pid', pid: child.pid });
    child.stderr?.on('data', (d: Buffer) => {
      node.stderrTail = (node.stderrTail + d.toString()).slice(-4000);
    });
    child.on('message', (m: FromNode) => this.#fromNode(node, m));
    child.on('exit', (code, signal) => this.#nodeExited(node, code, signal));
    child.on('error', () => {});
    node.send({
      k: 'init',
      id,
      transport: this.opts.transport,
      uwsBinary: this.uwsBinary,
      workerBundle: this.#bundles!.workerUrl,
      params: this.cfg.params,
      seed: this.cfg.seed,
      threadsPerNode: this.cfg.limits.threadsPerNode,
      fdsPerNode: this.cfg.limits.fdsPerNode,
      cgroup,
      // samples ask for fresh counters; the periodic push only keeps the coordinator roughly current
      statsEveryMs: 2000,
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LiveRunError(`live: node ${id} did not start listening within ${timeoutMs} ms`)), timeoutMs);
      const check = setInterval(() => {
        if (node.listening || node.exited || this.#failure) {
          clearInterval(check);
          clearTimeout(timer);
          if (this.#failure) reject(this.#failure);
          else if (node.exited) reject(new LiveRunError(`live: node ${id} exited during start-up (${node.exitInfo})${node.stderrTail ? `:\n${node.stderrTail}` : ''}`));
          else resolve();
        }
      }, 5);
    }).catch((e: Error) => {
      this.#failRun(e);
      throw e;
    });
  }

  async #startLoadgen(): Promise<void> {
    const f = this.cfg.fleet;
    const child = fork(this.#bundles!.loadgen, [], { execArgv: [], env: childEnv(), stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    this.#loadgen = child;
    if (child.pid) this.#reap({ k: 'pid', pid: child.pid });
    this.#loadgenExited = new Promise((r) => child.once('exit', () => r()));
    child.on('exit', () => {
      if (child.pid) this.#reap({ k: 'gone', pid: child.pid });
      if (this.#started && !this.#endedAt) this.#failRun(new LiveRunError('live: the load generator exited during the run'));
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: FromLoadgen) => {
        if (m.k === 'ready') resolve();
        else if (m.k === 'res') this.#results(m.answered, m.failed);
        else if (m.k === 'fatal') {
          const e = new LiveRunError(`live: load generator failed: ${m.error}`);
          reject(e);
          this.#failRun(e);
        }
      });
    });
    this.#sendLoadgen({
      k: 'init',
      transport: this.opts.transport,
      seed: this.cfg.seed,
      shards: f.shards,
      traffic: f.traffic,
      zipfExponent: f.zipfExponent,
      mode: this.opts.load ?? 'paced',
      ratePerSec: f.requestsPerSec,
      maxInFlight: this.opts.maxInFlight ?? 64,
      timeoutMs: 1000,
    });
    await ready;
  }

  #sendLoadgen(m: ToLoadgen): void {
    if (this.#loadgen?.connected) this.#loadgen.send(m);
  }

  // ---- node lifecycle ---------------------------------------------------------------------

  #boot(node: NodeProc, cell: number, initial: boolean): void {
    const t = initial ? 0 : this.now();
    node.cell = cell;
    node.booted = node.live = true;
    node.end = 'running';
    node.startedAt = t;
    if (!initial) this.truth.nodeStarted(node.id, t);
    this.measures.nodeStarted(node.id, t, !initial, cell);
    const members = this.#membershipOf(cell, initial ? -Infinity : t).slice();
    if (!members.includes(node.id)) members.push(node.id);
    const boot: Bootstrap = {
      self: node.id,
      joining: !initial,
      members,
      shards: this.cfg.fleet.shards,
      shardCluster: this.truth.shardCluster.slice(),
      shardVersion: this.truth.shardVersion.slice(),
    };
    const p = sampleProc(node.pid);
    node.cpuAtBoot = node.cpuAtSample = node.cpuLast = p?.cpuUs ?? null;
    node.send({ k: 'start', boot, t0Epoch: this.#t0Epoch, membership: [...this.#membershipOf(cell, t)] });
    this.#lastMembership.set(node.id, this.#membershipOf(cell, t).join(','));
    this.#sendLoadgen({ k: 'fes', add: [[node.id, node.port, cell]], remove: [], shardCell: this.#shardCells() });
    if (!initial) this.#membershipSoon();
  }

  #shardCells(): Int32Array | undefined {
    if (!this.partitioned) return undefined;
    const a = new Int32Array(this.cfg.fleet.shards);
    for (let s = 0; s < a.length; s++) a[s] = this.router.cellOfShard(s);
    return a;
  }

  #membershipOf(cell: number, t: number): readonly number[] {
    const all = this.truth.membershipList(t);
    return this.partitioned ? all.filter((id) => this.nodes[id]?.cell === cell && this.nodes[id]?.booted) : all;
  }

  /** The membership service changes its list lag ms after a start or stop: push it then. */
  #membershipSoon(): void {
    this.#at(this.now() + this.cfg.fleet.membershipLagMs + 2, () => this.#pushMembership());
  }

  #pushMembership(): void {
    const t = this.now();
    for (const n of this.nodes) {
      if (!n.live) continue;
      const list = this.#membershipOf(n.cell, t);
      const key = list.join(',');
      if (this.#lastMembership.get(n.id) === key) continue;
      this.#lastMembership.set(n.id, key);
      n.send({ k: 'membership', list: [...list] });
    }
  }

  #stopNode(node: NodeProc, how: 'crashed' | 'left' | 'exited'): void {
    if (!node.live) return;
    const t = this.now();
    node.live = false;
    node.stoppedAt = t;
    node.end = how;
    const p = sampleProc(node.pid);
    if (p) node.cpuLast = p.cpuUs;
    this.router.removed(node.id);
    this.truth.nodeStopped(node.id, t);
    this.measures.nodeStopped(node.id, t, how !== 'left');
    this.#sendLoadgen({ k: 'fes', add: [], remove: [node.id] });
    this.#membershipSoon();
  }

  #nodeExited(node: NodeProc, code: number | null, signal: NodeJS.Signals | null): void {
    node.markExited(signal ? `signal ${signal}` : `code ${code}`);
    this.#reap({ k: 'gone', pid: node.pid });
    if (node.cgroup && removeCgroup(node.cgroup)) this.#reap({ k: 'gone', pid: -1 });
    if (node.live && !this.#endedAt) {
      // nobody asked it to stop: a real crash (OOM, V8 fatal at too many Workers, a signal)
      this.#stopNode(node, 'exited');
      this.measures.count('unexpectedExits', 1);
    }
  }

  #fromNode(node: NodeProc, m: FromNode): void {
    switch (m.k) {
      case 'listening':
        node.port = m.port;
        node.baseThreads = m.baseThreads;
        node.listening = true;
        return;
      case 'rep': {
        if (!node.live) return;
        const t = this.now();
        const ms = this.measures;
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
        this.#failRun(new LiveRunError(`live: node ${node.id} failed: ${m.error}`));
        return;
    }
  }

  // ---- scenario ---------------------------------------------------------------------------

  #schedule(): void {
    const { cfg } = this;
    for (const e of cfg.scenario.events) this.#at(e.atMs, () => this.#event(e));
    const rs = cfg.scenario.reshards;
    if (rs.perSec > 0) {
      const nextReshard = (from: number) => {
        const next = from + this.#harness.exp(1000 / rs.perSec);
        if ((rs.untilMs === undefined || next <= rs.untilMs) && next <= cfg.durationMs) {
          this.#at(next, () => {
            this.#reshard();
            nextReshard(next);
          });
        }
      };
      nextReshard(rs.fromMs);
    }
    const every = cfg.fleet.sampleEveryMs;
    for (let t = every; t < cfg.durationMs; t += every) this.#at(t, () => void this.#sampleFresh());
    this.#at(cfg.durationMs, () => this.#finish?.());
    const poll = setInterval(() => {
      this.opts.onProgress?.(Math.min(this.now(), cfg.durationMs));
      this.#coordPeakRss = Math.max(this.#coordPeakRss, process.memoryUsage().rss);
      if (this.opts.shouldStop?.()) this.requestStop();
    }, 100);
    this.#timers.add(poll as unknown as NodeJS.Timeout);
  }

  #liveNodes(skipPaused = false): NodeProc[] {
    return this.nodes.filter((n) => n.live && !(skipPaused && n.paused));
  }

  /** k distinct live nodes chosen by the harness generator, as in the simulator. */
  #pickLive(k: number, skipPaused = false, pool = this.#liveNodes(skipPaused)): NodeProc[] {
    return drawDistinct(pool, k, this.#harness);
  }

  #event(e: ScenarioEvent): void {
    switch (e.type) {
      case 'add':
        for (let i = 0; i < e.count; i++) {
          const at = this.now() + (e.count > 1 ? (e.overMs * i) / (e.count - 1) : 0);
          this.#at(at, () => this.#join());
        }
        return;
      case 'remove':
        for (const n of this.#pickLive(e.count)) {
          this.#stopNode(n, 'left');
          n.send({ k: 'leave', graceMs: this.opts.leaveGraceMs ?? 300 });
        }
        return;
      case 'crash':
        for (const n of this.#pickLive(e.count)) this.#crash(n);
        return;
      case 'pause':
        for (const n of this.#pickLive(e.count, true)) {
          n.paused = true;
          n.child.kill('SIGSTOP');
          this.#at(this.now() + e.forMs, () => {
            n.paused = false;
            if (!n.exited) n.child.kill('SIGCONT');
          });
        }
        return;
      case 'loss':
        this.#loss = e.rate;
        this.#broadcastFilter();
        return;
      case 'partition': {
        const live = this.#liveNodes();
        for (const n of this.#pickLive(Math.max(1, Math.round(live.length * e.fraction)), false, live)) n.group = 1;
        this.#broadcastFilter();
        return;
      }
      case 'heal':
        for (const n of this.nodes) n.group = 0;
        this.#broadcastFilter();
        return;
      case 'reshardStorm':
        for (let i = 0; i < e.count; i++) {
          const at = this.now() + (e.count > 1 ? (e.overMs * i) / (e.count - 1) : 0);
          this.#at(at, () => this.#reshard());
        }
        return;
      case 'crashCell': {
        if (!this.partitioned) return;
        const sizes = new Map<number, number>();
        for (const n of this.#liveNodes()) sizes.set(n.cell, (sizes.get(n.cell) ?? 0) + 1);
        const cells = [...sizes.keys()].sort((a, b) => a - b);
        const cell = e.cell ?? cells[this.#harness.int(cells.length)];
        if (cell === undefined) return;
        this.requests.outageFromMs ??= this.now();
        this.#crashedCells.add(cell);
        for (const n of this.#liveNodes()) if (n.cell === cell) this.#crash(n);
        return;
      }
    }
  }

  #crash(n: NodeProc): void {
    this.#stopNode(n, 'crashed');
    n.child.kill('SIGKILL');
  }

  #join(): void {
    const node = this.nodes[this.#nextSpare++];
    if (!node || node.exited) return;
    const t = this.now();
    const cell = this.router.place(node.id);
    for (const shard of this.router.takeMigrations()) {
      const { cluster, version } = this.truth.reshard(shard);
      this.#history[shard].push([t, cluster]);
      this.measures.reshard(shard, version, t, cell);
      this.measures.count('migratedShards', 1);
    }
    this.#boot(node, cell, false);
  }

  #broadcastFilter(): void {
    const groups: Array<[number, number]> = this.nodes.filter((n) => n.group !== 0).map((n) => [n.id, n.group]);
    for (const n of this.nodes) if (!n.exited) n.send({ k: 'filter', loss: this.#loss, groups });
  }

  /** A reshard at the back end, first seen by one live, unpaused FE of the shard's cell. */
  #reshard(): void {
    const shard = this.truth.pickReshardShard();
    const cell = this.router.cellOfShard(shard);
    const candidates = this.#liveNodes(true).filter((n) => n.cell === cell);
    if (candidates.length === 0) return;
    const origin = candidates[this.#harness.int(candidates.length)];
    const t = this.now();
    const { cluster, version } = this.truth.reshard(shard);
    this.#history[shard].push([t, cluster]);
    this.measures.reshard(shard, version, t, cell);
    origin.send({ k: 'originate', shard, cluster, version });
  }

  // ---- requests ---------------------------------------------------------------------------

  #clusterAt(shard: number, t: number): number {
    const h = this.#history[shard];
    for (let i = h.length - 1; i >= 0; i--) if (h[i][0] <= t) return h[i][1];
    return h[0][1];
  }

  #results(answered: number[], failed: number[]): void {
    if (!this.#started) return;
    const end = this.cfg.durationMs;
    for (let i = 0; i < answered.length; i += 5) {
      const shard = answered[i + 1], cluster = answered[i + 2], t = answered[i + 3];
      if (t > end) continue;
      this.answered++;
      if (this.#latencies.length < 1_000_000) this.#latencies.push(answered[i + 4]);
      this.requests.record(t, cluster === this.#clusterAt(shard, t) ? 'routed' : 'misrouted');
    }
    for (let i = 0; i < failed.length; i += 2) {
      const t = failed[i + 1];
      if (t > end) continue;
      this.requests.record(t, 'failed');
    }
  }

  // ---- sampling ---------------------------------------------------------------------------

  /** Asks every live node for its counters now, then samples (a stale counter would blur windows). */
  async #freshStats(timeoutMs = 250): Promise<void> {
    const live = this.nodes.filter((n) => n.live && !n.paused);
    const before = new Map(live.map((n) => [n, n.statsSeq]));
    for (const n of live) n.send({ k: 'statsNow' });
    const deadline = performance.now() + timeoutMs;
    while (live.some((n) => n.live && n.statsSeq === before.get(n)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  async #sampleFresh(): Promise<void> {
    const t = this.now();
    await this.#freshStats(500);
    if (this.#endedAt) return;
    this.#sample(t);
  }

  #sample(t = this.now()): void {
    const prevT = this.samples.length ? this.samples[this.samples.length - 1].tMs : 0;
    const windowS = Math.max((t - prevT) / 1000, 1e-9);
    let memMax = 0, threadsMax = 0, fdsMax = 0, socketsMax = 0, eldMax = 0, cpuSum = 0, cpuNodes = 0;
    for (const n of this.nodes) {
      if (!n.live) continue;
      const p = sampleProc(n.pid);
      if (p) {
        n.rssPeak = Math.max(n.rssPeak, p.rssBytes);
        n.threadsPeak = Math.max(n.threadsPeak, p.threads);
        n.fdsPeak = Math.max(n.fdsPeak, p.fds);
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
      socketsMax = Math.max(socketsMax, n.stats?.sockets ?? 0);
      eldMax = Math.max(eldMax, n.eldWindowMs);
      n.eldWindowMs = 0;
    }
    const { msgs, bytes } = this.#messageTotals();
    this.samples.push({
      tMs: t,
      liveNodes: this.measures.liveCount,
      ...this.requests.takeWindow(),
      messages: msgs - this.#prevMsgs,
      bytes: bytes - this.#prevBytes,
      threadsMaxPerNode: threadsMax,
      connectionsMaxPerNode: socketsMax,
      memoryMaxBytesPerNode: memMax,
      viewAccuracy: this.measures.viewAccuracy(),
      unconvergedReshards: this.measures.unconvergedReshards,
    });
    this.liveSamples.push({
      tMs: t,
      eventLoopDelayP99MaxMs: eldMax,
      rssMaxBytes: memMax,
      threadsMax,
      fdsMax,
      cpuUsPerNodePerSec: cpuNodes ? cpuSum / cpuNodes / windowS : 0,
    });
    this.#prevMsgs = msgs;
    this.#prevBytes = bytes;
  }

  #messageTotals(): { msgs: number; bytes: number; dropped: number } {
    let msgs = 0, bytes = 0, dropped = 0;
    for (const n of this.nodes) {
      if (!n.stats) continue;
      msgs += n.stats.msgs - n.base.msgs;
      bytes += n.stats.bytes - n.base.bytes;
      dropped += n.stats.dropped - n.base.dropped;
    }
    return { msgs, bytes, dropped };
  }

  // ---- end --------------------------------------------------------------------------------

  async #finalize(): Promise<Result> {
    const end = Math.min(this.now(), this.cfg.durationMs);
    const stoppedEarly = this.#stopRequested && this.now() < this.cfg.durationMs - 1;
    await this.#freshStats(2000);
    if (this.samples.length === 0 || this.samples[this.samples.length - 1].tMs < end - 1) this.#sample(end);
    // totals as of the end: nodes keep sending until they read 'stop', which a busy machine delays
    this.#endTotals = this.#messageTotals();
    this.#endedAt = end;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    // final counters: each live node answers 'stop' with its last stats, then exits
    const live = this.nodes.filter((n) => !n.exited);
    for (const n of live) {
      if (n.live) {
        const p = sampleProc(n.pid);
        if (p) n.cpuLast = p.cpuUs;
      }
      if (n.paused) n.child.kill('SIGCONT');
      n.send({ k: 'stop' });
    }
    this.#sendLoadgen({ k: 'stop' });
    await Promise.race([Promise.all([...live.map((n) => n.exitedP), this.#loadgenExited]), new Promise((r) => setTimeout(r, 3000))]);
    return this.#buildResult(end, stoppedEarly);
  }

  async cleanup(): Promise<void> {
    this.#endedAt ||= Math.max(1, this.now());
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const n of this.nodes) {
      if (!n || n.exited) continue;
      try {
        n.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (this.#loadgen && this.#loadgen.exitCode === null && this.#loadgen.signalCode === null) this.#loadgen.kill('SIGKILL');
    await Promise.race([Promise.all([...this.nodes.filter(Boolean).map((n) => n.exitedP), this.#loadgenExited]), new Promise((r) => setTimeout(r, 5000))]);
    // a cgroup can be removed once its last task has gone
    const cgroups = this.nodes.filter((n) => n?.cgroup).map((n) => n.cgroup!);
    if (this.#cgroupRoot) cgroups.push(this.#cgroupRoot.dir);
    for (const dir of cgroups) {
      for (let i = 0; i < 50 && !removeCgroup(dir); i++) await new Promise((r) => setTimeout(r, 50));
    }
    if (this.#bundles) {
      const { rmSync } = await import('node:fs');
      rmSync(this.#bundles.dir, { recursive: true, force: true });
    }
    const leftovers = this.nodes.filter((n) => n && processAlive(n.pid));
    if (this.#reaper) {
      // anything still here is the reaper's to finish; otherwise it can go
      if (leftovers.length === 0) this.#reap({ k: 'done' });
      this.#reaper.disconnect();
    }
  }

  #buildResult(end: number, stoppedEarly: boolean): Result {
    const { cfg } = this;
    const m = this.measures;
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
    const totals = this.#endTotals ?? this.#messageTotals();
    const req = this.requests;
    const tailMisrouteRate = req.tailMisrouteRate;
    const throughputPerSec = end > 0 ? this.answered / (end / 1000) : 0;
    const { limitsHit, viewAccuracy, healthChecks, healthy, counters } = verdict(m, tailMisrouteRate);
    const enforcement = this.#cgroupRoot ? 'cgroup' : 'emulated';
    const live: LiveSection = {
      transport: this.opts.transport,
      enforcement: { threads: enforcement, reason: this.#cgroupRoot ? null : this.#cgroupReason, fds: 'emulated', memory: 'none' },
      faults: FAULTS,
      framing: FRAMING,
      wallMs: performance.now() - this.#wallStart,
      startupMs: this.#startupMs,
      warmup: this.#warmup,
      load: {
        mode: this.opts.load ?? 'paced',
        ratePerSec: cfg.fleet.requestsPerSec,
        maxInFlight: this.opts.maxInFlight ?? 64,
        answered: this.answered,
        failed: req.failed,
        throughputPerSec,
        latencyUs: percentiles(this.#latencies),
      },
      perNode: {
        rssPeakBytes: memPeak,
        rssMeanBytes: this.#memN ? this.#memSum / this.#memN : 0,
        threadsPeak,
        fdsPeak,
        socketsPeak,
        cpuUsPerSec: cpuUs / nodeSec,
        baseThreads,
        eventLoopDelayP99Ms: percentiles(eld),
      },
      messagesPerSec: totals.msgs / Math.max(end / 1000, 1e-9),
      coordinatorPeakRssBytes: this.#coordPeakRss,
      plan: { ...this.plan },
      nodes: this.nodes.map((n) => ({
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
      })),
      timeseries: this.liveSamples,
    };
    return {
      schema: RESULT_SCHEMA,
      run: {
        protocol: cfg.protocol.name,
        runtime: 'live',
        nodes: cfg.nodes,
        scenario: cfg.scenario.name,
        seed: cfg.seed,
        durationMs: cfg.durationMs,
        simulatedMs: end,
        completed: !stoppedEarly,
        params: { ...cfg.params },
        limits: { ...cfg.limits, enforcement, fdsEnforcement: 'emulated' },
        costs: { ...cfg.costs },
        network: { ...cfg.network, applied: 'lossRate only (loopback latency is real)' },
        fleet: { ...cfg.fleet },
        costProfile: cfg.costProfile ?? null,
      },
      machine: machineInfo(),
      tool: toolInfo(),
      summary: {
        requests: { total: req.total, misrouted: req.misrouted, failed: req.failed, misrouteRate: req.misrouteRate, tailMisrouteRate, throughputPerSec },
        messages: {
          total: totals.msgs,
          dropped: totals.dropped,
          perNodePerSec: totals.msgs / nodeSec,
          bytesPerNodePerSec: totals.bytes / nodeSec,
        },
        memory: { peakBytesPerNode: memPeak, meanBytesPerNode: this.#memN ? this.#memSum / this.#memN : 0 },
        threads: { peakPerNode: threadsPeak },
        connections: { peakPerNode: socketsPeak },
        cpu: { protocolUsPerNodePerSec: cpuUs / nodeSec },
        limitsHit,
        ...beliefSummary(m, end, viewAccuracy),
        protocolCounters: counters,
        cells: this.partitioned ? this.#cellSummary() : null,
        healthy,
        healthChecks,
      },
      timeseries: this.samples,
      sim: null,
      live,
    };
  }

  #cellSummary(): NonNullable<Result['summary']['cells']> {
    const cells = this.router.cells;
    const sizes = new Array<number>(cells).fill(0);
    for (const n of this.nodes) if (n.live) sizes[n.cell]++;
    const shards = new Array<number>(cells).fill(0);
    for (let s = 0; s < this.cfg.fleet.shards; s++) shards[this.router.cellOfShard(s)]++;
    return {
      count: cells,
      cellSize: Number(this.cfg.params.cellSize),
      nodesPerCell: { min: Math.min(...sizes), max: Math.max(...sizes) },
      shardsPerCell: { min: Math.min(...shards), max: Math.max(...shards) },
      blastRadius: this.requests.blastRadius,
      outageShardShare: this.#crashedCells.size === 0 ? null : [...this.#crashedCells].reduce((a, c) => a + shards[c], 0) / this.cfg.fleet.shards,
    };
  }
}
