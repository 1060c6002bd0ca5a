/**
 * Messages between the coordinator and its processes (node hosts, the load generator) over the
 * Node IPC channel ('advanced' serialization, so typed arrays cross as they are), and between a
 * node host and its Workers. Plain data only.
 */
import type { Bootstrap, ParamValues } from '../contract/protocol.ts';
import type { TransportKind } from './transport.ts';

export interface NodeInit {
  k: 'init';
  id: number;
  transport: TransportKind;
  uwsBinary: string | null;
  workerBundle: string;
  params: ParamValues;
  seed: number;
  threadsPerNode: number;
  fdsPerNode: number;
  /** the node's own pids cgroup directory, or null when the thread limit is emulated */
  cgroup: string | null;
  statsEveryMs: number;
  /**
   * The run's secret (32 hex digits, transport.ts newRunToken): every hello must carry it, so a
   * stray or hostile local process cannot pose as a peer. Absent: derived (fallbackRunToken).
   */
  token?: string;
  /** the address to listen on: the node's host (a namespace host's own address); default 127.0.0.1 */
  bindHost?: string;
  /** network.backendRttMs: an answer to a request leaves this long after the request arrived; absent: at once */
  backendRttMs?: number;
}

/** coordinator → node */
export type ToNode =
  | NodeInit
  | { k: 'addrs'; entries: Array<[number, number]> }
  /** the host address of peers not on loopback (nodes placed on other hosts); send before their addrs */
  | { k: 'hosts'; entries: Array<[number, string]> }
  | { k: 'start'; boot: Bootstrap; t0Epoch: number; membership: number[] }
  /** a cold start's store page arrived: decode and insert entries [first, first + count) of `shards`; `last`: answer 'constructed' */
  | { k: 'page'; first: number; count: number; shards: number; last: boolean }
  | { k: 'membership'; list: number[] }
  | { k: 'originate'; shard: number; cluster: number; version: number }
  | { k: 'filter'; loss: number; groups: Array<[number, number]> }
  | { k: 'leave'; graceMs: number }
  | { k: 'statsNow' }
  | { k: 'stop' };

/** Report codes, batched as flat tuples in `rep` messages (coordinator stamps the time on arrival). */
export const R_UP = 0;
export const R_DOWN = 1;
export const R_SHARD = 2;
export const R_COUNT = 3;
export const R_LIMIT = 4;
export const R_ROUTE = 5;
export type Report =
  | [typeof R_UP | typeof R_DOWN, number]
  | [typeof R_SHARD, number, number]
  | [typeof R_COUNT, string, number]
  | [typeof R_LIMIT, 'threads' | 'fds' | 'memory' | 'cpu']
  | [typeof R_ROUTE, boolean];

export interface NodeStats {
  /** cumulative since start: protocol messages and codec bytes sent (main loop and Workers), dropped sends, received */
  msgs: number;
  bytes: number;
  dropped: number;
  received: number;
  /** WebSocket connections open now (inbound and outbound, main loop and Workers) and the peak */
  sockets: number;
  socketsPeak: number;
  workers: number;
  workersPeak: number;
  spawnRefused: number;
  /** event-loop delay of the main loop, ms: p99 and max since the previous stats, and the
   *  nearest-rank p99 of those window p99s since start */
  eldP99Ms: number;
  eldMaxMs: number;
  eldRunP99Ms: number;
  requestsAnswered: number;
  /** frames dropped since start: hellos without the run's token, undecodable or out-of-bounds frames */
  badFrames: number;
}

/** node → coordinator */
export type FromNode =
  /** agentPid, gossipPort: a black-box node's membership agent (src/blackbox/host.ts), a second
   *  process of the node that is paused, sampled and reaped with it */
  | { k: 'listening'; port: number; baseThreads: number; cgroup: string | null; agentPid?: number; gossipPort?: number }
  | { k: 'rep'; r: Report[] }
  /** the last store page of a cold start has been decoded and inserted */
  | { k: 'constructed' }
  | ({ k: 'stats' } & NodeStats)
  | { k: 'fatal'; error: string };

/** load generator */
export type ToLoadgen =
  /** mode 'driven': send the requests the coordinator's fleet driver issues; 'max': a closed loop of its own */
  | { k: 'init'; transport: TransportKind; seed: number; shards: number; traffic: 'uniform' | 'zipf'; zipfExponent: number; mode: 'driven' | 'max'; ratePerSec: number; maxInFlight: number; timeoutMs: number; token?: string }
  | { k: 'start'; t0Epoch: number }
  /** add: [fe, port, cell]; shardCell: each shard's cell when the cell map changed */
  | { k: 'fes'; add: Array<[number, number, number]>; remove: number[]; shardCell?: Int32Array }
  /** driven mode: flat [fe, shard, tMs]… requests issued by the driver at runtime time tMs */
  | { k: 'issue'; reqs: number[] }
  /** FE host addresses for FEs not on loopback; send before the `fes` that adds them */
  | { k: 'feHosts'; entries: Array<[number, string]> }
  | { k: 'stop' };

export type FromLoadgen =
  | { k: 'ready' }
  /** answered: flat [fe, shard, cluster, tMs (when issued), latencyUs]…; failed: flat [fe or −1 (no FE for the cell), tMs]… */
  | { k: 'res'; answered: number[]; failed: number[] }
  | { k: 'fatal'; error: string };

/** main loop → Worker */
export type ToWorker =
  | { k: 'parent'; msg: unknown }
  | { k: 'net'; from: number; bytes: Uint8Array }
  | { k: 'addr'; id: number; port: number }
  | { k: 'host'; id: number; host: string }
  | { k: 'filter'; loss: number; groups: Array<[number, number]> };

/** Worker → main loop */
export type FromWorker =
  | { k: 'post'; msg: unknown }
  | { k: 'hold'; peer: number }
  | { k: 'unhold'; peer: number }
  | { k: 'ready' }
  | { k: 'datagram'; to: number; bytes: Uint8Array }
  | { k: 'net'; from: number; bytes: Uint8Array }
  | { k: 'limit'; which: 'fds' };

export interface WorkerInit {
  self: number;
  threadId: number;
  params: ParamValues;
  seed: number;
  entry: string;
  init: unknown;
  t0Epoch: number;
  addrs: Array<[number, number]>;
  /** peers' host addresses where not loopback */
  hosts?: Array<[number, string]>;
  loss: number;
  groups: Array<[number, number]>;
  fdsPerNode: number;
  /** Int32Array over it: [0] sockets open in the process, [1] their peak */
  sockets: SharedArrayBuffer;
  /** Float64Array over it: [0] msgs, [1] bytes, [2] dropped, [3] received, [4] sockets, [5] bad frames */
  counters: SharedArrayBuffer;
  /** the run's token (hex), for this thread's hellos; absent: no token (calibrate's probes) */
  token?: string;
}
