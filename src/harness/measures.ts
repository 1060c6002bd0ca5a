/**
 * The fleet's measures, computed by comparing what nodes report they believe (Reporter calls)
 * with the truth the harness owns. Runtime-agnostic: the simulator calls it, and so can a live
 * coordinator. Nothing here reads a clock; every call carries `t` (runtime milliseconds).
 *
 * Definitions (design.md "What is measured"):
 * - a node's view is the set of members it reported up and not since down; self is never in it.
 * - join convergence: from a joined node's start until every other live node has it in view.
 * - detection: from a crash until the first / the last live node drops it from its view.
 * - false positive: a live node drops a member that is alive in the truth (paused counts as alive).
 * - shard-map staleness: from a reshard until every live FE reports its version (or a newer one).
 *   Reshards still unconverged at the end count with their age at the end: a lower bound.
 * - in a partitioned fleet "every node" means every node of the same cell: a node is only meant
 *   to know its cell's members and its cell's shards. A flat fleet is one cell.
 */

export type LimitName = 'threads' | 'fds' | 'memory' | 'cpu';

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export function percentiles(samples: readonly number[]): Percentiles | null {
  if (samples.length === 0) return null;
  const s = [...samples].sort((a, b) => a - b);
  // nearest-rank percentiles: an observed value, never an interpolation
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { p50: rank(0.5), p99: rank(0.99), max: s[s.length - 1] };
}

class Bitset {
  readonly words: Uint32Array;
  constructor(bits: number) {
    this.words = new Uint32Array((bits + 31) >>> 5);
  }
  has(i: number): boolean {
    return (this.words[i >>> 5] & (1 << (i & 31))) !== 0;
  }
  set(i: number): void {
    this.words[i >>> 5] |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5] &= ~(1 << (i & 31));
  }
}

interface PendingReshard {
  cell: number;
  shard: number;
  version: number;
  t0: number;
  have: Bitset;
  count: number;
}

interface PendingDetection {
  t0: number;
  first: number | null;
}

export class Measures {
  readonly maxNodes: number;
  readonly #words: number;
  /** view bit-matrix: row o, bit m set when observer o has m in its view */
  readonly #view: Uint32Array;
  readonly #viewSize: Int32Array;
  /** number of live observers with m in view */
  readonly #upLive: Int32Array;
  readonly live: Uint8Array;
  liveCount = 0;
  /** each node's cell (0 in a flat fleet) and the live nodes per cell */
  readonly cellOf: Int32Array;
  readonly #liveInCell: number[] = [];

  readonly #joinStart = new Map<number, number>();
  readonly joinSamples: number[] = [];
  readonly #detect = new Map<number, PendingDetection>();
  readonly detectFirst: number[] = [];
  readonly detectAll: number[] = [];
  falsePositives = 0;

  readonly #reshards = new Map<number, PendingReshard>();
  readonly stalenessSamples: number[] = [];
  supersededReshards = 0;
  reshardCount = 0;

  readonly counters = new Map<string, number>();
  /** live nodes whose shard map is unusable (they answer UNROUTABLE), and the most at once */
  readonly #unroutable: Uint8Array;
  unroutableLive = 0;
  unroutableSharePeak = 0;
  /** when every live node last became routable again (null while some cannot route) */
  allRoutableSinceMs: number | null = 0;
  readonly limits = new Map<LimitName, { nodes: Bitset; count: number; firstAtMs: number }>();

  constructor(maxNodes: number) {
    this.maxNodes = maxNodes;
    this.#words = (maxNodes + 31) >>> 5;
    this.#view = new Uint32Array(maxNodes * this.#words);
    this.#viewSize = new Int32Array(maxNodes);
    this.#upLive = new Int32Array(maxNodes);
    this.live = new Uint8Array(maxNodes);
    this.cellOf = new Int32Array(maxNodes);
    this.#unroutable = new Uint8Array(maxNodes);
  }

  liveInCell(cell: number): number {
    return this.#liveInCell[cell] ?? 0;
  }

  viewSize(o: number): number {
    return this.#viewSize[o];
  }

  inView(o: number, m: number): boolean {
    return (this.#view[o * this.#words + (m >>> 5)] & (1 << (m & 31))) !== 0;
  }

  // ---- lifecycle --------------------------------------------------------------------------

  nodeStarted(o: number, t: number, joined: boolean, cell = 0): void {
    this.live[o] = 1;
    this.liveCount++;
    this.cellOf[o] = cell;
    this.#liveInCell[cell] = this.liveInCell(cell) + 1;
    // a starting node reads the shard map from the configuration store: it has every version
    this.readStore(o, t, false);
    if (joined) this.#joinStart.set(o, t);
    this.#settle(t);
  }

  /** Node `o` built its shard map from the configuration store at `t`: it has every version made so far. */
  readStore(o: number, t: number, settle = true): void {
    if (!this.live[o]) return;
    for (const r of this.#reshards.values()) {
      if (r.cell !== this.cellOf[o] || r.have.has(o)) continue;
      r.have.set(o);
      r.count++;
    }
    if (settle) this.#settle(t);
  }

  /** Crash, OOM or leave. `crashed` starts failure-detection timing. */
  nodeStopped(o: number, t: number, crashed: boolean): void {
    if (!this.live[o]) return;
    this.live[o] = 0;
    this.liveCount--;
    this.#liveInCell[this.cellOf[o]]--;
    const base = o * this.#words;
    for (let w = 0; w < this.#words; w++) {
      let bits = this.#view[base + w];
      while (bits !== 0) {
        const low = bits & -bits;
        const m = (w << 5) + (31 - Math.clz32(low));
        this.#upLive[m]--;
        bits ^= low;
      }
      this.#view[base + w] = 0;
    }
    this.#viewSize[o] = 0;
    if (this.#unroutable[o]) {
      this.#unroutable[o] = 0;
      if (--this.unroutableLive === 0) this.allRoutableSinceMs = t;
    }
    // a node that starts again (a restart) has to learn every version anew
    for (const r of this.#reshards.values()) {
      if (!r.have.has(o)) continue;
      r.have.clear(o);
      r.count--;
    }
    this.#joinStart.delete(o);
    if (crashed) this.#detect.set(o, { t0: t, first: null });
    this.#settle(t);
  }

  // ---- reports ----------------------------------------------------------------------------

  memberUp(o: number, m: number, t: number): void {
    if (!this.live[o] || o === m || this.inView(o, m)) return;
    this.#view[o * this.#words + (m >>> 5)] |= 1 << (m & 31);
    this.#viewSize[o]++;
    this.#upLive[m]++;
    const start = this.#joinStart.get(m);
    if (start !== undefined && this.#upLive[m] >= this.liveInCell(this.cellOf[m]) - 1) {
      this.joinSamples.push(t - start);
      this.#joinStart.delete(m);
    }
  }

  memberDown(o: number, m: number, t: number): void {
    if (!this.live[o] || !this.inView(o, m)) return;
    this.#view[o * this.#words + (m >>> 5)] &= ~(1 << (m & 31));
    this.#viewSize[o]--;
    this.#upLive[m]--;
    if (this.live[m]) {
      this.falsePositives++;
      return;
    }
    const d = this.#detect.get(m);
    if (!d) return;
    if (d.first === null) {
      d.first = t - d.t0;
      this.detectFirst.push(d.first);
    }
    if (this.#upLive[m] === 0) {
      this.detectAll.push(t - d.t0);
      this.#detect.delete(m);
    }
  }

  /** A reshard that the FEs of `cell` must all learn. */
  reshard(shard: number, version: number, t: number, cell = 0): void {
    this.reshardCount++;
    if (this.#reshards.has(shard)) this.supersededReshards++;
    this.#reshards.set(shard, { cell, shard, version, t0: t, have: new Bitset(this.maxNodes), count: 0 });
  }

  shardUpdated(o: number, shard: number, version: number, t: number): void {
    const r = this.#reshards.get(shard);
    if (!r || !this.live[o] || this.cellOf[o] !== r.cell || version < r.version || r.have.has(o)) return;
    r.have.set(o);
    r.count++;
    if (r.count >= this.liveInCell(r.cell)) {
      this.stalenessSamples.push(t - r.t0);
      this.#reshards.delete(shard);
    }
  }

  /** Node `o` reports its shard map usable or not, at `t`. */
  routable(o: number, usable: boolean, t: number): void {
    if (!this.live[o] || this.#unroutable[o] === (usable ? 0 : 1)) return;
    this.#unroutable[o] = usable ? 0 : 1;
    this.unroutableLive += usable ? -1 : 1;
    this.unroutableSharePeak = Math.max(this.unroutableSharePeak, this.unroutableShare);
    this.allRoutableSinceMs = this.unroutableLive === 0 ? t : null;
  }

  /** alarm name → first crossing and the nodes that crossed it */
  readonly alarms = new Map<string, { threshold: number; firstAtMs: number; nodes: Bitset; count: number }>();

  /** Node `o` crossed alarm `name`'s threshold at `t` (the first crossing per node counts). */
  alarm(name: string, threshold: number, o: number, t: number): void {
    let a = this.alarms.get(name);
    if (!a) this.alarms.set(name, (a = { threshold, firstAtMs: t, nodes: new Bitset(this.maxNodes), count: 0 }));
    if (a.nodes.has(o)) return;
    a.nodes.set(o);
    a.count++;
  }

  /** Share (0–1) of live nodes without a usable shard map now. */
  get unroutableShare(): number {
    return this.liveCount ? this.unroutableLive / this.liveCount : 0;
  }

  count(name: string, delta: number): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + delta);
  }

  limitHit(limit: LimitName, node: number, t: number): void {
    let l = this.limits.get(limit);
    if (!l) {
      l = { nodes: new Bitset(this.maxNodes), count: 0, firstAtMs: t };
      this.limits.set(limit, l);
    }
    if (!l.nodes.has(node)) {
      l.nodes.set(node);
      l.count++;
    }
  }

  // ---- derived ----------------------------------------------------------------------------

  /** Completions that a change in the live set can cause. */
  #settle(t: number): void {
    for (const [m, start] of this.#joinStart) {
      if (this.live[m] && this.#upLive[m] >= this.liveInCell(this.cellOf[m]) - 1) {
        this.joinSamples.push(t - start);
        this.#joinStart.delete(m);
      }
    }
    for (const [m, d] of this.#detect) {
      if (this.#upLive[m] === 0) {
        // nobody left holds it: the last holder stopped, or nobody ever had it
        if (d.first === null) {
          d.first = t - d.t0;
          this.detectFirst.push(d.first);
        }
        this.detectAll.push(t - d.t0);
        this.#detect.delete(m);
      }
    }
    for (const [s, r] of this.#reshards) {
      if (r.count >= this.liveInCell(r.cell)) {
        this.stalenessSamples.push(t - r.t0);
        this.#reshards.delete(s);
      }
    }
  }

  /** 1 − (missing + stale entries) / Σ over cells of (live observers × (live members − 1)). */
  viewAccuracy(): number {
    let expected = 0;
    for (const n of this.#liveInCell) if (n > 1) expected += n * (n - 1);
    if (expected === 0) return 1;
    let wrong = 0;
    for (let m = 0; m < this.maxNodes; m++) {
      wrong += this.live[m] ? this.liveInCell(this.cellOf[m]) - 1 - this.#upLive[m] : this.#upLive[m];
    }
    return 1 - wrong / expected;
  }

  get unconvergedReshards(): number {
    return this.#reshards.size;
  }
  get pendingJoins(): number {
    return this.#joinStart.size;
  }
  get pendingDetections(): number {
    return this.#detect.size;
  }

  /** Staleness samples, with unconverged reshards censored at `end` (lower bounds). */
  stalenessWithCensored(end: number): number[] {
    const out = [...this.stalenessSamples];
    for (const r of this.#reshards.values()) out.push(end - r.t0);
    return out;
  }
}
