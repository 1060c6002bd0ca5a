/**
 * One protocol node driven outside any runtime: a virtual clock, timers run in time order by
 * `advance`, sends captured, threads refused, reports recorded. For unit tests of protocol state
 * machines and for micro-benchmarks — the quinn-style "fake link" of style.md, for one endpoint.
 */
import type { NodeContext, NodeId, NodeProtocol, ProtocolDefinition } from '../contract/protocol.ts';

export interface FakeNodeOptions<M> {
  self: NodeId;
  members: NodeId[];
  shards: number;
  /** overrides of the definition's parameter defaults */
  params?: Record<string, number | boolean | string>;
  /** virtual time at start (default 0) */
  startAt?: number;
  /** the node's randomness (default: a fixed LCG seeded by `self`) */
  random?: () => number;
  /** each shard's initial cluster (default shard % 16) */
  shardCluster?: (shard: number) => number;
  /** called for every send, after it is recorded */
  onSend?: (to: NodeId, msg: M) => void;
  /** called after every timer handler returns */
  afterTimer?: () => void;
}

export interface FakeNode<M> {
  node: NodeProtocol<M>;
  sent: { to: NodeId; msg: M }[];
  ups: NodeId[];
  downs: NodeId[];
  shardUpdates: Array<[number, number]>;
  counters: Record<string, number>;
  /** whether the node last reported its shard map usable */
  routable: boolean;
  readonly now: number;
  /** Runs every timer due within `ms`, in time order, then sets the clock to the end. */
  advance(ms: number): void;
}

export function fakeNode<M>(def: ProtocolDefinition<M>, opts: FakeNodeOptions<M>): FakeNode<M> {
  let now = opts.startAt ?? 0;
  let seed = 0x9e3779b9 ^ opts.self;
  const random = opts.random ?? (() => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  let nextTimer = 1;
  const timers = new Map<number, { at: number; tag: number }>();
  const fake = {
    sent: [] as { to: NodeId; msg: M }[],
    ups: [] as NodeId[],
    downs: [] as NodeId[],
    shardUpdates: [] as Array<[number, number]>,
    counters: {} as Record<string, number>,
    routable: true,
  };
  const ctx: NodeContext<M> = {
    self: opts.self,
    now: () => now,
    random,
    setTimer: (d, tag) => {
      timers.set(nextTimer, { at: now + d, tag });
      return nextTimer++;
    },
    cancelTimer: (id) => void timers.delete(id),
    send: (to, msg) => {
      fake.sent.push({ to, msg });
      opts.onSend?.(to, msg);
    },
    connect: () => 'ok',
    disconnect: () => {},
    membership: () => opts.members,
    spawnThread: () => ({ ok: false, reason: 'threads' }),
    report: {
      memberUp: (m) => void fake.ups.push(m),
      memberDown: (m) => void fake.downs.push(m),
      shardUpdated: (s, v) => void fake.shardUpdates.push([s, v]),
      count: (name, d = 1) => void (fake.counters[name] = (fake.counters[name] ?? 0) + d),
      routable: (usable) => void (fake.routable = usable),
    },
  };
  const params: Record<string, number | boolean | string> = {};
  for (const [k, spec] of Object.entries(def.params)) params[k] = spec.default;
  Object.assign(params, opts.params);
  // a definition that depends on its parameters (cell-partitioned) is specialised first, as the runtimes do
  const concrete = def.specialize ? def.specialize(params) : def;
  const node = concrete.create(ctx, params);
  const shardCluster = new Int32Array(opts.shards);
  for (let s = 0; s < opts.shards; s++) shardCluster[s] = opts.shardCluster ? opts.shardCluster(s) : s % 16;
  node.start({ self: opts.self, joining: false, members: opts.members, shards: opts.shards, shardCluster, shardVersion: new Uint32Array(opts.shards).fill(1) });
  return {
    node,
    ...fake,
    get now() {
      return now;
    },
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        let best = -1, bestAt = Infinity;
        for (const [id, t] of timers) if (t.at <= end && t.at < bestAt) (best = id), (bestAt = t.at);
        if (best < 0) break;
        const t = timers.get(best)!;
        timers.delete(best);
        now = t.at;
        node.onTimer(t.tag);
        opts.afterTimer?.();
      }
      now = end;
    },
  };
}
