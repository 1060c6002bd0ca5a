/**
 * The configuration store FEs build their shard maps from (DynamoDB in 2020): a cold-starting FE
 * (one that joins, or restarts) reads every shard entry before it can route, in pages of
 * `storeEntriesPerRead`, and the store serves `storeReadsPerSec` reads fleet-wide, first come first
 * served. One construction alone takes ceil(shards / entriesPerRead) / readsPerSec plus one read
 * latency; many at once queue behind each other at the store, which is how restarting faster
 * makes every restart slower. Each page's answer is then CPU on the FE (decode and insert its
 * entries, costs.cpuUsPerShardEntry each): the driver hands the pages to the backend, which runs
 * them on the node's run queue (src/fleet/driver.ts #coldStart).
 */
import type { FleetSettings } from '../harness/truth.ts';

type StoreSettings = Pick<FleetSettings, 'shards' | 'storeEntriesPerRead' | 'storeReadsPerSec' | 'storeReadLatencyMs'>;

/** How long one construction holds the store and waits for its answers, alone. */
export function coldStartMs(fleet: StoreSettings): number {
  return (Math.ceil(fleet.shards / fleet.storeEntriesPerRead) / fleet.storeReadsPerSec) * 1000 + fleet.storeReadLatencyMs;
}

/** The entries of each page a construction reads, in order: full pages, the last one the rest. */
export function pageEntries(fleet: Pick<FleetSettings, 'shards' | 'storeEntriesPerRead'>): number[] {
  const pages = Math.ceil(fleet.shards / fleet.storeEntriesPerRead);
  return Array.from({ length: pages }, (_, i) => Math.min(fleet.storeEntriesPerRead, fleet.shards - i * fleet.storeEntriesPerRead));
}

export class ConfigStore {
  #freeAt = 0;
  constructor(readonly fleet: StoreSettings) {}

  /**
   * A construction asked for at `t`: when each of its pages' answers reaches the FE, in order. The
   * store serves one read every 1/readsPerSec, this construction's reads back to back once the
   * constructions before it are served; each answer arrives one read latency after its read.
   */
  pages(t: number): number[] {
    const n = Math.ceil(this.fleet.shards / this.fleet.storeEntriesPerRead);
    const rps = this.fleet.storeReadsPerSec;
    const start = Math.max(t, this.#freeAt);
    this.#freeAt = start + (n / rps) * 1000;
    return Array.from({ length: n }, (_, i) => start + ((i + 1) / rps) * 1000 + this.fleet.storeReadLatencyMs);
  }

  /** A construction asked for at `t`: when its last page has arrived (queued behind earlier ones). */
  construct(t: number): number {
    const p = this.pages(t);
    return p[p.length - 1];
  }
}

/**
 * When a construction ends on a node whose cores do nothing else: the simulator's run queue for
 * that case (FIFO; each page starts on the first core free at or after its arrival, and a core of
 * a `coresPerNode` allowance runs at coresPerNode / ceil(coresPerNode) of a full core, as in
 * src/sim/cpu.ts). The recording backend uses it; the simulator runs the pages as real work.
 */
export function constructionOnIdleCores(pageTimes: readonly number[], pageUs: readonly number[], coresPerNode: number): number {
  const perNode = Math.max(1, Math.ceil(coresPerNode));
  const msPerUs = perNode / coresPerNode / 1000;
  const free = new Array<number>(perNode).fill(-Infinity);
  let end = -Infinity;
  for (let i = 0; i < pageTimes.length; i++) {
    let k = 0;
    for (let j = 1; j < perNode; j++) if (free[j] < free[k]) k = j;
    const start = Math.max(pageTimes[i], free[k]);
    free[k] = start + pageUs[i] * msPerUs;
    if (free[k] > end) end = free[k];
  }
  return end;
}
