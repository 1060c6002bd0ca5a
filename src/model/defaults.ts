/**
 * The one place where modelled costs, host limits and network figures get their defaults.
 * Every value names its source: a measurement on this project's reference machine
 * (../shared/references.md, 2 cores, Node 20.20, Debian 12), a published document, or
 * "assumption:" where nothing better exists. Docs and tests read these objects; do not copy
 * the numbers elsewhere.
 */

export interface Sourced<T> {
  readonly value: T;
  readonly unit: string;
  readonly source: string;
}

const KIB = 1024;
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** Per-node resource costs: how counts (threads, connections, members, shards) become bytes and CPU. */
export const COSTS = {
  baseProcessBytes: {
    value: 41 * MIB,
    unit: 'bytes',
    source: 'measured: RSS of a bare `node` 20.20 process on the reference machine (41,177,088 bytes)',
  },
  bytesPerThread: {
    value: 7.5 * MIB,
    unit: 'bytes',
    source: 'measured: ~7.5–8 MB RSS per default worker_threads Worker on the reference machine (references.md)',
  },
  bytesPerConnection: {
    value: 16 * KIB,
    unit: 'bytes',
    source: 'measured: idle ws connection, server side 6–8 KB plus client side 7–15 KB, reference machine (references.md)',
  },
  bytesPerMember: {
    value: 128,
    unit: 'bytes',
    source: 'assumption: one member record (id, address, state, incarnation, timestamps) in a compact table',
  },
  bytesPerShardEntry: {
    value: 16,
    unit: 'bytes',
    source: 'assumption: cluster id + version + padding per shard-map entry in typed arrays',
  },
  cpuUsPerMessage: {
    value: 5.5,
    unit: 'µs',
    source: 'measured: ws client send path ~5.5 µs per 64 B message on loopback (references.md); charged at sender and at receiver',
  },
  cpuUsPerRequest: {
    value: 40,
    unit: 'µs',
    source: 'measured: 10–14k ws echo round trips/s on one loopback connection (~70–100 µs per round trip, both ends); half charged to the FE',
  },
  cpuUsPerWakeup: {
    value: 9.95,
    unit: 'µs',
    source:
      'measured: process CPU per wakeup of a blocked worker_threads Worker in a postMessage ping-pong (5,000 round trips, 40 idle Workers), median of 3 runs (7.52–10.66 µs), `node --import tsx bench/threads/run.ts`, 2026-11-28, reference machine under load (src/model/profiles/node-worker.json); charged when a thread wakes for a timer, a message or a post',
  },
  timerLateMs: {
    value: 0,
    unit: 'ms',
    source:
      'assumption: a modelled timer fires when due (a real FE\'s timer wheel is late by a scheduler tick at most); `fleetbench calibrate` measures how late a Node 1 ms timer fires (a live node\'s timers and its back-end hold are such timers) and writes it here, added to every timer a node sets and to the FE\'s back-end round trip',
  },
  cpuUsPerShardEntry: {
    value: 1.65,
    unit: 'µs',
    source:
      'measured: process CPU to decode one store page (DynamoDB Query JSON, 100 entries) and insert its entries into the shard map\'s typed arrays, per entry; median of 3 runs of measureShardEntryUs (100,000 shards, 5 builds after a warm-up, medians 1.62–1.70 µs), src/live/shard-map-build.ts via `fleetbench calibrate`, node v20.20.2, 2026-11-28, reference machine (load average ~0.7); charged on the node\'s run queue per entry of each page a cold start reads',
  },
} as const satisfies Record<string, Sourced<number>>;

/** Per-node host limits. */
export const LIMITS = {
  threadsPerNode: {
    value: 32_768,
    unit: 'threads',
    source: 'Linux default kernel.pid_max (32,768, as on the reference machine): every thread takes a pid',
  },
  baseThreadsPerNode: {
    value: 11,
    unit: 'threads',
    source: 'measured: a Node 20 process has 7 threads before any Worker and 11 once libuv\'s pool starts (references.md)',
  },
  fdsPerNode: {
    value: 20_000,
    unit: 'fds',
    source: '`ulimit -n` on the reference machine (references.md)',
  },
  memoryBytesPerNode: {
    value: 24 * GIB,
    unit: 'bytes',
    source: 'the reference machine\'s memory (24 GiB, no swap); a node past it is OOM-killed',
  },
  coresPerNode: {
    value: 4,
    unit: 'cores',
    source: 'assumption: a 4-vCPU instance; AWS never published the Kinesis FE instance type',
  },
} as const satisfies Record<string, Sourced<number>>;

/** The modelled network between FE nodes. */
export const NETWORK = {
  latencyMinMs: {
    value: 0.1,
    unit: 'ms',
    source: 'assumption: floor of one-way latency between hosts in one datacenter (switch + stack)',
  },
  latencyMeanMs: {
    value: 0.3,
    unit: 'ms',
    source: 'assumption: mean one-way intra-datacenter latency of a few hundred µs; min + exponential tail',
  },
  backendRttMs: {
    value: 1,
    unit: 'ms',
    source:
      'assumption: an FE\'s round trip to the back-end cluster that owns the shard (two intra-datacenter hops at latencyMeanMs plus a storage write of well under a millisecond); AWS never published the Kinesis figure',
  },
  tcpRtoMinMs: {
    value: 200,
    unit: 'ms',
    source: 'Linux TCP_RTO_MIN (include/net/tcp.h: HZ/5 = 200 ms): the first retransmission timeout on a low-RTT path; it doubles per retry up to TCP_RTO_MAX (120 s)',
  },
  tcpRetries: {
    value: 15,
    unit: 'retransmissions',
    source: 'Linux net.ipv4.tcp_retries2 default (Documentation/networking/ip-sysctl.rst): 15 retransmissions of a segment (~15 min) before the connection is broken',
  },
  linkBytesPerSec: {
    value: 1.25e9,
    unit: 'bytes/s',
    source: 'assumption: a 10 Gb/s NIC per FE host (the common size of mid-range cloud instances); each node serialises what it sends onto it',
  },
  lossRate: {
    value: 0,
    unit: 'probability',
    source: 'a healthy network; scenarios add loss explicitly',
  },
} as const satisfies Record<string, Sourced<number>>;

/** The fleet around the protocol: membership service, shards, traffic. */
export const FLEET = {
  shards: {
    value: 1024,
    unit: 'shards',
    source: 'assumption: large enough that one reshard touches <0.1% of traffic; Kinesis never published its shard count',
  },
  clusters: {
    value: 16,
    unit: 'clusters',
    source: 'assumption: back-end clusters the shards are spread over',
  },
  membershipLagMs: {
    value: 2000,
    unit: 'ms',
    source: 'assumption: the membership service lists a new node 2 s after it starts',
  },
  requestsPerSec: {
    value: 1000,
    unit: 'requests/s',
    source: 'assumption: the open-loop request rate across the fleet (Poisson arrivals); each request is work on its FE (cpuUsPerRequest in its run queue) — raise it to load the fleet, the default keeps the misroute measure well sampled',
  },
  sampleEveryMs: {
    value: 1000,
    unit: 'ms',
    source: 'time-series resolution',
  },
  storeReadsPerSec: {
    value: 100,
    unit: 'reads/s',
    source: 'assumption: the configuration store\'s read rate available to FE cold starts, fleet-wide (a provisioned DynamoDB table; AWS did not publish it)',
  },
  storeEntriesPerRead: {
    value: 100,
    unit: 'shard entries',
    source: 'assumption: shard entries returned by one paged read (DynamoDB returns up to 1 MB per Query page)',
  },
  storeReadLatencyMs: {
    value: 10,
    unit: 'ms',
    source: 'assumption: one store read round trip (DynamoDB reads are single-digit ms inside a region)',
  },
  misrouteSlo: {
    value: 0.001,
    unit: 'ratio',
    source: 'assumption: at most 1 request in 1,000 misrouted for a run to count as healthy',
  },
  failedSlo: {
    value: 0.001,
    unit: 'ratio',
    source: 'assumption: at most 1 request in 1,000 failed (no usable shard map, a frozen FE) over the tail for a run to count as healthy',
  },
  viewAccuracySlo: {
    value: 0.99,
    unit: 'ratio',
    source: 'assumption: views at least 99% correct at the end of a run for it to count as healthy',
  },
} as const satisfies Record<string, Sourced<number>>;

/** Alarms a run raises (the post-event summary asked for fine-grained alarms on thread consumption). */
export const ALARMS = {
  threadsPct: {
    value: 80,
    unit: '% of limits.threadsPerNode',
    source: 'assumption: a node using 80 % of its thread limit alarms; AWS added thread-consumption alarms after 25 Nov 2020 without publishing thresholds',
  },
} as const satisfies Record<string, Sourced<number>>;

export type CostName = keyof typeof COSTS;
export type LimitName = keyof typeof LIMITS;
export type NetworkName = keyof typeof NETWORK;

export type Costs = { -readonly [K in CostName]: number };
export type Limits = { -readonly [K in LimitName]: number };
export type NetworkModel = { -readonly [K in NetworkName]: number };

function values<K extends string>(table: Record<K, Sourced<number>>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(table) as K[]) out[k] = table[k].value;
  return out;
}

export const defaultCosts = (): Costs => values(COSTS);
export const defaultLimits = (): Limits => values(LIMITS);
export const defaultNetwork = (): NetworkModel => values(NETWORK);
export type Alarms = { -readonly [K in keyof typeof ALARMS]: number };
export const defaultAlarms = (): Alarms => values(ALARMS);
