/**
 * The configuration store FEs build their shard maps from (DynamoDB in 2020): a cold-starting FE
 * (one that joins, or restarts) reads every shard entry before it can route, in pages of
 * `storeEntriesPerRead`, and the store serves `storeReadsPerSec` reads fleet-wide, first come first
 * served. One construction alone takes ceil(shards / entriesPerRead) / readsPerSec plus one read
 * latency; many at once queue behind each other at the store, which is how restarting faster
 * makes every restart slower. (The CPU a construction competes for with request handling, the
 * other half of 2020's slow recovery, waits for the CPU run queue: README, known simplifications.)
 */
import type { FleetSettings } from '../harness/truth.ts';

/** How long one construction holds the store and waits for its answers, alone. */
export function coldStartMs(fleet: Pick<FleetSettings, 'shards' | 'storeEntriesPerRead' | 'storeReadsPerSec' | 'storeReadLatencyMs'>): number {
  return (Math.ceil(fleet.shards / fleet.storeEntriesPerRead) / fleet.storeReadsPerSec) * 1000 + fleet.storeReadLatencyMs;
}

export class ConfigStore {
  #freeAt = 0;
  constructor(readonly fleet: FleetSettings) {}

  /** A construction asked for at `t`: the time its map is built (queued behind earlier ones). */
  construct(t: number): number {
    const busyMs = (Math.ceil(this.fleet.shards / this.fleet.storeEntriesPerRead) / this.fleet.storeReadsPerSec) * 1000;
    const start = Math.max(t, this.#freeAt);
    this.#freeAt = start + busyMs;
    return this.#freeAt + this.fleet.storeReadLatencyMs;
  }
}
