/**
 * One FE node of a black-box protocol as a real OS process (the live runtime's node entry for
 * `kind: 'black-box'` definitions; bundle.ts builds it instead of runNodeHost). The node
 * supervises its own membership agent (a real `serf agent`, through the adapter seam in
 * adapter.ts) and speaks the same IPC as src/live/node-host.ts:
 *
 * - init: start a statsd receiver and the agent (loopback, ports allocated here, LAN profile),
 *   then enter the node's pids cgroup — after the spawn, so the cgroup's thread limit binds this
 *   process only: the agent's Go threads are counted in the node's figures, not against its limit
 *   (its 6–7 threads plus a node host's 11 would not fit kinesis-2020-mini's 16). Then listen for
 *   the load generator and write the agent's gossip address to `<bundle>/blackbox/<id>.addr`
 *   (files are the interface; the coordinator's 'addrs' carries transport ports only), and say
 *   'listening' with the agent's pid (paused, sampled and reaped with the node).
 * - start: the Bootstrap's listed members are joined through their agents (the lowest listed id
 *   and joinFanout − 1 more at random); a node with nobody to join yet retries on every
 *   membership update. Views: the agent's member events (param view=events, what an application
 *   reads, after the agent's 1–3 s coalescing) or memberlist's decisions from its log
 *   (view=decisions) become memberUp/memberDown.
 * - originate: the shard map entry changes here, then travels as a Serf user event (12 bytes:
 *   shard, cluster, version; not coalesced); every agent delivers it to its node, which applies
 *   it when the version is newer.
 * - stats: messages and bytes are memberlist's own (statsd: UDP packets + TCP stream messages
 *   sent, their bytes), not codec bytes.
 * - Hygiene: the agent dies with this process — SIGKILL from an exit handler, and the kernel's
 *   parent-death signal (setpriv) when this process is SIGKILLed; the coordinator's reaper also
 *   lists the agent's pid; its temp dir lives in the run's bundle dir, which the run removes.
 */
import { BackendDelay } from '../live/backend-delay.ts';
import { mkdirSync, readFileSync, renameSync, writeFileSync, promises as fsp, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Bootstrap, ProtocolDefinition } from '../contract/protocol.ts';
import { UNROUTABLE } from '../contract/protocol.ts';
import { Rng } from '../harness/rng.ts';
import { ReportBatch, enterPidsCgroup, fatal, nodeStream, routeRequestFrame, sendToCoordinator as send } from '../live/host-common.ts';
import { LiveConstruction } from '../live/shard-map-build.ts';
import type { NodeInit, NodeStats, Report, ToNode } from '../live/ipc.ts';
import { R_DOWN, R_SHARD, R_UP } from '../live/ipc.ts';
import { HELLO_LOADGEN, fallbackRunToken, parseHello, startServer, tokenBytes, type Conn, type ConnHandler, type TransportServer } from '../live/transport.ts';
import type { AgentWatcher, BlackBoxAgent } from './adapter.ts';
import { blackBoxAdapter } from './adapters.ts';
import { StatsdReceiver } from './statsd.ts';

/** The user event that carries one shard-map entry. */
export const SHARD_EVENT = 'fb-shard';
const HELLO_TIMEOUT_MS = 10_000;
const ELD_RESOLUTION_MS = 20;
/** a node with no reachable listed member asks again this often (and on every membership update) */
const JOIN_RETRY_MS = 1000;

export const memberName = (id: number) => `fe-${id}`;
const memberId = (name: string): number => {
  const m = /^fe-(\d+)$/.exec(name);
  return m ? Number(m[1]) : -1;
};

/** 12 bytes, little-endian: shard u32, cluster i32, version u32. */
export function encodeShardEvent(shard: number, cluster: number, version: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, shard, true);
  v.setInt32(4, cluster, true);
  v.setUint32(8, version, true);
  return b;
}

export function decodeShardEvent(b: Uint8Array): { shard: number; cluster: number; version: number } | null {
  if (b.length !== 12) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { shard: v.getUint32(0, true), cluster: v.getInt32(4, true), version: v.getUint32(8, true) };
}

/** Where node `id`'s agent address is published for the others (inside the run's bundle dir). */
export function addrFile(bundleDir: string, id: number): string {
  return join(bundleDir, 'blackbox', `${id}.addr`);
}


function threadsOf(pid: number | 'self'): number {
  try {
    const m = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Process entry: called by the bundled node entry with a black-box definition. */
export function runBlackBoxHost(def: ProtocolDefinition<any>): void {
  if (!process.send) throw new Error('black-box host: must be started by the live coordinator (no IPC channel)');
  process.on('disconnect', () => process.exit(0));
  process.on('SIGINT', () => {});
  process.on('uncaughtException', (e) => fatal(e));
  process.on('unhandledRejection', (e) => fatal(e));
  let host: BlackBoxHost | null = null;
  const early: ToNode[] = [];
  process.on('message', (m: ToNode) => {
    if (m.k === 'init') {
      BlackBoxHost.create(def, m).then((h) => {
        host = h;
        for (const e of early.splice(0)) h.handle(e);
      }, fatal);
    } else if (host) host.handle(m);
    else early.push(m);
  });
}

/** The coordinator's reaper lists the agent (its pid rides on 'listening'); the bundle dir holds its files. */
const NO_WATCH: AgentWatcher = { watch: () => {}, gone: () => {}, removeOnDeath: () => {} };

class BlackBoxHost {
  readonly self: number;
  readonly #agent: BlackBoxAgent;
  readonly #statsd: StatsdReceiver;
  readonly #bundleDir: string;
  readonly #token: Uint8Array;
  readonly #rng: Rng;
  readonly #view: 'events' | 'decisions';
  readonly #fanout: number;
  #server!: TransportServer;
  #started = false;
  readonly #construction = new LiveConstruction();
  #stopping = false;
  /** the modelled back-end round trip each answer is held for, as a fleetbench node's (node-host.ts) */
  readonly #backend: BackendDelay;
  #joined = false;
  #joining = false;
  #joinTimer: NodeJS.Timeout | null = null;
  #membership: readonly number[] = [];
  /** who the agent holds alive (ids, self excluded), whether or not reported yet */
  readonly #members = new Set<number>();
  #shardCluster: Int32Array = new Int32Array(0);
  #shardVersion: Uint32Array = new Uint32Array(0);
  readonly #reports = new ReportBatch();
  #sockets = 0;
  #socketsPeak = 0;
  #requestsAnswered = 0;
  #badFrames = 0;
  #eldWindow: IntervalHistogram | null = null;
  readonly #eldWindows: number[] = [];

  static async create(def: ProtocolDefinition<any>, init: NodeInit): Promise<BlackBoxHost> {
    const adapter = blackBoxAdapter(def.name);
    const bundleDir = dirname(fileURLToPath(init.workerBundle));
    mkdirSync(join(bundleDir, 'blackbox'), { recursive: true });
    const statsd = await StatsdReceiver.start();
    // spawned before this process enters its pids cgroup: the limit binds the node host only
    const agent = await adapter.start({
      name: memberName(init.id),
      statsdAddr: statsd.address,
      tags: { fe: String(init.id) },
      reaper: NO_WATCH,
      dir: join(bundleDir, 'blackbox'),
      dieWithParent: true,
    });
    process.on('exit', () => {
      try {
        process.kill(agent.pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    });
    const host = new BlackBoxHost(def, init, agent, statsd, bundleDir);
    await agent.observe({
      decided: (kind, name) => {
        if (host.#view === 'decisions') host.#belief(kind, name);
      },
      delivered: (kind, name) => {
        if (host.#view === 'events') host.#belief(kind, name);
      },
    });
    if (!agent.receive) throw new Error(`black box ${adapter.name}: the adapter cannot deliver broadcasts (receive), which shard-map updates need`);
    await agent.receive((name, payload) => host.#received(name, payload));
    // libuv's threadpool must exist before the pids cgroup caps this process (node-host.ts)
    await fsp.readFile('/proc/self/status');
    if (init.cgroup) {
      enterPidsCgroup(init.cgroup, init.id);
    }
    host.#server = await startServer(init.transport, (c) => host.#accept(c), init.uwsBinary ?? undefined, init.bindHost);
    const gossipPort = Number(agent.joinAddr.slice(agent.joinAddr.lastIndexOf(':') + 1));
    const file = addrFile(bundleDir, init.id);
    writeFileSync(`${file}.tmp`, `${init.bindHost ?? '127.0.0.1'}:${gossipPort}`);
    renameSync(`${file}.tmp`, file);
    send({ k: 'listening', port: host.#server.port, baseThreads: threadsOf('self') + threadsOf(agent.pid), cgroup: init.cgroup, agentPid: agent.pid, gossipPort });
    setInterval(() => host.#sendStats(), init.statsEveryMs).unref();
    return host;
  }

  private constructor(def: ProtocolDefinition<any>, init: NodeInit, agent: BlackBoxAgent, statsd: StatsdReceiver, bundleDir: string) {
    this.#backend = new BackendDelay(init.backendRttMs ?? 0);
    this.self = init.id;
    this.#agent = agent;
    this.#statsd = statsd;
    this.#bundleDir = bundleDir;
    this.#token = tokenBytes(init.token ?? fallbackRunToken(init.seed));
    this.#rng = new Rng(init.seed, nodeStream(init.id));
    this.#view = (init.params.view ?? def.params.view?.default ?? 'events') === 'decisions' ? 'decisions' : 'events';
    this.#fanout = Number(init.params.joinFanout ?? def.params.joinFanout?.default ?? 3);
  }

  handle(m: ToNode): void {
    switch (m.k) {
      case 'start':
        this.#start(m.boot, m.membership);
        return;
      case 'membership':
        this.#membership = m.list;
        this.#tryJoin();
        return;
      case 'originate':
        this.#originate(m.shard, m.cluster, m.version);
        return;
      case 'leave':
        if (this.#stopping) return;
        this.#stopping = true;
        // the agent's graceful leave gossips its intent; exit when it is done, or after the grace
        void this.#agent.leave?.().then(() => this.#exit(), () => this.#exit());
        setTimeout(() => this.#exit(), Math.max(m.graceMs, 2000)).unref();
        return;
      case 'statsNow':
        this.#sendStats();
        return;
      case 'page':
        // the FE process builds its map as a model FE does (src/live/shard-map-build.ts)
        if (this.#construction.page(m)) send({ k: 'constructed' });
        return;
      case 'stop':
        this.#stopping = true;
        this.#exit();
        return;
      // the agents talk among themselves: transport addresses, peer hosts and the sender-side
      // drop filters of the model protocols do not apply (loss and partition are refused up front)
      case 'addrs':
      case 'hosts':
      case 'filter':
      case 'init':
        return;
    }
  }

  #start(boot: Bootstrap, membership: number[]): void {
    this.#membership = boot.members.length ? boot.members : membership;
    this.#shardCluster = boot.shardCluster;
    this.#shardVersion = boot.shardVersion;
    this.#eldWindow = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    this.#eldWindow.enable();
    this.#started = true;
    for (const id of this.#members) this.#rep([R_UP, id]);
    this.#tryJoin();
  }

  /** Joins listed members' agents until one join succeeds. */
  #tryJoin(): void {
    if (!this.#started || this.#joined || this.#joining || this.#stopping) return;
    const listed = this.#membership.filter((id) => id !== this.self && existsSync(addrFile(this.#bundleDir, id)));
    if (listed.length === 0) {
      // nobody listed yet (the first node, or a lagging membership service): wait for an update
      this.#joined = this.#membership.every((id) => id === this.self) && this.#membership.length > 0;
      return;
    }
    const sorted = [...listed].sort((a, b) => a - b);
    const pick = [sorted[0]];
    const rest = sorted.slice(1);
    while (pick.length < this.#fanout && rest.length > 0) pick.push(rest.splice(Math.floor(this.#rng.next() * rest.length), 1)[0]);
    const addrs = pick.map((id) => readFileSync(addrFile(this.#bundleDir, id), 'utf8').trim());
    this.#joining = true;
    this.#agent.join(addrs).then(
      () => {
        this.#joining = false;
        this.#joined = true;
      },
      () => {
        // every listed agent refused (crashed members still listed): ask again shortly
        this.#joining = false;
        if (this.#joinTimer) clearTimeout(this.#joinTimer);
        this.#joinTimer = setTimeout(() => this.#tryJoin(), JOIN_RETRY_MS);
        this.#joinTimer.unref();
      },
    );
  }

  #belief(kind: 'up' | 'down', name: string): void {
    const id = memberId(name);
    if (id < 0 || id === this.self) return;
    if (kind === 'up') {
      if (this.#members.has(id)) return;
      this.#members.add(id);
      if (this.#started && !this.#stopping) this.#rep([R_UP, id]);
    } else {
      if (!this.#members.delete(id)) return;
      if (this.#started && !this.#stopping) this.#rep([R_DOWN, id]);
    }
  }

  #originate(shard: number, cluster: number, version: number): void {
    if (!this.#started || this.#stopping) return;
    this.#apply(shard, cluster, version);
    void this.#agent.broadcast(SHARD_EVENT, encodeShardEvent(shard, cluster, version)).catch((e: Error) => {
      if (!this.#stopping) fatal(new Error(`node ${this.self}: the agent refused a user event: ${e.message}`));
    });
  }

  #received(name: string, payload: Uint8Array): void {
    if (name !== SHARD_EVENT) return;
    const e = decodeShardEvent(payload);
    if (!e) {
      this.#badFrames++;
      return;
    }
    if (!this.#started || this.#stopping) return;
    this.#apply(e.shard, e.cluster, e.version);
  }

  #apply(shard: number, cluster: number, version: number): void {
    if (shard >= this.#shardVersion.length || version <= this.#shardVersion[shard]) return;
    this.#shardCluster[shard] = cluster;
    this.#shardVersion[shard] = version;
    this.#rep([R_SHARD, shard, version]);
  }

  #rep(r: Report): void {
    this.#reports.push(r);
  }

  #flush(): void {
    this.#reports.flush();
  }

  #exit(): void {
    this.#backend.clear();
    if (this.#joinTimer) clearTimeout(this.#joinTimer);
    this.#flush();
    this.#sendStats(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  }

  #stats(): NodeStats {
    const t = this.#statsd.traffic();
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS) : 0);
    const w = this.#eldWindow;
    const eldP99 = w && w.count > 0 ? ms(w.percentile(99)) : 0;
    if (w && w.count > 0) this.#eldWindows.push(eldP99);
    const sorted = [...this.#eldWindows].sort((a, b) => a - b);
    const s: NodeStats = {
      msgs: t.messagesSent,
      bytes: t.bytesSent,
      dropped: 0,
      received: t.udpPacketsReceived,
      sockets: this.#sockets,
      socketsPeak: this.#socketsPeak,
      workers: 0,
      workersPeak: 0,
      spawnRefused: 0,
      eldP99Ms: eldP99,
      eldMaxMs: w && w.count > 0 ? ms(w.max) : 0,
      eldRunP99Ms: sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] : 0,
      requestsAnswered: this.#requestsAnswered,
      badFrames: this.#badFrames,
    };
    w?.reset();
    return s;
  }

  #sendStats(cb?: () => void): void {
    send({ k: 'stats', ...this.#stats() }, cb);
  }

  /** Only the load generator talks to a black-box node's transport: peers gossip through agents. */
  #accept(conn: Conn): ConnHandler {
    let loadgen = false;
    let closed = false;
    const helloTimer = setTimeout(() => {
      if (!loadgen && !closed) {
        this.#badFrames++;
        conn.close();
      }
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();
    return {
      message: (b) => {
        if (closed) return;
        if (loadgen) return this.#answer(conn, b);
        const h = parseHello(b, this.#token);
        clearTimeout(helloTimer);
        if (!h || h.kind !== HELLO_LOADGEN) {
          this.#badFrames++;
          closed = true;
          conn.close();
          return;
        }
        loadgen = true;
        this.#sockets++;
        this.#socketsPeak = Math.max(this.#socketsPeak, this.#sockets);
      },
      close: () => {
        closed = true;
        clearTimeout(helloTimer);
        if (loadgen) this.#sockets--;
      },
    };
  }

  /** Load-generator requests: (id u32, shard u32)… → (id u32, cluster i32)…, from this node's map. */
  #answer(conn: Conn, b: Uint8Array): void {
    if (!this.#started || this.#stopping) return;
    const sc = this.#shardCluster;
    const routed = routeRequestFrame(b, (shard) => (shard < sc.length ? sc[shard] : UNROUTABLE));
    if (!routed) {
      this.#badFrames++;
      return;
    }
    this.#backend.after(() => {
      if (!conn.isOpen) return;
      this.#requestsAnswered += routed.n;
      conn.send(routed.out);
    });
  }

}
