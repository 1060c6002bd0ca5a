/**
 * One FE node as a real OS process: the protocol's main loop on this process's event loop, a
 * WebSocket server (ws or uWS) for inbound connections, ws client connections for outbound
 * ones, real worker_threads Workers for spawnThread, and IPC to the coordinator.
 *
 * How the contract maps onto sockets:
 * - connect(peer) dials a connection from this actor to the peer; frames sent on it go out in
 *   order. The peer's server receives them and, following the simulator's receiver rule, hands
 *   them to the actor on that node which holds a connection to us (one of its Workers), else to
 *   its main loop. So each direction of a pair has its own TCP connection: a node in a full mesh
 *   holds N−1 dialed and N−1 accepted connections (the simulator counts one shared per pair).
 * - send(to) from an actor holding a connection to `to` uses it; otherwise it is datagram-like:
 *   an already-open connection between the two nodes (either direction), else a pooled dial.
 * - Loss and partitions are drop filters at the sender (host-common.ts).
 * - The fd limit is counted per process over every WebSocket (inbound and outbound, main loop
 *   and Workers) against limits.fdsPerNode: emulated, since the kernel's limit is `ulimit -n`.
 * - The thread limit is the kernel's when the coordinator gives this node a pids cgroup
 *   (`new Worker()` then fails with EAGAIN); otherwise it is emulated from the thread count
 *   read at start plus one per live Worker.
 * - Reports are batched per event-loop turn and timestamped by the coordinator on arrival.
 * - Node ports accept anyone on the machine. A connection must open with a hello carrying the
 *   run's token; a frame that is not one, a frame that does not decode, a request frame of the
 *   wrong shape or size is counted (`badFrames`) and dropped, never fatal: a stray or hostile
 *   local process cannot end a run.
 */
import { readFileSync, promises as fsp } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type {
  Bootstrap,
  Codec,
  ConnectResult,
  NodeContext,
  NodeProtocol,
  ProtocolDefinition,
  Reporter,
  SpawnResult,
  ThreadEntryRef,
  ThreadHandle,
  TimerId,
} from '../contract/protocol.ts';
import { Rng } from '../harness/rng.ts';
import { BackendDelay } from './backend-delay.ts';
import { C_BAD, C_BYTES, C_DROPPED, C_MSGS, C_RECEIVED, C_SOCKETS, COUNTER_SLOTS, DropFilter, ReportBatch, SocketBudget, fatal, enterPidsCgroup, filterStream, memoEncoder, nodeStream, routeRequestFrame, runClock, sendToCoordinator as send } from './host-common.ts';
import type { FromWorker, NodeInit, NodeStats, Report, ToNode, ToWorker, WorkerInit } from './ipc.ts';
import { R_COUNT, R_DOWN, R_LIMIT, R_ROUTE, R_SHARD, R_UP } from './ipc.ts';
import { LiveConstruction } from './shard-map-build.ts';
import { HELLO_LOADGEN, HELLO_PEER, Link, fallbackRunToken, helloFrame, parseHello, startServer, tokenBytes, type Conn, type ConnHandler, type TransportServer } from './transport.ts';

/** An accepted connection that has not said hello (with the run's token) by then is closed. */
const HELLO_TIMEOUT_MS = 10_000;

/** event-loop delay sampling period; measured here, Node 20.20 reports ~resolution + delay. One
 *  histogram only: at 100 processes on 2 cores, each extra 10 ms timer per process cost ~0.2 core. */
const ELD_RESOLUTION_MS = 20;


export function threadsNow(): number {
  const m = /^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Process entry: called by the bundled node entry with the protocol definition. */
export function runNodeHost(def: ProtocolDefinition<any>): void {
  if (!process.send) throw new Error('node host: must be started by the live coordinator (no IPC channel)');
  // the coordinator owns the run: its death ends ours; Ctrl-C is its to handle, not ours
  process.on('disconnect', () => process.exit(0));
  process.on('SIGINT', () => {});
  process.on('uncaughtException', (e) => fatal(e));
  process.on('unhandledRejection', (e) => fatal(e));
  let host: NodeHost | null = null;
  const early: ToNode[] = [];
  process.on('message', (m: ToNode) => {
    if (m.k === 'init') {
      NodeHost.create(def.specialize?.(m.params) ?? def, m).then((h) => {
        host = h;
        for (const e of early.splice(0)) h.handle(e);
      }, fatal);
    } else if (host) host.handle(m);
    else early.push(m);
  });
}

interface OutLink {
  link: Link;
  held: boolean;
}

interface WorkerRec {
  id: number;
  worker: Worker;
  handle: ThreadHandle;
  held: Set<number>;
  ready: boolean;
  alive: boolean;
  counters: Float64Array;
}

class NodeHost implements NodeContext<any>, Reporter {
  readonly self: number;
  readonly #def: ProtocolDefinition<any>;
  readonly #codec: Codec<any>;
  readonly #init: NodeInit;
  readonly #encode: (m: unknown) => Uint8Array;
  readonly #rng: Rng;
  readonly #filter: DropFilter;
  readonly #socketsSab = new SharedArrayBuffer(8);
  readonly #budget = new SocketBudget(this.#socketsSab);
  readonly #threadKeys: Set<string>;
  readonly #token: Uint8Array;
  #server!: TransportServer;
  #baseThreads = 0;
  readonly #addrs = new Map<number, number>();
  /** peers on other hosts: id → address (absent: loopback) */
  readonly #hosts = new Map<number, string>();
  readonly #out = new Map<number, OutLink>();
  readonly #inbound = new Map<number, Set<Conn>>();
  readonly #receivers = new Map<number, WorkerRec>();
  readonly #workers = new Map<number, WorkerRec>();
  readonly #retired: Float64Array[] = [];
  #workerSeq = 0;
  #workersPeak = 0;
  #pendingWorkers = 0;
  #held: Array<[number, Uint8Array]> = [];
  readonly #timers = new Map<number, NodeJS.Timeout>();
  #timerSeq = 0;
  #protocol: NodeProtocol<any> | null = null;
  /** a cold start's shard map, built from the store's pages before the protocol starts */
  readonly #construction = new LiveConstruction();
  #membership: readonly number[] = [];
  #now: () => number = () => 0;
  #t0Epoch = 0;
  readonly #reports = new ReportBatch();
  #stopping = false;
  // counters of the main loop (Workers keep theirs in shared memory)
  #msgs = 0;
  #bytes = 0;
  #dropped = 0;
  #received = 0;
  #spawnRefused = 0;
  #requestsAnswered = 0;
  #badFrames = 0;
  /** answers wait here for the modelled back-end round trip */
  #backend!: BackendDelay;
  #eldWindow: IntervalHistogram | null = null;
  /** each stats window's p99: the run's figure is their nearest-rank p99 */
  readonly #eldWindows: number[] = [];

  static async create(def: ProtocolDefinition<any>, init: NodeInit): Promise<NodeHost> {
    // libuv starts its threadpool on the first async fs call; it must exist before the pids
    // cgroup caps this process's tasks, or the process aborts when it first needs it
    await fsp.readFile('/proc/self/status');
    if (init.cgroup) {
      enterPidsCgroup(init.cgroup, init.id);
    }
    const host = new NodeHost(def, init);
    host.#server = await startServer(init.transport, (c) => host.#accept(c), init.uwsBinary ?? undefined, init.bindHost);
    host.#baseThreads = threadsNow();
    send({ k: 'listening', port: host.#server.port, baseThreads: host.#baseThreads, cgroup: init.cgroup });
    setInterval(() => host.#sendStats(), init.statsEveryMs).unref();
    return host;
  }

  private constructor(def: ProtocolDefinition<any>, init: NodeInit) {
    this.self = init.id;
    this.#def = def;
    this.#codec = def.codec;
    this.#init = init;
    this.#encode = memoEncoder((m) => def.codec.encode(m));
    this.#rng = new Rng(init.seed, nodeStream(init.id));
    this.#filter = new DropFilter(init.id, new Rng(init.seed, filterStream(init.id, 0)));
    this.#threadKeys = new Set((def.threadEntries ?? []).map((e) => `${e.module}#${e.export}`));
    this.#token = tokenBytes(init.token ?? fallbackRunToken(init.seed));
    this.#backend = new BackendDelay(init.backendRttMs ?? 0);
  }

  // ---- coordinator ------------------------------------------------------------------------

  handle(m: ToNode): void {
    switch (m.k) {
      case 'addrs':
        for (const [id, port] of m.entries) {
          if (this.#addrs.get(id) === port) continue;
          this.#addrs.set(id, port);
          for (const w of this.#workers.values()) w.worker.postMessage({ k: 'addr', id, port } satisfies ToWorker);
        }
        return;
      case 'hosts':
        for (const [id, h] of m.entries) {
          if (this.#hosts.get(id) === h) continue;
          this.#hosts.set(id, h);
          for (const w of this.#workers.values()) w.worker.postMessage({ k: 'host', id, host: h } satisfies ToWorker);
        }
        return;
      case 'start':
        this.#start(m.boot, m.t0Epoch, m.membership);
        return;
      case 'membership':
        this.#membership = m.list;
        return;
      case 'page':
        if (this.#construction.page(m)) send({ k: 'constructed' });
        return;
      case 'originate':
        this.#protocol?.originate(m.shard, m.cluster, m.version);
        this.#flush();
        return;
      case 'filter':
        this.#filter.set(m.loss, m.groups);
        for (const w of this.#workers.values()) w.worker.postMessage({ k: 'filter', loss: m.loss, groups: m.groups } satisfies ToWorker);
        return;
      case 'leave':
        if (this.#stopping) return;
        this.#protocol?.leave();
        this.#flush();
        this.#stopping = true;
        // let the goodbyes (and the Workers' posts that carry them) reach the wire
        setTimeout(() => this.#exit(), m.graceMs);
        return;
      case 'statsNow':
        this.#sendStats();
        return;
      case 'stop':
        this.#stopping = true;
        this.#exit();
        return;
      case 'init':
        return;
    }
  }

  #start(boot: Bootstrap, t0Epoch: number, membership: number[]): void {
    this.#t0Epoch = t0Epoch;
    this.#now = runClock(t0Epoch);
    this.#membership = membership;
    this.#eldWindow = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    this.#eldWindow.enable();
    this.#protocol = this.#def.create(this, this.#init.params);
    this.#protocol.start(boot);
    this.#flush();
  }

  #exit(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#backend.clear();
    this.#sendStats(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  }

  #stats(): NodeStats {
    let msgs = this.#msgs, bytes = this.#bytes, dropped = this.#dropped, received = this.#received, badFrames = this.#badFrames;
    const add = (c: Float64Array) => {
      msgs += c[C_MSGS];
      bytes += c[C_BYTES];
      dropped += c[C_DROPPED];
      received += c[C_RECEIVED];
      badFrames += c[C_BAD];
    };
    for (const w of this.#workers.values()) add(w.counters);
    for (const c of this.#retired) add(c);
    // Node 20's histogram records each timer interval, resolution included: subtract it
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS) : 0);
    const eldP99 = this.#eldWindow && this.#eldWindow.count > 0 ? ms(this.#eldWindow.percentile(99)) : 0;
    if (this.#eldWindow && this.#eldWindow.count > 0) this.#eldWindows.push(eldP99);
    const sorted = [...this.#eldWindows].sort((a, b) => a - b);
    const s: NodeStats = {
      msgs,
      bytes,
      dropped,
      received,
      sockets: this.#budget.open,
      socketsPeak: this.#budget.peak,
      workers: this.#workers.size,
      workersPeak: this.#workersPeak,
      spawnRefused: this.#spawnRefused,
      eldP99Ms: eldP99,
      eldMaxMs: this.#eldWindow && this.#eldWindow.count > 0 ? ms(this.#eldWindow.max) : 0,
      eldRunP99Ms: sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] : 0,
      requestsAnswered: this.#requestsAnswered,
      badFrames,
    };
    this.#eldWindow?.reset();
    return s;
  }

  #sendStats(cb?: () => void): void {
    send({ k: 'stats', ...this.#stats() }, cb);
  }

  // ---- reports ----------------------------------------------------------------------------

  #rep(r: Report): void {
    this.#reports.push(r);
  }

  #flush(): void {
    this.#reports.flush();
  }

  get report(): Reporter {
    return this;
  }
  memberUp(member: number): void {
    this.#rep([R_UP, member]);
  }
  memberDown(member: number): void {
    this.#rep([R_DOWN, member]);
  }
  shardUpdated(shard: number, version: number): void {
    this.#rep([R_SHARD, shard, version]);
  }
  count(name: string, delta = 1): void {
    this.#rep([R_COUNT, name, delta]);
  }
  routable(usable: boolean): void {
    this.#rep([R_ROUTE, usable]);
  }

  // ---- NodeContext ------------------------------------------------------------------------

  now(): number {
    return this.#now();
  }
  random(): number {
    return this.#rng.next();
  }
  membership(): readonly number[] {
    return this.#membership;
  }

  setTimer(delayMs: number, tag: number): TimerId {
    if (!(delayMs >= 0)) throw new RangeError(`setTimer: delay must be ≥ 0 ms, got ${delayMs}`);
    const id = ++this.#timerSeq;
    this.#timers.set(
      id,
      setTimeout(() => {
        this.#timers.delete(id);
        if (this.#stopping || !this.#protocol) return;
        this.#protocol.onTimer(tag);
      }, delayMs),
    );
    return id;
  }

  cancelTimer(id: TimerId): void {
    const t = this.#timers.get(id);
    if (t) {
      clearTimeout(t);
      this.#timers.delete(id);
    }
  }

  send(to: number, msg: unknown): void {
    const bytes = this.#encode(msg);
    this.#msgs++;
    this.#bytes += bytes.length;
    if (!this.#filter.pass(to)) {
      this.#dropped++;
      return;
    }
    if (!this.#sendBytes(to, bytes)) this.#dropped++;
  }

  /** Main loop's path to a node: its own dialed connection, any open one, else a pooled dial. */
  #sendBytes(to: number, bytes: Uint8Array): boolean {
    const o = this.#out.get(to);
    if (o && o.link.alive) return o.link.send(bytes);
    const inb = this.#inbound.get(to);
    if (inb) for (const c of inb) if (c.isOpen) return c.send(bytes);
    if (to === this.self || !this.#addrs.has(to)) return false;
    if (!this.#budget.tryOpen(this.#init.fdsPerNode)) {
      this.#rep([R_LIMIT, 'fds']);
      return false;
    }
    const link = this.#dial(to);
    this.#out.set(to, { link, held: false });
    return link.send(bytes);
  }

  #dial(peer: number): Link {
    const link: Link = new Link(this.#addrs.get(peer)!, helloFrame(HELLO_PEER, this.self, this.#token), {
      message: (b) => this.#deliver(peer, b),
      close: () => {
        this.#budget.closed();
      },
    }, this.#hosts.get(peer));
    return link;
  }

  connect(peer: number): ConnectResult {
    if (peer === this.self || !this.#addrs.has(peer) || !this.#filter.sameSide(peer)) return 'refused';
    const o = this.#out.get(peer);
    if (o && o.link.alive) {
      o.held = true;
      return 'ok';
    }
    if (!this.#budget.tryOpen(this.#init.fdsPerNode)) {
      this.#rep([R_LIMIT, 'fds']);
      return 'refused';
    }
    this.#out.set(peer, { link: this.#dial(peer), held: true });
    return 'ok';
  }

  disconnect(peer: number): void {
    const o = this.#out.get(peer);
    if (!o || !o.held) return;
    this.#out.delete(peer);
    o.link.close();
  }

  // ---- inbound ----------------------------------------------------------------------------

  #accept(conn: Conn): ConnHandler {
    // a peer's connection counts against the fd budget once it says who it is (load-generator
    // connections are the harness's, not the protocol's)
    let kind = 0;
    let peer = -1;
    let closed = false;
    const helloTimer = setTimeout(() => {
      if (kind === 0 && !closed) {
        this.#badFrames++;
        conn.close();
      }
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();
    return {
      message: (b) => {
        if (closed) return;
        if (kind === HELLO_PEER) return this.#deliver(peer, b);
        if (kind === HELLO_LOADGEN) return this.#answer(conn, b);
        const h = parseHello(b, this.#token);
        if (!h || (h.kind !== HELLO_PEER && h.kind !== HELLO_LOADGEN) || (h.kind === HELLO_PEER && h.id === this.self)) {
          // not one of this run's processes: count it, hang up, never let it reach the protocol
          this.#badFrames++;
          closed = true;
          clearTimeout(helloTimer);
          conn.close();
          return;
        }
        clearTimeout(helloTimer);
        kind = h.kind;
        peer = h.id;
        if (kind === HELLO_PEER) {
          this.#budget.opened();
          let set = this.#inbound.get(peer);
          if (!set) this.#inbound.set(peer, (set = new Set()));
          set.add(conn);
        }
      },
      close: () => {
        closed = true;
        clearTimeout(helloTimer);
        if (kind === HELLO_PEER) {
          this.#budget.closed();
          const set = this.#inbound.get(peer);
          set?.delete(conn);
          if (set?.size === 0) this.#inbound.delete(peer);
        }
      },
    };
  }

  /** The receiver rule: the Worker holding a connection to `from`, else the main loop. */
  #deliver(from: number, bytes: Uint8Array): void {
    if (this.#stopping || !this.#protocol) return;
    const w = this.#receivers.get(from);
    if (w) {
      this.#received++;
      const copy = new Uint8Array(bytes);
      w.worker.postMessage({ k: 'net', from, bytes: copy } satisfies ToWorker, [copy.buffer]);
      return;
    }
    if (this.#pendingWorkers > 0) {
      // a Worker still loading may be about to claim this peer: hold the frame until it says
      this.#held.push([from, new Uint8Array(bytes)]);
      return;
    }
    let msg: unknown;
    try {
      msg = this.#codec.decode(bytes);
    } catch {
      // a frame that does not decode is dropped and counted: a peer's bug or a stranger's bytes
      this.#badFrames++;
      return;
    }
    this.#received++;
    this.#protocol.onMessage(from, msg);
  }

  /**
   * Load-generator requests: (id u32, shard u32)… → (id u32, cluster i32)…, routed by lookup() on
   * arrival and answered after the modelled back-end round trip (network.backendRttMs), as in the
   * simulator: the FE's CPU, then the back end's reply.
   */
  #answer(conn: Conn, b: Uint8Array): void {
    const p = this.#protocol;
    if (!p || this.#stopping) return;
    const routed = routeRequestFrame(b, (shard) => p.lookup(shard));
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


  // ---- threads ----------------------------------------------------------------------------

  spawnThread(entry: ThreadEntryRef, init: unknown): SpawnResult {
    const key = `${entry.module}#${entry.export}`;
    if (!this.#threadKeys.has(key)) throw new Error(`spawnThread: ${key} is not in ${this.#def.name}'s threadEntries`);
    if (!this.#init.cgroup && this.#baseThreads + this.#workers.size + 1 > this.#init.threadsPerNode) {
      return this.#refuse();
    }
    const id = ++this.#workerSeq;
    const counters = new Float64Array(new SharedArrayBuffer(8 * COUNTER_SLOTS));
    const workerData: WorkerInit = {
      self: this.self,
      threadId: id,
      params: this.#init.params,
      seed: this.#init.seed,
      entry: key,
      init,
      t0Epoch: this.#t0Epoch,
      addrs: [...this.#addrs],
      hosts: [...this.#hosts],
      loss: this.#filter.loss,
      groups: this.#filter.groupsList(),
      fdsPerNode: this.#init.fdsPerNode,
      sockets: this.#socketsSab,
      counters: counters.buffer as SharedArrayBuffer,
      token: Buffer.from(this.#token).toString('hex'),
    };
    let worker: Worker;
    try {
      worker = new Worker(new URL(this.#init.workerBundle), { workerData, stdout: false, stderr: false });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_WORKER_INIT_FAILED' || /EAGAIN|Resource temporarily unavailable/.test(err.message)) return this.#refuse();
      throw e;
    }
    const rec: WorkerRec = {
      id,
      worker,
      held: new Set(),
      ready: false,
      alive: true,
      counters,
      handle: {
        id,
        post: (msg: unknown) => {
          if (rec.alive) worker.postMessage({ k: 'parent', msg } satisfies ToWorker);
        },
        stop: () => this.#stopWorker(rec),
      },
    };
    this.#workers.set(id, rec);
    this.#pendingWorkers++;
    if (this.#workers.size > this.#workersPeak) this.#workersPeak = this.#workers.size;
    worker.on('message', (m: FromWorker) => this.#fromWorker(rec, m));
    worker.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ERR_WORKER_INIT_FAILED') {
        // refused after the fact (the spawn already returned ok): the peer silently goes dark
        this.count('lateSpawnRefused');
        this.#rep([R_LIMIT, 'threads']);
        this.#stopWorker(rec);
        return;
      }
      fatal(new Error(`node ${this.self} thread ${id} (${key}): ${e.stack ?? e.message}`));
    });
    worker.on('exit', () => {
      // the isolate is gone: its sockets were closed without running their close handlers
      for (let i = 0; i < rec.counters[C_SOCKETS]; i++) this.#budget.closed();
      rec.counters[C_SOCKETS] = 0;
      this.#stopWorker(rec);
    });
    return { ok: true, thread: rec.handle };
  }

  #refuse(): SpawnResult {
    this.#spawnRefused++;
    this.#rep([R_LIMIT, 'threads']);
    return { ok: false, reason: 'threads' };
  }

  #stopWorker(rec: WorkerRec): void {
    if (!rec.alive) return;
    rec.alive = false;
    for (const p of rec.held) if (this.#receivers.get(p) === rec) this.#receivers.delete(p);
    this.#workers.delete(rec.id);
    this.#retired.push(rec.counters);
    if (!rec.ready) this.#workerReady();
    void rec.worker.terminate();
  }

  #workerReady(): void {
    this.#pendingWorkers--;
    if (this.#pendingWorkers === 0 && this.#held.length > 0) {
      const held = this.#held;
      this.#held = [];
      for (const [from, b] of held) this.#deliver(from, b);
    }
  }

  #fromWorker(rec: WorkerRec, m: FromWorker): void {
    if (!rec.alive) return;
    switch (m.k) {
      case 'post':
        this.#protocol?.onThreadMessage?.(rec.handle, m.msg);
        this.#flush();
        return;
      case 'hold':
        rec.held.add(m.peer);
        this.#receivers.set(m.peer, rec);
        return;
      case 'unhold':
        rec.held.delete(m.peer);
        if (this.#receivers.get(m.peer) === rec) this.#receivers.delete(m.peer);
        return;
      case 'ready':
        rec.ready = true;
        this.#workerReady();
        return;
      case 'datagram':
        // counted by the Worker; only the path is the main loop's
        if (!this.#sendBytes(m.to, m.bytes)) this.#dropped++;
        return;
      case 'net':
        this.#deliver(m.from, m.bytes);
        return;
      case 'limit':
        this.#rep([R_LIMIT, m.which]);
        return;
    }
  }
}
