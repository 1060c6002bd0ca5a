/**
 * What a node's main loop and its Workers share: the clock, the fault filter applied to sends,
 * and the process-wide count of open WebSocket connections (a SharedArrayBuffer, so a Worker's
 * connect is checked against the node's fd budget synchronously, as the contract requires).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Rng } from '../harness/rng.ts';
import type { FromNode, Report } from './ipc.ts';

/** Milliseconds since the coordinator's t0, read from this process's clock; never decreases. */
export function runClock(t0Epoch: number): () => number {
  let last = 0;
  return () => {
    const t = performance.timeOrigin + performance.now() - t0Epoch;
    if (t > last) last = t;
    return last;
  };
}

/**
 * Loss and partitions, applied where a message leaves (the simulator drops at send too): a send
 * to a node in another partition group, or one that loses the loss draw, never reaches a socket.
 * Connections already open stay open, as in the simulator.
 */
export class DropFilter {
  loss = 0;
  readonly #groups = new Map<number, number>();
  readonly #rng: Rng;
  readonly #self: number;
  constructor(self: number, rng: Rng) {
    this.#self = self;
    this.#rng = rng;
  }
  set(loss: number, groups: ReadonlyArray<readonly [number, number]>): void {
    this.loss = loss;
    this.#groups.clear();
    for (const [id, g] of groups) if (g !== 0) this.#groups.set(id, g);
  }
  groupsList(): Array<[number, number]> {
    return [...this.#groups];
  }
  sameSide(to: number): boolean {
    return (this.#groups.get(to) ?? 0) === (this.#groups.get(this.#self) ?? 0);
  }
  pass(to: number): boolean {
    if (!this.sameSide(to)) return false;
    return !(this.loss > 0 && this.#rng.next() < this.loss);
  }
}

/** Open-connection count for the whole process: [0] open, [1] peak. */
export class SocketBudget {
  readonly #a: Int32Array;
  constructor(sab: SharedArrayBuffer) {
    this.#a = new Int32Array(sab);
  }
  /** Reserves one connection unless `limit` is reached. */
  tryOpen(limit: number): boolean {
    for (;;) {
      const cur = Atomics.load(this.#a, 0);
      if (cur + 1 > limit) return false;
      if (Atomics.compareExchange(this.#a, 0, cur, cur + 1) === cur) {
        for (;;) {
          const peak = Atomics.load(this.#a, 1);
          if (cur + 1 <= peak || Atomics.compareExchange(this.#a, 1, peak, cur + 1) === peak) break;
        }
        return true;
      }
    }
  }
  /** An inbound connection: counted, never refused here (the kernel already accepted it). */
  opened(): void {
    const now = Atomics.add(this.#a, 0, 1) + 1;
    for (;;) {
      const peak = Atomics.load(this.#a, 1);
      if (now <= peak || Atomics.compareExchange(this.#a, 1, peak, now) === peak) break;
    }
  }
  closed(): void {
    Atomics.sub(this.#a, 0, 1);
  }
  get open(): number {
    return Atomics.load(this.#a, 0);
  }
  get peak(): number {
    return Atomics.load(this.#a, 1);
  }
}

/** Counters a Worker writes (only it) and the main loop reads: [0] msgs, [1] bytes, [2] dropped, [3] received. */
export const C_MSGS = 0;
export const C_BYTES = 1;
export const C_DROPPED = 2;
export const C_RECEIVED = 3;
/** [4] connections the Worker holds open: the main loop releases them from the budget when it exits */
export const C_SOCKETS = 4;
/** [5] frames the Worker could not decode: dropped and counted, never fatal */
export const C_BAD = 5;
export const COUNTER_SLOTS = 6;

/** Largest load-generator request frame a node answers: (id u32, shard u32) pairs. */
export const MAX_REQUEST_FRAME = 8 * 65_536;

/** Encodes with a one-entry memo: a protocol often sends one message object to every peer. */
export function memoEncoder<M>(encode: (m: M) => Uint8Array): (m: M) => Uint8Array {
  let lastMsg: unknown = undefined;
  let lastBytes: Uint8Array = new Uint8Array(0);
  return (m) => {
    if (m === lastMsg) return lastBytes;
    lastBytes = encode(m);
    lastMsg = m;
    return lastBytes;
  };
}

/** Distinct generator streams for a node's main loop and each of its threads. */
export const nodeStream = (id: number) => id + 1; // the simulator's per-node stream
export const threadStream = (id: number, thread: number) => 0x7468_0000 + id * 65_537 + thread; // 'th'
export const filterStream = (id: number, thread: number) => 0x6c6f_0000 + id * 65_537 + thread; // 'lo'

/** A node process's message to the coordinator over IPC; `cb` runs once it is sent (at once when disconnected). */
export function sendToCoordinator(m: FromNode, cb?: () => void): void {
  if (process.connected) process.send!(m, undefined, undefined, cb ? () => cb() : undefined);
  else cb?.();
}

let dying = false;
/** A bug (the protocol's, the agent's or ours) ends a node process loudly: the coordinator fails the run with it. */
export function fatal(e: unknown): void {
  if (dying) return;
  dying = true;
  const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  try {
    sendToCoordinator({ k: 'fatal', error }, () => process.exit(1));
  } catch {
    process.exit(1);
  }
  setTimeout(() => process.exit(1), 500);
}

/**
 * Moves this process into its pids cgroup (`dir`, the run's node-N directory) and checks the
 * move on the pids controller's own line of /proc/self/cgroup (v1 `N:pids:/…`, v2 `0::/…`): the
 * node's cpu and memory cgroups carry the same leaf name, so any other line would also match.
 */
export function enterPidsCgroup(dir: string, node: number): void {
  writeFileSync(`${dir}/cgroup.procs`, String(process.pid));
  const leaf = dir.split('/').slice(-2).join('/');
  const mine = readFileSync('/proc/self/cgroup', 'utf8');
  const entered = mine.split('\n').some((line) => {
    const [, controllers, path] = line.split(':');
    const pidsLine = controllers !== undefined && (controllers === '' || controllers.split(',').includes('pids'));
    return pidsLine && path !== undefined && path.endsWith(`/${leaf}`);
  });
  if (!entered) throw new Error(`node ${node}: entered ${dir} but /proc/self/cgroup says:\n${mine}`);
}

/**
 * A node's reports to the coordinator, batched: every report made in one turn of the event loop
 * leaves in one `rep` message (the coordinator stamps the time on arrival), or at once on flush().
 */
export class ReportBatch {
  #reports: Report[] = [];
  #scheduled = false;

  push(r: Report): void {
    this.#reports.push(r);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#reports.length === 0) return;
    const r = this.#reports;
    this.#reports = [];
    sendToCoordinator({ k: 'rep', r });
  }
}

/**
 * Routes one load-generator frame, (id u32, shard u32)… → (id u32, cluster i32)…, with `lookup`;
 * null for a misshapen frame (empty, not whole records, or over MAX_REQUEST_FRAME).
 */
export function routeRequestFrame(b: Uint8Array, lookup: (shard: number) => number): { n: number; out: Uint8Array } | null {
  if (b.length === 0 || b.length % 8 !== 0 || b.length > MAX_REQUEST_FRAME) return null;
  const n = b.length >>> 3;
  const inV = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Uint8Array(n * 8);
  const outV = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    outV.setUint32(i * 8, inV.getUint32(i * 8, true), true);
    outV.setInt32(i * 8 + 4, lookup(inV.getUint32(i * 8 + 4, true)), true);
  }
  return { n, out };
}
