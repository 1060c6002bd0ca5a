/**
 * The live runtime's coordinator: runs one resolved configuration on real processes, threads and
 * sockets on loopback. The fleet driver (src/fleet/driver.ts) decides what happens, as in the
 * simulator; the backend (backend.ts) carries it out on the processes; the sampler (sampler.ts)
 * reads their OS figures. The coordinator owns the processes' lives. It writes nothing itself.
 *
 * Shape of a run:
 * 1. refuse up front what the machine cannot hold (capacity.ts); bundle the code (bundle.ts);
 *    start the reaper (reaper.mjs), which cleans up if this process dies;
 * 2. fork every node process the scenario will need (the initial fleet and every node it adds),
 *    each listening on a fresh port, and the load generator; wait until all listen;
 * 3. boot the initial fleet and wait until every node has every other in view (the simulator's
 *    initial fleet "has been running" at t0; a live one must get there), then restart the clock
 *    at t0 and let the driver run the scenario in real time;
 * 4. stop everything, remove cgroups and temp files (also on failure, Ctrl-C and SIGTERM).
 *
 * Real time is scenario time: a 30 s scenario takes 30 s plus start-up.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.ts';
import { FleetDriver, type DriverOptions } from '../fleet/driver.ts';
import type { RunConfig } from '../harness/run-config.ts';
import { percentiles } from '../harness/measures.ts';
import type { LimitsEnforcement, Result } from '../results/schema.ts';
import { LiveBackend } from './backend.ts';
import { buildBundles, type Bundles, type ProtocolRef } from './bundle.ts';
import { planFleet, type FleetPlan } from './capacity.ts';
import {
  CONTROLLERS,
  applyCpuQuota,
  cpuQuota,
  createNodeCgroups,
  createRunCgroups,
  joinCgroup,
  readNodeCgroupCounters,
  removeCgroup,
  runCgroupDirs,
  type Controller,
  type CpuQuota,
  type NodeCgroups,
  type RunCgroups,
} from './cgroup.ts';
import type { FromLoadgen, FromNode, ToLoadgen } from './ipc.ts';
import { NodeProc, childEnv, type NodeChild } from './node-proc.ts';
import { processAlive } from './procfs.ts';
import { LiveSampler } from './sampler.ts';
import type { LiveSection } from './schema.ts';
import type { TransportKind } from './transport.ts';
import { checkUwsBinary, uwsBinaryPath } from './uws.ts';
import { newRunToken } from './transport.ts';
import { markBundleOwner, sweepLiveLeftovers } from './leftovers.ts';
import type { HostsSpec } from './hosts.ts';
import { planHosts, type HostLoad } from './host-capacity.ts';
import { sweepLeftovers as sweepNetnsLeftovers } from './netns.ts';
import { NetnsFaults, describeSide, sideToHosts } from './netns-faults.ts';
import { Placement } from './placement.ts';
import { liveConstructionNote } from './shard-map-build.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface LiveOptions {
  transport: TransportKind;
  /** called about every 250 ms with the scenario time reached */
  onProgress?: (ms: number) => void;
  /** polled every 100 ms; true ends the run early (Ctrl-C), and the result says completed: false */
  shouldStop?: () => boolean;
  /** 'paced' (default): the driver's requests at fleet.requestsPerSec, as in the simulator; 'max': a closed loop of maxInFlight requests */
  load?: 'paced' | 'max';
  maxInFlight?: number;
  /** where other processes import the definition from, for protocols not in src/protocols.ts */
  protocolRef?: ProtocolRef;
  /** false: make no cgroups even where they are writable (the thread limit is then emulated, CPU and memory not enforced) */
  cgroups?: boolean;
  /** milliseconds a leaving node has to send its goodbyes before it exits (default 300) */
  leaveGraceMs?: number;
  /** bound on the warm-up before t0 (default 10 s + 100 ms per process + 30 ms per Worker) */
  warmupTimeoutMs?: number;
  /** called at t0 with every process and cgroup the run created (tests check they are gone after) */
  onStarted?: (info: { pids: number[]; cgroups: string[]; token: string }) => void;
  /** called with the driver once it exists (tests record its backend calls) */
  onDriver?: (driver: FleetDriver) => void;
  /** where node processes run (hosts.ts parseHostsSpec): local fork (default), namespace hosts, or host agents */
  hosts?: HostsSpec;
  /** called once hosts are placed, with the namespace run id (netns only; tests check it is gone after) */
  onHosts?: (info: { kind: 'netns' | 'agents'; netnsRunId: string | null; agentPids: number[] }) => void;
}

/** What the result's live section says about how faults were applied. */
const FAULTS_PROCS =
  'crash = SIGKILL of the node process; pause = SIGSTOP then SIGCONT (timers, sockets and Workers all freeze); ' +
  'remove = protocol.leave() then exit after a grace period; add = boot of a process forked before t0; ';
const FAULTS =
  FAULTS_PROCS +
  'loss and partition = drop filters at the sender in the live transport (a dropped send never reaches a socket; open connections stay open); ' +
  "network latency is loopback's own, the modelled latency is not applied";
/** Replaces the loss and partition sentence when nodes sit on namespace hosts. */
const NETNS_FAULTS =
  'loss and partition = kernel faults between namespace hosts (live.faultLog says how each was applied): loss as tc netem loss on every host-to-host link, ' +
  'or an nftables random drop in the bridge where the kernel has no netem; a partition as nftables drops between two groups of hosts, both ways (TCP connections stall and retransmit, nothing is reset), ' +
  "the driver's side mapped onto whole hosts (nodes on one host cannot be separated); the configured network.lossRate stays a drop filter in the transport; " +
  'nodes reach each other over the run\'s bridge (veth), so latency is the bridge\'s own';
const FRAMING =
  'one WebSocket binary frame per message holding exactly codec.encode(msg); each dialed connection opens with one 5-byte hello ' +
  '(kind u8, node id u32) naming the dialer, not counted; messages and bytes are counted at the sender as codec bytes, as the simulator counts byteLength';

class LiveRunError extends Error {}

/** How the live runtime builds its fleet driver: paced load is the driver's, as in the simulator. */
export function liveDriverOptions(opts: Pick<LiveOptions, 'load'>): DriverOptions {
  return { requests: (opts.load ?? 'paced') === 'max' ? 'backend' : 'driver' };
}

export async function runLive(cfg: RunConfig, opts: LiveOptions): Promise<Result> {
  // a restart forks a node process mid-run and rebuilds it; the live coordinator forks only before t0
  const restart = cfg.scenario.events.find((e) => e.type === 'restart' || e.type === 'rollingRestart');
  if (restart) throw new UsageError(`scenario ${cfg.scenario.name}: ${restart.type} runs in the simulator only for now (the live runtime forks node processes before t0, not during the run)`);
  const plan = planFleet(cfg);
  const spec = opts.hosts;
  if (spec?.kind === 'netns' && spec.hosts < 2 && cfg.scenario.events.some((e) => e.type === 'partition')) {
    throw new UsageError(`--hosts netns:${spec.hosts}: scenario ${cfg.scenario.name} partitions the fleet, and a kernel partition needs at least 2 namespace hosts`);
  }
  // what a coordinator killed together with its reaper left behind (cgroups, bundle dirs)
  sweepLiveLeftovers();
  // and namespace hosts whose run's owner is dead (its watchdog killed too)
  if (opts.hosts?.kind === 'netns') await sweepNetnsLeftovers();
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
  readonly driver: FleetDriver;
  readonly sampler: LiveSampler;
  readonly backend: LiveBackend;
  #bundles: Bundles | null = null;
  #placement: Placement | null = null;
  #hostLoads: HostLoad[] | null = null;
  #kernel: NetnsFaults | null = null;
  /** kernel faults run one after another (heal after partition), each logged when applied */
  #faultChain: Promise<void> = Promise.resolve();
  readonly #faultLog: Array<{ atMs: number; line: string }> = [];
  /** the run's directory per controller (pids, cpu, memory) it could make */
  #cgroups: RunCgroups | null = null;
  /** why a controller's limit is not the kernel's, per controller */
  #cgroupReasons: Partial<Record<Controller, string>> = {};
  #cpuQuota: CpuQuota | null = null;
  /** every node cgroup directory made, also of nodes whose fork then failed */
  readonly #nodeCgroupDirs: string[] = [];
  #reaper: ChildProcess | null = null;
  #loadgen: ChildProcess | null = null;
  #loadgenExited: Promise<void> = Promise.resolve();
  #poll: NodeJS.Timeout | null = null;
  #started = false;
  #stopRequested = false;
  #ended = false;
  #failure: Error | null = null;
  #finish: (() => void) | null = null;
  #fail: ((e: Error) => void) | null = null;
  #startupMs = 0;
  #warmup = { ms: 0, converged: false, viewAccuracy: 0 };
  #wallStart = performance.now();
  #coordPeakRss = process.memoryUsage().rss;
  #endTotals: { msgs: number; bytes: number; dropped: number } | null = null;
  /** every hello on the run's sockets carries it: a local stranger cannot talk to a node */
  readonly #token = newRunToken();

  constructor(cfg: RunConfig, opts: LiveOptions, plan: FleetPlan, uwsBinary: string | null) {
    this.cfg = cfg;
    this.opts = opts;
    this.plan = plan;
    this.uwsBinary = uwsBinary;
    this.driver = new FleetDriver(cfg, liveDriverOptions(opts));
    // the cpu limit hit (the rule in src/sim/host.ts), only where the quota is enforced
    this.sampler = new LiveSampler(this.nodes, {
      periodUs: () => this.#cpuQuota?.periodUs ?? null,
      hit: (n, t) => {
        if (n.live) this.driver.measures.limitHit('cpu', n.id, t);
      },
    });
    const kernelFaults = {
      loss: (rate: number) => this.#kernelFault(async (f, live) => f.apply({ type: 'loss', rate }, live.map(([, h]) => h))),
      partition: (side: readonly number[]) =>
        this.#kernelFault(async (f, live) => {
          const s = sideToHosts(side, live, f.netns.hosts.length);
          const line = await f.netns.partition(s.groups);
          return `${line}; ${describeSide(s, side.length, live.length)}`;
        }),
      heal: () => this.#kernelFault(async (f) => f.netns.heal()),
    };
    const coord = this;
    this.backend = new LiveBackend(this.driver, this.nodes, this.sampler, {
      fail: (e) => this.#failRun(e),
      ended: () => this.#ended || this.#failure !== null,
      toLoadgen: (m) => this.#sendLoadgen(m),
      leaveGraceMs: opts.leaveGraceMs ?? 300,
      get kernelFaults() {
        return coord.#kernel ? kernelFaults : undefined;
      },
    });
    opts.onDriver?.(this.driver);
    this.driver.attach(this.backend);
  }

  requestStop(): void {
    this.#stopRequested = true;
    this.#finish?.();
  }

  /**
   * Applies a kernel fault after the ones before it; the log says when it was asked for (runtime
   * ms) and how it was applied. `live` is [node id, host] for every live node.
   */
  #kernelFault(apply: (f: NetnsFaults, live: Array<[number, number]>) => Promise<string>): void {
    const f = this.#kernel!;
    const atMs = this.backend.now();
    const live = this.nodes.filter((n) => n.live).map((n): [number, number] => [n.id, this.#placement!.hostOf(n.id)]);
    this.#faultChain = this.#faultChain.then(async () => {
      if (this.#ended) return;
      try {
        this.#faultLog.push({ atMs, line: await apply(f, live) });
      } catch (e) {
        this.#failRun(new LiveRunError(`live: kernel fault at ${Math.round(atMs)} ms failed: ${(e as Error).message}`));
      }
    });
  }

  #failRun(e: Error): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#fail?.(e);
  }

  // ---- start-up ---------------------------------------------------------------------------

  async run(): Promise<Result> {
    const { cfg } = this;
    this.#bundles = await buildBundles(cfg.protocol, this.opts.protocolRef);
    markBundleOwner(this.#bundles.dir);
    await this.#startReaper();
    this.#reap({ k: 'dir', path: this.#bundles.dir });
    if (this.#stopping()) return this.#stoppedBeforeT0();
    await this.#placeHosts();
    if (this.#stopping()) return this.#stoppedBeforeT0();
    this.#setupCgroups();
    const t0Fork = performance.now();
    await this.#startLoadgen();
    if (this.#stopping()) return this.#stoppedBeforeT0();
    await this.#forkAll();
    this.#startupMs = performance.now() - t0Fork;
    if (this.#stopping()) return this.#stoppedBeforeT0();

    const addrs: Array<[number, number]> = this.nodes.map((n) => [n.id, n.port]);
    if (this.#placement) {
      // every node is forked before t0, so one list serves every later 'fes' of the load generator too
      const p = this.#placement;
      const hosts = this.nodes.map((n): [number, string] => [n.id, p.hosts[p.hostOf(n.id)].address]);
      for (const n of this.nodes) n.send({ k: 'hosts', entries: hosts });
      this.#sendLoadgen({ k: 'feHosts', entries: hosts });
    }
    for (const n of this.nodes) n.send({ k: 'addrs', entries: addrs });
    this.backend.broadcastFilter();

    // warm-up: boot the initial fleet, wait until every node has every other in view (or a
    // bound), then start the clock
    this.backend.resetClock();
    this.driver.bootInitialFleet();
    const warmStart = performance.now();
    const warmLimit = this.opts.warmupTimeoutMs ?? 10_000 + 100 * this.plan.processes + 30 * this.plan.processes * this.plan.workersPerNode;
    const m = this.driver.measures;
    while (!this.#failure && m.viewAccuracy() < 1 && performance.now() - warmStart < warmLimit) {
      if (this.opts.shouldStop?.() || this.#stopRequested) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (this.#failure) throw this.#failure;
    if (this.#stopping()) return this.#stoppedBeforeT0();
    this.#warmup = { ms: performance.now() - warmStart, converged: m.viewAccuracy() >= 1, viewAccuracy: m.viewAccuracy() };
    await this.backend.freshStats(2000);
    await this.sampler.refresh();
    this.sampler.baseline();
    this.backend.resetClock();
    this.#started = true;
    this.#sendLoadgen({ k: 'start', t0Epoch: this.backend.t0Epoch });
    this.opts.onStarted?.({
      token: this.#token,
      pids: [...this.nodes.map((n) => n.pid), this.#loadgen?.pid ?? -1, this.#reaper?.pid ?? -1].filter((p) => p > 0),
      cgroups: [...this.#nodeCgroupDirs, ...(this.#cgroups ? runCgroupDirs(this.#cgroups) : [])],
    });

    const done = new Promise<void>((resolve, reject) => {
      this.#finish = resolve;
      this.#fail = reject;
    });
    if (this.#failure) throw this.#failure;
    this.driver.start();
    // ended at once, not when #finalize runs: on a busy machine the backend's loop runs late, and
    // callbacks due after the end (a reshard at t > duration) would still run in the same batch,
    // recording events after the end (a negative shard-map staleness once finish() stops the nodes)
    this.backend.at(cfg.durationMs, () => {
      this.#ended = true;
      this.#finish?.();
    });
    // nodes on other hosts: their agents read /proc there, fetched in the background (samples read the latest)
    let refreshing = false;
    let tick = 0;
    let limitTick = 0;
    const refresh = this.#placement?.kind === 'agents';
    this.#poll = setInterval(() => {
      // a process OOM-killed in its memory cgroup that is not the node host (a black-box agent)
      if (limitTick++ % 5 === 0) for (const n of this.nodes) if (n.live && n.cgroups?.memory) this.#noteCgroupCounters(n);
      if (refresh && !refreshing && tick++ % 5 === 0) {
        refreshing = true;
        void this.sampler.refresh().catch(() => {}).finally(() => (refreshing = false));
      }
      this.opts.onProgress?.(Math.min(this.backend.now(), cfg.durationMs));
      this.#coordPeakRss = Math.max(this.#coordPeakRss, process.memoryUsage().rss);
      if (this.opts.shouldStop?.()) this.requestStop();
    }, 100);
    if (this.#stopRequested) this.#finish?.();
    await done;
    return this.#finalize();
  }

  /** Ctrl-C (or SIGTERM) asked to stop. */
  #stopping(): boolean {
    if (this.opts.shouldStop?.()) this.#stopRequested = true;
    return this.#stopRequested;
  }

  /** Stopped during start-up: a result that says so (nothing ran at scenario time), not an error. */
  async #stoppedBeforeT0(): Promise<Result> {
    this.#ended = true;
    this.backend.clearTimers();
    return this.#buildResult(0, true);
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

  /** --hosts netns:K or agents:FILE: the hosts, the bundle shipped to each, the per-host load checked. */
  async #placeHosts(): Promise<void> {
    const spec = this.opts.hosts;
    if (!spec || spec.kind === 'local') return;
    this.#placement = await Placement.open(spec, this.#bundles!);
    const p = this.#placement;
    this.#hostLoads = planHosts(this.cfg, p.hosts);
    if (p.netns) this.#kernel = new NetnsFaults(p.netns);
    if (p.kind === 'agents') this.sampler.readRemotely((ids) => p.sample(ids));
    this.opts.onHosts?.({ kind: p.kind, netnsRunId: p.netns?.runId ?? null, agentPids: p.hosts.map((h) => h.info.pid) });
  }

  #setupCgroups(): void {
    const none = (why: string) => {
      for (const c of CONTROLLERS) this.#cgroupReasons[c] = why;
    };
    if (this.opts.cgroups === false) return none('disabled by the caller (cgroups: false)');
    if (this.#placement?.kind === 'agents') return none('nodes run on other hosts through host agents, which make no cgroups');
    const run = createRunCgroups(`fleetbench-${process.pid}-${Date.now().toString(36)}`, CONTROLLERS);
    this.#cgroups = run;
    this.#cgroupReasons = { ...run.reasons };
    for (const dir of runCgroupDirs(run)) this.#reap({ k: 'cgroup', path: dir });
    if (run.dirs.cpu) this.#cpuQuota = cpuQuota(this.cfg.limits.coresPerNode, cpus().length);
  }

  /** Reads what the kernel counted in a node's cpu and memory cgroups; an OOM kill there is the memory limit hit. */
  #noteCgroupCounters(node: NodeProc): void {
    if (!node.cgroups) return;
    const c = readNodeCgroupCounters(node.cgroups);
    if (c.cpu || c.memory) node.cgroupCounters = c; // once the directories are gone, the last read stands
    if (node.oomKilled || !c.memory || c.memory.oomKills === 0) return;
    node.oomKilled = true;
    if (node.live && !this.#ended) this.driver.measures.limitHit('memory', node.id, this.#started ? this.backend.now() : 0);
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

  async #forkNode(id: number, timeoutMs: number): Promise<void> {
    const p = this.#placement;
    // a host agent elsewhere has its own cgroups (or none): the limits are then emulated or not enforced
    let cgroups: NodeCgroups | null = null;
    if (this.#cgroups && p?.kind !== 'agents') {
      try {
        cgroups = createNodeCgroups(this.#cgroups, id, { pidsMax: this.cfg.limits.threadsPerNode, memoryBytes: this.cfg.limits.memoryBytesPerNode });
      } catch (e) {
        const err = new LiveRunError(`live: node ${id}'s cgroups could not be made: ${(e as Error).message}`);
        this.#failRun(err);
        throw err;
      }
      this.#nodeCgroupDirs.push(...cgroups.dirs);
      for (const d of cgroups.dirs) this.#reap({ k: 'cgroup', path: d });
    }
    const cgroup = cgroups?.pids ?? null;
    const child: NodeChild = p
      ? await p.fork(id).catch((e: Error) => {
          const err = new LiveRunError(`live: node ${id} could not be placed on host ${p.hostOf(id)}: ${e.message}`);
          this.#failRun(err);
          throw err;
        })
      : fork(this.#bundles!.node, [], {
          execArgv: [],
          env: childEnv(),
          // its own process group: a terminal's Ctrl-C goes to the coordinator alone, which stops the
          // run; the node still dies with the coordinator (IPC disconnect) or by the reaper
          detached: true,
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
          serialization: 'advanced',
        });
    const node = new NodeProc(id, child, cgroup, cgroups);
    this.nodes[id] = node;
    // cpu and memory (v1) from the start: the node has not read its init yet, so everything it
    // starts later (a black-box agent) is born inside them
    if (cgroups && child.pid) {
      try {
        for (const d of cgroups.joinAtFork) joinCgroup(d, child.pid);
      } catch (e) {
        this.#failRun(new LiveRunError(`live: node ${id} could not be moved into its cgroups: ${(e as Error).message}`));
      }
    }
    // namespace hosts share this machine's pid namespace: the reaper can kill them as local ones
    const localPid = !p || p.kind === 'netns';
    if (child.pid && localPid) this.#reap({ k: 'pid', pid: child.pid });
    const tail = (d: Buffer | string) => {
      node.stderrTail = (node.stderrTail + d.toString()).slice(-4000);
    };
    if ('stderr' in child) child.stderr?.on('data', tail);
    else child.on('stderr', tail);
    child.on('message', (m: FromNode) => {
      // a black-box node's agent: the reaper kills it too if this process dies
      if (m.k === 'listening' && m.agentPid) {
        node.extraPids.push(m.agentPid);
        this.#reap({ k: 'pid', pid: m.agentPid });
      }
      if (m.k === 'listening' && cgroups) this.#limitListening(node, cgroups, m.agentPid);
      this.backend.fromNode(node, m);
    });
    child.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      // before the directories go: the kernel's counters, and whether it OOM-killed the node
      this.#noteCgroupCounters(node);
      const how = signal ? `signal ${signal}` : `code ${code}`;
      node.markExited(node.oomKilled ? `${how}: OOM-killed by the kernel at its memory cgroup's limit (${this.cfg.limits.memoryBytesPerNode} bytes)` : how);
      if (localPid) this.#reap({ k: 'gone', pid: node.pid });
      for (const d of node.cgroups?.dirs ?? []) removeCgroup(d);
      this.backend.nodeExited(node);
    });
    child.on('error', () => {});
    node.send({
      k: 'init',
      id,
      transport: this.opts.transport,
      uwsBinary: this.uwsBinary,
      workerBundle: p ? p.workerBundleUrl(p.hostOf(id)) : this.#bundles!.workerUrl,
      params: this.cfg.params,
      seed: this.cfg.seed,
      threadsPerNode: this.cfg.limits.threadsPerNode,
      fdsPerNode: this.cfg.limits.fdsPerNode,
      cgroup,
      token: this.#token,
      // samples ask for fresh counters; the periodic push only keeps the coordinator roughly current
      statsEveryMs: 2000,
      backendRttMs: this.cfg.network.backendRttMs,
      ...(p ? { bindHost: p.hosts[p.hostOf(id)].address } : {}),
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

  /**
   * The node listens: its CPU quota starts now (loading Node and the bundle is not the protocol's
   * work, and at a small quota would take seconds), and a black-box agent joins its cpu and memory
   * cgroups (it was born there; this only makes sure).
   */
  #limitListening(node: NodeProc, cgroups: NodeCgroups, agentPid: number | undefined): void {
    try {
      if (cgroups.cpu && this.#cpuQuota) applyCpuQuota(cgroups.cpu, this.#cpuQuota);
      if (agentPid) for (const d of cgroups.joinAtFork) joinCgroup(d, agentPid);
    } catch (e) {
      this.#failRun(new LiveRunError(`live: node ${node.id}'s cpu quota or agent cgroup could not be written: ${(e as Error).message}`));
    }
  }

  async #startLoadgen(): Promise<void> {
    const f = this.cfg.fleet;
    const child = fork(this.#bundles!.loadgen, [], { execArgv: [], env: childEnv(), stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced', detached: true });
    this.#loadgen = child;
    if (child.pid) this.#reap({ k: 'pid', pid: child.pid });
    this.#loadgenExited = new Promise((r) => child.once('exit', () => r()));
    child.on('exit', () => {
      if (child.pid) this.#reap({ k: 'gone', pid: child.pid });
      if (this.#started && !this.#ended) this.#failRun(new LiveRunError('live: the load generator exited during the run'));
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: FromLoadgen) => {
        if (m.k === 'ready') resolve();
        else if (m.k === 'res') {
          if (this.#started) this.backend.results(m.answered, m.failed);
        } else if (m.k === 'fatal') {
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
      mode: this.opts.load === 'max' ? 'max' : 'driven',
      ratePerSec: f.requestsPerSec,
      maxInFlight: this.opts.maxInFlight ?? 64,
      timeoutMs: 1000,
      token: this.#token,
    });
    await ready;
  }

  #sendLoadgen(m: ToLoadgen): void {
    if (this.#loadgen?.connected) this.#loadgen.send(m);
  }

  // ---- end --------------------------------------------------------------------------------

  async #finalize(): Promise<Result> {
    const now = this.backend.now();
    const end = Math.min(now, this.cfg.durationMs);
    const stoppedEarly = this.#stopRequested && now < this.cfg.durationMs - 1;
    this.#ended = true;
    this.backend.clearTimers();
    if (this.#poll) clearInterval(this.#poll);
    await new Promise<void>((done) => this.driver.finish(end, done));
    // totals as of the end: nodes keep sending until they read 'stop', which a busy machine delays
    this.#endTotals = this.sampler.messageTotals();
    // final counters: each live node answers 'stop' with its last stats, then exits
    const live = this.nodes.filter((n) => !n.exited);
    for (const n of live) {
      if (n.live) this.sampler.noteCpu(n, false);
      if (n.paused) n.child.kill('SIGCONT');
      n.send({ k: 'stop' });
    }
    this.#sendLoadgen({ k: 'stop' });
    await Promise.race([Promise.all([...live.map((n) => n.exitedP), this.#loadgenExited]), new Promise((r) => setTimeout(r, 3000).unref())]);
    return this.#buildResult(end, stoppedEarly);
  }

  async cleanup(): Promise<void> {
    this.#ended = true;
    this.backend.clearTimers();
    if (this.#poll) clearInterval(this.#poll);
    for (const n of this.nodes) {
      if (!n || n.exited) continue;
      try {
        n.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (this.#loadgen && this.#loadgen.exitCode === null && this.#loadgen.signalCode === null) this.#loadgen.kill('SIGKILL');
    await Promise.race([Promise.all([...this.nodes.filter(Boolean).map((n) => n.exitedP), this.#loadgenExited]), new Promise((r) => setTimeout(r, 5000).unref())]);
    // the agents kill whatever of theirs is left when their connection closes; namespaces go last
    await this.#faultChain;
    if (this.#placement) await this.#placement.close();
    // a cgroup can be removed once its last task has gone
    const cgroups = [...this.#nodeCgroupDirs];
    if (this.#cgroups) cgroups.push(...runCgroupDirs(this.#cgroups));
    for (const dir of cgroups) {
      for (let i = 0; i < 50 && !removeCgroup(dir); i++) await new Promise((r) => setTimeout(r, 50));
    }
    if (this.#bundles) rmSync(this.#bundles.dir, { recursive: true, force: true });
    const leftovers = this.#placement?.kind === 'agents' ? [] : this.nodes.filter((n) => n && processAlive(n.pid));
    if (this.#reaper) {
      // anything still here is the reaper's to finish; otherwise it can go
      if (leftovers.length === 0) this.#reap({ k: 'done' });
      this.#reaper.disconnect();
    }
  }

  /** A node row with what the kernel counted in its cpu and memory cgroups (read now if it still runs). */
  #withCgroupCounters(row: LiveSection['nodes'][number]): LiveSection['nodes'][number] {
    const n = this.nodes[row.id];
    if (!n?.cgroups || !(n.cgroups.cpu || n.cgroups.memory)) return row;
    if (!n.exited) this.#noteCgroupCounters(n);
    return { ...row, cgroup: n.cgroupCounters ?? { cpu: null, memory: null } };
  }

  #buildResult(end: number, stoppedEarly: boolean): Result {
    const { cfg } = this;
    const per = this.sampler.perNode(end);
    const totals = this.#endTotals ?? this.sampler.messageTotals();
    const throughputPerSec = end > 0 ? this.backend.answered / (end / 1000) : 0;
    const result = this.driver.result('live', end, !stoppedEarly, {
      messages: { total: totals.msgs, dropped: totals.dropped, bytes: totals.bytes },
      memory: { peakBytesPerNode: per.rssPeakBytes, meanBytesPerNode: per.rssMeanBytes },
      threadsPeakPerNode: per.threadsPeak,
      connectionsPeakPerNode: per.socketsPeak,
      cpuUs: per.cpuUs,
      throughputPerSec,
    });
    const run = this.#cgroups?.dirs;
    const enforcement: LimitsEnforcement = {
      threads: run?.pids ? 'cgroup' : 'emulated',
      cpu: run?.cpu ? 'cgroup' : 'none',
      memory: run?.memory ? 'cgroup' : 'none',
      fds: 'emulated',
    };
    const reasons = this.#cgroupReasons;
    result.run.limits = { ...cfg.limits, enforcement };
    // an FE holds each answer backendRttMs (node-host.ts), so request latency holds it as in the simulator
    result.run.network = { ...cfg.network, applied: this.#placement ? `lossRate and backendRttMs only (the ${this.#placement.kind === 'netns' ? "run's bridge" : "hosts' network"} latency is real)` : 'lossRate and backendRttMs only (loopback latency is real)' };
    const live: LiveSection = {
      transport: this.opts.transport,
      enforcement: {
        threads: enforcement.threads,
        reason: run?.pids ? null : (reasons.pids ?? null),
        fds: 'emulated',
        memory: enforcement.memory,
        memoryReason: run?.memory ? null : (reasons.memory ?? null),
        cpu: enforcement.cpu,
        cpuReason: run?.cpu ? null : (reasons.cpu ?? null),
        cpuQuota: this.#cpuQuota,
      },
      faults: this.#kernel ? FAULTS_PROCS + NETNS_FAULTS : this.#placement ? FAULTS.replace("loopback's own", "the hosts' network's own") : FAULTS,
      ...(this.#placement && this.#hostLoads ? { hosts: { kind: this.#placement.kind, perHost: this.#hostLoads } } : {}),
      ...(this.#kernel ? { faultLog: this.#faultLog } : {}),
      framing: FRAMING,
      construction: liveConstructionNote(this.backend.constructions),
      wallMs: performance.now() - this.#wallStart,
      startupMs: this.#startupMs,
      warmup: this.#warmup,
      load: {
        mode: this.opts.load ?? 'paced',
        ratePerSec: cfg.fleet.requestsPerSec,
        maxInFlight: this.opts.maxInFlight ?? 64,
        answered: this.backend.answered,
        failed: this.driver.requests.failed,
        throughputPerSec,
        latencyUs: percentiles(this.backend.latenciesUs),
      },
      perNode: {
        rssPeakBytes: per.rssPeakBytes,
        rssMeanBytes: per.rssMeanBytes,
        threadsPeak: per.threadsPeak,
        fdsPeak: per.fdsPeak,
        socketsPeak: per.socketsPeak,
        cpuUsPerSec: per.cpuUsPerSec,
        baseThreads: per.baseThreads,
        eventLoopDelayP99Ms: per.eventLoopDelayP99Ms,
      },
      messagesPerSec: totals.msgs / Math.max(end / 1000, 1e-9),
      coordinatorPeakRssBytes: this.#coordPeakRss,
      plan: { ...this.plan },
      nodes: this.sampler.nodeRows().map((row) => this.#withCgroupCounters(row)),
      timeseries: this.sampler.timeseries,
    };
    result.live = live;
    return result;
  }
}
