/**
 * Will a simulator run fit in this machine? An estimate from the run's sizes, checked before
 * anything is allocated, so a run that would throw a RangeError deep in a constructor or grow
 * until the OOM killer ends it is refused in milliseconds with the numbers.
 *
 * Two budgets, because they fail differently:
 * - the V8 heap (`v8.getHeapStatistics().heap_size_limit`, ~4 GiB by default): protocol state
 *   and pending events are JS objects; past the limit V8 aborts the process (fatal OOM);
 * - the machine's memory (`os.totalmem()`): typed arrays live outside the heap, and one typed
 *   array cannot exceed `buffer.constants.MAX_LENGTH` elements (RangeError).
 *
 * What is counted (src/harness/measures.ts, src/harness/truth.ts, src/sim/simulation.ts):
 * - the Measures view bit-matrix, maxNodes² / 8 bytes, in one Uint32Array of maxNodes × ⌈maxNodes/32⌉;
 * - one bitset over the fleet per pending reshard (at most one per shard) and per limit kind;
 * - per-node typed arrays (liveIndex, cellIndex, paused, cpuUs, viewSize, upLive, live, cellOf);
 * - the truth's shard arrays (cluster, version, Zipf CDF) and the router's cluster list;
 * - protocol state and in-flight events: PER_PAIR_BYTES × maxNodes² for all-to-all and SWIM
 *   member state (every node holds a record of every other), or per node × cell size for cells;
 * - each node's member arrays, typed and indexed by global node id (protocols/shared/all-to-all.ts:
 *   2 × u32 per id; protocols/swim/members.ts: u8 + u32 + i32 per id), grown by doubling: so
 *   MEMBER_ARRAY_BYTES × maxNodes² even with cells, whose nodes know only their cell's members
 *   but index them by global id;
 * - each node's shard map (cluster i32 + version u32 per shard).
 * PER_PAIR_BYTES are measured, not derived: peak RSS growth of `fleetbench run -s steady -d 2s`
 * between N = 1,000 and 2,000 (thread-per-peer 500 → 1,000) on the reference machine (2 cores,
 * 24 GiB, Node 20.20), taken under load from other work; rounded up.
 */
import os from 'node:os';
import v8 from 'node:v8';
import { constants as bufferConstants } from 'node:buffer';
import { UsageError } from '../errors.ts';
import type { RunConfig } from '../harness/run-config.ts';

/** Fixed cost of a simulator process before the fleet: Node, tsx, the modules (measured ~150 MB RSS). */
export const BASE_BYTES = 160 * 2 ** 20;

/**
 * Heap bytes per (node, other node) pair, by protocol: member records, per-peer actors and
 * timers, and the messages in flight of an all-to-all sync. Measured (see the header): RSS
 * +650 MB from N = 500 to 1,000 for thread-per-peer (one actor, timer and connection per peer),
 * +350 MB from 1,000 to 2,000 for async-multiplexed (3.48 GB peak RSS at 4,860: 141 B a pair), +40 MB for swim.
 */
export const PER_PAIR_BYTES: Readonly<Record<string, number>> = {
  'thread-per-peer': 900,
  'async-multiplexed': 145,
  swim: 20,
};
/**
 * Off-heap bytes per (node, node id) of the member arrays, doubling growth included (the worst
 * case: a just-doubled array is half empty): all-to-all 8 B × 2, swim 9 B × 2.
 */
export const MEMBER_ARRAY_BYTES: Readonly<Record<string, number>> = {
  'thread-per-peer': 16,
  'async-multiplexed': 16,
  'cell-partitioned': 16,
  swim: 18,
};
export const DEFAULT_MEMBER_ARRAY_BYTES = 16;

/** A protocol not in the table is assumed all-to-all (the costlier common case). */
export const DEFAULT_PER_PAIR_BYTES = PER_PAIR_BYTES['async-multiplexed'];
/**
 * Heap bytes per node outside its per-peer state (protocol object, timers, queues, counters).
 * Measured the same way: swim +19 MB from N = 500 to 1,000 and +40 MB from 1,000 to 2,000 (linear
 * in N over a 2 s run, so charged per node as well as per pair); cell-partitioned (C = 64, inner
 * async-multiplexed) +16 MB and +43 MB (per node, beyond its cell's pairs). Others: an allowance.
 */
export const PER_NODE_BYTES: Readonly<Record<string, number>> = {
  swim: 40_000,
  'cell-partitioned': 40_000,
};
export const DEFAULT_PER_NODE_BYTES = 4096;

/** Share of each budget a run may plan to use: GC needs headroom, and the machine is shared. */
export const HEAP_SHARE = 0.75;
export const MEMORY_SHARE = 0.5;

export interface CapacityMachine {
  heapLimitBytes: number;
  totalMemBytes: number;
  /** most elements one typed array may hold */
  maxTypedArrayLength: number;
}

export function thisMachine(): CapacityMachine {
  return {
    heapLimitBytes: v8.getHeapStatistics().heap_size_limit,
    totalMemBytes: os.totalmem(),
    maxTypedArrayLength: bufferConstants.MAX_LENGTH,
  };
}

export interface CapacityEstimate {
  maxNodes: number;
  /** bytes on the V8 heap: protocol state, in-flight events, per-node objects */
  heapBytes: number;
  /** bytes in typed arrays (outside the heap) */
  typedBytes: number;
  /** the largest single typed array, in elements */
  largestArrayLength: number;
  parts: Record<string, number>;
}

/** The most nodes the run ever has: the start plus every add. */
export function maxNodesOf(cfg: RunConfig): number {
  return cfg.nodes + cfg.scenario.events.reduce((n, e) => n + (e.type === 'add' ? e.count : 0), 0);
}

export function estimateSimCapacity(cfg: RunConfig): CapacityEstimate {
  const n = maxNodesOf(cfg);
  const words = Math.ceil(n / 32);
  const bitset = words * 4;
  const shards = cfg.fleet.shards;
  const clusters = cfg.fleet.clusters;
  const durationS = cfg.durationMs / 1000;
  const rs = cfg.scenario.reshards;
  const storm = cfg.scenario.events.reduce((k, e) => k + (e.type === 'reshardStorm' ? e.count : 0), 0);
  const reshardsTotal = rs.perSec * Math.max(0, ((rs.untilMs ?? cfg.durationMs) - rs.fromMs) / 1000) + storm;
  const pendingReshards = Math.min(shards, Math.ceil(reshardsTotal));

  const cellSize = Number(cfg.params.cellSize);
  const celled = Number.isFinite(cellSize) && cellSize > 0;
  const perPair = PER_PAIR_BYTES[cfg.protocol.name] ?? DEFAULT_PER_PAIR_BYTES;
  // with cells a node's peers are its cell's (the inner protocol's cost), not the fleet's
  const peers = celled ? Math.min(n, cellSize) : n;
  const innerPerPair = celled ? (PER_PAIR_BYTES[String(cfg.params.inner ?? 'async-multiplexed')] ?? DEFAULT_PER_PAIR_BYTES) : perPair;

  const parts: Record<string, number> = {
    viewMatrix: n * words * 4,
    reshardBitsets: pendingReshards * bitset,
    limitBitsets: 4 * bitset,
    perNodeArrays: n * (4 + 4 + 8 + 8 + 4 + 4 + 1 + 4),
    shardArrays: shards * (4 + 4 + (cfg.fleet.traffic === 'zipf' ? 8 : 0)),
    nodeShardMaps: n * shards * 8,
    memberArrays: n * n * (MEMBER_ARRAY_BYTES[cfg.protocol.name] ?? DEFAULT_MEMBER_ARRAY_BYTES),
    protocolState: n * peers * innerPerPair,
    perNode: n * (PER_NODE_BYTES[cfg.protocol.name] ?? DEFAULT_PER_NODE_BYTES),
    clusters: clusters * 16,
    timeseries: Math.ceil(durationS) * 400,
  };
  const typedBytes =
    parts.viewMatrix + parts.reshardBitsets + parts.limitBitsets + parts.perNodeArrays + parts.shardArrays + parts.nodeShardMaps + parts.memberArrays;
  const heapBytes = HEAP_PARTS.reduce((sum, k) => sum + parts[k], 0);
  return { maxNodes: n, heapBytes, typedBytes, largestArrayLength: Math.max(n * words, shards, n), parts };
}

const fmt = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: v < 10 ? 1 : 0 });
const gib = (b: number) => (b >= 2 ** 30 ? `${fmt(b / 2 ** 30)} GiB` : `${fmt(b / 2 ** 20)} MiB`);

/**
 * Throws UsageError, with the estimate and this machine's limits, when the run cannot fit.
 * Call it before the simulator allocates anything (run, sweep cells, ceiling steps).
 */
export function checkSimCapacity(cfg: RunConfig, machine: CapacityMachine = thisMachine()): void {
  const e = estimateSimCapacity(cfg);
  const heapBudget = machine.heapLimitBytes * HEAP_SHARE - BASE_BYTES;
  const memBudget = machine.totalMemBytes * MEMORY_SHARE;
  const what = `${cfg.protocol.name} at ${e.maxNodes.toLocaleString('en-US')} nodes`;
  const total = e.typedBytes + e.heapBytes + BASE_BYTES;
  // the field to change is the one behind the largest part
  const [biggest] = Object.entries(e.parts).sort((a, b) => b[1] - a[1]);
  const field = PART_FIELD[biggest[0]] ?? '--nodes';
  const fix = field === '--nodes' ? 'use fewer nodes (--nodes), or see `fleetbench ceiling` for a projection beyond this machine' : `lower ${field}`;
  const describe = (keys: string[], of: number) =>
    Object.entries(e.parts)
      .filter(([k, v]) => keys.includes(k) && v >= of / 100)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${PART_NAME[k] ?? k} ${gib(v)}`)
      .join(', ');
  const breakdown = describe(Object.keys(e.parts), total);
  const largest = Math.max(e.maxNodes * Math.ceil(e.maxNodes / 32), cfg.fleet.shards);
  if (largest > machine.maxTypedArrayLength) {
    const which = cfg.fleet.shards > e.maxNodes * Math.ceil(e.maxNodes / 32) ? ['fleet.shards', `a shard array of ${cfg.fleet.shards.toExponential(2)} entries`] : ['--nodes', `a view bit-matrix of ${largest.toExponential(2)} 32-bit words (nodes² / 32)`];
    throw new UsageError(
      `${which[0]}: ${what} needs ${which[1]}; one typed array holds at most ${machine.maxTypedArrayLength.toExponential(2)} elements (about ${gib(total)} in all: ${breakdown}); lower ${which[0]}`,
    );
  }
  if (total > memBudget) {
    throw new UsageError(
      `${field}: ${what} needs about ${gib(total)} (${breakdown}); this machine has ${gib(machine.totalMemBytes)}, of which a run may plan ${Math.round(MEMORY_SHARE * 100)} %; ${fix}`,
    );
  }
  if (e.heapBytes > heapBudget) {
    throw new UsageError(
      `${field}: ${what} needs about ${gib(e.heapBytes)} of JS heap (${describe(HEAP_PARTS, e.heapBytes)}); the heap limit is ${gib(machine.heapLimitBytes)} (node --max-old-space-size raises it), of which a run may plan ${Math.round(HEAP_SHARE * 100)} %; ${fix}`,
    );
  }
}

/** the parts that live on the V8 heap (the rest are typed arrays) */
const HEAP_PARTS = ['protocolState', 'perNode', 'clusters', 'timeseries'];

const PART_FIELD: Record<string, string> = {
  reshardBitsets: 'fleet.shards',
  shardArrays: 'fleet.shards',
  nodeShardMaps: 'fleet.shards',
  clusters: 'fleet.clusters',
  timeseries: 'durationMs',
};
const PART_NAME: Record<string, string> = {
  viewMatrix: 'view bit-matrix (nodes² / 8)',
  reshardBitsets: 'pending-reshard bitsets',
  limitBitsets: 'limit bitsets',
  perNodeArrays: 'per-node arrays',
  shardArrays: 'shard arrays',
  nodeShardMaps: 'per-node shard maps (nodes × shards × 8 B)',
  memberArrays: 'member arrays (nodes² × id slots)',
  protocolState: 'protocol state (measured per pair)',
  perNode: 'per-node state (measured)',
  clusters: 'cluster lists',
  timeseries: 'time series',
};

/** The largest starting fleet `checkSimCapacity` admits for `cfg` (its events kept), by bisection. */
export function largestAdmitted(cfg: RunConfig, machine: CapacityMachine = thisMachine(), hi = 1_000_000): number {
  const fits = (nodes: number) => {
    try {
      checkSimCapacity({ ...cfg, nodes }, machine);
      return true;
    } catch {
      return false;
    }
  };
  if (!fits(1)) return 0;
  let lo = 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
