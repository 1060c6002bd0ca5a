/**
 * What a cold-starting FE does with the configuration store's answers: decode each page (a
 * DynamoDB Query page is JSON with typed attribute values, `{"N": "…"}`) and insert its entries
 * into the shard map's typed arrays. `fleetbench calibrate` times this to give
 * costs.cpuUsPerShardEntry; the simulator charges that per entry on the node's run queue.
 */

/** One store page of `count` entries from shard `first`, as the store's wire format (JSON text). */
export function encodePage(first: number, count: number, clusters: number): string {
  const items = [];
  for (let s = first; s < first + count; s++) {
    items.push({ shard: { N: String(s) }, cluster: { N: String((s * 2654435761) % clusters) }, version: { N: String(1 + (s % 7)) } });
  }
  return JSON.stringify({ Items: items, Count: count, LastEvaluatedKey: { shard: { N: String(first + count - 1) } } });
}

/** The map an FE builds: the cluster and version of every shard. */
export interface ShardMap {
  shardCluster: Int32Array;
  shardVersion: Uint32Array;
}

/** Decodes one page and inserts its entries (shard ids shifted by `offset`); returns how many it inserted. */
export function insertPage(map: ShardMap, page: string, offset = 0): number {
  const { Items } = JSON.parse(page) as { Items: Array<{ shard: { N: string }; cluster: { N: string }; version: { N: string } }> };
  for (const it of Items) {
    const s = Number(it.shard.N) + offset;
    if (!(s >= 0 && s < map.shardCluster.length)) throw new Error(`store page: shard ${it.shard.N} out of range`);
    map.shardCluster[s] = Number(it.cluster.N);
    map.shardVersion[s] = Number(it.version.N);
  }
  return Items.length;
}

/**
 * CPU per shard entry, µs: process CPU (user + system) to decode and insert `shards` entries in
 * pages of `perPage`, median of `rounds` builds after one warm-up build. The pages are encoded
 * beforehand (they arrive over the network; encoding is the store's work, not the FE's).
 */
export function measureShardEntryUs(shards = 100_000, perPage = 100, rounds = 5): { us: number; rangeUs: [number, number] } {
  const pages: string[] = [];
  for (let first = 0; first < shards; first += perPage) pages.push(encodePage(first, Math.min(perPage, shards - first), 16));
  const build = () => {
    const map: ShardMap = { shardCluster: new Int32Array(shards), shardVersion: new Uint32Array(shards) };
    let n = 0;
    for (const p of pages) n += insertPage(map, p);
    if (n !== shards) throw new Error(`shard map build: ${n} entries, expected ${shards}`);
  };
  build(); // warm-up: JIT
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    build();
    const c = process.cpuUsage(c0);
    per.push((c.user + c.system) / shards);
  }
  per.sort((a, b) => a - b);
  return { us: per[Math.floor(per.length / 2)], rangeUs: [per[0], per[per.length - 1]] };
}

/**
 * A live node host's construction (node-host.ts, blackbox/host.ts): each 'page' message is one
 * store answer, decoded and inserted on the node's main thread before its protocol boots. The
 * page's text is made once per page size (the first page pays that encoding; every page after
 * decodes the same bytes shifted to its shard range): the store's encoding is not the FE's work.
 */
export class LiveConstruction {
  #map: ShardMap | null = null;
  readonly #text = new Map<number, string>();

  /** Builds one page into the map; true when it was the last (the map is then complete). */
  page(m: { first: number; count: number; shards: number; last: boolean }): boolean {
    if (this.#map === null || this.#map.shardCluster.length !== m.shards) {
      this.#map = { shardCluster: new Int32Array(m.shards), shardVersion: new Uint32Array(m.shards) };
    }
    let text = this.#text.get(m.count);
    if (text === undefined) this.#text.set(m.count, (text = encodePage(0, m.count, 16)));
    insertPage(this.#map, text, m.first);
    // the protocol boots from the driver's bootstrap (the truth now, newer than these pages)
    if (m.last) this.#map = null;
    return m.last;
  }
}

/** What a live result says about construction (`live.construction`), with the nodes' real ends. */
export function liveConstructionNote(c: { done: number; lagMsMax: number; lagMsSum: number }): string {
  const real =
    c.done === 0
      ? 'no construction ran in this run'
      : `${c.done} construction(s) ran; the node's last page ended ${(c.lagMsSum / c.done).toFixed(1)} ms (mean) / ${c.lagMsMax.toFixed(1)} ms (max) after that time (IPC, the node's event loop and its real CPU)`;
  return (
    "construction CPU is spent live: at each store page's modelled answer time the node process decodes a DynamoDB-style JSON page of that many entries and inserts them into typed arrays (the calibrate step's code, src/live/shard-map-build.ts), under its cpu cgroup quota when enforced, and its protocol starts only after the last page. " +
    "The driver counts the FE routable at the end the simulator gives an otherwise idle node (so both runtimes decide alike): " +
    real
  );
}
