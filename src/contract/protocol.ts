/**
 * The sans-I/O protocol contract.
 *
 * Rules every protocol obeys (and test/sans-io.test.ts enforces for files under protocols/):
 * - A protocol never opens a socket, starts a thread, reads a clock or calls Math.random.
 *   Every effect goes through the context the runtime hands it.
 * - Inputs arrive as calls (`start`, `onMessage`, `onTimer`, `onThreadMessage`, `originate`);
 *   outputs leave as context calls (`send`, `setTimer`, `spawnThread`, `report.*`).
 * - Time only moves forward: `ctx.now()` never decreases within a run.
 * - A refused resource (a thread over the thread limit, a connection over the fd limit) is
 *   returned to the protocol, which must react as real code would. The runtime never hides it.
 *
 * Node ids are dense small integers assigned by the harness in join order; they are names,
 * not positions in any protocol's data structure.
 */

export type NodeId = number;
/**
 * What `lookup` answers when the node has no shard map it may trust (its construction failed): the
 * request fails with an error to the client, rather than going to a cluster that may not own it.
 */
export const UNROUTABLE = -1;
export type ShardId = number;
export type ClusterId = number;
/** Opaque handle returned by setTimer; only meaningful to cancelTimer. */
export type TimerId = number;

/** A module URL and an export name: how a thread's code is found in both runtimes
 *  (functions cannot cross into a real worker_threads Worker, module URLs can). */
export interface ThreadEntryRef {
  readonly module: string;
  readonly export: string;
}

/** What a starting node reads from the membership service and configuration store. */
export interface Bootstrap {
  readonly self: NodeId;
  /** false for the fleet already running when the run starts; true for a node that joins it */
  readonly joining: boolean;
  /** Members listed by the membership service at boot (it may lag the truth). Includes self. */
  readonly members: readonly NodeId[];
  readonly shards: number;
  /** A copy of the shard map (cluster per shard) from the configuration store at boot; owned by the node. */
  readonly shardCluster: Int32Array;
  /** The version of each shard's entry in shardCluster; owned by the node. */
  readonly shardVersion: Uint32Array;
}

/** How a node tells the harness what it believes; the harness compares beliefs with the truth. */
export interface Reporter {
  /** `member` entered this node's view of live members. */
  memberUp(member: NodeId): void;
  /** `member` left this node's view (declared failed or left). */
  memberDown(member: NodeId): void;
  /** This node's entry for `shard` now has `version`. Called only when the version increases. */
  shardUpdated(shard: ShardId, version: number): void;
  /** Adds to a named protocol counter (suspicions, refutations, untracked peers...). Summed per run. */
  count(name: string, delta?: number): void;
  /**
   * This node's shard map became unusable (false: a construction step failed, per the protocol's
   * documented rule; lookups now answer UNROUTABLE) or usable again (true). Usable at boot.
   */
  routable(usable: boolean): void;
}

export type ConnectResult = 'ok' | 'refused';

/** Effects available to every actor (a node's main loop or one of its threads). */
export interface ActorContext<M> {
  readonly self: NodeId;
  /** Milliseconds of runtime time (virtual in the simulator). Never decreases. */
  now(): number;
  /** Uniform in [0, 1), from the run's seed (simulator) or a seeded generator (live). */
  random(): number;
  setTimer(delayMs: number, tag: number): TimerId;
  cancelTimer(id: TimerId): void;
  /**
   * Best-effort send. If this actor holds a connection to `to` the message travels on it;
   * otherwise as a datagram. Either way it may be lost (loss, partition, dead target); a
   * protocol that needs reliability builds it.
   */
  send(to: NodeId, msg: M): void;
  /**
   * Opens a connection to `peer`, accounted as one file descriptor on each side.
   * The caller becomes the receiver, on this node, of messages from `peer`.
   * 'refused' when either side is at its fd limit (EMFILE) or the peer is unreachable.
   */
  connect(peer: NodeId): ConnectResult;
  disconnect(peer: NodeId): void;
}

export interface ThreadHandle {
  readonly id: number;
  /** Posts a structured-clonable value to the thread (delivered in order). */
  post(msg: unknown): void;
  /** Ends the thread and releases its resources (stack, its connections). */
  stop(): void;
}

export type SpawnResult = { ok: true; thread: ThreadHandle } | { ok: false; reason: 'threads' | 'memory' };

export interface NodeContext<M> extends ActorContext<M> {
  /** The membership service's current list (it may lag the truth). Includes self. */
  membership(): readonly NodeId[];
  /** Starts a thread running `entry` with `init`; counted against the node's thread limit. */
  spawnThread(entry: ThreadEntryRef, init: unknown): SpawnResult;
  readonly report: Reporter;
}

export interface ThreadContext<M> extends ActorContext<M> {
  /** Posts a structured-clonable value to the node's main loop (delivered in order). */
  postToParent(msg: unknown): void;
}

/** A node's main loop. */
export interface NodeProtocol<M> {
  start(boot: Bootstrap): void;
  onMessage(from: NodeId, msg: M): void;
  onTimer(tag: number): void;
  onThreadMessage?(thread: ThreadHandle, msg: unknown): void;
  /** The harness made a reshard at this FE: it is the first to know. */
  originate(shard: ShardId, cluster: ClusterId, version: number): void;
  /** Route a request: the back-end cluster this node believes owns `shard`, or UNROUTABLE. */
  lookup(shard: ShardId): ClusterId;
  /** Graceful leave: say goodbye; the node is stopped right after. */
  leave(): void;
}

/** A thread's loop: built by a ThreadMain export, fed by its context. */
export interface ThreadActor<M> {
  onTimer(tag: number): void;
  onParentMessage(msg: unknown): void;
  onMessage(from: NodeId, msg: M): void;
}

export type ThreadMain<M> = (ctx: ThreadContext<M>, init: unknown) => ThreadActor<M>;

/** A protocol parameter: meaning, unit, default and where the default comes from. */
export interface ParamSpec {
  readonly default: number | boolean | string;
  readonly description: string;
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** Allowed values for string parameters. */
  readonly choices?: readonly string[];
  /** Why this default: a paper, a source file, a measurement, or "assumption: ...". */
  readonly source: string;
}

export type ParamValues = Readonly<Record<string, number | boolean | string>>;

/** One binary encoding per protocol; the simulator charges byteLength, the live runtime sends encode(). */
export interface Codec<M> {
  byteLength(msg: M): number;
  encode(msg: M): Uint8Array;
  decode(bytes: Uint8Array): M;
}

/**
 * The thin shared layer in front of a partitioned fleet (AWS's cell router): a versioned cell map
 * held in memory. Control plane, not a node: the runtime consults it where a node joins, where a
 * request goes and which clusters a reshard may pick. Deterministic and free of I/O like a
 * protocol. A flat protocol has none: the runtime then treats the fleet as one cell.
 */
export interface CellRouter {
  /** The cell a node joining now belongs to (capacity placement). Called once per node, in join order. */
  place(node: NodeId): number;
  /** The node left the fleet (crash, OOM or leave). */
  removed(node: NodeId): void;
  /** Shards moved to a cell opened by the last `place` (migrations, made as reshards); empty otherwise. */
  takeMigrations(): readonly ShardId[];
  /** The cell whose FEs serve `shard`, per the current cell map. */
  cellOfShard(shard: ShardId): number;
  /** The back-end clusters a cell owns; a reshard in that cell picks among them. */
  clustersOf(cell: number): readonly ClusterId[];
  /** Number of cells opened so far. */
  readonly cells: number;
  /** Bumped on every change of the cell map. */
  readonly version: number;
}

/**
 * What a protocol promises about its timing, derived from its parameters and the fleet size. The
 * conformance suite (test/conformance.test.ts) holds every registered protocol to its promises
 * under a table of faults; each bound is a formula of the protocol's own parameters, not a figure
 * read off a run. All in ms of runtime time, on a loss-free network with sub-ms latency.
 */
export interface ProtocolPromises {
  /** every live member drops a crashed (or departed) member within this of its end */
  detectAllMs: number;
  /** every live member has a joiner in view within this of the membership service listing it */
  joinAfterListedMs: number;
  /** a reshard made at one FE reaches every live FE of its cell within this */
  disseminateMs: number;
  /** after a partition heals or a frozen member resumes, every view is whole again within this */
  recoverMs: number;
}

export interface Conformance {
  /** parameter overrides the suite runs with (a cell size that gives several cells at test size) */
  readonly params?: ParamValues;
  promises(params: ParamValues, nodes: number): ProtocolPromises;
}

export interface ProtocolDefinition<M = unknown> {
  readonly name: string;
  /** One line for `fleetbench list`. */
  readonly summary: string;
  readonly params: Readonly<Record<string, ParamSpec>>;
  readonly codec: Codec<M>;
  /** Thread entry points this protocol may spawn; the simulator loads them before a run. */
  readonly threadEntries?: readonly ThreadEntryRef[];
  create(ctx: NodeContext<M>, params: ParamValues): NodeProtocol<M>;
  /**
   * A definition whose codec or threads depend on its parameters (cell-partitioned and its inner
   * protocol) returns the definition to run once parameters are known.
   */
  specialize?(params: ParamValues): ProtocolDefinition<M>;
  /** Partitioned fleets: the cell router. Nodes then see only their own cell's members. */
  createRouter?(params: ParamValues, fleet: { readonly shards: number; readonly clusters: number }): CellRouter;
  /** Its timing promises, which the conformance suite holds it to; every registered protocol has them. */
  readonly conformance?: Conformance;
  /**
   * 'black-box': a real third-party agent is the node's membership layer (src/blackbox/), run only
   * by the live runtime; `create` and `codec` are never called, the simulator refuses it, and the
   * conformance suite skips it. Absent: 'model', sans-I/O code that runs everywhere.
   */
  readonly kind?: 'model' | 'black-box';
}
