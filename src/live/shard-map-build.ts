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

/** Decodes one page and inserts its entries; returns how many it inserted. */
export function insertPage(map: ShardMap, page: string): number {
  const { Items } = JSON.parse(page) as { Items: Array<{ shard: { N: string }; cluster: { N: string }; version: { N: string } }> };
  for (const it of Items) {
    const s = Number(it.shard.N);
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
 * What a live result says about construction (`live.construction`): the live backend has no
 * `construct`, so a cold start there is the store's modelled time only.
 */
export const LIVE_CONSTRUCTION_NOTE =
  "construction CPU is not charged live: a cold-starting node boots when the driver's modelled store delivers its last page; the CPU to decode and insert the shards' entries (costs.cpuUsPerShardEntry each), which the simulator runs on the node's run queue, is not spent in the node process";
