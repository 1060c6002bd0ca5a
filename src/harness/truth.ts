/**
 * The ground truth the harness owns and protocols never see: which nodes exist, what the
 * membership service lists (with its lag), and the real shard map (shard → back-end cluster).
 */
import type { CellRouter } from '../contract/protocol.ts';
import { Rng } from './rng.ts';

export interface FleetSettings {
  shards: number;
  clusters: number;
  membershipLagMs: number;
  /**
   * When set (> membershipLagMs), the lag before the service lists a node that starts during the
   * run is drawn per node, uniform in [membershipLagMs, membershipLagMaxMs] (2020: a new FE could
   * take up to an hour to be learned by every member)
   */
  membershipLagMaxMs?: number;
  requestsPerSec: number;
  traffic: 'uniform' | 'zipf';
  zipfExponent: number;
  sampleEveryMs: number;
  /** the configuration store a cold-starting FE reads its shard map from (src/fleet/config-store.ts) */
  storeReadsPerSec: number;
  storeEntriesPerRead: number;
  storeReadLatencyMs: number;
}

export class Truth {
  readonly shardCluster: Int32Array;
  readonly shardVersion: Uint32Array;
  readonly #startAt: number[] = [];
  readonly #stopAt: number[] = [];
  readonly #settings: FleetSettings;
  readonly #rng: Rng;
  #zipfCdf: Float64Array | null = null;
  #list: number[] = [];
  #listValidUntil = -Infinity;
  #listComputedAt = NaN;
  #dirty = true;

  readonly #router: CellRouter;
  /** per node: how long after its start the membership service lists it */
  readonly #seenLag: number[] = [];
  readonly #lagRng: Rng;
  /** per shard: [tMs, cluster] changes in time order (only for shards ever resharded) */
  readonly #history = new Map<number, Array<[number, number]>>();

  /** `router` must already hold the initial fleet: each shard starts on a cluster of its cell. */
  constructor(settings: FleetSettings, rng: Rng, router: CellRouter, seed = 0) {
    this.#settings = settings;
    this.#rng = rng;
    this.#lagRng = new Rng(seed, 0x6c6167); // 'lag'
    this.#router = router;
    this.shardCluster = new Int32Array(settings.shards);
    this.shardVersion = new Uint32Array(settings.shards).fill(1);
    for (let s = 0; s < settings.shards; s++) {
      const clusters = router.clustersOf(router.cellOfShard(s));
      this.shardCluster[s] = clusters[rng.int(clusters.length)];
    }
    if (settings.traffic === 'zipf') {
      const cdf = new Float64Array(settings.shards);
      let sum = 0;
      for (let i = 0; i < settings.shards; i++) cdf[i] = sum += 1 / Math.pow(i + 1, settings.zipfExponent);
      for (let i = 0; i < settings.shards; i++) cdf[i] /= sum;
      this.#zipfCdf = cdf;
    }
  }

  /** A node started at `at`; `restart`: a known FE coming back (the service lists it after the base lag). */
  nodeStarted(id: number, at: number, restart = false): void {
    this.#startAt[id] = at;
    this.#stopAt[id] = Infinity;
    const { membershipLagMs: lo, membershipLagMaxMs: hi } = this.#settings;
    // a stream of its own, so a lag distribution leaves every other draw of the run as it was
    this.#seenLag[id] = hi !== undefined && hi > lo && at !== -Infinity && !restart ? lo + this.#lagRng.next() * (hi - lo) : lo;
    this.#dirty = true;
  }

  nodeStopped(id: number, at: number): void {
    this.#stopAt[id] = at;
    this.#dirty = true;
  }

  /**
   * What the membership service lists at `t`: nodes started at least membershipLagMs ago and not
   * stopped at least membershipLagMs ago (it learns of starts and of stops with the same lag).
   * The array is shared and must not be modified by callers.
   */
  membershipList(t: number): readonly number[] {
    if (!this.#dirty && t >= this.#listComputedAt && t < this.#listValidUntil) return this.#list;
    const lag = this.#settings.membershipLagMs;
    const list: number[] = [];
    let next = Infinity;
    for (let id = 0; id < this.#startAt.length; id++) {
      const seenAt = this.#startAt[id] + this.#seenLag[id];
      const goneAt = this.#stopAt[id] + lag;
      if (seenAt <= t && !(goneAt <= t)) list.push(id);
      if (seenAt > t && seenAt < next) next = seenAt;
      if (goneAt > t && goneAt < next) next = goneAt;
    }
    this.#list = list;
    this.#listComputedAt = t;
    this.#listValidUntil = next;
    this.#dirty = false;
    return list;
  }

  /** A shard chosen uniformly, for a reshard. */
  pickReshardShard(): number {
    return this.#rng.int(this.#settings.shards);
  }

  /** Moves `shard` at time `t` to another cluster of the cell that now owns it; returns the new entry. */
  reshard(shard: number, t: number): { shard: number; cluster: number; version: number } {
    const old = this.shardCluster[shard];
    const clusters = this.#router.clustersOf(this.#router.cellOfShard(shard)).filter((c) => c !== old);
    const cluster = clusters.length > 0 ? clusters[this.#rng.int(clusters.length)] : old;
    let h = this.#history.get(shard);
    if (!h) this.#history.set(shard, (h = [[-Infinity, old]]));
    h.push([t, cluster]);
    this.shardCluster[shard] = cluster;
    const version = ++this.shardVersion[shard];
    return { shard, cluster, version };
  }

  /** The cluster that owned `shard` at time `t` (a live answer is judged at the instant it was asked). */
  clusterAt(shard: number, t: number): number {
    const h = this.#history.get(shard);
    if (!h || h[h.length - 1][0] <= t) return this.shardCluster[shard];
    for (let i = h.length - 1; i >= 0; i--) if (h[i][0] <= t) return h[i][1];
    return h[0][1];
  }

  /** The shard a request is for: uniform, or Zipf over shard rank. */
  pickShard(): number {
    const u = this.#rng.next();
    const cdf = this.#zipfCdf;
    if (!cdf) return Math.floor(u * this.#settings.shards);
    let lo = 0, hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
